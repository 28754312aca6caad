// Why: the session logs are the record and the index is derived from them, so a damaged or lost
// index is recovered by rebuilding it from every sessions/*.jsonl. The rebuild is written beside
// the old index and swapped in by rename only when complete; the old index (with its -wal and
// -shm) is moved aside, never deleted, so a rebuild cannot lose anything the old file held.
// Each log is read as a stream (any size, bounded memory) and on its own: one log that cannot be
// read, or not to its end, is named with the line and byte it stopped at while every other log is
// still indexed, so one huge or damaged session can no longer leave the whole store unindexed.
import { existsSync, fsyncSync, closeSync, openSync, renameSync, rmSync } from 'node:fs';
import { checkEvent, type CheckedEvent } from './event-check.js';
import { sessionLogPath } from './home.js';
import { errnoText, LogReadError, NotALogError, readSessionLog } from './session-log.js';
import { EventIndex } from './sqlite-index.js';
import { asStoreError, isPermission, permissionDenied } from './store-error.js';
import { inspectStore, sessionLogNames } from './store-files.js';
import { lockForRebuild } from './writer-registry.js';

export interface BadLine { line: number; error: string }

/** A log that could not be read, or not to its end: the events before `line` were read (line 0: none). */
export interface LogFailure {
  line: number;
  /** The byte reading stopped at (0 when the log could not be opened). */
  offset: number;
  error: string;
  /** What the file system answered. */
  cause: unknown;
}

export interface LogScan {
  /** Valid events handed to onRows. */
  events: number;
  /** The first LISTED_BAD_LINES lines that failed, in line order. */
  badLines: BadLine[];
  /** Lines that failed beyond those listed. */
  unlistedBadLines: number;
  failure?: LogFailure;
}

/** Bad lines listed per log (the rest are counted): a log of millions of junk lines must not be held as millions of reports. */
export const LISTED_BAD_LINES = 1000;
/** Checked events handed on at once: at most this many, or the batch that reaches BATCH_BYTES of lines. */
const BATCH_EVENTS = 1000;
const BATCH_BYTES = 8 << 20;

/**
 * A session log's events, checked as append() checks them, handed to onRows in batches as the log
 * is read: memory stays bounded whatever the log's size. Lines that fail are reported, not fatal.
 * A log that cannot be opened, or read to its end, is `failure` (the events read before it were
 * handed on); a log that is not a regular file is one bad line 0 (skipped, as before). What onRows
 * throws propagates; onRows may return 'stop' to read no further.
 */
export function scanLogEvents(home: string, session: string, onRows: (rows: CheckedEvent[]) => void | 'stop', opts: { batch?: number } = {}): LogScan {
  const path = sessionLogPath(home, session); // validates the name before touching the filesystem
  const maxEvents = opts.batch ?? BATCH_EVENTS;
  const out: LogScan = { events: 0, badLines: [], unlistedBadLines: 0 };
  const bad = (line: number, error: string): void => {
    if (out.badLines.length < LISTED_BAD_LINES) out.badLines.push({ line, error });
    else out.unlistedBadLines++;
  };
  let batch: CheckedEvent[] = [];
  let batchBytes = 0;
  let stop = false;
  let writing = false; // (an error thrown while onRows runs is the caller's, not the log's)
  const flush = (): void => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    batchBytes = 0;
    writing = true;
    if (onRows(rows) === 'stop') stop = true;
    writing = false;
  };
  try {
    readSessionLog(home, session, {
      event(value, line) {
        let c: CheckedEvent;
        try {
          c = checkEvent(value);
          if (c.ev.session !== session) throw new Error(`event belongs to session ${JSON.stringify(c.ev.session)}`);
        } catch (err) {
          bad(line, (err as Error).message);
          return;
        }
        out.events++;
        batch.push(c);
        batchBytes += c.line.length;
        if (batch.length >= maxEvents || batchBytes >= BATCH_BYTES) flush();
        return stop ? 'stop' : undefined;
      },
      bad,
    });
    flush();
  } catch (err) {
    if (writing) throw err;
    if (err instanceof NotALogError) {
      bad(0, err.message);
    } else if (err instanceof LogReadError) {
      flush(); // (what was read before the failure)
      out.failure = { line: err.line, offset: err.offset, error: `reading stopped at byte ${err.offset}, in line ${err.line} (${errnoText(err.cause)})`, cause: err.cause };
    } else {
      // The open failed (permission, gone meanwhile): nothing of this log was read.
      out.failure = { line: 0, offset: 0, error: isPermission(err) ? permissionDenied(path).message : `cannot open it (${errnoText(err)})`, cause: err };
    }
  }
  return out;
}

/** Whether a log holds at least one valid event (read up to the first). Throws StoreError 'unreadable' for a log this process may not read; a log that cannot be read otherwise counts as holding events. */
export function logHasEvents(home: string, session: string): boolean {
  const scan = scanLogEvents(home, session, () => 'stop', { batch: 1 });
  if (scan.failure && isPermission(scan.failure.cause)) throw permissionDenied(sessionLogPath(home, session));
  return scan.events > 0 || scan.failure !== undefined;
}

export interface ReindexProgress {
  /** Session logs read to their end. */
  sessions: number;
  of: number;
  events: number;
  /** The log being read, while one is (progress inside a large log). */
  current?: string;
}

export interface ReindexResult {
  /** The rebuilt index. */
  index: string;
  sessions: number;
  /** Events in the rebuilt index. */
  events: number;
  /** Log lines whose event id was already indexed (kept once, as a live writer does). */
  duplicates: number;
  /** Lines that could not be indexed: at most LISTED_BAD_LINES per log, the rest counted in unlistedBadLines. */
  badLines: ({ session: string } & BadLine)[];
  unlistedBadLines: number;
  /** Logs that could not be read, or not to their end: the events read before `line` are indexed, the rest are not (the logs are left as they are). */
  failed: ({ session: string } & Omit<LogFailure, 'cause'>)[];
  /** Where the previous index files were moved (empty when there was none). */
  kept: string[];
  /** Events the previous index answered, when it could still be read. */
  previousEvents?: number;
}

/**
 * Rebuilds `<home>/index.sqlite` from every session log. Refuses (StoreError 'busy') while writers
 * (`corral serve`, running `corral run`s) have the store open: one that kept the old index open would
 * go on writing into the kept file; writers that start meanwhile wait for the rebuild to end.
 */
export function rebuildIndex(home: string, onProgress?: (p: ReindexProgress) => void): ReindexResult {
  const { index } = inspectStore(home);
  let unlock: () => void;
  try {
    unlock = lockForRebuild(home);
  } catch (err) {
    throw asStoreError(err, home, index);
  }
  try {
    return rebuildLocked(home, index, onProgress);
  } finally {
    unlock();
  }
}

function rebuildLocked(home: string, index: string, onProgress?: (p: ReindexProgress) => void): ReindexResult {
  const sessions = sessionLogNames(home);
  const previousEvents = countReadable(index);
  const building = `${index}.rebuild-${process.pid}`;
  removeFiles(building); // a leftover of this pid's own earlier, interrupted rebuild
  const result: ReindexResult = { index, sessions: sessions.length, events: 0, duplicates: 0, badLines: [], unlistedBadLines: 0, failed: [], kept: [] };
  if (previousEvents !== undefined) result.previousEvents = previousEvents;
  try {
    const fresh = new EventIndex(building);
    try {
      sessions.forEach((session, i) => {
        // One log's failure (unreadable, gone, a read error part-way) is reported and the others are
        // still indexed; a failure to write the new index is not a log's and ends the rebuild.
        const scan = scanLogEvents(home, session, (rows) => {
          const added = fresh.insert(rows);
          result.events += added;
          result.duplicates += rows.length - added;
          onProgress?.({ sessions: i, of: sessions.length, events: result.events, current: session });
        });
        for (const b of scan.badLines) result.badLines.push({ session, ...b });
        result.unlistedBadLines += scan.unlistedBadLines;
        if (scan.failure) result.failed.push({ session, line: scan.failure.line, offset: scan.failure.offset, error: scan.failure.error });
        onProgress?.({ sessions: i + 1, of: sessions.length, events: result.events });
      });
    } finally {
      fresh.close(); // the last connection folds the WAL into the file and removes it
    }
    const aside = asideName(index);
    // -wal and -shm go with their index: a stale WAL beside the new file would be replayed into it.
    for (const suffix of ['', '-wal', '-shm', '-journal']) {
      if (!existsSync(index + suffix)) continue;
      renameSync(index + suffix, aside + suffix);
      result.kept.push(aside + suffix);
    }
    renameSync(building, index);
    syncDir(home);
  } catch (err) {
    removeFiles(building);
    throw asStoreError(err, home, index);
  }
  return result;
}

/** `index.sqlite.before-reindex-<UTC time>`, numbered when a kept file already has that name. */
function asideName(index: string): string {
  const base = `${index}.before-reindex-${new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`;
  const taken = (name: string): boolean => ['', '-wal', '-shm', '-journal'].some((s) => existsSync(name + s));
  let name = base;
  for (let n = 2; taken(name); n++) name = `${base}.${n}`;
  return name;
}

/** The old index's event count, or undefined when it is missing or too damaged to count. */
function countReadable(index: string): number | undefined {
  if (!existsSync(index)) return undefined;
  let db: EventIndex | undefined;
  try {
    db = new EventIndex(index, { readonly: true });
    return db.hasEvents() ? db.count() : 0;
  } catch {
    return undefined;
  } finally {
    db?.close();
  }
}

function removeFiles(base: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(base + suffix, { force: true });
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
