// Why: a session's close waits on the sensor's barrier (sync) and then stops listening; a record the kernel wrote
// before the barrier but bpftrace printed after it is lost for good. bpftrace drains one perf buffer per CPU, so a
// marker seen on one CPU says nothing of another CPU's backlog: CI lost 3 of 4,000 exec records of an exec flood
// that way. This floods execs from one CPU while syncing over and over, and checks that no record older than a
// barrier arrives after that barrier resolved. Runs as root with bpftrace on a machine with two CPUs or more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BpftraceSensor, allowedCpus, syncChain, type SensorRecord } from '../src/sensors/bpftrace-sensor.js';
import { parseCpuList } from '../src/sensors/cpu-list.js';

const cpus = allowedCpus();
const avail = process.getuid?.() === 0 ? BpftraceSensor.available() : { ok: false, why: 'not root' };
const skip = !avail.ok ? avail.why : cpus.length < 2 ? 'one CPU: nothing to race' : false;

test('a sync covers every CPU: no record older than a barrier arrives after it resolved, while another CPU floods', { skip }, async () => {
  const s = await BpftraceSensor.start({});
  const tag = `corral-synccpu-${process.pid}`;
  let latestBarrier = 0n;
  let seen = 0, late = 0;
  let worst = 0n;
  s.on('record', (r: SensorRecord) => {
    if (r.kind !== 'exec' || r.argv[1] !== tag) return;
    seen++;
    if (r.tsNs < latestBarrier) { late++; if (latestBarrier - r.tsNs > worst) worst = latestBarrier - r.tsNs; }
  });
  // the flood: execs with long argv (≈ 6 chunk lines each), pinned to the last CPU, for 6 s
  const floodCpu = cpus[cpus.length - 1]!;
  const code = `import os, time, sys
L = ["${tag}"] + ["x" * 180] * 4
t = time.time()
while time.time() - t < 6:
    ps = [os.posix_spawn("/bin/true", ["/bin/true"] + L, {}) for _ in range(20)]
    for p in ps: os.waitpid(p, 0)`;
  const flood = spawn('taskset', ['-c', String(floodCpu), 'python3', '-c', code], { stdio: 'ignore' });
  const done = new Promise((r) => flood.on('exit', r));
  let syncs = 0;
  let finished = false;
  void done.then(() => { finished = true; });
  try {
    await new Promise((r) => setTimeout(r, 300));
    while (!finished) {
      const start = process.hrtime.bigint();
      await s.sync();
      if (start > latestBarrier) latestBarrier = start;
      syncs++;
    }
    await s.sync();
    assert.ok(seen > 1000 && syncs > 20, `${seen} flood execs seen, ${syncs} syncs`);
    assert.equal(late, 0, `${late} of ${seen} records arrived after a barrier they were older than (by up to ${Number(worst) / 1e6} ms)`);
  } finally { flood.kill('SIGKILL'); await s.stop(); }
});

test('the barrier marker: one taskset per CPU in a chain ending in the marker; the plain marker on one CPU or without taskset', () => {
  assert.deepEqual(syncChain([0, 1, 3], '/usr/bin/taskset', 'tok'), {
    file: '/usr/bin/taskset', args: ['-c', '0', '/usr/bin/taskset', '-c', '1', '/usr/bin/taskset', '-c', '3', '/bin/true', 'tok'], want: 4,
  });
  assert.deepEqual(syncChain([2], '/usr/bin/taskset', 'tok'), { file: '/bin/true', args: ['tok'], want: 1 });
  assert.deepEqual(syncChain([0, 1], undefined, 'tok'), { file: '/bin/true', args: ['tok'], want: 1 });
});

test('a CPU list is read as the kernel writes it; anything else is not one', () => {
  assert.deepEqual(parseCpuList('0-3,8,10-11\n'), [0, 1, 2, 3, 8, 10, 11]);
  assert.deepEqual(parseCpuList('5'), [5]);
  for (const bad of ['', 'x', '3-1', '0-', '1,,2']) assert.equal(parseCpuList(bad), undefined, bad);
  assert.ok(cpus.length >= 1 && cpus.every((c) => Number.isInteger(c)));
});
