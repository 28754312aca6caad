// Why: a size cap Corral sets (a capped workspace, a writable root's layer, the sandbox's /tmp)
// makes a runaway write fail with ENOSPC; the call that filled it must also be reported
// (limit.workspace, limit.root_layer, limit.tmp), or a disk filler goes unseen. One test of
// "full" for all of them, read from the filesystem's own counters.
import { statfsSync } from 'node:fs';

/**
 * The size in bytes of the filesystem at `path` when it has (almost) no room left — under 1 % of
 * it free, or under 64 KiB — or, with `inodes`, (almost) no inodes; undefined when it has room or
 * cannot be read (gone, not mounted).
 */
export function filledSize(path: string, o: { inodes?: boolean } = {}): number | undefined {
  try {
    const f = statfsSync(path);
    const size = f.blocks * f.bsize;
    const noRoom = f.bavail * f.bsize < Math.max(64 * 1024, size / 100);
    return noRoom || (o.inodes === true && f.ffree < 16) ? size : undefined;
  } catch { return undefined; }
}
