// Why: the JSONL logs are easy to append and recover but slow to search; this shared SQLite
// index (WAL, busy_timeout) lets several Corral processes write and lets queries filter by
// session, attribution labels, kind and alert category without scanning every log. A reader
// opens it read-only: it never creates the index, switches its journal or writes to it, so
// queries work on a read-only copy and cannot damage the record they read.
import { closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { CorralEvent } from '../events/event.js';
import type { CheckedEvent } from './event-check.js';
import { keyToNs } from './ts-key.js';

export interface EventQuery {
  session?: string;
  run?: string;
  episode?: string;
  step?: number;
  tool_call?: string;
  /** One kind or several (any of them). */
  kind?: string | readonly string[];
  /** One alert category or several (any of them). */
  category?: string | readonly string[];
  /** Inclusive lower bound: epoch-ns decimal string or ISO 8601. */
  since?: string;
  limit?: number;
}

/** A query's kind or category as a list (a library caller may pass one as a string: a list of one, not a crash). */
export function queryList(v: string | readonly string[] | undefined): string[] | undefined {
  return typeof v === 'string' ? [v] : v === undefined ? undefined : [...v];
}

export interface SessionSummary {
  session: string;
  run?: string;
  episode?: string;
  first_ts: string;
  last_ts: string;
  events: number;
  alerts: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS events (
  id TEXT PRIMARY KEY,
  ts TEXT NOT NULL,
  kind TEXT NOT NULL,
  session TEXT NOT NULL,
  run TEXT,
  episode TEXT,
  step INTEGER,
  tool_call TEXT,
  pid INTEGER,
  category TEXT,
  rule TEXT,
  severity TEXT,
  json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_session_ts ON events (session, ts);
CREATE INDEX IF NOT EXISTS events_episode_step ON events (episode, step);
CREATE INDEX IF NOT EXISTS events_tool_call ON events (tool_call);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind);
CREATE INDEX IF NOT EXISTS events_category ON events (category);
CREATE INDEX IF NOT EXISTS events_run ON events (run);
`;

type Row = (string | number | null)[];

/** An alert's category, rule or severity (the indexed columns of both stores), or null for other kinds. */
export function alertField(ev: CorralEvent, k: 'category' | 'rule' | 'severity'): string | null {
  if (ev.kind !== 'alert') return null;
  const v = ev.payload[k];
  return typeof v === 'string' ? v : null;
}

function toRow(c: CheckedEvent): Row {
  const ev = c.ev;
  return [
    ev.id, c.key, ev.kind, ev.session, ev.run ?? null, ev.episode ?? null, ev.step ?? null,
    ev.tool_call ?? null, ev.pid ?? null, alertField(ev, 'category'), alertField(ev, 'rule'),
    alertField(ev, 'severity'), c.line,
  ];
}

/** Runs fn, retrying for up to 5 s while SQLite answers SQLITE_BUSY. */
function retryBusy<T>(fn: () => T): T {
  const deadline = Date.now() + 5000;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      return fn();
    } catch (e) {
      if (!String((e as { code?: unknown }).code).startsWith('SQLITE_BUSY') || Date.now() > deadline) throw e;
      Atomics.wait(pause, 0, 0, 10 + Math.random() * 20);
    }
  }
}

export interface EventIndexOptions {
  /** Open for queries only: no file creation, no WAL switch, no schema, no writes. */
  readonly?: boolean;
}

interface Writes {
  insertMany: (rows: CheckedEvent[]) => number;
  replaceSession: (session: string, rows: CheckedEvent[]) => number;
  replaceSessionFrom: (session: string, fill: (insert: (rows: CheckedEvent[]) => void) => void) => number;
}

/** One connection to `<home>/index.sqlite`. */
export class EventIndex {
  private readonly db: Database.Database;
  private readonly writes: Writes | undefined;

  constructor(path: string, opts: EventIndexOptions = {}) {
    if (opts.readonly === true) {
      this.db = new Database(path, { readonly: true, fileMustExist: true, timeout: 5000 });
      this.writes = undefined;
      return;
    }
    // Create the file ourselves so it is 0600 (SQLite gives -wal/-shm the same mode).
    closeSync(openSync(path, 'a', 0o600));
    this.db = new Database(path);
    try {
      this.writes = this.prepareWrites();
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  private prepareWrites(): Writes {
    this.db.pragma('busy_timeout = 5000');
    // Switching a fresh file to WAL (or reading one another process is recovering) can answer
    // SQLITE_BUSY without consulting busy_timeout: two processes opening one new home at once (a
    // daemon and `corral events`, two writers) retry instead of failing.
    retryBusy(() => this.db.pragma('journal_mode = WAL'));
    this.db.pragma('synchronous = NORMAL');
    retryBusy(() => this.db.exec(SCHEMA));
    // OR IGNORE: an id seen twice (a replay, a reindex racing a live writer) keeps its first row.
    const insertStmt = this.db.prepare<Row>(
      'INSERT OR IGNORE INTO events (id, ts, kind, session, run, episode, step, tool_call, pid, category, rule, severity, json) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)',
    );
    const del = this.db.prepare('DELETE FROM events WHERE session = ?');
    const insertAll = (rows: CheckedEvent[]): number => {
      let n = 0;
      for (const r of rows) n += insertStmt.run(...toRow(r)).changes;
      return n;
    };
    // IMMEDIATE takes the write lock up front, so busy_timeout applies instead of a deadlock error.
    return {
      insertMany: this.db.transaction(insertAll).immediate as (rows: CheckedEvent[]) => number,
      replaceSession: this.db.transaction((session: string, rows: CheckedEvent[]) => {
        del.run(session);
        return insertAll(rows);
      }).immediate as (session: string, rows: CheckedEvent[]) => number,
      replaceSessionFrom: this.db.transaction((session: string, fill: (insert: (rows: CheckedEvent[]) => void) => void) => {
        del.run(session);
        let n = 0;
        fill((rows) => { n += insertAll(rows); });
        return n;
      }).immediate as (session: string, fill: (insert: (rows: CheckedEvent[]) => void) => void) => number,
    };
  }

  private writer(): Writes {
    if (this.writes === undefined) throw new Error('this index was opened read-only');
    return this.writes;
  }

  /** Insert a batch in one transaction; returns how many rows were new. */
  insert(rows: CheckedEvent[]): number {
    return rows.length === 0 ? 0 : this.writer().insertMany(rows);
  }

  /** Replace every row of `session` with `rows`, atomically. */
  replace(session: string, rows: CheckedEvent[]): number {
    return this.writer().replaceSession(session, rows);
  }

  /**
   * Replace every row of `session` with the rows `fill` inserts, batch by batch (a session too large
   * to hold is never held whole), atomically: if fill throws, the session's rows are as they were.
   */
  replaceFrom(session: string, fill: (insert: (rows: CheckedEvent[]) => void) => void): number {
    return this.writer().replaceSessionFrom(session, fill);
  }

  query(q: EventQuery, sinceKey?: string): CorralEvent[] {
    const { sql, args } = this.select(q, sinceKey);
    const rows = this.db.prepare(sql).pluck().all(...args) as string[];
    return rows.map((j) => JSON.parse(j) as CorralEvent);
  }

  /** The same events as query, one at a time (a session of millions of events is never held whole). */
  *iterate(q: EventQuery, sinceKey?: string): Generator<CorralEvent> {
    const { sql, args } = this.select(q, sinceKey);
    for (const j of this.db.prepare(sql).pluck().iterate(...args) as IterableIterator<string>) yield JSON.parse(j) as CorralEvent;
  }

  private select(q: EventQuery, sinceKey?: string): { sql: string; args: (string | number)[] } {
    const where: string[] = [];
    const args: (string | number)[] = [];
    const eq = (col: string, v: string | number | undefined): void => {
      if (v === undefined) return;
      where.push(`${col} = ?`);
      args.push(v);
    };
    const inList = (col: string, v: string | readonly string[] | undefined): void => {
      const vs = queryList(v);
      if (vs === undefined || vs.length === 0) return;
      where.push(`${col} IN (${vs.map(() => '?').join(',')})`);
      args.push(...vs);
    };
    eq('session', q.session);
    eq('run', q.run);
    eq('episode', q.episode);
    eq('step', q.step);
    eq('tool_call', q.tool_call);
    inList('kind', q.kind);
    inList('category', q.category);
    if (sinceKey !== undefined) {
      where.push('ts >= ?');
      args.push(sinceKey);
    }
    let sql = 'SELECT json FROM events';
    if (where.length > 0) sql += ` WHERE ${where.join(' AND ')}`;
    sql += ' ORDER BY ts, id';
    if (q.limit !== undefined) {
      sql += ' LIMIT ?';
      args.push(q.limit);
    }
    return { sql, args };
  }

  sessions(): SessionSummary[] {
    const rows = this.db.prepare(`
      SELECT session, MIN(run) AS run, MIN(episode) AS episode, MIN(ts) AS first_ts, MAX(ts) AS last_ts,
             COUNT(*) AS events, SUM(kind = 'alert') AS alerts
      FROM events GROUP BY session ORDER BY first_ts, session`).all() as {
      session: string; run: string | null; episode: string | null; first_ts: string; last_ts: string; events: number; alerts: number;
    }[];
    return rows.map((r) => {
      const s: SessionSummary = {
        session: r.session, first_ts: keyToNs(r.first_ts), last_ts: keyToNs(r.last_ts), events: r.events, alerts: r.alerts,
      };
      if (r.run !== null) s.run = r.run;
      if (r.episode !== null) s.episode = r.episode;
      return s;
    });
  }

  /** False for a database without Corral's schema (a file never written by a writer). Reading it also proves the file opens. */
  hasEvents(): boolean {
    return retryBusy(() => this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").get()) !== undefined;
  }

  count(): number {
    return this.db.prepare('SELECT COUNT(*) FROM events').pluck().get() as number;
  }

  /** Every session with at least one indexed event. */
  sessionNames(): string[] {
    return this.db.prepare('SELECT DISTINCT session FROM events').pluck().all() as string[];
  }

  /** SQLite's quick_check: ['ok'] for a sound file, else its findings. */
  quickCheck(): string[] {
    const rows = this.db.pragma('quick_check') as { quick_check: string }[];
    return rows.map((r) => r.quick_check);
  }

  close(): void {
    this.db.close();
  }
}
