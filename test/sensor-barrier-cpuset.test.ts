// Why: the sensor's barrier marks each CPU by pinning Corral's own thread there, so it cannot mark a CPU outside
// Corral's cpuset; a sandbox whose cgroup allowed that CPU could move there (sched_setaffinity) and its last
// records could arrive after its session closed. This runs the test process — Corral — in a cgroup confined to one
// CPU and checks, with a real sandbox, that the session's processes are held to Corral's CPUs (a move to the other
// is refused by the kernel), and that a session which could not be confined says its capture is not confirmed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onlineCpus } from '../src/sensors/cpu-list.js';
import { barrierCpuset, ownCgroupCpus } from '../src/sandbox/cpu-confine.js';
import { startFixture, labPolicy } from './helpers/lab-fixture.js';

const online = onlineCpus();
const V2 = '/sys/fs/cgroup';
/** cgroup2 with the cpuset controller (a pure v2 host), else v1's cpuset hierarchy (a hybrid host like this VM). */
const v2 = existsSync(join(V2, 'cgroup.controllers')) && /\bcpuset\b/.test(readFileSync(join(V2, 'cgroup.controllers'), 'utf8'));
const V1 = '/sys/fs/cgroup/cpuset';

/** Runs fn with this process in a fresh cpuset cgroup holding only the first online CPU, then moves it back. */
async function onOneCpu(fn: () => Promise<void>): Promise<void> {
  const own = readFileSync('/proc/self/cgroup', 'utf8');
  const root = v2 ? V2 : V1;
  const home = join(root, (v2 ? /^0::(\/.*)$/m : /^\d+:cpuset:(\/.*)$/m).exec(own)![1]!);
  const dir = join(root, `crl-cpuset-${process.pid}`);
  if (v2 && !/\bcpuset\b/.test(readFileSync(join(V2, 'cgroup.subtree_control'), 'utf8'))) writeFileSync(join(V2, 'cgroup.subtree_control'), '+cpuset');
  mkdirSync(dir);
  try {
    writeFileSync(join(dir, 'cpuset.cpus'), String(online[0]));
    if (!v2) writeFileSync(join(dir, 'cpuset.mems'), readFileSync(join(V1, 'cpuset.mems'), 'utf8').trim());
    writeFileSync(join(dir, 'cgroup.procs'), String(process.pid));
    try { await fn(); } finally { writeFileSync(join(home, 'cgroup.procs'), String(process.pid)); }
  } finally {
    // (processes the lab started while this process was there leave it as they exit: waited for)
    for (let i = 0; ; i++) {
      try { rmdirSync(dir); break; } catch (e) { if (i >= 100) throw e; await new Promise((r) => setTimeout(r, 100)); }
    }
  }
}

const PROBE = `import os
try:
    os.sched_setaffinity(0, {${online[1]}})
    print("moved", sorted(os.sched_getaffinity(0)))
except OSError as e:
    print("refused", sorted(os.sched_getaffinity(0)))`;

test('Corral confined to one CPU: its sessions are held to it too, so a sandbox cannot run where the barrier has no marker', { skip: online.length < 2 ? 'needs two online CPUs' : !v2 && !existsSync(join(V1, 'cpuset.cpus')) ? 'no cpuset hierarchy' : false }, () => onOneCpu(async () => {
  const fx = await startFixture([], 'labcs');
  try {
    // (cgroup2: each session's cgroup is confined; v1: sandboxes stay in Corral's own cpuset group, nothing to do)
    assert.deepEqual(fx.rt.sessionCpuset, v2 ? { cpus: String(online[0]), outside: online.slice(1), enabled: true } : undefined);
    const s = await fx.rt.createSession({ policy: labPolicy() });
    let r;
    try { r = await s.exec({ command: PROBE, tool: 'python', toolCallId: 'c1', step: 1, skipScreen: true }); } finally { await s.close(); }
    assert.equal(r.stdout.trim(), `refused [${online[0]}]`, r.stdout + r.stderr);
    assert.equal(s.capture.unsynced, undefined);
    if (!v2) return;
    // A session that could not be confined (the controller refused): the move works, and the capture says it is unconfirmed.
    fx.rt.sessionCpuset!.enabled = false;
    const u = await fx.rt.createSession({ policy: labPolicy() });
    try { r = await u.exec({ command: PROBE, tool: 'python', toolCallId: 'c1', step: 1, skipScreen: true }); } finally { await u.close(); }
    assert.equal(r.stdout.trim(), `moved [${online[1]}]`, r.stdout + r.stderr);
    assert.equal(u.capture.unsynced, true);
    assert.ok(u.events.some((e) => e.kind === 'sensor' && e.payload.state === 'unsynced' && /cannot mark CPU/.test(String(e.payload.note))));
  } finally { await fx.close(); }
}));

test('which CPUs sessions are confined to: Corral\'s own cpuset when an online CPU is outside it, nothing when none is or it cannot be read', () => {
  assert.deepEqual(barrierCpuset('/nowhere', [0, 1, 2, 3], [0, 2]), { cpus: '0,2', outside: [1, 3] });
  assert.equal(barrierCpuset('/nowhere', [0, 1], [0, 1]), undefined);
  assert.equal(barrierCpuset('/nowhere', [0, 1], undefined), undefined);
  const dir = mkdtempSync(join(tmpdir(), 'corral-cpuset-'));
  try {
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    writeFileSync(join(dir, 'a', 'b', 'cpuset.cpus.effective'), '0-1,4\n');
    writeFileSync(join(dir, 'self'), '0::/a/b\n');
    assert.deepEqual(ownCgroupCpus(dir, join(dir, 'self')), [0, 1, 4]);
    writeFileSync(join(dir, 'self'), '4:cpuset:/a/b\n');
    assert.equal(ownCgroupCpus(dir, join(dir, 'self')), undefined, 'v1 only: no cgroup2 line');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
