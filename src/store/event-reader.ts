// Why: `corral events` and `corral report` only read. They open the index read-only through
// this class, so a query never needs write permission, never creates or converts a file, and
// works on a read-only copy of a store; and a damaged index met half-way through a query is a
// StoreError naming the file and the rebuild command, not an SqliteError stack trace.
import type { CorralEvent } from '../events/event.js';
import { resolveHome } from './home.js';
import { openIndexForReading, type ReadIndex } from './index-open.js';
import type { EventQuery, SessionSummary } from './sqlite-index.js';
import { asStoreError } from './store-error.js';
import { tsKey } from './ts-key.js';

export class EventReader {
  private constructor(readonly home: string, private readonly opened: ReadIndex) {}

  /** Throws StoreError (missing, unreadable, damaged, unindexed) when the store cannot be read. */
  static open(opts: { home?: string } = {}): EventReader {
    const home = resolveHome(opts.home);
    return new EventReader(home, openIndexForReading(home));
  }

  /** The same answers as EventStore.query: ordered by ts then id. */
  query(q: EventQuery = {}): CorralEvent[] {
    const sinceKey = q.since === undefined ? undefined : tsKey(q.since);
    return this.guard((index) => index.query(q, sinceKey), []);
  }

  /** query's events one at a time; a damaged index met on the way is a StoreError too. */
  *iterate(q: EventQuery = {}): Generator<CorralEvent> {
    const sinceKey = q.since === undefined ? undefined : tsKey(q.since);
    const index = this.opened.index;
    if (index === undefined) return;
    const it = this.guard((i) => i.iterate(q, sinceKey), undefined)!;
    for (;;) {
      const n = this.guard(() => it.next(), undefined)!;
      if (n.done) return;
      yield n.value;
    }
  }

  sessions(): SessionSummary[] {
    return this.guard((index) => index.sessions(), []);
  }

  close(): void {
    this.opened.close();
  }

  private guard<T>(fn: (index: NonNullable<ReadIndex['index']>) => T, empty: T): T {
    const index = this.opened.index;
    if (index === undefined) return empty;
    try {
      return fn(index);
    } catch (err) {
      throw asStoreError(err, this.home, this.opened.file);
    }
  }
}
