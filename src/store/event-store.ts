// Why: the one object sensors, the gateway and detection hand events to. It buffers appends,
// writes them to the per-session append-only JSONL log (source of truth) and then to the shared
// SQLite index, and answers queries. State lives in the instance: several stores (in one or
// many processes) can share a home. Opening refuses (StoreError) a damaged index, or a missing
// one next to existing logs, rather than recording into a fresh index that hides the past.
import { mkdirSync } from 'node:fs';
import type { CorralEvent } from '../events/event.js';
import { checkEvent, type CheckedEvent } from './event-check.js';
import { resolveHome, sessionLogPath } from './home.js';
import { openIndexForWriting } from './index-open.js';
import { scanLogEvents } from './reindex.js';
import { registerWriter } from './writer-registry.js';
import { SessionLogWriter } from './session-log.js';
import type { EventIndex, EventQuery, SessionSummary } from './sqlite-index.js';
import { asStoreError, isPermission, permissionDenied } from './store-error.js';
import { tsKey } from './ts-key.js';

export type { EventQuery, SessionSummary } from './sqlite-index.js';

/** Flush when this many events are buffered… */
export const FLUSH_EVENTS = 256;
/** …or this many milliseconds after the first buffered event, whichever comes first. */
export const FLUSH_MS = 50;

export interface StoreStats {
  /** Events accepted by append(). */
  appended: number;
  /** Events written to the JSONL log. */
  logged: number;
  /** Events newly inserted into the index (duplicates of an existing id are not counted). */
  indexed: number;
  /** Events rejected by append() (malformed) or lost by a failed log write. */
  errors: number;
  /** Batches whose index insert failed (the JSONL still has them; reindexSession recovers). */
  indexErrors: number;
  lastError?: string;
}

export interface EventStoreOptions {
  home?: string;
}

export class EventStore {
  readonly home: string;
  private readonly log: SessionLogWriter;
  private readonly index: EventIndex;
  private pending: CheckedEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly counters: StoreStats = { appended: 0, logged: 0, indexed: 0, errors: 0, indexErrors: 0 };
  private readonly onExit = (): void => this.close();
  private readonly unregister: () => void;

  private constructor(home: string) {
    this.home = home;
    try {
      mkdirSync(home, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw asStoreError(err, home, home);
    }
    // Registered for as long as the store is open: `corral events --reindex` refuses meanwhile.
    try {
      this.unregister = registerWriter(home);
    } catch (err) {
      throw asStoreError(err, home, home);
    }
    try {
      this.index = openIndexForWriting(home);
    } catch (err) {
      this.unregister();
      throw err;
    }
    try {
      this.log = new SessionLogWriter(home);
    } catch (err) {
      this.index.close();
      this.unregister();
      throw asStoreError(err, home, home);
    }
    // Buffered events must not vanish when the process exits without calling close().
    process.once('exit', this.onExit);
  }

  /**
   * Open (creating if needed) the store at `opts.home ?? $CORRAL_HOME ?? /var/lib/corral`.
   * Throws StoreError when it cannot record there: damaged index, index missing next to logs
   * (rebuild: `corral events --reindex`), permissions, a read-only file system.
   * @example
   * const store = EventStore.open({ home: '/tmp/corral' });
   * store.append({ id: 'e1', ts: nowNs(), kind: 'exec', session: 's1', payload: { argv: ['ls'] } });
   * store.query({ session: 's1', kind: ['exec'] });
   * store.close();
   */
  static open(opts: EventStoreOptions = {}): EventStore {
    return new EventStore(resolveHome(opts.home));
  }

  /** Buffer one event. Never throws for a bad event: it is counted in stats().errors instead. */
  append(ev: CorralEvent): void {
    if (this.closed) return this.fail('append after close');
    let checked: CheckedEvent;
    try {
      checked = checkEvent(ev);
    } catch (err) {
      return this.fail(`rejected event: ${(err as Error).message}`);
    }
    this.counters.appended++;
    this.pending.push(checked);
    if (this.pending.length >= FLUSH_EVENTS) this.flushQuietly();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flushQuietly(), FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Write buffered events to their JSONL logs, then index them in one transaction. */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const logged = this.writeLogs(batch);
    try {
      this.counters.indexed += this.index.insert(logged);
    } catch (err) {
      this.counters.indexErrors++;
      this.counters.lastError = `index insert failed: ${(err as Error).message}`;
      throw err;
    }
  }

  /**
   * A session ended: its buffered events are written and its log's fd is released (a long-lived
   * runtime must not hold one fd per session it ever ran). A later event of it opens the log again.
   */
  endSession(session: string): void {
    if (this.closed) return;
    try { this.flush(); } finally { this.log.closeSession(session); }
  }

  /** Flushes this store's buffer first; ordered by ts then id. */
  query(q: EventQuery = {}): CorralEvent[] {
    this.assertOpen();
    this.flush();
    const sinceKey = q.since === undefined ? undefined : tsKey(q.since);
    return this.index.query(q, sinceKey);
  }

  sessions(): SessionSummary[] {
    this.assertOpen();
    this.flush();
    return this.index.sessions();
  }

  /**
   * Rebuild index rows for a session from its JSONL (recovery: a truncated last line is skipped and
   * reported, earlier lines are kept). The log is read as a stream, so its size does not matter;
   * badLines lists at most LISTED_BAD_LINES. A log that cannot be read to its end throws (an Error
   * naming the file, line and byte; StoreError 'unreadable' for permissions) and leaves the
   * session's index rows as they were.
   */
  reindexSession(session: string): { indexed: number; badLines: { line: number; error: string }[] } {
    this.assertOpen();
    this.flush();
    const path = sessionLogPath(this.home, session);
    let badLines: { line: number; error: string }[] = [];
    const indexed = this.index.replaceFrom(session, (insert) => {
      const scan = scanLogEvents(this.home, session, insert);
      if (scan.failure) {
        if (isPermission(scan.failure.cause)) throw permissionDenied(path);
        throw new Error(`${path}: ${scan.failure.error}; the index of session ${session} is left as it was`, { cause: scan.failure.cause });
      }
      badLines = scan.badLines;
    });
    return { indexed, badLines };
  }

  stats(): StoreStats {
    return { ...this.counters };
  }

  /** Flush synchronously and release the log fds and the database connection. Idempotent. */
  close(): void {
    if (this.closed) return;
    try {
      this.flushQuietly();
    } finally {
      this.closed = true;
      process.removeListener('exit', this.onExit);
      this.log.close();
      this.index.close();
      this.unregister();
    }
  }

  private writeLogs(batch: CheckedEvent[]): CheckedEvent[] {
    const bySession = new Map<string, CheckedEvent[]>();
    for (const c of batch) {
      const list = bySession.get(c.ev.session);
      if (list) list.push(c);
      else bySession.set(c.ev.session, [c]);
    }
    const logged: CheckedEvent[] = [];
    for (const [session, list] of bySession) {
      try {
        this.log.appendLines(session, list.map((c) => c.line));
        this.counters.logged += list.length;
        logged.push(...list);
      } catch (err) {
        this.counters.errors += list.length;
        this.counters.lastError = `log write failed for session ${session}: ${(err as Error).message}`;
      }
    }
    return logged;
  }

  /** Timer/threshold/close path: a failure is recorded in stats, never thrown into the caller. */
  private flushQuietly(): void {
    try {
      this.flush();
    } catch {
      // already counted in flush()
    }
  }

  private fail(message: string): void {
    this.counters.errors++;
    this.counters.lastError = message;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('EventStore is closed');
  }
}
