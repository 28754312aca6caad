// Why: before SQLite is asked anything, the filesystem says most of what is wrong with a store:
// no home (nothing recorded, or a wrong --home), a home this user may not read (root's 0700 by
// design: told apart from "missing"), and an index that is gone or empty while session logs
// exist. Readers, writers, reindex and `corral doctor` all look through this one function.
import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { indexPath, isSafeSessionName, sessionsDir } from './home.js';
import { damagedIndex, isPermission, permissionDenied, StoreError } from './store-error.js';

export interface StoreFiles {
  home: string;
  index: string;
  /** absent: no index.sqlite; empty: a zero-byte one (never written); present: anything else. */
  indexState: 'absent' | 'empty' | 'present';
}

/** How the store at `home` looks on disk. Throws StoreError: missing (no home) or unreadable (permissions). */
export function inspectStore(home: string): StoreFiles {
  const index = indexPath(home);
  const st = statOrThrow(home);
  if (st === undefined) throw new StoreError('missing', `no event store at ${home} (missing ${index}); pass --home DIR or set CORRAL_HOME`, home);
  if (!st.isDirectory()) throw new StoreError('missing', `no event store at ${home}: it is not a directory; pass --home DIR or set CORRAL_HOME`, home);
  readableOrThrow(home, constants.R_OK | constants.X_OK);
  const ist = statOrThrow(index);
  if (ist === undefined) return { home, index, indexState: 'absent' };
  if (!ist.isFile()) throw damagedIndex(home, index, 'it is not a regular file');
  if (ist.size === 0) return { home, index, indexState: 'empty' };
  readableOrThrow(index, constants.R_OK);
  return { home, index, indexState: 'present' };
}

/** Session names that have a log in `<home>/sessions` (none when the directory does not exist). */
export function sessionLogNames(home: string): string[] {
  let names: string[];
  try {
    names = readdirSync(sessionsDir(home));
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return [];
    if (isPermission(err)) throw permissionDenied(sessionsDir(home));
    if ((err as { code?: string }).code === 'ENOTDIR') throw new StoreError('damaged', `the session log directory ${sessionsDir(home)} is not a directory: this is not a usable event store (pass --home DIR or set CORRAL_HOME)`, sessionsDir(home));
    throw err;
  }
  return names.filter((n) => n.endsWith('.jsonl')).map((n) => n.slice(0, -'.jsonl'.length)).filter(isSafeSessionName).sort();
}

function statOrThrow(path: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    if (isPermission(err)) throw permissionDenied(path);
    throw err;
  }
}

function readableOrThrow(path: string, mode: number): void {
  try {
    accessSync(path, mode);
  } catch (err) {
    if (isPermission(err)) throw permissionDenied(path);
    throw err;
  }
}
