// Why: a reverse shell need not put its socket on the shell's stdio (shell_on_socket sees that) nor say
// "socket" in an argv (scripted_reverse_shell_exec reads that). A program that holds the connection — Node's
// net module, Python, any language, its code in a file or obfuscated (`require(["n","e","t"].join(""))`, a
// red-team finding of session 40) — starts a shell that reads its commands from a pipe or a pseudo-terminal
// and copies bytes between the two. This joins the halves by process lineage, in either order: a shell that
// reads commands from a pipe or pty and answers into one, whose parent has connected out; or a parent that
// connects out while such a shell of its runs. Any ancestor counts, not only the parent (a red-team review,
// session 41: the connecting process forked first, or started `sh -c 'sh; true'`). Threat: T1059.004 / T1095,
// a remote-controlled shell relayed through another program.
import { SHELLS } from '../detect/command/programs.js';
import { readShellArgv } from './shell-argv.js';
import { setRecent } from './recent-map.js';

/** Pids remembered at most per map (the oldest let go first). */
const MAX_PIDS = 8192;

/**
 * Whether a shell started with `argv` reads its commands from stdin: no `-c`, and no script operand unless
 * `-s` says the operands are arguments (`sh`, `bash -i`, `sh -s x y`, `bash --norc -`).
 */
export function shellReadsStdin(argv: readonly string[]): boolean {
  return readShellArgv(argv).fromStdin;
}

/** What the sensor saw on a new image's fds 0–2 (fd numbers per kind). */
export interface Stdio { socket?: readonly number[]; pipe?: readonly number[]; pty?: readonly number[] }

/** A shell reading its commands from a pipe or pty and writing its output into one (or a socket). */
export function isFedShell(name: string, argv: readonly string[], io: Stdio): boolean {
  const on = (fd: number, ...kinds: (readonly number[] | undefined)[]): boolean => kinds.some((k) => k?.includes(fd) === true);
  return SHELLS.has(name) && shellReadsStdin(argv) && on(0, io.pipe, io.pty) && (on(1, io.pipe, io.pty, io.socket) || on(2, io.pipe, io.pty, io.socket));
}

/** What a relay was found by: the shell, the process feeding it and where that one connected. */
export interface FedShellFinding { shell: number; feeder: number; remote: string }

export class FedShells {
  /** pid → its last outward connection ("ip:port"; not loopback, not DNS). */
  private readonly connected = new Map<number, string>();
  /** ancestor pid → the fed shell below it that has not been reported yet. */
  private readonly waiting = new Map<number, number>();
  /** fed shell pid → the ancestors it waits under (to forget the shell when it ends). */
  private readonly waitsUnder = new Map<number, number[]>();

  /**
   * A successful exec: the finding when it is a fed shell one of whose feeders (the parent first, then `feeders()`:
   * the parent's parents — a forked child of the connecting process, or `sh -c 'sh'` between them — and the process
   * at the other end of a unix socket on stdin) has already connected out. The shell's input may be held by any.
   */
  exec(pid: number, ppid: number, name: string, argv: readonly string[], io: Stdio, feeders: () => number[] = () => []): FedShellFinding | undefined {
    if (!isFedShell(name, argv, io)) return undefined;
    const line = [ppid, ...feeders().filter((a) => a !== ppid)];
    for (const a of line) {
      const remote = this.connected.get(a);
      if (remote !== undefined) return { shell: pid, feeder: a, remote };
    }
    for (const a of line) setRecent(this.waiting, a, pid, MAX_PIDS);
    setRecent(this.waitsUnder, pid, line, MAX_PIDS);
    return undefined;
  }

  /** An outward connection by `pid`: the finding when a fed shell below it waits (each shell is reported once). */
  connect(pid: number, remote: string): FedShellFinding | undefined {
    setRecent(this.connected, pid, remote, MAX_PIDS);
    const shell = this.waiting.get(pid);
    if (shell === undefined) return undefined;
    this.forgetShell(shell);
    return { shell, feeder: pid, remote };
  }

  /** Whether a fed shell found at its exec still waits for its feeder to connect (not yet reported, not ended). */
  waits(shell: number): boolean {
    return this.waitsUnder.has(shell);
  }

  /**
   * A waiting shell's relays found later (pipe-relays.ts, once they hold its pipes): the finding when one of them
   * has connected out. The shell is then reported and forgotten.
   */
  relayedBy(shell: number, relays: readonly number[]): FedShellFinding | undefined {
    if (!this.waitsUnder.has(shell)) return undefined;
    for (const r of relays) {
      const remote = this.connected.get(r);
      if (remote !== undefined) { this.forgetShell(shell); return { shell, feeder: r, remote }; }
    }
    return undefined;
  }

  /** A process ended (pids are reused): forget it as a feeder and as a waiting shell. */
  exit(pid: number): void {
    this.connected.delete(pid);
    this.waiting.delete(pid);
    this.forgetShell(pid);
  }

  private forgetShell(shell: number): void {
    for (const a of this.waitsUnder.get(shell) ?? []) if (this.waiting.get(a) === shell) this.waiting.delete(a);
    this.waitsUnder.delete(shell);
  }
}
