// Why: every Corral-made workspace is capped on disk by default (workspace-disk.ts), so one rollout
// cannot fill the host's disk. Making that filesystem costs ~55 ms (mkfs.ext4 + a loop mount),
// half the session start budget. This pool makes a few ahead of time, off the session start path:
// a session takes a ready, mounted one with one rename(2) (a mount point's parent directory can be
// renamed; the mount moves with it), and hands it back the same way when it closes (retire).
// One pool per Runtime (no module state): several runtimes in one process each own theirs. Entries
// are named `wspool-<pid>-…` in the run dir, so a crashed Corral's are unmounted and removed by
// the next start's orphan cleanup (workspace-quota.ts), like its session dirs; so are the retired
// ones (`wsdone-<pid>-…`), detached in the background, off the session's close.
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { mountDiskWorkspace } from './workspace-disk.js';
import { removeSessionDir } from './workspace-quota.js';

/** The name prefix of this process's pool entries under the run dir. */
export function diskPoolPrefix(): string {
  return `wspool-${process.pid}-`;
}

/** The name prefix of this process's retired disk workspaces (a closed session's, being detached). */
export function retiredPrefix(): string {
  return `wsdone-${process.pid}-`;
}

interface Entry { dir: string; bytes: number }

/** How long after a session took a ready workspace the pool starts making the next. */
const REFILL_DELAY_MS = 100;

export class DiskWorkspacePool {
  /** Ready entries by size in bytes (sizes most recently asked for last). */
  private ready = new Map<number, Entry[]>();
  /** Background work close() waits for: entries being made, dropped or retired ones being detached. */
  private background = new Set<Promise<void>>();
  /** Entries being made, by size. */
  private making = new Map<number, number>();
  private closed = false;
  private timers = new Set<NodeJS.Timeout>();
  private failure?: { why: string; at: number };

  /**
   * @param perSize entries kept ready for each size (0 = no pool)
   * @param sizes how many different sizes are kept ready at once (the least recently asked is dropped)
   */
  constructor(private runDir: string, private perSize = 2, private sizes = 2) {}

  /**
   * Why the pool's last attempt failed (no loop devices, no mkfs.ext4, a full disk), for a minute;
   * meanwhile it makes none, and sessions with the default cap go without one (session.ts).
   */
  get failed(): string | undefined {
    if (this.failure && Date.now() - this.failure.at > 60_000) this.failure = undefined;
    return this.failure?.why;
  }

  /** Starts making entries of `bytes` until `perSize` are ready. */
  fill(bytes: number): void {
    if (this.closed || this.failed || this.perSize <= 0) return;
    const list = this.ready.get(bytes) ?? [];
    // (re-inserted: this size is now the most recently wanted)
    this.ready.delete(bytes);
    this.ready.set(bytes, list);
    while (this.ready.size > this.sizes) {
      const [old, stale] = this.ready.entries().next().value as [number, Entry[]];
      this.ready.delete(old);
      // (tracked like the fills: close() waits for them too)
      for (const e of stale) this.track(removeSessionDir(e.dir).then(() => {}));
    }
    for (let i = list.length + (this.making.get(bytes) ?? 0); i < this.perSize; i++) this.makeOne(bytes);
  }

  /** fill(bytes) a moment from now (REFILL_DELAY_MS), off the path of whoever just took one. */
  fillSoon(bytes: number): void {
    if (this.closed || this.perSize <= 0) return;
    const t = setTimeout(() => { this.timers.delete(t); this.fill(bytes); }, REFILL_DELAY_MS);
    t.unref();
    this.timers.add(t);
  }

  private makeOne(bytes: number): void {
    this.making.set(bytes, (this.making.get(bytes) ?? 0) + 1);
    const p = (async () => {
      let dir: string | undefined;
      try {
        dir = mkdtempSync(join(this.runDir, diskPoolPrefix()));
        // (as a session dir is: bwrap, as the sandbox's uid, must pass through it)
        chmodSync(dir, 0o755);
        const ws = join(dir, 'workspace');
        mkdirSync(ws);
        await mountDiskWorkspace(join(dir, 'workspace.img'), ws, bytes, { background: true });
      } catch (e) {
        this.failure = { why: (e as Error).message.split('\n')[0]!, at: Date.now() };
        if (dir) await removeSessionDir(dir);
        return;
      }
      const list = this.ready.get(bytes);
      if (this.closed || !list) { await removeSessionDir(dir); return; }
      list.push({ dir, bytes });
    })();
    this.track(p);
    void p.finally(() => {
      const n = (this.making.get(bytes) ?? 1) - 1;
      if (n > 0) this.making.set(bytes, n); else this.making.delete(bytes);
    });
  }

  /** Work in the background that close() must wait for (it never rejects: failures are recorded). */
  private track(p: Promise<void>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  /**
   * A ready, mounted workspace of exactly `bytes`, moved to `dest` (a path that must not exist,
   * on the run dir's filesystem); returns the mounted workspace dir inside it, or undefined when
   * none is ready (the caller makes its own). The caller calls fill(bytes) once its session has
   * started: a refill (two process spawns, mkfs's CPU) must not slow the start it serves.
   */
  take(bytes: number, dest: string): string | undefined {
    const e = this.ready.get(bytes)?.shift();
    if (!e) return undefined;
    renameSync(e.dir, dest);
    return join(dest, 'workspace');
  }

  /**
   * Takes a closed session's disk workspace (`dir`, holding its mounted `workspace`) off the
   * session's teardown path: renamed out of the session dir at once, unmounted and removed in the
   * background (close() waits for it; a crash leaves it to the next start's orphan cleanup). Its
   * unmount and loop-device release (~15–25 ms) then no longer delay the session's close. False
   * (and nothing moved) when it cannot be renamed: the session dir's removal then detaches it.
   */
  retire(dir: string): boolean {
    let to: string;
    try {
      to = mkdtempSync(join(this.runDir, retiredPrefix()));
    } catch { return false; }
    try {
      // (rename over the empty placeholder directory: atomic, and the mounts under `dir` move with it)
      renameSync(dir, to);
    } catch {
      try { rmdirSync(to); } catch { /* (already gone) */ }
      return false;
    }
    // (a moment later: the unmount's process spawn must not delay the close that hands it over)
    this.track(new Promise<void>((r) => setImmediate(r)).then(() => removeSessionDir(to)).then(() => {}));
    return true;
  }

  /** A session made its own disk workspace after all: the host can, so the pool tries again. */
  recovered(): void {
    this.failure = undefined;
  }

  /** How many entries (of `bytes`, or of any size) are ready now (for tests and health). */
  readyCount(bytes?: number): number {
    if (bytes !== undefined) return this.ready.get(bytes)?.length ?? 0;
    let n = 0;
    for (const l of this.ready.values()) n += l.length;
    return n;
  }

  /** Waits for the background work, then unmounts and removes every ready one. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.background]);
    const all = [...this.ready.values()].flat();
    this.ready.clear();
    await Promise.all(all.map((e) => removeSessionDir(e.dir)));
  }
}
