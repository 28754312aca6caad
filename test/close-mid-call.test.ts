// Why: trainers stop rollouts by closing their sessions while a call still runs (a step past its
// budget, a daemon client that went away, the idle reaper). On a host whose cgroup controllers are
// v1 (hybrid), the killed call's processes stay listed in the v1 hierarchies until they are reaped,
// a moment after cgroup2 says the cgroup is empty, and the v1 directories' removal failed then
// without a retry: every session closed mid-call left its cpu, cpuacct, memory and pids cgroups
// (session and call) behind until the process restarted — thousands in a long-lived runtime. Real
// sandboxes (image root, writable layer), in the lab. On a cgroup2-only host this passes either way.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { buildTestImage } from './helpers/test-image.js';
import type { Session } from '../src/session/session.js';

let fx: Fixture;
let dir: string;
before(async () => {
  fx = await startFixture([], 'labcmc');
  dir = mkdtempSync(join('/var/tmp', 'corral-close-mid-'));
  chmodSync(dir, 0o755);
  buildTestImage(join(dir, 'img'));
});
after(async () => { await fx?.close(); if (dir) rmSync(dir, { recursive: true, force: true }); });

/** The session's cgroup directories still present, in every hierarchy (cgroup2 and each v1 controller). */
function cgroupDirsLeft(s: Session): string[] {
  const roots = [fx.rt.layout.unified, ...Object.values(fx.rt.layout.v1)].filter(Boolean) as string[];
  return [...new Set(roots)].map((h) => join(h, s.cgroup.path)).filter((d) => existsSync(d));
}

test('a session closed while a streamed exec or a file call runs leaves none of its cgroups behind', async () => {
  const policy = labPolicy('resources:\n  root_size: 8MiB\n');
  const left: string[] = [];
  for (let round = 0; round < 6; round++) {
    // a streamed exec, closed once its first output has arrived (a background process also running)
    const s = await fx.rt.createSession({ policy, episode: `cmc-${round}`, root: join(dir, 'img'), rootWritable: true });
    await s.exec({ command: 'sleep 600 >/dev/null 2>&1 &', step: 1 });
    let first!: () => void;
    const started = new Promise<void>((r) => { first = r; });
    const call = s.exec({ command: 'echo start; sleep 30', step: 2, onOutput: () => first() });
    await started;
    await s.close();
    const r = await call;
    assert.notEqual(r.exitCode, 0, 'the call was stopped by the close');
    left.push(...cgroupDirsLeft(s));
    // a file call (a 24 MiB write into the writable root) in flight
    const f = await fx.rt.createSession({ policy, episode: `cmf-${round}`, root: join(dir, 'img'), rootWritable: true });
    const write = f.file({ op: 'write', path: '/opt/big.bin', content: Buffer.alloc(24 << 20, 0x61), step: 1 }).catch((e: Error) => e);
    await new Promise((res) => setTimeout(res, 30 * round));
    await f.close();
    await write;
    left.push(...cgroupDirsLeft(f));
  }
  assert.deepEqual(left, [], 'no cgroup directory of a session closed mid-call is left');
});

test('a call stopped by its session\'s close says so (cancelled), in its result and its toolcall.end', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'cmc-why', root: join(dir, 'img'), rootWritable: true });
  let first!: () => void;
  const started = new Promise<void>((r) => { first = r; });
  const call = s.exec({ command: 'echo start; sleep 30', step: 1, toolCallId: 'why-1', onOutput: () => first() });
  await started;
  await s.close();
  const r = await call;
  // (before, a bare exit 137 with no reason: a trainer could not tell it from an OOM kill)
  assert.equal(r.cancelled, 'the session was closed');
  const end = fx.rt.store.query({ session: s.id, kind: ['toolcall.end'] }).find((e) => e.tool_call === 'why-1');
  assert.equal(end?.payload.cancelled, 'the session was closed');
});
