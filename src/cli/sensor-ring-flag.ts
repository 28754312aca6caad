// Why: the kernel sensor's perf ring is what decides whether a burst of execs and connects is
// recorded or lost (docs/report.md, Capture incomplete). An operator who sees losses needs to raise it
// without writing code: `--sensor-ring SIZE` on the commands that keep a runtime (serve, replay).
// SIZE is the total over all CPUs (what the machine gives up, locked in the kernel); bpftrace wants
// pages per CPU as a power of two, so the size is rounded down to that and the rounding is said.

import { cpus } from 'node:os';
import { parseSize } from '../policy/units.js';
import { UsageError } from './io.js';

const PAGE = 4096;
/** Locked kernel memory: past this a typo (`--sensor-ring 64G`) would take the machine's memory. */
export const MAX_SENSOR_RING_BYTES = 4 * 1024 ** 3;
/** The largest ring per CPU the kernel maps for bpftrace (measured: 1 GiB maps, 2 GiB fails with ENOMEM). */
export const MAX_RING_PAGES_PER_CPU = 262_144;

export const SENSOR_RING_USAGE = `--sensor-ring SIZE: the kernel sensor's ring, total over all CPUs (default 16MiB per CPU, 128MiB in all at most; at most
  4GiB and 1GiB per CPU), rounded down to a power of two pages per CPU: raise it when reports say "capture incomplete:
  records lost". With it the sensor is required: a ring the kernel cannot map stops the command`;

/** Pages per CPU for `--sensor-ring SIZE` (undefined: the default), or a UsageError naming the flag. */
export function sensorRingPages(v: string | undefined, ncpu = cpus().length): number | undefined {
  if (v === undefined) return undefined;
  const s = parseSize(v);
  if (!s.ok) throw new UsageError(`--sensor-ring: ${s.error}`);
  if (s.value > MAX_SENSOR_RING_BYTES) throw new UsageError(`--sensor-ring: at most 4GiB (it is locked kernel memory), got '${v}'`);
  const n = Math.max(1, ncpu);
  const per = Math.floor(s.value / n / PAGE);
  if (per < 1) throw new UsageError(`--sensor-ring: at least one 4KiB page per CPU (${n * 4}KiB on this machine), got '${v}'`);
  if (per > MAX_RING_PAGES_PER_CPU) throw new UsageError(`--sensor-ring: at most 1GiB per CPU (${n}GiB on this machine): the kernel maps no larger ring, got '${v}'`);
  let pages = 1;
  while (pages * 2 <= per) pages *= 2;
  return pages;
}

/**
 * The runtime's sensor options from `--no-sensor` and `--sensor-ring`: an operator who sized the ring
 * wants the sensor, so it is then required (a ring the kernel cannot map stops the command with
 * bpftrace's reason, instead of running on without capture); the two flags together are a usage error.
 */
export function sensorRuntimeOptions(values: { 'no-sensor'?: boolean; 'sensor-ring'?: string }, ncpu = cpus().length): { sensor: boolean | 'auto'; perfRbPages?: number } {
  if (values['no-sensor'] && values['sensor-ring'] !== undefined) throw new UsageError('--sensor-ring sizes the kernel sensor\'s ring: it cannot go with --no-sensor');
  if (values['no-sensor']) return { sensor: false };
  const perfRbPages = sensorRingPages(values['sensor-ring'], ncpu);
  return perfRbPages === undefined ? { sensor: 'auto' } : { sensor: true, perfRbPages };
}
