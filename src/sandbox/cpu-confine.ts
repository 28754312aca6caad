// Why: the sensor's barrier puts a marker in every CPU's buffer by pinning Corral's own thread to each CPU in turn;
// a CPU outside Corral's cpuset cannot be pinned to, so it gets no marker. A sandbox whose cgroup allows that CPU
// (its cgroup is a sibling of Corral's, not a child) could move there with sched_setaffinity(), and what it does
// there could still be in flight when its session closes — lost to it. Threat: a tool call's last execs and
// connects escaping their session on a CPU the barrier does not cover. On a cgroup2 host, when Corral's cpuset is
// narrower than the online CPUs, each session's cgroup is confined to Corral's CPUs; where that cannot be done the
// session says its capture was not confirmed complete. (On a v1 host Corral makes no cpuset groups: sandboxes stay
// in Corral's own, held to its CPUs.)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onlineCpus, parseCpuList } from '../sensors/cpu-list.js';

/** The CPUs this process's cgroup2 cpuset lets it run on (cpuset.cpus.effective); undefined when unknown. */
export function ownCgroupCpus(unified: string, selfCgroup = '/proc/self/cgroup'): number[] | undefined {
  try {
    const m = /^0::(\/.*)$/m.exec(readFileSync(selfCgroup, 'utf8'));
    if (!m) return undefined;
    return parseCpuList(readFileSync(join(unified, m[1]!, 'cpuset.cpus.effective'), 'utf8'));
  } catch { return undefined; }
}

/**
 * What sessions need: the cpuset list to confine them to (Corral's own CPUs), when some online CPU is outside it;
 * undefined when Corral may run on every online CPU (nothing to do) or its cpuset cannot be read.
 */
export function barrierCpuset(unified: string, online = onlineCpus(), own = ownCgroupCpus(unified)): { cpus: string; outside: number[] } | undefined {
  if (!own?.length) return undefined;
  const mine = new Set(own);
  const outside = online.filter((c) => !mine.has(c));
  return outside.length ? { cpus: own.join(','), outside } : undefined;
}

/** Turns the cpuset controller on for the children of each directory (root first). False when the kernel refused. */
export function enableCpuset(dirs: string[]): boolean {
  for (const d of dirs) {
    try {
      if (/\bcpuset\b/.test(readFileSync(join(d, 'cgroup.subtree_control'), 'utf8'))) continue;
      writeFileSync(join(d, 'cgroup.subtree_control'), '+cpuset');
    } catch { return false; }
  }
  return true;
}

/** Confines one cgroup to `cpus`; false when it could not be (no cpuset controller there, or the write failed). */
export function confineCgroup(dir: string, cpus: string): boolean {
  try {
    writeFileSync(join(dir, 'cpuset.cpus'), cpus);
    return readFileSync(join(dir, 'cpuset.cpus.effective'), 'utf8').trim() !== '';
  } catch { return false; }
}
