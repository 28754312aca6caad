// Why: a relayed reverse shell need not be a child of the program holding the connection. A relay started beside
// the shell — `python3 relay.py & sh <in >out` over two FIFOs, or `cat in | sh >out` with the relay writing `in` —
// is no parent of it, so the lineage check of fed-shells.ts missed it (left open in session 41). This finds, among
// the session's processes, the ones that hold the other ends of a shell's stdin and stdout: a relay reads what the
// shell writes AND writes what it reads (directly, or through one process in between such as `cat`). Both ends are
// required: `curl URL | sh` feeds a shell from the network but does not read its answers, and is not a relay.
// Ends are found by inode through /proc/PID/fd (the kernel's identity, not a path the agent chose).
// Threat: T1059.004 / T1095, a remote-controlled shell relayed through another program over pipes or FIFOs.
import { statSync } from 'node:fs';
import { eachProcFd, fdAccess } from './proc-fds.js';

const S_IFMT = 0o170000;
const S_IFIFO = 0o010000;

/** One pipe or FIFO descriptor of a process: which inode, and whether it reads and/or writes it. */
export interface PipeEnd { pid: number; ino: number; read: boolean; write: boolean }

/** The pipe and FIFO descriptors the given processes hold now (gone processes and closed fds skipped; at most MAX_FDS looked at). */
export function pipeEnds(pids: Iterable<number>): PipeEnd[] {
  const out: PipeEnd[] = [];
  eachProcFd(pids, (pid, fd) => {
    try {
      const st = statSync(`/proc/${pid}/fd/${fd}`);
      if ((st.mode & S_IFMT) !== S_IFIFO) return;
      const how = fdAccess(pid, fd);
      if (how.read || how.write) out.push({ pid, ino: st.ino, ...how });
    } catch { /* closed meanwhile, or the process exited */ }
  });
  return out;
}

/** Processes walked through between a relay and its shell, at most, on either side (`a | b | c | sh | d | e`). */
const MAX_HOPS = 4;

/**
 * The processes relaying the shell `shell` whose stdin is pipe `pin` and stdout pipe `pout`: each both feeds `pin`
 * and reads `pout`, itself or through other processes joined by pipes — up to MAX_HOPS of them on each side
 * (`relay | cat | tr … | sh | cat | relay`: session 44; one `cat` was all session 42 followed). The shell's own
 * descriptors, and those of the processes named in `skip` (its parents, which may hold copies), do not count.
 */
export function shellRelays(shell: number, pin: number, pout: number, ends: readonly PipeEnd[], skip: ReadonlySet<number> = new Set()): number[] {
  const others = ends.filter((e) => e.pid !== shell && !skip.has(e.pid));
  // (from a pipe, the processes at its far side: upstream its writers and what they read, downstream its readers
  //  and what they write; the shell's own two pipes are never walked through)
  const reach = (from: number, far: 'write' | 'read'): Set<number> => {
    const near = far === 'write' ? 'read' : 'write';
    const pids = new Set<number>();
    let pipes = new Set([from]);
    const seen = new Set([pin, pout]);
    for (let hop = 0; hop <= MAX_HOPS && pipes.size; hop++) {
      const found = new Set(others.filter((e) => pipes.has(e.ino) && e[far] && !pids.has(e.pid)).map((e) => e.pid));
      for (const p of found) pids.add(p);
      pipes = new Set(others.filter((e) => found.has(e.pid) && e[near] && !seen.has(e.ino)).map((e) => e.ino));
      for (const i of pipes) seen.add(i);
    }
    return pids;
  };
  const feeders = reach(pin, 'write');
  const readers = reach(pout, 'read');
  return [...feeders].filter((p) => readers.has(p)).sort((a, b) => a - b);
}
