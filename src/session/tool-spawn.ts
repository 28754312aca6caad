// Why: every tool call starts one process from Corral's runtime process, and Node's spawn forks that
// process first: the fork copies the page tables of everything it holds, so a call's start grows with
// the runtime's memory (on this VM 7 ms from a bare Node, 25 ms at 365 MB resident, against ≈ 2 ms
// for posix_spawn at any size). native/fast-spawn.c starts the call's launcher with posix_spawn (the
// child gets what libuv's would: its three descriptors, default signal actions, an empty mask) and
// reports its exit from a waiting thread; this wraps it as the small part of a ChildProcess a tool
// call uses — piped stdout and stderr, stdin piped or /dev/null, or the caller's own descriptors
// (`corral run`'s terminal, a daemon client's borrowed ones); `exit` then `close`. Without the addon
// (not built), Node's spawn.
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { closeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Socket } from 'node:net';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';

interface FastSpawnNative {
  pipe(): [number, number];
  spawn(file: string, argv: string[], env: string[], fds: [number, number, number], onExit: (status: number) => void): number;
}

/** What a tool call uses of its launcher process. */
export interface ToolChild {
  readonly pid?: number;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  once(event: 'close', listener: () => void): this;
}

/**
 * Starts `file` with `args`. Without `fds`: stdout and stderr piped, stdin piped when `stdin`, else /dev/null.
 * With `fds`: the child's 0, 1 and 2 are those descriptors of this process (-1: /dev/null) and nothing is piped.
 */
export type ToolSpawner = (file: string, args: string[], o: { env: NodeJS.ProcessEnv; stdin: boolean; fds?: readonly [number, number, number] }) => ToolChild;

/** The posix_spawn spawner when native/fast-spawn.c was built (and CORRAL_FORK_SPAWN is not set), else Node's spawn. */
export function toolSpawner(): ToolSpawner {
  const native = process.env.CORRAL_FORK_SPAWN ? undefined : loadNative();
  if (!native) {
    return (file, args, o) => spawn(file, args, {
      stdio: o.fds ? o.fds.map((fd) => (fd < 0 ? 'ignore' : fd)) : [o.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: o.env,
    }) as ChildProcess as ToolChild;
  }
  return (file, args, o) => new FastChild(native, file, args, o.env, o.fds ?? o.stdin);
}

function loadNative(): FastSpawnNative | undefined {
  try {
    const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'native');
    return createRequire(import.meta.url)(join(dir, 'fast-spawn.node')) as FastSpawnNative;
  } catch { return undefined; }
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

/**
 * A child started by posix_spawn: emits `exit` (code, signal) when it ends, `close` once that and its output pipes
 * (if any) have.
 */
class FastChild extends EventEmitter implements ToolChild {
  readonly pid: number;
  readonly stdin: Socket | null = null;
  readonly stdout: Socket | null = null;
  readonly stderr: Socket | null = null;
  private open = 1; // (the exit, and each output pipe: `close` after all of them)
  private exit?: [number | null, NodeJS.Signals | null];

  /** `io`: whether stdin is piped (output always is), or the child's three descriptors. */
  constructor(native: FastSpawnNative, file: string, args: string[], env: NodeJS.ProcessEnv, io: boolean | readonly [number, number, number]) {
    super();
    const envList = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
    if (typeof io !== 'boolean') {
      this.pid = native.spawn(file, [file, ...args], envList, [io[0], io[1], io[2]], (status) => this.exited(status));
      return;
    }
    const feed = io;
    // (descriptors still this constructor's to close: each leaves the set once closed or handed to a Socket, so a
    // failure never closes a number the process has since given to something else)
    const mine = new Set<number>();
    const pipe = (): [number, number] => { const p = native.pipe(); mine.add(p[0]).add(p[1]); return p; };
    const handOver = (fd: number, o: { readable: boolean; writable: boolean }): Socket => { const s = new Socket({ fd, ...o }); mine.delete(fd); return s; };
    try {
      const input = feed ? pipe() : undefined;
      const out = pipe();
      const err = pipe();
      this.pid = native.spawn(file, [file, ...args], envList, [input ? input[0] : -1, out[1], err[1]], (status) => this.exited(status));
      for (const fd of [...(input ? [input[0]] : []), out[1], err[1]]) { mine.delete(fd); closeSync(fd); }
      this.stdin = input ? handOver(input[1], { readable: false, writable: true }) : null;
      this.stdout = handOver(out[0], { readable: true, writable: false });
      this.stderr = handOver(err[0], { readable: true, writable: false });
    } catch (e) {
      for (const fd of mine) { try { closeSync(fd); } catch { /* (already closed) */ } }
      throw e;
    }
    for (const s of [this.stdout, this.stderr]) {
      // (a read error ends the stream as an end of file would: the call's result never hangs on it)
      this.open++;
      s.on('error', () => {});
      s.once('close', () => this.closedOne());
    }
  }

  private exited(status: number): void {
    const signal = status & 0x7f;
    this.exit = signal === 0 ? [(status >> 8) & 0xff, null] : [null, SIGNAL_NAMES.get(signal) ?? 'SIGKILL'];
    this.emit('exit', ...this.exit);
    this.closedOne();
  }

  private closedOne(): void {
    if (--this.open === 0) this.emit('close', ...(this.exit ?? [null, null]));
  }
}
