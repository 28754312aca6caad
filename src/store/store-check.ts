// Why: `corral doctor` must not call a machine ready whose event store will refuse the next run
// or hide recorded sessions. This check reads the store the way `corral events` does (read-only)
// and says whether it exists and is readable, whether its index opens and passes SQLite's
// quick_check, and whether every session log is in the index — and, when not, what to run.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { openIndexForReading } from './index-open.js';
import { logHasEvents } from './reindex.js';
import { reindexCommand, StoreError } from './store-error.js';
import { sessionLogNames } from './store-files.js';

export interface StoreCheck {
  ok: boolean;
  detail: string;
  fix?: string;
}

export function checkStore(home: string): StoreCheck {
  const reindex = `run: ${reindexCommand(home)}`;
  const notDir = fileOnTheWay(home);
  if (notDir) return { ok: false, detail: `${home}: ${notDir} is a file, not a directory: no store can be created there`, fix: 'pass --home DIR with a directory (or remove the file)' };
  let opened;
  try {
    opened = openIndexForReading(home);
  } catch (err) {
    if (!(err instanceof StoreError)) return { ok: false, detail: `${home}: ${(err as Error).message}`, fix: `look at ${home} (corral doctor --home DIR checks another store)` };
    if (err.kind === 'missing') return { ok: true, detail: `${home}: not created yet (the first corral run creates it)` };
    if (err.kind === 'unreadable') return { ok: false, detail: err.message, fix: 'run corral doctor as root (sudo), as corral itself runs' };
    return { ok: false, detail: err.message, fix: reindex };
  }
  try {
    const index = opened.index;
    if (index === undefined) return { ok: true, detail: `${home}: no events recorded yet` };
    const problems = index.quickCheck().filter((p) => p !== 'ok');
    if (problems.length > 0) {
      const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
      return { ok: false, detail: `${opened.file} fails SQLite's quick_check: ${problems[0]}${more}`, fix: reindex };
    }
    const indexed = new Set(index.sessionNames());
    const logs = sessionLogNames(home);
    // (a log holding no valid event, such as one torn first line, has nothing to index; a log is read
    // only up to its first valid event, as a stream: a log of any size is answered at once)
    const unindexed = logs.filter((s) => !indexed.has(s) && logHasEvents(home, s));
    if (unindexed.length > 0) {
      return { ok: false, detail: `${unindexed.length} of ${logs.length} session log(s) in ${home}/sessions have no events in the index (e.g. ${unindexed[0]}): corral events and corral report do not show them`, fix: reindex };
    }
    return { ok: true, detail: `${home}: ${indexed.size} session(s), ${index.count()} event(s), index quick_check ok` };
  } catch (err) {
    if (err instanceof StoreError) return { ok: false, detail: err.message, fix: reindex };
    const code = String((err as { code?: unknown }).code ?? '');
    if (code.startsWith('SQLITE_')) return { ok: false, detail: `${opened.file} is damaged: ${(err as Error).message}`, fix: reindex };
    throw err;
  } finally {
    opened.close();
  }
}

/** The first path on the way to `home` (itself included) that exists and is not a directory, if any. */
function fileOnTheWay(home: string): string | undefined {
  const parts = resolve(home).split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const p = `/${parts.slice(0, i).join('/')}`;
    let st;
    try { st = statSync(p); } catch { return undefined; }
    if (!st.isDirectory()) return p;
  }
  return undefined;
}
