// Why: Corral runs as root on the host and writes a few files into trees that came from an image
// (a writable root's /etc/resolv.conf and /etc/hosts, made in the session's overlay before the
// sandbox starts). An image is not Corral's: its `etc` may be a symbolic link (`etc -> /etc`,
// `etc -> ../../x`) and its `etc/hosts` may be one too, and a write that follows either changes a
// host file as root. Threat it stops: an image (or whoever made it) steering Corral's own writes
// onto the host. Every directory on the way must be a real directory (lstat, never followed), the
// old entry is removed (a link itself, never its target), and the file is created fresh with
// O_CREAT|O_EXCL|O_NOFOLLOW, so nothing that already exists is ever written through.
import { closeSync, constants, lstatSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** Thrown when a tree Corral writes into is not made of real directories. */
export class UnsafeTreeError extends Error {
  override readonly name = 'UnsafeTreeError';
}

/**
 * Creates base/rel (rel: plain names joined by '/') holding `content`, replacing whatever entry was
 * there; refused (UnsafeTreeError) when base or a directory of rel below it is not a real directory.
 */
export function writeFreshFile(base: string, rel: string, content: string): void {
  const parts = rel.split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) throw new UnsafeTreeError(`not a plain relative path: ${JSON.stringify(rel)}`);
  const dirs = [base, ...parts.slice(0, -1).map((_, i) => join(base, ...parts.slice(0, i + 1)))];
  for (const dir of dirs) {
    let st;
    try { st = lstatSync(dir); } catch { throw new UnsafeTreeError(`${dir} does not exist`); }
    if (!st.isDirectory()) throw new UnsafeTreeError(`${dir} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}, not a real directory`);
  }
  const at = join(dirs[dirs.length - 1]!, parts[parts.length - 1]!);
  // (rmSync removes a link itself, never what it points to)
  rmSync(at, { force: true, recursive: true });
  const fd = openSync(at, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  try {
    const buf = Buffer.from(content);
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
  } finally { closeSync(fd); }
}
