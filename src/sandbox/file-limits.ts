// Why: open files are a host-wide pool (fs.file-max) and a per-process count (RLIMIT_NOFILE), and
// both were reachable from one sandbox (a review, session 23):
//  - a sandbox at default limits (256 processes × the 20 000 files each inherited from Corral) took the
//    host's last open file: every other sandbox's commands failed with "Too many open files in system";
//  - a sandbox opening 3 400 allowed connections took the Corral process's own 20 000 descriptors (the
//    gateway holds six per relayed flow), and other sandboxes' tool calls failed to start (EMFILE).
// Open files are charged to each sandbox's memory cgroup, so the host-wide count is raised as systemd
// raises it on every host it boots (fs.file-max = LONG_MAX: memory limits bound files instead); Corral's
// own descriptor limit is raised to the kernel's ceiling (fs.nr_open) where the host lets root raise it
// (else its soft limit to its hard one), and the gateway caps the flows it holds to fit (tcp-proxy.ts);
// and everything a sandbox runs gets SANDBOX_NOFILE (set by corral-enter; at most Corral's own hard
// limit where that cannot be raised), whatever Corral itself was given.
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Open-file limit (soft and hard) of every process a sandbox runs: what CI systems and container runtimes commonly give. */
export const SANDBOX_NOFILE = 65536;
/** systemd's fs.file-max (LONG_MAX): open files bounded by memory, not by a host-wide count. */
export const UNBOUNDED_FILE_MAX = 9223372036854775807n;

function readNumber(path: string): bigint | undefined {
  try { return BigInt(readFileSync(path, 'utf8').trim()); } catch { return undefined; }
}

/** Raises fs.file-max and this process's RLIMIT_NOFILE as the header says; returns what could not be done. */
export function raiseFileLimits(): string[] {
  const problems: string[] = [];
  const max = readNumber('/proc/sys/fs/file-max');
  if (max !== undefined && max < UNBOUNDED_FILE_MAX) {
    try { writeFileSync('/proc/sys/fs/file-max', String(UNBOUNDED_FILE_MAX)); } catch (e) {
      problems.push(`fs.file-max stays ${max} (${(e as Error).message}): one sandbox may use up the host's open files (set it to ${UNBOUNDED_FILE_MAX}, as systemd does)`);
    }
  }
  // (the hard limit can only be raised with CAP_SYS_RESOURCE, which not every host gives root — this VM's
  // does not; then the soft limit goes up to the hard one, and the gateway's flow caps fit what is left.
  // One prlimit at most, none when nothing would change: this runs in every `corral run`'s start.)
  const ceiling = Number(readNumber('/proc/sys/fs/nr_open') ?? 1_048_576n);
  const own = openFileLimit();
  const target = hasCapSysResource() ? Math.max(ceiling, own.hard) : own.hard;
  if (own.soft < target || own.hard < target) {
    try { execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${target}:${target}`], { stdio: 'ignore' }); } catch { /* kept as it was */ }
  }
  return problems;
}

/** This process's open-file limits (/proc/self/limits; unlimited as 2^30, 1024 when unreadable). */
export function openFileLimit(): { soft: number; hard: number } {
  const n = (v: string | undefined): number => (v === undefined ? 1024 : v === 'unlimited' ? 2 ** 30 : Number(v));
  try {
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return { soft: n(m?.[1]), hard: n(m?.[2]) };
  } catch { return { soft: 1024, hard: 1024 }; }
}

/** Whether this process holds CAP_SYS_RESOURCE (bit 24 of CapEff), without which a hard limit cannot be raised. */
function hasCapSysResource(): boolean {
  try {
    const hex = /^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return hex !== undefined && (BigInt(`0x${hex}`) & (1n << 24n)) !== 0n;
  } catch { return false; }
}
