// Why: an output file (a report's HTML, full of the agents' commands) must appear whole or not at
// all: a full disk or a killed process must not leave half a file where the last good one was,
// nor a copy readable by everyone (the event store it comes from is 0700/0600). So the data goes
// to a temporary file in the same directory, created exclusively with the final mode, flushed,
// then renamed over the target.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Writes data to path atomically with the given mode (default 0600); on failure path is as it
 * was and no temporary file is left. A path that is not a regular file (/dev/stdout, a FIFO) is
 * written directly: renaming over it would replace the device. A symbolic link keeps pointing
 * where it did: its target is replaced.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o600): void {
  const st = statSync(path, { throwIfNoEntry: false });
  if (st && !st.isFile()) { writeFileSync(path, data); return; }
  const target = st ? realpathSync(path) : path;
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    try {
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally { closeSync(fd); }
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
