// Why: the mount namespace each sandbox's bwrap starts from (native/mount-template.c has the whole
// story). Every sandbox adds mounts to the host's namespace, and bwrap copied and read through the
// whole table at every start: a start took twice as long beside 250 idle sessions. A runtime holds
// one template — the host's mounts without /run/netns and without anything below its run dir — by
// an open descriptor of its namespace, and each holder start joins a fresh copy of it with only its
// own session's mounts cloned in. Threat stopped: a start time (and so a rollout host's capacity)
// that degrades with every sandbox on the host.
//
// The template is a snapshot (private: no later mount reaches it). It is made again when a mount of
// the host's own changes — anything outside the run dir and /run/netns, checked at every start — and
// until the new one is ready, starts run in the host's namespace as before: never on a stale view.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, realpathSync } from 'node:fs';
import { enterBinary } from './launcher.js';

/** How long a replaced template stays open for starts that were handed its path just before. */
const RETIRE_AFTER_MS = 10_000;

/** Whether `path` is `dir` or below it, by whole path components. */
export function atOrUnder(path: string, dir: string): boolean {
  const d = dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
  return path === d || path.startsWith(d === '/' ? '/' : `${d}/`);
}

/** `\040` and the like of /proc/self/mountinfo back to the characters they stand for. */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-3][0-7]{2})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * The host's own mounts as one string (id and mount point of each), leaving out those the template
 * drops and Corral makes all the time (below `runDir`, /run/netns and below): equal strings, same template.
 */
export function hostMountsSignature(mountinfo: string, runDir: string): string {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const point = unescapeMountinfo(f[4]!);
    if (atOrUnder(point, '/run/netns') || (point !== runDir && atOrUnder(point, runDir))) continue;
    out.push(`${f[0]} ${point}`);
  }
  return out.join('\n');
}

/**
 * The smallest set of paths whose mounts, cloned recursively, cover all of `paths` (real paths):
 * one below another is already part of it.
 */
export function keepRoots(paths: string[]): string[] {
  const uniq = [...new Set(paths)].sort((a, b) => a.length - b.length);
  const out: string[] = [];
  for (const p of uniq) if (!out.some((o) => atOrUnder(p, o))) out.push(p);
  return out;
}

export class MountTemplate {
  private fd: number | undefined;
  private signature: string | undefined;
  private building: Promise<void> | undefined;
  private closed = false;
  private failed = false;
  private readonly runDir: string;

  constructor(runDir: string, private readonly onError: (why: string) => void) {
    this.runDir = realpathSync(runDir);
  }

  /** Makes the first template; the runtime starts without one (slower starts) if it cannot. */
  async start(): Promise<void> {
    await this.rebuild();
  }

  /**
   * The namespace a holder start joins (corral-enter --mount-template), or undefined: start in the
   * host's. A change of the host's own mounts since the template was made starts a new one.
   */
  path(): string | undefined {
    if (this.closed || this.failed) return undefined;
    if (this.currentSignature() !== this.signature) {
      this.building ??= this.rebuild().finally(() => { this.building = undefined; });
      return undefined;
    }
    return this.fd === undefined ? undefined : `/proc/${process.pid}/fd/${this.fd}`;
  }

  /** Settles once no new template is being made (tests; close). */
  async settled(): Promise<void> {
    await this.building;
  }

  close(): void {
    this.closed = true;
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private currentSignature(): string {
    return hostMountsSignature(readFileSync('/proc/self/mountinfo', 'utf8'), this.runDir);
  }

  private async rebuild(): Promise<void> {
    // (read before the namespace is made: a mount in between makes the next check build again)
    const signature = this.currentSignature();
    let fd: number;
    try {
      fd = await makeTemplate(this.runDir);
    } catch (e) {
      // once: a kernel without open_tree/move_mount or a host that forbids it stays that way
      this.failed = true;
      this.onError(`sandbox starts use the host's mount namespace (slower beside many sandboxes): ${(e as Error).message}`);
      return;
    }
    if (this.closed) { closeSync(fd); return; }
    const old = this.fd;
    this.fd = fd;
    this.signature = signature;
    if (old !== undefined) setTimeout(() => closeSync(old), RETIRE_AFTER_MS).unref();
  }
}

/** Runs corral-enter --mount-template-serve and keeps its namespace by a descriptor; the process then ends. */
function makeTemplate(runDir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(enterBinary(), ['--mount-template-serve', '--prune-mounts', '/run/netns', '--prune-below', runDir], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    let done = false;
    const fail = (why: string): void => { if (!done) { done = true; child.kill('SIGKILL'); reject(new Error(why)); } };
    const timer = setTimeout(() => fail('no template mount namespace within 5 s'), 5000);
    child.stderr.setEncoding('utf8').on('data', (d: string) => { if (err.length < 2000) err += d; });
    child.on('error', (e) => { clearTimeout(timer); fail(e.message); });
    child.on('exit', (code) => { clearTimeout(timer); fail(`corral-enter --mount-template-serve exited ${code}: ${err.trim()}`); });
    child.stdout.once('data', () => {
      clearTimeout(timer);
      if (done) return;
      let fd: number;
      try { fd = openSync(`/proc/${child.pid}/ns/mnt`, 'r'); } catch (e) { fail((e as Error).message); return; }
      done = true;
      child.stdin.end();
      resolve(fd);
    });
  });
}
