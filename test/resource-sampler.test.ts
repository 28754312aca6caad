// Why: the live sampler feeds the sustained-CPU mining rules, and an idle background process
// (`sleep infinity &`) would otherwise log a sample every 5 s for a whole session. The idle
// filter must drop only unchanged idle samples: every busy sample, every change (memory,
// process count, CPU) and a periodic heartbeat still go out, with the elided count.
// IdleSampleFilter is pure logic over samples, so it is tested on plain data; the sampler on a
// real background burner is proved by test/scenario-compute.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
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
