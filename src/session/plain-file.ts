// Why: Corral runs as root and sometimes looks at files the agent owns (the persistence watch
// after each call, a file edit's preview in block mode). The agent controls every name on the way:
// `ln -s /root/.ssh .ssh`, `mkfifo .git/config`. Threat it stops: Corral (root) reading the host's
// files through a link the agent planted, or hanging on a FIFO put where a file was expected. A
// path is read only when every directory on the way is a real directory (lstat) and the file itself
// is a regular file opened with O_NOFOLLOW|O_NONBLOCK.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';

/**
 * True when every component of rel below root is a real directory (no symlink anywhere on the way):
 * the agent owns the workspace, and `ln -s /root/.ssh .ssh` must not make Corral (root) look at the
 * host's files and report on them.
 */
export function realDirs(root: string, rel: string): boolean {
  let p = root;
  for (const part of rel.split('/').filter(Boolean)) {
    p = join(p, part);
    try { if (!lstatSync(p).isDirectory()) return false; } catch { return false; }
  }
  return true;
}

/**
 * The first `max` bytes of root/rel when it is a regular file below real directories (the last
 * component not followed either: O_NOFOLLOW; O_NONBLOCK so a FIFO put there cannot hold Corral).
 * With `whole`, a file larger than `max` gives undefined rather than its start.
 */
export function readPlainFile(root: string, rel: string, max: number, whole = false): Buffer | undefined {
  const slash = rel.lastIndexOf('/');
  if (slash > 0 && !realDirs(root, rel.slice(0, slash))) return undefined;
  let fd: number | undefined;
  try {
    fd = openSync(join(root, rel), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile() || (whole && st.size > max)) return undefined;
    const buf = Buffer.alloc(Math.min(max, st.size + 1));
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length;) { got = readSync(fd, buf, n, buf.length - n, n); n += got; }
    if (whole && n > max) return undefined;
    return buf.subarray(0, Math.min(n, max));
  } catch { return undefined; } finally { if (fd !== undefined) closeSync(fd); }
}
