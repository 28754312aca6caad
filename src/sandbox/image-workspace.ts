// Why: SWE-style images hold the task where the agent must work (`/testbed`: the repository,
// installed in editable mode). With `workspace_path: /testbed` and no host workspace, Corral's fresh
// workspace was bound over that directory and hid it: the agent found an empty /testbed. Copying
// it into every session would cost seconds per rollout. Instead the workspace becomes an overlay:
// the image's directory, read-only and idmapped (its root-owned files the agent's, as in a
// writable root), below; the session's own capped workspace filesystem (on disk by default) above,
// where every write lands. Threat it stops: writes reaching the image shared by every rollout (the
// lower layer is never written; it is mounted read-only), and a rollout escaping the workspace cap
// by editing the image's files (the copies land in the capped upper layer). The layers' own
// directories are root's alone (0700); only the merged view is bound into the sandbox.
import { execFile as execFileCb } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { resolveInRoot } from './image-path.js';

const execFile = promisify(execFileCb);

/** The host directory of the image's `workspacePath` when it is a directory with something in it, else undefined. */
export function imageWorkspaceSource(imageRoot: string, workspacePath: string): string | undefined {
  const r = resolveInRoot(imageRoot, workspacePath);
  if ('problem' in r) return undefined;
  const dir = join(imageRoot, r.path);
  try {
    if (!lstatSync(dir).isDirectory()) return undefined;
    return readdirSync(dir).length > 0 ? dir : undefined;
  } catch { return undefined; }
}

export interface ImageWorkspace {
  /** corral-idmap (native/corral-idmap.c). */
  helper: string;
  /** The image's directory (imageWorkspaceSource). */
  source: string;
  /** A root-only directory made here for the read-only idmapped view of `source` (its `lower`). */
  layerDir: string;
  /** The capped workspace filesystem's root: the upper and work layers go in it (it becomes root's alone). */
  fsDir: string;
  /** Where the merged workspace is mounted (created here): what bwrap binds at workspace_path. */
  merged: string;
  /** The sandbox's host uid and gid: the image's root-owned files show as theirs, and they own the workspace's top. */
  hostId: number;
}

/**
 * Mounts the image's directory under the session's capped workspace filesystem as one overlay at
 * `merged`. When the kernel refuses (no idmapped mounts, no overlayfs over them: Linux < 5.19), it
 * throws with the reason after putting `fsDir` back as it was (the agent's, empty), so the caller
 * can go on with the plain workspace.
 */
export async function mountImageWorkspace(w: ImageWorkspace): Promise<void> {
  const lower = join(w.layerDir, 'lower'), upper = join(w.fsDir, 'upper'), work = join(w.fsDir, 'work');
  mkdirSync(w.layerDir, { mode: 0o700 });
  chmodSync(w.layerDir, 0o700);
  mkdirSync(lower);
  chownSync(w.fsDir, 0, 0);
  chmodSync(w.fsDir, 0o700);
  for (const d of [upper, work, w.merged]) mkdirSync(d, { mode: 0o755 });
  // (the top of the merged view takes the upper layer's owner: the agent may create files in /testbed)
  chownSync(upper, w.hostId, w.hostId);
  try {
    await execFile(w.helper, [w.source, lower, '0', '0', String(w.hostId), String(w.hostId), 'ro']);
    // (only Corral's own session paths are in the option string: the image's path never is)
    await execFile('mount', ['-t', 'overlay', 'corral-workspace', '-o', `nosuid,nodev,lowerdir=${lower},upperdir=${upper},workdir=${work}`, w.merged]);
  } catch (e) {
    await execFile('umount', ['-l', lower]).catch(() => {});
    for (const d of [upper, work]) rmSync(d, { recursive: true, force: true });
    chownSync(w.fsDir, w.hostId, w.hostId);
    chmodSync(w.fsDir, 0o755);
    const err = e as Error & { stderr?: string };
    throw new Error(String(err.stderr ?? '').trim().split('\n')[0] || err.message.split('\n')[0]);
  }
}
