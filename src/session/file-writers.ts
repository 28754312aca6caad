// Why: the persistence watch finds that a file changed, not who changed it; a process an earlier
// call left running can plant a git hook while a later call runs, and the file's times cannot tell
// the two calls apart. This follows native/corral-fwatch (fanotify, one group per runtime, a mark on
// each session's own workspace filesystem): for each file closed after writing, the writer's pid and
// its cgroup — read by the helper while the writer existed, or, when it had already exited, resolved
// by the session from the kernel sensor's exec or exit record of that pid. The cgroup is the call's
// (the lineage Corral made, which the agent cannot choose).
// Threat: persistence blamed on the wrong tool call, the planting call spared.
// Only a workspace on its own filesystem is watched (a loop-mounted disk): a mark on a host
// directory's filesystem would see every write on the host.
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { setRecent } from './recent-map.js';

/** The last writer of a file: its pid (the host's) and cgroup path ('/…', undefined when it was exiting or gone). */
export interface FileWriter { pid: number; cgroup?: string }

/** Paths remembered per session (the most recently written kept): a build writes thousands of files between looks. */
const MAX_PATHS = 8192;

/** The runtime's one watcher: marks filesystems on request and hands each write to the session of its filesystem. */
export class FileWatch {
  private readonly byDev = new Map<number, FileWriters>();
  private readonly pending: ((r: { dev?: number; error?: string }) => void)[] = [];
  private readonly syncs: (() => void)[] = [];
  private err = '';
  private closed = false;

  private constructor(private readonly child: ChildProcess, private readonly onError: (e: Error) => void) {}

  /** Starts the helper; undefined (with onError told why) when it is not built or cannot watch. */
  static async start(bin: string | undefined, onError: (e: Error) => void): Promise<FileWatch | undefined> {
    if (!bin) return undefined;
    const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const w = new FileWatch(child, onError);
    child.stderr!.on('data', (d: Buffer) => { if (w.err.length < 2000) w.err += d.toString(); });
    child.stdin!.on('error', () => {});
    const lines = createInterface({ input: child.stdout! });
    const ready = await new Promise<boolean>((resolve) => {
      lines.once('line', (l) => resolve(l === 'ready' || l === 'ready\tnames'));
      child.once('error', () => resolve(false));
      child.once('exit', () => resolve(false));
    });
    if (!ready) {
      child.kill('SIGKILL');
      onError(new Error(`corral-fwatch could not start: ${w.err.trim() || 'it exited'} (persistence is blamed by file times)`));
      return undefined;
    }
    lines.on('line', (l) => w.onLine(l));
    child.on('exit', (code, sig) => {
      w.closed = true;
      for (const p of w.pending.splice(0)) p({ error: 'the watcher exited' });
      for (const p of w.syncs.splice(0)) p();
      if (!w.stopping) onError(new Error(`corral-fwatch exited (${sig ?? code}): ${w.err.trim()} (persistence is blamed by file times from now on)`));
    });
    return w;
  }

  private stopping = false;

  /**
   * Watches `root` (a session's workspace directory on the host, seen inside as `mount`) when it is a
   * filesystem of its own; undefined otherwise (the caller falls back to file times).
   */
  async watch(root: string, mount: string): Promise<FileWriters | undefined> {
    if (this.closed) return undefined;
    try { if (statSync(root).dev === statSync(dirname(root)).dev) return undefined; } catch { return undefined; }
    const r = await new Promise<{ dev?: number; error?: string }>((resolve) => {
      this.pending.push(resolve);
      this.child.stdin!.write(`add ${root}\n`);
    });
    if (r.dev === undefined) { this.onError(new Error(`corral-fwatch cannot watch ${root}: ${r.error} (persistence is blamed by file times)`)); return undefined; }
    // (a write through the sandbox's bind mount is named as the sandbox sees it, under `mount`; Corral's own under root)
    const w = new FileWriters([`${root}/`, `${mount}/`], () => { if (this.byDev.get(r.dev!) === w) this.byDev.delete(r.dev!); }, () => this.sync());
    this.byDev.set(r.dev, w);
    return w;
  }

  /**
   * Resolves once every write the kernel had queued when the helper read the request has been handed
   * to its session: a file closed just before a call ended is then known by its writer, not left to
   * file times. (Resolves at once when the watcher is gone.)
   */
  sync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.syncs.push(resolve);
      this.child.stdin!.write('sync\n');
    });
  }

  close(): void {
    this.stopping = true;
    this.child.kill('SIGKILL');
  }

  private onLine(line: string): void {
    const f = line.split('\t');
    if ((f[0] === 'w' || f[0] === 'd') && f.length === 5) this.byDev.get(Number(f[1]))?.wrote(Number(f[2]), f[3]!, f[4]!, f[0] === 'd');
    else if (f[0] === 'o' && f.length === 5) this.byDev.get(Number(f[1]))?.opened(Number(f[2]), f[3]!, f[4]!);
    else if (f[0] === 'added') this.pending.shift()?.({ dev: Number(f[1]) });
    else if (f[0] === 'error') this.pending.shift()?.({ error: f[2] ?? 'unknown' });
    else if (f[0] === 'synced') this.syncs.shift()?.();
    // (writes were lost: a writer kept may not be the last one, so none is trusted; file times decide)
    else if (f[0] === 'overflow') for (const w of this.byDev.values()) w.forget();
  }
}

/** One session's view: the last writer of each of its workspace's files since it was last asked for. */
export class FileWriters {
  private readonly last = new Map<string, FileWriter>();
  /** Directories renamed into place, by the same rules: what was inside one arrived with it. */
  private readonly dirs = new Map<string, FileWriter>();

  /**
   * Told of each code file of the workspace a process opened (a module it imports, a shared object it
   * loads: corral-fwatch's `o` lines), with the opener's pid and cgroup; code-origin.ts.
   */
  onCodeOpen?: (opener: FileWriter, rel: string) => void;

  constructor(private readonly prefixes: string[], private readonly onClose: () => void, readonly sync: () => Promise<void>) {}

  /**
   * The last writer of `rel` (relative to the workspace) since it was last asked for, if seen; else
   * the process that moved a directory holding it into place (`mv staged-hooks .git/hooks`), the
   * nearest such directory first.
   */
  take(rel: string): FileWriter | undefined {
    const w = this.peek(rel);
    this.last.delete(rel);
    return w;
  }

  /** The same, leaving it in place (the writer of a file a process runs: code-origin.ts). */
  peek(rel: string): FileWriter | undefined {
    const w = this.last.get(rel);
    if (w) return w;
    for (let i = rel.lastIndexOf('/'); i > 0; i = rel.lastIndexOf('/', i - 1)) {
      const d = this.dirs.get(rel.slice(0, i));
      if (d) return d;
    }
    return undefined;
  }

  close(): void { this.onClose(); }

  forget(): void { this.last.clear(); this.dirs.clear(); }

  /** Whether the writer kept for one of `rels` has no cgroup (it was exiting when read) and `known` does not know its pid. */
  unresolved(rels: Iterable<string>, known: (pid: number) => boolean): boolean {
    for (const rel of rels) {
      const w = this.peek(rel);
      if (w && w.cgroup === undefined && !known(w.pid)) return true;
    }
    return false;
  }

  /** An open of a code file the watcher saw on this session's filesystem. */
  opened(pid: number, cgroup: string, path: string): void {
    const rel = this.rel(path);
    if (rel !== undefined) this.onCodeOpen?.(processOf(pid, cgroup), rel);
  }

  /** A path the watcher printed, relative to the workspace's top; undefined outside it. */
  private rel(path: string): string | undefined {
    const p = unescape(path);
    const prefix = this.prefixes.find((x) => p.startsWith(x));
    return prefix === undefined ? undefined : p.slice(prefix.length);
  }

  /** A write the watcher saw on this session's filesystem (`dir`: a directory renamed there). */
  wrote(pid: number, cgroup: string, path: string, dir = false): void {
    const rel = this.rel(path);
    if (rel === undefined) return;
    // (a directory moved in replaces what was there: writers kept below it name files no longer there)
    if (dir) for (const m of [this.last, this.dirs]) for (const k of m.keys()) if (k.startsWith(`${rel}/`)) m.delete(k);
    setRecent(dir ? this.dirs : this.last, rel, processOf(pid, cgroup), MAX_PATHS);
  }
}

/** A process the helper named: its pid and cgroup ("-": gone; "/": a process already exiting shows the root cgroup, where a sandbox process never is). */
function processOf(pid: number, cgroup: string): FileWriter {
  return { pid, ...(cgroup !== '-' && cgroup !== '/' ? { cgroup: unescape(cgroup) } : {}) };
}

/** The helper's escapes (\\, \t, \n) undone. */
function unescape(s: string): string {
  return s.includes('\\') ? s.replace(/\\([\\tn])/g, (_, c: string) => (c === 't' ? '\t' : c === 'n' ? '\n' : '\\')) : s;
}
