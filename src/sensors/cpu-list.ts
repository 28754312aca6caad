// Why: the sensor's barrier must put a marker on every CPU a traced process can run on (bpftrace drains one perf
// buffer per CPU, so a marker seen on one says nothing of another's backlog). This reads which CPUs those are:
// every online one (the markers), and the ones this process may run on (the exec chain's taskset, which cannot
// pin outside them).
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** A kernel CPU list (`0-3,8,10-11`) as CPU numbers, ascending; undefined when it is not one. */
export function parseCpuList(text: string): number[] | undefined {
  const out = new Set<number>();
  const t = text.trim();
  if (!t) return undefined;
  for (const part of t.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
    if (b < a || b - a > 65_536) return undefined;
    for (let c = a; c <= b; c++) out.add(c);
  }
  return [...out].sort((x, y) => x - y);
}

/**
 * Every online CPU (/sys/devices/system/cpu/online); this process's allowed ones when that cannot be read. The
 * barrier's markers go to all of them: a sandbox's processes are not bound by Corral's own affinity (a daemon
 * pinned with CPUAffinity= still runs sandboxes that use every CPU), and a CPU the marker cannot be pinned to
 * (outside Corral's cpuset) is skipped there — sessions are held off such CPUs (sandbox/cpu-confine.ts).
 */
export function onlineCpus(path = '/sys/devices/system/cpu/online'): number[] {
  try {
    const list = parseCpuList(readFileSync(path, 'utf8'));
    if (list?.length) return list;
  } catch { /* no sysfs */ }
  return allowedCpus();
}

/** The CPUs this process may run on (its Cpus_allowed_list); every CPU Node counts when that cannot be read. */
export function allowedCpus(status = '/proc/self/status'): number[] {
  try {
    const m = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync(status, 'utf8'));
    const list = m ? parseCpuList(m[1]!) : undefined;
    if (list?.length) return list;
  } catch { /* not Linux, or no /proc */ }
  return cpus().map((_, i) => i);
}
