// Why: a connect() record names its process by the kernel's comm, which the process can rewrite
// (/proc/self/comm, prctl PR_SET_NAME): `echo curl > /proc/self/comm` made a bash reverse shell look
// like curl to shell_socket_connect. This remembers, per pid, the program its last successful exec
// ran (the path, the program a loader ran, the watched program a renamed copy is), so later events
// are judged by what was exec'd, not by a name the agent chose. Threat it stops: T1036.004
// masquerading a shell's socket as another program's. A forked process is known by the kernel's identity
// of its executable file, so a subshell reparented to the sandbox's holder is still the shell it is.

/** What a process runs: the program's path as exec'd (the loader's target for `ld.so PROG`), and the watched program its file copies. */
export interface ProcessImage { program: string; copy?: string }

/** Processes (and executable files) remembered at most (cleared when full: a later event then falls back to comm). */
const MAX_PIDS = 8192;

export class ProcessImages {
  private readonly byPid = new Map<number, ProcessImage>();
  /**
   * Images by the kernel's identity of the executable file (`dev:inode`), for processes that never exec'd and
   * whose parent is gone or not the one that did (a subshell of a subshell, a subshell reparented to the
   * sandbox's holder): the kernel names the file their memory maps, whatever they were forked from.
   */
  private readonly byExe = new Map<string, ProcessImage>();

  /**
   * A successful exec of `pid`; `exe` is the kernel's `dev:inode` of the new image's file, kept only when the
   * image is that file's own program (not for `ld.so PROG`, whose file is the loader whatever it runs).
   */
  exec(pid: number, image: ProcessImage, exe?: string, viaLoader = false): void {
    if (this.byPid.size >= MAX_PIDS && !this.byPid.has(pid)) this.byPid.clear();
    this.byPid.set(pid, image);
    if (exe !== undefined && !viaLoader) {
      if (this.byExe.size >= MAX_PIDS && !this.byExe.has(exe)) this.byExe.clear();
      this.byExe.set(exe, image);
    }
  }

  /** The process ended: its image, forgotten (pids are reused). */
  exit(pid: number): ProcessImage | undefined {
    const img = this.byPid.get(pid);
    this.byPid.delete(pid);
    return img;
  }

  /**
   * The image `pid` runs: its own exec's; else — a process forked without exec (a subshell's
   * `exec 3<>/dev/tcp/…`) runs the program its file is — the image last exec'd from that file (`exe`,
   * the kernel's `dev:inode` of the connecting process's executable); else its parent's, unless the parent
   * is `notParent` (the sandbox's holder, which adopts orphans: its program is never theirs).
   */
  of(pid: number | undefined, ppid?: number, exe?: string, notParent?: string): ProcessImage | undefined {
    if (pid === undefined) return undefined;
    const own = this.byPid.get(pid) ?? (exe !== undefined ? this.byExe.get(exe) : undefined);
    if (own) return own;
    const parent = ppid !== undefined ? this.byPid.get(ppid) : undefined;
    return parent && parent.program !== notParent ? parent : undefined;
  }
}
