// Why: a session's close waits on the sensor's barrier (sync) and then stops listening; a record the kernel wrote
// before the barrier but bpftrace printed after it is lost for good. bpftrace drains one perf buffer per CPU, so a
// marker seen on one CPU says nothing of another CPU's backlog: CI lost 3 of 4,000 exec records of an exec flood
// that way. This floods execs from one CPU while syncing over and over, and checks that no record older than a
// barrier arrives after that barrier resolved — with the native per-CPU markers and with the exec chain they fall
// back to — and that a marker cannot be forged from outside Corral. Runs as root with bpftrace on two CPUs or more.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BpftraceSensor, allowedCpus, syncChain, type SensorRecord } from '../src/sensors/bpftrace-sensor.js';
import { parseCpuList } from '../src/sensors/cpu-list.js';
import { SYNC_PRCTL } from '../src/sensors/bpftrace-program.js';

const cpus = allowedCpus();
const avail = process.getuid?.() === 0 ? BpftraceSensor.available() : { ok: false, why: 'not root' };
const skip = !avail.ok ? avail.why : cpus.length < 2 ? 'one CPU: nothing to race' : false;

/** Floods execs from the last CPU for `seconds` while syncing over and over; the records that came back late. */
async function floodWhileSyncing(s: BpftraceSensor, seconds: number): Promise<{ seen: number; late: number; syncs: number; worstMs: number }> {
  const tag = `corral-synccpu-${process.pid}-${seconds}`;
  let latestBarrier = 0n;
  let seen = 0, late = 0;
  let worst = 0n;
  // (judged by exit records: one line, written at the moment its time stamps — an exec's record is stamped at its
  //  entry and completed at the new image's start, so one in flight across a barrier is not late, only unfinished)
  const flooders = new Set<number>();
  s.on('record', (r: SensorRecord) => {
    if (r.kind === 'exec' && r.argv[1] === tag) { flooders.add(r.pid); return; }
    if (r.kind !== 'exit' || !flooders.delete(r.pid)) return;
    seen++;
    if (r.tsNs < latestBarrier) { late++; if (latestBarrier - r.tsNs > worst) worst = latestBarrier - r.tsNs; }
  });
  // the flood: execs with long argv (≈ 6 chunk lines each), pinned to the last CPU
  const floodCpu = cpus[cpus.length - 1]!;
  const code = `import os, time, sys
L = ["${tag}"] + ["x" * 180] * 4
t = time.time()
while time.time() - t < ${seconds}:
    ps = [os.posix_spawn("/bin/true", ["/bin/true"] + L, {}) for _ in range(20)]
    for p in ps: os.waitpid(p, 0)`;
  const flood = spawn('taskset', ['-c', String(floodCpu), 'python3', '-c', code], { stdio: 'ignore' });
  let finished = false;
  const done = new Promise((r) => flood.on('exit', r)).then(() => { finished = true; });
  let syncs = 0;
  try {
    await new Promise((r) => setTimeout(r, 300));
    while (!finished) {
      const start = process.hrtime.bigint();
      await s.sync();
      if (start > latestBarrier) latestBarrier = start;
      syncs++;
    }
    await done;
    await s.sync();
  } finally { flood.kill('SIGKILL'); }
  return { seen, late, syncs, worstMs: Number(worst) / 1e6 };
}

test('a sync covers every CPU: no record older than a barrier arrives after it resolved, while another CPU floods (per-CPU markers, and the exec chain without them)', { skip }, async () => {
  for (const mode of ['markers', 'exec-chain'] as const) {
    if (mode === 'exec-chain') process.env.CORRAL_SYNC_EXEC_CHAIN = '1';
    const s = await BpftraceSensor.start({});
    try {
      const r = await floodWhileSyncing(s, mode === 'markers' ? 6 : 3);
      assert.equal(s.syncMode, mode);
      assert.ok(r.seen > 500 && r.syncs > 10, `${mode}: ${r.seen} flood execs seen, ${r.syncs} syncs`);
      assert.equal(r.late, 0, `${mode}: ${r.late} of ${r.seen} records arrived after a barrier they were older than (by up to ${r.worstMs} ms)`);
    } finally { delete process.env.CORRAL_SYNC_EXEC_CHAIN; await s.stop(); }
  }
});

test('a barrier marker comes only from Corral\'s own process: another process\'s prctl with the marker option prints nothing', { skip }, async () => {
  const s = await BpftraceSensor.start({});
  try {
    await s.sync();
    const before = s.marksSeen;
    assert.equal(before, cpus.length, 'one marker per CPU for one sync');
    // (an agent — any process — calling prctl(SYNC_PRCTL, …) with a guessed token: the kernel side drops it)
    const forge = `import ctypes
libc = ctypes.CDLL(None, use_errno=True)
for i in range(200): libc.prctl(${SYNC_PRCTL}, 1, 2, 0, 0)`;
    await new Promise((r) => spawn('python3', ['-c', forge], { stdio: 'ignore' }).on('exit', r));
    await s.sync();
    assert.equal(s.marksSeen - before, cpus.length, 'only the second sync\'s own markers');
  } finally { await s.stop(); }
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
