// Why: the per-session JSON-lines file is Corral's source of truth; the SQLite index can always be
// rebuilt from it. Each session file is written through one fd opened O_APPEND, one write() per
// flush, so several Corral processes can append to the same log without overwriting each other.
// Threat stopped: tampering/reading by the sandboxed agent — files are created 0600 and the
// directory 0700, owned by Corral's uid, which the agent never runs as; libuv opens every fd
// O_CLOEXEC, so sandboxed processes Corral spawns never inherit these descriptors.
import { closeSync, constants, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { sessionLogPath, sessionsDir } from './home.js';
import { NamedFileError, readNamedFile } from '../util/read-named-file.js';

const APPEND_FLAGS = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT;

/** Holds one O_APPEND fd per session this process writes to. */
export class SessionLogWriter {
  private readonly fds = new Map<string, number>();

  constructor(readonly home: string) {
    mkdirSync(sessionsDir(home), { recursive: true, mode: 0o700 });
  }

  /** Append whole lines (each without its trailing newline) in a single write. */
  appendLines(session: string, lines: string[]): void {
    if (lines.length === 0) return;
    const fd = this.fdFor(session);
    writeAll(fd, Buffer.from(lines.join('\n') + '\n', 'utf8'));
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }

  /** Releases one session's fd (it ended); a later line for it opens the log again. */
  closeSession(session: string): void {
    const fd = this.fds.get(session);
    if (fd === undefined) return;
    this.fds.delete(session);
    closeSync(fd);
  }

  private fdFor(session: string): number {
    const existing = this.fds.get(session);
    if (existing !== undefined) return existing;
    const path = sessionLogPath(this.home, session);
    const fd = openSync(path, APPEND_FLAGS, 0o600);
    // A crash can leave a torn last line. Start on a fresh line so the torn one stays isolated
    // (and is reported by recovery) instead of swallowing the next event.
    if (!endsWithNewline(fd, path)) writeAll(fd, Buffer.from('\n'));
    this.fds.set(session, fd);
    return fd;
  }
}

function endsWithNewline(fd: number, path: string): boolean {
  const size = fstatSync(fd).size;
  if (size === 0) return true;
  // The append fd is write-only; read the last byte through a second, read-only descriptor.
  const buf = Buffer.alloc(1);
  const rfd = openSync(path, constants.O_RDONLY);
  try {
    readSync(rfd, buf, 0, 1, size - 1);
  } finally {
    closeSync(rfd);
  }
  return buf[0] === 0x0a;
}

function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
}

export interface ParsedLog {
  events: { line: number; value: unknown }[];
  badLines: { line: number; error: string }[];
}

/** Read and parse a session log. Unparseable lines are reported (1-based line numbers), not fatal. */
export function readSessionLog(home: string, session: string): ParsedLog {
  const text = readLogText(sessionLogPath(home, session));
  const lines = text.split('\n');
  const truncatedTail = !text.endsWith('\n');
  if (!truncatedTail) lines.pop(); // the empty string after the final newline
  const out: ParsedLog = { events: [], badLines: [] };
  lines.forEach((raw, i) => {
    if (raw === '') return; // blank separator left by the torn-line guard
    const line = i + 1;
    try {
      out.events.push({ line, value: JSON.parse(raw) });
    } catch (err) {
      const tail = truncatedTail && i === lines.length - 1 ? 'truncated last line: ' : '';
      out.badLines.push({ line, error: tail + (err as Error).message });
    }
  });
  return out;
}

/** A session log that is not a regular file (a FIFO, a device, a symbolic link put there): never read, never waited on. */
export class NotALogError extends Error {
  override readonly name = 'NotALogError';
}

/** The text of a log file: opened without following a link and without blocking on a FIFO; a regular file only. */
function readLogText(path: string): string {
  try {
    return readNamedFile(path, { max: Infinity, noFollow: true });
  } catch (e) {
    if (!(e instanceof NamedFileError)) throw e;
    if (e.code === 'ELOOP') throw new NotALogError(`${path} is a symbolic link, not a session log: skipped`);
    if (e.code === 'ENOTREG' || e.code === 'EISDIR') throw new NotALogError(`${path} is not a regular file (${e.code === 'EISDIR' ? 'a directory' : /a FIFO/.test(e.why) ? 'a FIFO' : 'a device or socket'}), not a session log: skipped`);
    throw e.cause ?? e; // (ENOENT and the like: the error the store's callers already handle)
  }
}
