// Why: two session checks look through the session's processes' open descriptors by the kernel's identity of
// the file (device and inode via /proc/PID/fd), never by a path the agent chose: who holds a start-up file open
// for writing (open-writers.ts) and who holds the other ends of a shell's pipes (pipe-relays.ts). A process can
// hold a million descriptors, so the look is bounded.
import { readdirSync, readFileSync } from 'node:fs';

/** At most this many descriptors are looked at in all. */
export const MAX_FDS = 65_536;

/**
 * Calls `visit` with each open descriptor of `pids` (gone processes skipped) until it returns true. Returns false
 * when the look stopped at MAX_FDS descriptors, true otherwise.
 */
export function eachProcFd(pids: Iterable<number>, visit: (pid: number, fd: string) => boolean | void): boolean {
  let budget = MAX_FDS;
  for (const pid of pids) {
    let fds: string[];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      if (--budget < 0) return false;
      if (visit(pid, fd) === true) return true;
    }
  }
  return true;
}

/** How a process holds descriptor `fd` (its fdinfo's `flags:` access mode); throws when it is gone. */
export function fdAccess(pid: number, fd: string): { read: boolean; write: boolean } {
  const m = /^flags:\s*([0-7]+)$/m.exec(readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'));
  const acc = m ? parseInt(m[1]!, 8) & 3 : -1;
  return { read: acc === 0 || acc === 2, write: acc === 1 || acc === 2 };
}
