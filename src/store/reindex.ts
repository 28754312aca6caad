// Why: the session logs are the record and the index is derived from them, so a damaged or lost
// index is recovered by rebuilding it from every sessions/*.jsonl. The rebuild is written beside
// the old index and swapped in by rename only when complete; the old index (with its -wal and
// -shm) is moved aside, never deleted, so a rebuild cannot lose anything the old file held.
import { existsSync, fsyncSync, closeSync, openSync, renameSync, rmSync } from 'node:fs';
import { checkEvent, type CheckedEvent } from './event-check.js';
import { sessionLogPath } from './home.js';
import { NotALogError, readSessionLog } from './session-log.js';
import { EventIndex } from './sqlite-index.js';
import { asStoreError, isPermission, permissionDenied } from './store-error.js';
import { inspectStore, sessionLogNames } from './store-files.js';
import { lockForRebuild } from './writer-registry.js';

export interface BadLine { line: number; error: string }

/** A session log's events, checked as append() checks them; lines that fail are reported, not fatal. */
export function checkedLogEvents(home: string, session: string): { rows: CheckedEvent[]; badLines: BadLine[] } {
  sessionLogPath(home, session); // validates the name before touching the filesystem
  let parsed;
  try {
    parsed = readSessionLog(home, session);
  } catch (err) {
    if (isPermission(err)) throw permissionDenied(sessionLogPath(home, session));
    if (err instanceof NotALogError) return { rows: [], badLines: [{ line: 0, error: err.message }] };
    throw err;
  }
  const badLines = [...parsed.badLines];
  const rows: CheckedEvent[] = [];
  for (const { line, value } of parsed.events) {
    try {
      const c = checkEvent(value);
      if (c.ev.session !== session) throw new Error(`event belongs to session ${JSON.stringify(c.ev.session)}`);
      rows.push(c);
    } catch (err) {
      badLines.push({ line, error: (err as Error).message });
    }
  }
  badLines.sort((a, b) => a.line - b.line);
  return { rows, badLines };
}

export interface ReindexProgress { sessions: number; of: number; events: number }

export interface ReindexResult {
  /** The rebuilt index. */
  index: string;
  sessions: number;
  /** Events in the rebuilt index. */
  events: number;
  /** Log lines whose event id was already indexed (kept once, as a live writer does). */
  duplicates: number;
  badLines: ({ session: string } & BadLine)[];
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
  const result: ReindexResult = { index, sessions: sessions.length, events: 0, duplicates: 0, badLines: [], kept: [] };
  if (previousEvents !== undefined) result.previousEvents = previousEvents;
  try {
    const fresh = new EventIndex(building);
    try {
      sessions.forEach((session, i) => {
        const { rows, badLines } = checkedLogEvents(home, session);
        const added = fresh.insert(rows);
        result.events += added;
        result.duplicates += rows.length - added;
        for (const b of badLines) result.badLines.push({ session, ...b });
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
