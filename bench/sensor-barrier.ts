// Why: every session close, DNS answer and drop waits on the sensor's barrier (BpftraceSensor.sync) before it
// attributes anything, so its cost is paid many times a second on a busy host. This times the per-CPU markers
// (native/sync-markers.c: a prctl per CPU from Corral's own thread) against the exec chain they fall back to
// (`taskset -c C1 … /bin/true <nonce>`, one exec per CPU): wall time and Corral's CPU per barrier.
// Run as root: node dist/bench/sensor-barrier.js   (BENCH_BARRIERS=N, default 300)
import { cpus } from 'node:os';
import { BpftraceSensor } from '../src/sensors/bpftrace-sensor.js';
import { fmt, printTable } from './bench-util.js';

const N = Number(process.env.BENCH_BARRIERS ?? 300);

async function time(mode: 'markers' | 'exec-chain'): Promise<{ wallMs: number; cpuMs: number; mode?: string }> {
  if (mode === 'exec-chain') process.env.CORRAL_SYNC_EXEC_CHAIN = '1';
  const s = await BpftraceSensor.start({ skipHostProcesses: true });
  try {
    for (let i = 0; i < 10; i++) await s.sync();
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      await s.sync();
      if (i % 50 === 49) process.stderr.write(`  ${mode}: ${i + 1}/${N} barriers\r`);
    }
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6 / N;
    const c = process.cpuUsage(c0);
    return { wallMs, cpuMs: (c.user + c.system) / 1000 / N, mode: s.syncMode };
  } finally { delete process.env.CORRAL_SYNC_EXEC_CHAIN; await s.stop(); }
}

async function main(): Promise<void> {
  const m = await time('markers');
  const e = await time('exec-chain');
  process.stderr.write('\n');
  printTable(`Sensor barrier, ${N} in a row, ${cpus().length} CPUs (ms per barrier)`, [
    [`per-CPU markers (${m.mode})`, fmt(m.wallMs, 3), fmt(m.cpuMs, 3), '1.00×'],
    [`exec chain (${e.mode})`, fmt(e.wallMs, 3), fmt(e.cpuMs, 3), `${fmt(e.wallMs / m.wallMs, 1)}×`],
  ], ['barrier', 'wall ms', 'Corral CPU ms', 'wall vs markers']);
}

void main();
