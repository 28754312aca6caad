// The access log of `corral serve` (its stdout: journald under systemd, readable by more than root)
// never carries what a policy file holds. Threat: a request naming any file root can read as its
// policy (`policy: "/etc/shadow"`) put the file's lines into the log, one "unknown key 'root:$6$…'"
// each, for every reader of the journal. The client still gets the problems in its answer; the
// log says where they are. Real `corral serve --json` in the lab, no sensor.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { daemonRequest } from '../src/server/daemon-client.js';
import { startServe, type Served } from './helpers/serve.js';

let dir: string, sock: string;
let serve: Served;

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-dal-'));
  sock = join(dir, 'corral.sock');
  serve = await startServe(sock, join(dir, 'home'), { json: true });
});
after(async () => {
  await serve?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a secret file named as the policy: the client is told its problems, the access log only where they are', async () => {
  const secret = join(dir, 'credentials');
  writeFileSync(secret, 'root:$6$SECRETHASH$abc:20228:0\naws_secret_access_key AKIASECRETVALUE\n', { mode: 0o600 });
  const r = await daemonRequest(sock, 'POST', '/v1/run', { argv: ['true'], policy: secret });
  assert.equal(r.status, 400, JSON.stringify(r.json));
  const e = r.json.error as { kind: string; message: string };
  assert.equal(e.kind, 'policy');
  assert.ok(e.message.startsWith(`${secret}:1:1`), e.message);
  await new Promise((res) => setTimeout(res, 200));
  const entry = serve.out().trim().split('\n').map((l) => JSON.parse(l) as { path?: string; status?: number; error?: string }).find((l) => l.path === '/v1/run');
  assert.ok(entry, serve.out());
  assert.equal(entry.status, 400);
  assert.match(entry.error!, new RegExp(`^invalid policy ${secret}:1:1( \\(and \\d+ more problem\\(s\\)\\))?; the client.s answer has the details$`));
  assert.doesNotMatch(serve.out(), /SECRETHASH|AKIASECRETVALUE/, 'nothing the file holds is in the log');
});
