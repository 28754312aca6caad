// Why this exists: a session whose policy cannot be compiled (mode: observe outside the lab, a
// malformed policy object from a library caller) was refused only after it had taken a network
// slot from the pool — and that slot (netns, veth, nft table, address lease) was never given back,
// not even by Runtime.close(). A trainer or daemon client retrying a bad policy leaked one sandbox
// network per attempt. Real runtime and net slots, in the lab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { Runtime } from '../src/session/runtime.js';
import { DEFAULT_LEASES } from '../src/sandbox/address-leases.js';
import { PolicyError } from '../src/policy/index.js';
import { labPolicy } from './helpers/lab-fixture.js';

/** Address leases (net slots) this process holds. */
function ownLeases(): string[] {
  const out: string[] = [];
  for (const f of readdirSync(DEFAULT_LEASES.dir)) {
    try { if ((JSON.parse(readFileSync(join(DEFAULT_LEASES.dir, f), 'utf8')) as { ownerPid?: number }).ownerPid === process.pid) out.push(f); } catch { /* another process's, being written */ }
  }
  return out;
}

test('a session refused for its policy gives its network slot back', async () => {
  assertInLab();
  assert.deepEqual(ownLeases(), []);
  const home = mkdtempSync(join(tmpdir(), 'corral-test-home-'));
  const rt = await Runtime.start({ home, sensor: false, poolSize: 1 });
  try {
    const observe = labPolicy('mode: observe\n');
    const lab = process.env.CORRAL_LAB;
    process.env.CORRAL_LAB = '0'; // observe is refused outside the lab: as on a real host
    try {
      for (let i = 0; i < 3; i++) await assert.rejects(rt.createSession({ policy: observe, episode: `bad${i}` }), PolicyError);
    } finally { process.env.CORRAL_LAB = lab; }
    // the runtime still works, and holds no more slots than its pool's
    const s = await rt.createSession({ policy: labPolicy(), episode: 'good' });
    assert.equal((await s.exec({ command: 'echo ok' })).stdout, 'ok\n');
    await s.close();
  } finally {
    await rt.close();
    rmSync(home, { recursive: true, force: true });
  }
  assert.deepEqual(ownLeases(), [], 'every net slot is destroyed when the runtime closes');
});

test('a session refused while it is set up leaves no log: no session.end alone that reads as a clean, complete session (a review, session 40)', async () => {
  assertInLab();
  const home = mkdtempSync(join(tmpdir(), 'corral-test-home-'));
  const rt = await Runtime.start({ home, sensor: false, poolSize: 0 });
  try {
    // (refused once the session exists: a writable root with no image root to write to)
    await assert.rejects(rt.createSession({ policy: labPolicy('filesystem:\n  root_writable: true\n'), episode: 'refused' }), /root_writable/);
    const logs = (): string[] => { try { return readdirSync(join(home, 'sessions')).filter((f) => f.endsWith('.jsonl')); } catch { return []; } };
    assert.deepEqual(logs(), []);
    const s = await rt.createSession({ policy: labPolicy(), episode: 'good' });
    await s.exec({ command: 'true' });
    await s.close();
    assert.deepEqual(logs(), [`${s.id}.jsonl`]);
  } finally {
    await rt.close();
    rmSync(home, { recursive: true, force: true });
  }
});
