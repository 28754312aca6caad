// Why: the live sampler feeds the sustained-CPU mining rules, and an idle background process
// (`sleep infinity &`) would otherwise log a sample every 5 s for a whole session. The idle
// filter must drop only unchanged idle samples: every busy sample, every change (memory,
// process count, CPU) and a periodic heartbeat still go out, with the elided count.
// IdleSampleFilter is pure logic over samples, so it is tested on plain data; the sampler on a
// real background burner is proved by test/scenario-compute.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { IdleSampleFilter, readProcExe, ResourceSampler, type CallSample } from '../src/session/resource-sampler.js';
import type { Cgroup } from '../src/sandbox/cgroups.js';

const sample = (over: Partial<CallSample> = {}): CallSample => ({ key: 'c1', cpuPct: 0.1, cpuNs: 1, memoryBytes: 10 << 20, pids: 1, procs: [], idleSkipped: 0, ...over });

test('idle, unchanged samples are elided between heartbeats; the heartbeat says how many', () => {
  const f = new IdleSampleFilter();
  const sent: number[] = [];
  for (let i = 0; i < 30; i++) { const s = sample({ memoryBytes: (10 << 20) + i * 1000 }); if (f.keep(s)) sent.push(s.idleSkipped); }
  // The first sample, then one every 12th: 0 elided, then 11, 11.
  assert.deepEqual(sent, [0, 11, 11]);
});

test('busy samples, busy processes and changes are always sent, and reset the idle run', () => {
  const f = new IdleSampleFilter();
  assert.equal(f.keep(sample()), true);
  assert.equal(f.keep(sample()), false);
  assert.equal(f.keep(sample({ cpuPct: 97 })), true, 'busy call');
  assert.equal(f.keep(sample({ cpuPct: 96 })), true, 'busy again: sustained rules need every one');
  assert.equal(f.keep(sample()), true, 'first idle sample after busy ones');
  assert.equal(f.keep(sample()), false);
  const p = sample({ procs: [{ pid: 7, comm: 'x', cpuPct: 3 }] });
  assert.equal(f.keep(p), true, 'a reported process');
  assert.equal(f.keep(sample()), true);
  assert.equal(f.keep(sample({ pids: 2 })), true, 'process count changed');
  assert.equal(f.keep(sample({ pids: 2, memoryBytes: 40 << 20 })), true, 'memory grew by 30 MiB');
  const s = sample({ pids: 2, memoryBytes: 40 << 20 });
  assert.equal(f.keep(s), false);
  assert.equal(f.keep(sample({ key: 'c2' })), true, 'calls are independent');
  f.retain(new Set(['c2']));
  assert.equal(f.keep(sample({ pids: 2, memoryBytes: 40 << 20 })), true, 'a forgotten call starts over');
});

test('process samples carry the executable path (readlink of /proc/PID/exe), which comm cannot fake', async () => {
  assert.equal(readProcExe(process.pid), realpathSync(process.execPath));
  assert.equal(readProcExe(2 ** 22 + 12345), undefined); // no such pid
  // a bounded busy child (stops by itself); renaming its comm does not change the exe the sampler reports
  const child = spawn(process.execPath, ['-e', 'process.title = "pytest"; const t = Date.now(); while (Date.now() - t < 3000) {}'], { stdio: 'ignore' });
  try {
    const pid = child.pid!;
    const cg = { pids: () => [pid], stats: () => ({ cpuNs: Number(process.hrtime.bigint()) }) } as unknown as Cgroup;
    const sampler = new ResourceSampler();
    await new Promise((r) => setTimeout(r, 300));
    sampler.sample([{ key: 'c1', cgroup: cg }]);
    await new Promise((r) => setTimeout(r, 700));
    const out = sampler.sample([{ key: 'c1', cgroup: cg }]);
    const p = out[0]?.procs.find((x) => x.pid === pid);
    assert.ok(p, `no sample of the busy child: ${JSON.stringify(out)}`);
    assert.equal(p.comm, 'pytest');
    assert.equal(p.exe, realpathSync(process.execPath));
    assert.ok(p.cpuPct >= 50, `cpu ${p.cpuPct}`);
  } finally {
    child.kill('SIGKILL');
  }
});

test('a process first seen between two samples is measured over its life so far: a worker that hands over to a fresh pid faster than the sampling period is still sampled', async () => {
  // (a review, session 24: a pid's first sight only set a baseline, so a miner restarting its worker
  // every few seconds — under the 5 s period — never had a single process sample)
  let pids = [process.pid];
  const cg = { pids: () => pids, stats: () => ({ cpuNs: Number(process.hrtime.bigint()) }) } as unknown as Cgroup;
  const sampler = new ResourceSampler();
  sampler.sample([{ key: 'c1', cgroup: cg }]); // the call's baseline, before the worker exists
  const child = spawn(process.execPath, ['-e', 'const t = Date.now(); while (Date.now() - t < 3000) {}'], { stdio: 'ignore' });
  try {
    pids = [process.pid, child.pid!];
    await new Promise((r) => setTimeout(r, 800));
    const out = sampler.sample([{ key: 'c1', cgroup: cg }]);
    const p = out[0]?.procs.find((x) => x.pid === child.pid);
    assert.ok(p, `the new worker was not sampled on first sight: ${JSON.stringify(out)}`);
    assert.ok(p.cpuPct >= 40 && p.cpuPct <= 150, `cpu since start ${p.cpuPct}`);
    // a process too young to measure (uptime says it started just now) waits for the next sample
    const young = new ResourceSampler();
    const self = { pids: () => [process.pid], stats: () => ({ cpuNs: Number(process.hrtime.bigint()) }) } as unknown as Cgroup;
    young.sample([{ key: 'c2', cgroup: self }]);
    await new Promise((r) => setTimeout(r, 200));
    const later = young.sample([{ key: 'c2', cgroup: cg }], process.hrtime.bigint(), () => 0);
    assert.ok(later.length === 1 && !later[0]!.procs.some((x) => x.pid === child.pid), JSON.stringify(later));
  } finally {
    child.kill('SIGKILL');
  }
});

test('a process first seen under 50 ms old is sampled, capped at one core and marked young (a worker forked every 40 ms was never sampled)', async () => {
  const cg = { pids: () => [child.pid!], stats: () => ({ cpuNs: Number(process.hrtime.bigint()) }) } as unknown as Cgroup;
  const child = spawn(process.execPath, ['-e', 'const t = Date.now(); while (Date.now() - t < 3000) {}'], { stdio: 'ignore' });
  try {
    await new Promise((r) => setTimeout(r, 500));
    const startSec = Number(readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]) / 100;
    const sampler = new ResourceSampler();
    // the clock says the process started 20 ms ago: too young to measure well, sampled all the same
    const first = sampler.sample([{ key: 'c1', cgroup: cg }], process.hrtime.bigint(), () => startSec + 0.02);
    assert.equal(first.length, 0, 'the call\'s first sight is its baseline');
    const again = new ResourceSampler();
    again.sample([{ key: 'c1', cgroup: { pids: () => [process.pid], stats: cg.stats } as unknown as Cgroup }]);
    const out = again.sample([{ key: 'c1', cgroup: cg }], process.hrtime.bigint(), () => startSec + 0.02);
    const p = out[0]?.procs.find((x) => x.pid === child.pid);
    assert.ok(p, JSON.stringify(out));
    assert.equal(p.young, true);
    assert.equal(p.cpuPct, 100, 'capped at one core');
  } finally { child.kill('SIGKILL'); }
});

test('a process whose main thread exited is still known by its executable, read through a live thread', async (t) => {
  // pthread_exit in the main thread leaves a zombie leader (no /proc/PID/exe) while a worker runs on
  const py = 'import threading, ctypes, time\ndef busy():\n    time.sleep(5)\nthreading.Thread(target=busy).start()\nctypes.CDLL(None).pthread_exit(None)\n';
  const child = spawn('/usr/bin/python3', ['-c', py], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  let leaderGone = false;
  for (let i = 0; i < 50 && !leaderGone; i++) {
    await new Promise((r) => setTimeout(r, 50));
    try { readlinkSync(`/proc/${child.pid}/exe`); } catch { leaderGone = true; }
  }
  assert.ok(leaderGone, 'the leader thread exited (its exe link is gone)');
  assert.equal(readProcExe(child.pid!), realpathSync('/usr/bin/python3'));
});
