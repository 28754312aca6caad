// Why: lab cleanup must leave no process behind (SAFETY.md rule 5) and must kill by PID, never
// by name. A far netns can hold processes the harness did not start directly (sshd's per-
// connection children, e.g. a half-open `ssh -R`); this finds exactly the PIDs whose network
// namespace is a given one, so they can be killed and the netns can disappear with them.
import { readdirSync, readlinkSync } from 'node:fs';

/** The netns identity ("net:[inode]") of a process, or undefined if it is gone/unreadable. */
export function netnsOf(pid: number | 'self'): string | undefined {
  try { return readlinkSync(`/proc/${pid}/ns/net`); } catch { return undefined; }
}

/** Every PID currently in the network namespace `ns` ("net:[inode]"). */
export function pidsInNetns(ns: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid !== process.pid && netnsOf(pid) === ns) out.push(pid);
  }
  return out;
}

export { pidAlive } from '../util/pid-alive.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** SIGKILLs every process in `ns` (by PID) until none is left or timeoutMs passes; returns leftovers. */
export async function killNetns(ns: string, timeoutMs = 3000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = pidsInNetns(ns);
    if (pids.length === 0 || Date.now() > deadline) return pids;
    for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } }
    await sleep(50);
  }
}
