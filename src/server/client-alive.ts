// Why: the daemon closes sessions whose client process has exited (a crashed trainer must not leave
// its sandboxes running), judging by /proc/PID/stat. A read that fails for another reason than the
// process being gone — the daemon out of descriptors (EMFILE) during a flood of connections — was
// taken for "exited", and every healthy client's sessions were closed under it. Threat it stops:
// one descriptor-exhausting client (or a burst of load) tearing down every other client's sandboxes.
import { readFileSync } from 'node:fs';
import { pidAlive } from '../util/pid-alive.js';

/** A session's client: its pid, uid and start time (clock ticks since boot; undefined when unread). */
export interface Client { pid: number; uid: number; start?: string }

/** Field 22 of /proc/PID/stat; 'gone' when the process does not exist, 'unknown' when it could not be read. */
export function readStartTime(pid: number): string | 'gone' | 'unknown' {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? 'unknown';
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ESRCH' ? 'gone' : 'unknown';
  }
}

export function clientOf(c: { pid: number; uid: number }): Client {
  const start = readStartTime(c.pid);
  return { pid: c.pid, uid: c.uid, ...(start !== 'gone' && start !== 'unknown' ? { start } : {}) };
}

/**
 * The client process is still the one that opened the session (same pid, same start time). When
 * /proc cannot be read now, the kernel's answer to kill(pid, 0) decides: alive unless it is gone.
 */
export function clientAlive(c: Client): boolean {
  const now = readStartTime(c.pid);
  if (now === 'gone') return false;
  if (now === 'unknown') return pidAlive(c.pid);
  return c.start === undefined || now === c.start;
}
