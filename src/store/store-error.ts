// Why: a store that cannot be used (missing, unreadable, damaged, or an index lost next to its
// logs) must reach people as one sentence that names the file and the command that recovers it,
// never as an SqliteError stack trace. This module is that vocabulary: the error class every
// store opener throws and the mapping from SQLite and filesystem errors onto it.
import { DEFAULT_HOME, sessionsDir } from './home.js';

/**
 * missing: no store at all (nothing recorded yet, or a wrong --home).
 * unreadable: the files exist but this process may not read them (permissions).
 * unwritable: a writer on a read-only store (a copy, a read-only mount).
 * damaged: index.sqlite is not a usable SQLite database (corrupt, truncated, garbage).
 * unindexed: index.sqlite is missing or empty while session logs exist.
 * busy: a rebuild of the index runs (writers wait), or writers run (a rebuild waits).
 */
export type StoreErrorKind = 'missing' | 'unreadable' | 'unwritable' | 'damaged' | 'unindexed' | 'busy';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(readonly kind: StoreErrorKind, message: string, readonly path: string) {
    super(message);
  }
}

/** A word a shell passes through unchanged, else the word in single quotes. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command that rebuilds `home`'s index from its session logs, ready to paste. */
export function reindexCommand(home: string): string {
  return home === DEFAULT_HOME ? 'corral events --reindex' : `corral events --reindex --home ${shellWord(home)}`;
}

export function damagedIndex(home: string, file: string, why: string): StoreError {
  return new StoreError('damaged', `the event index ${file} is damaged (${why}); the session logs in ${sessionsDir(home)} are the record and are not affected: rebuild the index from them with \`${reindexCommand(home)}\` (the damaged file is kept beside it)`, file);
}

export function unindexedLogs(home: string, file: string, logs: number, state: 'missing' | 'empty'): StoreError {
  return new StoreError('unindexed', `the event index ${file} is ${state} but ${sessionsDir(home)} holds ${logs} session log(s): rebuild the index from them with \`${reindexCommand(home)}\` (Corral does not start an empty index next to them: their events would vanish from corral events and corral report)`, file);
}

export function permissionDenied(path: string): StoreError {
  return new StoreError('unreadable', `permission denied reading ${path}: Corral's event store is root's (directory 0700, files 0600) by design, so that sandboxed agents can neither read nor alter their record; run this as root (sudo), or work on a copy you may read (cp -a)`, path);
}

/** True for SQLite's "this file is not a sound database" answers. */
export function isDamage(err: unknown): boolean {
  const code = String((err as { code?: unknown }).code ?? '');
  return code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB' || code === 'SQLITE_IOERR_SHORT_READ';
}

/** True for answers that mean "this process may not read or write here". */
export function isPermission(err: unknown): boolean {
  const code = String((err as { code?: unknown }).code ?? '');
  return code === 'EACCES' || code === 'EPERM' || code === 'SQLITE_PERM' || code === 'SQLITE_AUTH';
}

/** True for answers that mean "this file system or directory does not take writes". */
export function isReadOnly(err: unknown): boolean {
  const code = String((err as { code?: unknown }).code ?? '');
  return code === 'EROFS' || code.startsWith('SQLITE_READONLY');
}

/** The StoreError a failure to use `file` means, or the error itself when it is none of ours. */
export function asStoreError(err: unknown, home: string, file: string): unknown {
  if (err instanceof StoreError) return err;
  const message = (err as Error).message ?? String(err);
  if (isDamage(err)) return damagedIndex(home, file, message);
  if (isPermission(err)) return permissionDenied(file);
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EEXIST' || code === 'ENOTDIR') return new StoreError('unwritable', `cannot use ${home} as the event store: it (or a directory above it) is a file, not a directory; pass --home DIR with a directory`, file);
  if (isReadOnly(err)) return new StoreError('unwritable', `cannot write the event store at ${home} (${message}): it is read-only here (a copy, a read-only mount); to record or reindex, use a writable store, such as a copy (cp -a) passed as --home DIR`, file);
  return err;
}
