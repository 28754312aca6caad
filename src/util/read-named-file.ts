// Why: a path a user names (a policy, a rule file, a credentials file) may name anything: /dev/zero,
// a FIFO nobody writes, a directory, a 10 GB file. readFileSync on those grows memory until Corral
// aborts, or waits forever — and in hook mode a crashed check lets the command run. Threat it stops:
// a hostile or mistaken path that hangs or kills Corral instead of giving an error that names it.
// Read with O_NONBLOCK (a FIFO is never waited on), a regular file only, and at most `max` bytes
// (or opened for a reader that streams it: openNamedFile).
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';

/** The largest named file read whole by default (rule and policy files are kilobytes). */
export const NAMED_FILE_MAX = 16 * 1024 * 1024;

/** An error for a named file that is not one Corral reads: the message names the path and why. */
export class NamedFileError extends Error {
  constructor(readonly path: string, readonly why: string, readonly code?: string, options?: { cause?: unknown }) {
    super(`${path}: ${why}`, options);
  }
}

/**
 * The UTF-8 text of the regular file at `path`, at most `max` bytes (Infinity: any size); anything
 * else throws NamedFileError. noFollow: a symbolic link at `path` itself is refused (code ELOOP).
 */
export function readNamedFile(path: string, opts: { max?: number; noFollow?: boolean } = {}): string {
  const max = opts.max ?? NAMED_FILE_MAX;
  const { fd, size } = openNamedFile(path, opts);
  try {
    if (size > max) throw new NamedFileError(path, `is ${size} bytes, larger than the ${max} this file may be`, 'EFBIG');
    return readFileSync(fd, 'utf8');
  } finally { closeSync(fd); }
}

/**
 * A read-only descriptor of the regular file at `path` (the caller closes it), for a reader that
 * streams a file too large to hold (session logs); the same refusals as readNamedFile.
 */
export function openNamedFile(path: string, opts: { noFollow?: boolean } = {}): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (opts.noFollow ? constants.O_NOFOLLOW : 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NamedFileError(path, `cannot read it (${code ?? (e as Error).message})`, code, { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new NamedFileError(path, 'is a directory, not a file', 'EISDIR');
    if (!st.isFile()) throw new NamedFileError(path, `is not a regular file (${st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : 'a device'})`, 'ENOTREG');
    return { fd, size: st.size };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}
