// Why: every Corral-made workspace is a disk-capped filesystem taken from a per-runtime pool
// (src/sandbox/workspace-disk-pool.ts). A fleet opens sessions in bursts: the pool must hand each
// one its own filesystem (never two sessions one), fall back to making one when it runs dry, keep
// a bounded number ready, and leave no mount, loop device or directory behind when sessions and
// the runtime close. Real sandboxes, real loop mounts, inside the lab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { Runtime } from '../src/session/runtime.js';
import { loadPreset } from '../src/policy/index.js';
import { DEFAULT_WORKSPACE_DISK } from '../src/policy/schema.js';
import { mountsUnder } from '../src/sandbox/workspace-quota.js';

/** Loop devices backed by a file right now. */
function attachedLoops(): Set<string> {
  const out = new Set<string>();
  for (const d of readdirSync('/sys/block').filter((n) => n.startsWith('loop'))) {
    try { if (readFileSync(`/sys/block/${d}/loop/backing_file`, 'utf8').trim()) out.add(d); } catch { /* not attached */ }
  }
  return out;
}

test('a burst of sessions: each gets its own disk-capped workspace (pooled or made on the spot), the pool stays bounded, and nothing is left when they and the runtime close', async () => {
  assertInLab();
  const loopsBefore = attachedLoops();
  const home = mkdtempSync(join(tmpdir(), 'corral-diskpool-'));
  const rt = await Runtime.start({ home, sensor: false, poolSize: 2, commandCheck: false });
  const ownDirs = (): string[] => readdirSync(rt.runDir).filter((n) => n.startsWith(`wspool-${process.pid}-`));
  try {
    for (let i = 0; i < 100 && rt.diskPool.readyCount(DEFAULT_WORKSPACE_DISK) < 2; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(rt.diskPool.readyCount(DEFAULT_WORKSPACE_DISK), 2, 'two ready before the burst');
    const policy = loadPreset('default');
    // six at once: the pool's two, and the others made on the spot
    const burst = Date.now();
    const sessions = await Promise.all(Array.from({ length: 6 }, (_, i) => rt.createSession({ policy, episode: `burst-${i}` })));
    try {
      const dirs = sessions.map((s) => s.workspaceDir);
      assert.equal(new Set(dirs).size, 6, 'six different workspaces');
      // (every one lies in its session's disk/; the pool's were made before the burst)
      assert.ok(dirs.every((d) => d.endsWith('/disk/workspace')), dirs.join(' '));
      const pooled = dirs.filter((d) => statSync(join(dirname(d), 'workspace.img')).birthtimeMs < burst).length;
      assert.equal(pooled, 2, 'the two ready ones were used, the others made on the spot');
      for (const d of dirs) assert.deepEqual(mountsUnder(d), [d], `${d} is its own mount`);
      // each sees only what it wrote
      await Promise.all(sessions.map((s, i) => s.exec({ command: `echo ${i} > mine; ls /workspace` })));
      const seen = await Promise.all(sessions.map((s) => s.exec({ command: 'ls -A /workspace; cat mine' })));
      seen.forEach((r, i) => assert.equal(r.stdout, `mine\n${i}\n`, r.stderr));
    } finally { await Promise.all(sessions.map((s) => s.close())); }
    for (let i = 0; i < 100 && rt.diskPool.readyCount() < 2; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(rt.diskPool.readyCount(DEFAULT_WORKSPACE_DISK), 2, 'refilled to two, no more');
    assert.equal(ownDirs().length, 2, `only the ready ones are left in the run dir: ${ownDirs().join(' ')}`);
    assert.equal(readdirSync(rt.runDir).filter((n) => n.startsWith(`sess-${process.pid}-`)).length, 0, 'no session dir left');
  } finally {
    await rt.close();
    rmSync(home, { recursive: true, force: true });
  }
  assert.deepEqual(ownDirs(), [], 'the runtime\'s close removed its ready ones');
  assert.deepEqual(readdirSync(rt.runDir).filter((n) => n.startsWith(`wsdone-${process.pid}-`)), [], 'and waited for the closed sessions\' ones to be detached');
  assert.ok(!existsSync(join(rt.runDir, 'sess-')), 'no session dir');
  // (the kernel frees a loop device just after its last unmount)
  let extra: string[] = [];
  for (let i = 0; i < 40; i++) {
    const now = attachedLoops();
    extra = [...now].filter((d) => !loopsBefore.has(d));
    if (!extra.length) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(extra, [], 'every loop device this runtime attached is free again');
});
