// Why: the two ways the index is opened, each with the failures it must turn into a clear
// StoreError instead of a stack trace. Reading: read-only, never creating or converting a file,
// and still working where SQLite cannot create the shared-memory file a WAL database needs (a
// read-only mount, an auditor's 0644 copy read by another user) by reading a private copy.
// Writing: never starting an empty index next to existing session logs — that index would be
// trusted from then on and every earlier session would silently vanish from queries.
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventIndex } from './sqlite-index.js';
import { asStoreError, isPermission, permissionDenied, StoreError, unindexedLogs } from './store-error.js';
import { inspectStore, sessionLogNames } from './store-files.js';

export interface ReadIndex {
  /** undefined: nothing was ever recorded here (an empty store). */
  index: EventIndex | undefined;
  /** The file the answers come from (index.sqlite; the damaged-file messages name it). */
  file: string;
  /** Closes the connection and removes the private copy, if one was made. */
  close(): void;
}

/**
 * Opens `<home>/index.sqlite` for queries. Throws StoreError: missing, unreadable, damaged, or
 * unindexed (no index, or an empty one, while session logs exist).
 */
export function openIndexForReading(home: string): ReadIndex {
  const files = inspectStore(home);
  const file = files.index;
  if (files.indexState !== 'present') return emptyOrUnindexed(home, file, files.indexState);
  let index: EventIndex | undefined;
  try {
    index = openProbed(file);
  } catch (err) {
    if (!needsPrivateCopy(err)) throw asStoreError(err, home, file);
    return readThroughCopy(home, file);
  }
  if (index === undefined) return emptyOrUnindexed(home, file, 'empty');
  const opened = index;
  return { index: opened, file, close: () => opened.close() };
}

/** A read-only connection whose first read succeeded; undefined for a database without Corral's schema. */
function openProbed(path: string): EventIndex | undefined {
  const index = new EventIndex(path, { readonly: true });
  try {
    if (index.hasEvents()) return index;
  } catch (err) {
    index.close();
    throw err;
  }
  index.close();
  return undefined;
}

function readThroughCopy(home: string, file: string): ReadIndex {
  const copy = privateCopy(file);
  let index: EventIndex | undefined;
  try {
    index = openProbed(copy.file);
  } catch (err) {
    copy.remove();
    throw asStoreError(err, home, file);
  }
  if (index === undefined) {
    copy.remove();
    return emptyOrUnindexed(home, file, 'empty');
  }
  const opened = index;
  return { index: opened, file, close: () => { opened.close(); copy.remove(); } };
}

/**
 * Opens `<home>/index.sqlite` for a writer (creating it in a new home). Throws StoreError:
 * unreadable/unwritable, damaged, or unindexed when the index is missing or empty next to logs.
 */
export function openIndexForWriting(home: string): EventIndex {
  const files = inspectStore(home);
  if (files.indexState !== 'present') {
    const logs = sessionLogNames(home).length;
    if (logs > 0) throw unindexedLogs(home, files.index, logs, files.indexState === 'absent' ? 'missing' : 'empty');
  }
  try {
    return new EventIndex(files.index);
  } catch (err) {
    throw asStoreError(err, home, files.index);
  }
}

function emptyOrUnindexed(home: string, file: string, state: 'absent' | 'empty'): ReadIndex {
  const logs = sessionLogNames(home).length;
  if (logs > 0) throw unindexedLogs(home, file, logs, state === 'absent' ? 'missing' : 'empty');
  if (state === 'absent') throw new StoreError('missing', `no event store at ${home} (missing ${file}); pass --home DIR or set CORRAL_HOME`, file);
  return { index: undefined, file, close: () => {} };
}

/**
 * SQLite cannot open a WAL database read-only where it may not create the -shm file beside it
 * (READONLY_DIRECTORY, CANTOPEN, READONLY_CANTINIT). The file itself is readable (inspectStore
 * checked), so such a store is read through a copy instead.
 */
function needsPrivateCopy(err: unknown): boolean {
  const code = String((err as { code?: unknown }).code ?? '');
  return code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_READONLY');
}

/**
 * A copy of the index (and its -wal, which holds committed events not yet folded into it) in a
 * fresh 0700 directory of this user's, removed on close or at exit.
 */
function privateCopy(file: string): { file: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'corral-index-'));
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    process.removeListener('exit', remove);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', remove);
  const copy = join(dir, 'index.sqlite');
  try {
    copyFrom(file, copy);
    const wal = `${file}-wal`;
    if (existsSync(wal) && statSync(wal).size > 0) copyFrom(wal, `${copy}-wal`);
  } catch (err) {
    remove();
    throw err;
  }
  return { file: copy, remove };
}

function copyFrom(from: string, to: string): void {
  try {
    copyFileSync(from, to);
  } catch (err) {
    if (isPermission(err)) throw permissionDenied(from);
    throw err;
  }
}
