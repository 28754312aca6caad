// Why: a host workspace that is a regular file (`workspace: /srv/a/notes.txt`, or the API's
// workspace field) failed as an internal error — mkdir's EEXIST with a stack trace, exit 125 —
// instead of a setup error naming the path. Defect it stops: a caller's mistake reported as
// Corral's. (`corral run --workspace FILE` is refused earlier, as a usage error: run-cli-usage.test.ts.)
// Real runtime, in the lab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { Runtime } from '../src/session/runtime.js';
import { SessionSetupError } from '../src/session/session.js';
import { labPolicy } from './helpers/lab-fixture.js';

test('a workspace that is a regular file is a SessionSetupError naming it', async (t) => {
  assertInLab();
  const dir = mkdtempSync(join(tmpdir(), 'corral-ws-file-'));
  chmodSync(dir, 0o755);
  const home = mkdtempSync(join(tmpdir(), 'corral-ws-file-home-'));
  const rt = await Runtime.start({ home, sensor: false, poolSize: 0 });
  t.after(async () => { await rt.close(); for (const d of [dir, home]) rmSync(d, { recursive: true, force: true }); });
  const file = join(dir, 'notes.txt');
  writeFileSync(file, 'x');
  await assert.rejects(rt.createSession({ policy: labPolicy(), workspace: file }), (e: Error) => {
    assert.ok(e instanceof SessionSetupError, String(e));
    assert.match(e.message, /^workspace .*notes\.txt: is not a directory$/);
    return true;
  });
});
