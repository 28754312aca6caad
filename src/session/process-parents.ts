// Why: two session checks need a process's ancestors after the fact — a relayed reverse shell's feeder may be its
// grandparent (the connecting process forked first, or `sh -c 'sh'` stood between: a red-team review, session 41), or
// the relay at the other end of a unix socket on its stdin. The exec records name each exec'd process's parent, also
// after it has exited; a process that forked without exec is named by the parents the kernel listed at its child's
// exec (two levels up), or by /proc while it lives.
import { readFileSync } from 'node:fs';
import { setRecent } from './recent-map.js';

/** Processes whose parent is remembered (the oldest let go first). */
const MAX_PIDS = 8192;
/** Levels walked up at most. */
const MAX_DEPTH = 8;

export class ProcessParents {
  private readonly parentOf = new Map<number, number>();

  /**
   * A successful exec of `pid`, a child of `ppid`, with the kernel's parents above `ppid` at that moment (nearest
   * first). Those name a parent that forked without exec and may be gone before the record is read; a reaper
   * (`holder`, pid 1) in their place says the true parent died, and what an exec record said is kept.
   */
  exec(pid: number, ppid: number, above: readonly number[] = [], holder = 0): void {
    setRecent(this.parentOf, pid, ppid, MAX_PIDS);
    for (let child = ppid, k = 0; k < above.length; child = above[k++]!) {
      const parent = above[k]!;
      if (parent <= 1 || parent === holder) break;
      setRecent(this.parentOf, child, parent, MAX_PIDS);
    }
  }

  /** The parents above `pid`, nearest first, stopping below `holder` (the sandbox's pid 1, which adopts orphans). */
  ancestors(pid: number, holder: number): number[] {
    const out: number[] = [];
    for (let p = pid; out.length < MAX_DEPTH;) {
      const ppid = this.parentOf.get(p) ?? kernelParent(p);
      if (ppid === undefined || ppid <= 1 || ppid === holder) break;
      out.push(ppid);
      p = ppid;
    }
    return out;
  }

  /**
   * The processes that may feed a new process's stdin: its parent's line (`ppid` and above), then, when stdin is a
   * unix stream socket, the process at its other end (`stdinPeer`) and that one's parents — a relay another call left
   * running, serving its connection on a socket file.
   */
  feeders(pid: number, ppid: number, stdinPeer: number | undefined, holder: number): number[] {
    const up = [ppid, ...this.ancestors(ppid, holder)];
    return stdinPeer !== undefined && stdinPeer !== pid ? [...up, stdinPeer, ...this.ancestors(stdinPeer, holder)] : up;
  }
}

/** A live process's parent as the kernel has it now (/proc/PID/stat's fourth field); undefined when it is gone. */
function kernelParent(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) ? ppid : undefined;
  } catch { return undefined; }
}
