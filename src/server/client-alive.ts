// Why: the daemon closes sessions whose client process has exited (a crashed trainer must not leave
// its sandboxes running), judging by /proc/PID/stat. A read that fails for another reason than the
// process being gone — the daemon out of descriptors (EMFILE) during a flood of connections — was
// taken for "exited", and every healthy client's sessions were closed under it. Threat it stops:
// one descriptor-exhausting client (or a burst of load) tearing down every other client's sandboxes.
import { pidAlive, processStartTime, readStartTime } from '../util/pid-alive.js';

export { readStartTime };

/** A session's client: its pid, uid and start time (clock ticks since boot; undefined when unread). */
export interface Client { pid: number; uid: number; start?: string }

export function clientOf(c: { pid: number; uid: number }): Client {
  const start = processStartTime(c.pid);
  return { pid: c.pid, uid: c.uid, ...(start !== undefined ? { start } : {}) };
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
