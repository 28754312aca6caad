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

export const SENSOR_RING_USAGE = `--sensor-ring SIZE: the kernel sensor's ring, total over all CPUs (default 16MiB per CPU, 128MiB in all at most; at most 4GiB),
  rounded down to a power of two pages per CPU: raise it when reports say "capture incomplete: records lost"`;

/** Pages per CPU for `--sensor-ring SIZE` (undefined: the default), or a UsageError naming the flag. */
export function sensorRingPages(v: string | undefined, ncpu = cpus().length): number | undefined {
  if (v === undefined) return undefined;
  const s = parseSize(v);
  if (!s.ok) throw new UsageError(`--sensor-ring: ${s.error}`);
  if (s.value > MAX_SENSOR_RING_BYTES) throw new UsageError(`--sensor-ring: at most 4GiB (it is locked kernel memory), got '${v}'`);
  const per = Math.floor(s.value / Math.max(1, ncpu) / PAGE);
  if (per < 1) throw new UsageError(`--sensor-ring: at least one 4KiB page per CPU (${Math.max(1, ncpu) * 4}KiB on this machine), got '${v}'`);
  let pages = 1;
  while (pages * 2 <= per) pages *= 2;
  return pages;
}
