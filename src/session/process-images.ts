// Why: a connect() record names its process by the kernel's comm, which the process can rewrite
// (/proc/self/comm, prctl PR_SET_NAME): `echo curl > /proc/self/comm` made a bash reverse shell look
// like curl to shell_socket_connect. This remembers, per pid, the program its last successful exec
// ran (the path, the program a loader ran, the watched program a renamed copy is), so later events
// are judged by what was exec'd, not by a name the agent chose. Threat it stops: T1036.004
// masquerading a shell's socket as another program's.

/** What a process runs: the program's path as exec'd (the loader's target for `ld.so PROG`), and the watched program its file copies. */
export interface ProcessImage { program: string; copy?: string }

/** Processes remembered at most (cleared when full: a later event then falls back to comm). */
const MAX_PIDS = 8192;

export class ProcessImages {
  private readonly byPid = new Map<number, ProcessImage>();

  /** A successful exec of `pid`. */
  exec(pid: number, image: ProcessImage): void {
    if (this.byPid.size >= MAX_PIDS && !this.byPid.has(pid)) this.byPid.clear();
    this.byPid.set(pid, image);
  }

  /** The process ended: its image, forgotten (pids are reused). */
  exit(pid: number): ProcessImage | undefined {
    const img = this.byPid.get(pid);
    this.byPid.delete(pid);
    return img;
  }

  /**
   * The image `pid` runs: its own exec's, else — a process forked without exec (a subshell's
   * `exec 3<>/dev/tcp/…`) runs its parent's program — its parent's.
   */
  of(pid: number | undefined, ppid?: number): ProcessImage | undefined {
    if (pid === undefined) return undefined;
    return this.byPid.get(pid) ?? (ppid !== undefined ? this.byPid.get(ppid) : undefined);
  }
}
