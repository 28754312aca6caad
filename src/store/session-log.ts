// Why: the per-session JSON-lines file is Corral's source of truth; the SQLite index can always be
// rebuilt from it. Each session file is written through one fd opened O_APPEND, one write() per
// flush, so several Corral processes can append to the same log without overwriting each other.
// Threat stopped: tampering/reading by the sandboxed agent — files are created 0600 and the
// directory 0700, owned by Corral's uid, which the agent never runs as; libuv opens every fd
// O_CLOEXEC, so sandboxed processes Corral spawns never inherit these descriptors.
// Logs are read back as a stream of lines, never as one string: an agent can grow its own log past
// V8's ~512 MiB string limit (100k execs with long argv), and a reader that held the whole log
// could then rebuild nothing at all.
import { closeSync, constants, fstatSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { sessionLogPath, sessionsDir } from './home.js';
import { NamedFileError, openNamedFile } from '../util/read-named-file.js';
import { LineSplitter, MAX_LINE_BYTES } from '../util/line-splitter.js';

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

/**
 * The longest session-log line read. An event line is kilobytes (a sensor keeps at most 7 680 bytes
 * of argv, the daemon takes 2 MiB request bodies); a longer line is reported as a bad line and its
 * bytes are never held, so one huge or newline-less line cannot exhaust memory.
 */
export const MAX_LOG_LINE_BYTES = MAX_LINE_BYTES;
const READ_CHUNK = 1 << 20;

export interface LogVisitor {
  /** A line that parsed as JSON (1-based line number); 'stop' reads no further. */
  event(value: unknown, line: number): void | 'stop';
  /** A line that is not one JSON value (unparseable, torn, overlong), with why. */
  bad(line: number, error: string): void;
}

export interface LogRead {
  /** Lines read (blank ones included). */
  lines: number;
  /** Bytes read. */
  bytes: number;
  /** The visitor stopped the read. */
  stopped: boolean;
}

/** A read() of a session log failed part-way: the lines before `line` were handed out; `offset` is the byte it failed at. */
export class LogReadError extends Error {
  override readonly name = 'LogReadError';
  constructor(readonly path: string, readonly line: number, readonly offset: number, cause: unknown) {
    super(`${path}: reading stopped at byte ${offset}, in line ${line} (${errnoText(cause)})`, { cause });
  }
}

/**
 * Reads a session log as a stream of lines (1 MiB at a time: memory stays at the chunk plus the
 * longest line, whatever the log's size — a log over V8's ~512 MiB string limit is read like any
 * other) and hands each parsed line to the visitor. Unparseable lines are reported (1-based line
 * numbers), not fatal. Throws NotALogError (not a regular file), the open's own error (ENOENT,
 * EACCES), LogReadError (a read failed part-way), and whatever the visitor throws.
 */
export function readSessionLog(home: string, session: string, visit: LogVisitor): LogRead {
  const path = sessionLogPath(home, session);
  const fd = openLog(path);
  let lineNo = 0;
  let stopped = false;
  const take = (raw: string, unterminated: boolean): void => {
    lineNo++;
    if (raw === '') return; // blank separator left by the torn-line guard
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      visit.bad(lineNo, (unterminated ? 'truncated last line: ' : '') + (err as Error).message);
      return;
    }
    if (visit.event(value, lineNo) === 'stop') stopped = true;
  };
  const splitter = new LineSplitter({
    lines(buf, from, to) {
      const text = buf.toString('utf8', from, to);
      for (let at = 0, nl = text.indexOf('\n'); nl >= 0 && !stopped; at = nl + 1, nl = text.indexOf('\n', at)) take(text.slice(at, nl), false);
    },
    overlong(bytes) {
      lineNo++;
      if (!stopped) visit.bad(lineNo, `a line of ${bytes} bytes, longer than an event line may be (${MAX_LOG_LINE_BYTES / (1 << 20)} MiB): not read`);
    },
    tail(buf) { if (!stopped) take(buf.toString('utf8'), true); },
  }, MAX_LOG_LINE_BYTES);
  let pos = 0;
  try {
    while (!stopped) {
      // (a fresh buffer per read: the splitter keeps the partial line at its end)
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      let got: number;
      try {
        got = readSync(fd, buf, 0, buf.length, pos);
      } catch (err) {
        throw new LogReadError(path, lineNo + 1, pos, err);
      }
      if (got === 0) break;
      pos += got;
      splitter.push(got < buf.length ? buf.subarray(0, got) : buf);
    }
    if (!stopped) splitter.end();
  } finally {
    closeSync(fd);
  }
  return { lines: lineNo, bytes: pos, stopped };
}

/** "EIO: i/o error" from a Node errno error (its path and syscall left out), else its message. */
export function errnoText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/, \w+ '[^']*'(?: -> '[^']*')?$/, '');
}

/** A session log that is not a regular file (a FIFO, a device, a symbolic link put there): never read, never waited on. */
export class NotALogError extends Error {
  override readonly name = 'NotALogError';
}

/** A descriptor of a log file: opened without following a link and without blocking on a FIFO; a regular file only. */
function openLog(path: string): number {
  try {
    return openNamedFile(path, { noFollow: true }).fd;
  } catch (e) {
    if (!(e instanceof NamedFileError)) throw e;
    if (e.code === 'ELOOP') throw new NotALogError(`${path} is a symbolic link, not a session log: skipped`);
    if (e.code === 'ENOTREG' || e.code === 'EISDIR') throw new NotALogError(`${path} is not a regular file (${e.code === 'EISDIR' ? 'a directory' : /a FIFO/.test(e.why) ? 'a FIFO' : 'a device or socket'}), not a session log: skipped`);
    throw e.cause ?? e; // (ENOENT and the like: the error the store's callers already handle)
  }
}
