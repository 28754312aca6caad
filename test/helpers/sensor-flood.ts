// Why: the sensor barrier's tests (test/sensor-sync-every-cpu.test.ts) flood execs from one CPU while syncing over
// and over, in this process and in a child pinned to another CPU; this is that flood and its count of late records.
import { spawn } from 'node:child_process';
import type { BpftraceSensor, SensorRecord } from '../../src/sensors/bpftrace-sensor.js';
import { onlineCpus } from '../../src/sensors/cpu-list.js';

/**
 * Floods execs from the last CPU for `seconds` while syncing over and over; the records that came back late. (Under
 * CI load one barrier can wait out seconds of backlog: each gets 30 s, and the callers ask for few.)
 */
export async function floodWhileSyncing(s: BpftraceSensor, seconds: number): Promise<{ seen: number; late: number; syncs: number; worstMs: number }> {
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
  // the flood: execs with long argv (≈ 6 chunk lines each), pinned to the last online CPU
  const cpus = onlineCpus();
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
      await s.sync(30_000);
      if (start > latestBarrier) latestBarrier = start;
      syncs++;
    }
    await done;
    await s.sync(30_000);
  } finally { flood.kill('SIGKILL'); }
  return { seen, late, syncs, worstMs: Number(worst) / 1e6 };
}

