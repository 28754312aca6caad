// Why: `resources.workspace_size` must be a real cap, not a documented wish. A Corral-made
// workspace becomes a size-limited tmpfs, so an agent filling the disk (a miner's blockchain, a
// runaway log, a download loop) gets ENOSPC inside its sandbox instead of filling the host.
// Threat it stops: disk exhaustion of the training host by one rollout. tmpfs pages are charged
// to the memory cgroup of the writer, so the session's memory limit also bounds them.
// Session dirs carry the owning Corral's pid, so a crashed Corral's mounts are found and removed.
import { execFile as execFileCb } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pidAlive } from '../util/pid-alive.js';
import { removeDirTree } from './remove-tree.js';

const execFile = promisify(execFileCb);

/**
 * Mounts a nosuid,nodev tmpfs of `bytes` (rounded up to a page) on `dir`: a size cap Corral
 * enforces (the workspace, a writable root's layer), its pages charged to the writer's memory cgroup.
 */
export async function mountSizedTmpfs(dir: string, bytes: number, o: { name: string; mode: string; uid?: number; gid?: number; inodes?: number }): Promise<void> {
  const size = Math.max(4096, Math.ceil(bytes / 4096) * 4096);
  const opts = [`size=${size}`, ...(o.inodes !== undefined ? [`nr_inodes=${o.inodes}`] : []), `mode=${o.mode}`, ...(o.uid !== undefined ? [`uid=${o.uid}`, `gid=${o.gid ?? o.uid}`] : []), 'nosuid', 'nodev'];
  await execFile('mount', ['-t', 'tmpfs', '-o', opts.join(','), o.name, dir]);
}

/** Mounts a tmpfs of `bytes` (rounded up to a page) on `dir`, owned by uid:gid. */
export async function mountSizedWorkspace(dir: string, bytes: number, uid: number, gid: number): Promise<void> {
  await mountSizedTmpfs(dir, bytes, { name: 'corral-workspace', mode: '0755', uid, gid });
}

/** Mount points at or below `dir`, deepest first (from this process's mount table). */
export function mountsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (p === dir || p.startsWith(`${dir}/`)) out.push(p);
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Detaches every mount under `dir` (lazy, so a straggling process cannot keep it busy). */
export async function unmountUnder(dir: string): Promise<void> {
  for (const m of mountsUnder(dir)) await execFile('umount', ['-l', m]).catch(() => {});
}

/**
 * Unmounts everything under a session dir, then removes it — only when no mount is left: an
 * idmapped host workspace that failed to detach must never be deleted through (those are the
 * user's files). A tree too deep for rmSync is removed by rm (remove-tree.ts). Never throws:
 * false, with the reason given to onProblem, when the dir is kept.
 */
export async function removeSessionDir(dir: string, onProblem?: (why: string) => void): Promise<boolean> {
  try {
    await unmountUnder(dir);
    if (mountsUnder(dir).length) {
      onProblem?.('a mount under it did not detach (never deleted through a host workspace)');
      return false;
    }
  } catch (e) {
    onProblem?.(`its mounts could not be listed or detached: ${(e as Error).message}`);
    return false;
  }
  const why = await removeDirTree(dir);
  if (why !== undefined) onProblem?.(why);
  return why === undefined;
}

/** The name of a session's private dir under the run dir: its owner pid comes first. */
export function sessionDirPrefix(sessionId: string): string {
  return `sess-${process.pid}-${sessionId}-`;
}

/**
 * Session dirs named before the owner pid was part of the name (`sess-<session id>-XXXXXX`) cannot
 * be tied to a process: they are taken as orphans once untouched this long.
 */
export const LEGACY_DIR_MAX_AGE_MS = 3_600_000;

/** Removes session dirs and ready pool workspaces (and their mounts) whose owning Corral is gone. Returns how many. */
export async function cleanupOrphanSessionDirs(runDir: string, now = Date.now()): Promise<number> {
  if (!existsSync(runDir)) return 0;
  let n = 0;
  for (const name of readdirSync(runDir)) {
    const path = join(runDir, name);
    // (a session dir, or a pool's ready or retired disk workspace: workspace-disk-pool.ts)
    const m = /^sess-(\d+)-[0-9a-f]{12}-/.exec(name) ?? /^ws(?:pool|done)-(\d+)-/.exec(name);
    if (m) { if (!pidAlive(Number(m[1])) && await removeSessionDir(path)) n++; continue; }
    if (!/^sess-[0-9a-f]{12}-[A-Za-z0-9]{6}$/.test(name)) continue;
    let age: number;
    try { age = now - statSync(path).mtimeMs; } catch { continue; }
    if (age > LEGACY_DIR_MAX_AGE_MS && await removeSessionDir(path)) n++;
  }
  return n;
}
