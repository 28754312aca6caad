// Why: a fleet of machines running thousands of rollouts needs one place to ask "which tool
// calls, on any machine, raised tunnel alerts in run X". Each machine keeps its own SQLite
// index (the embedded store); `corral collect` moves their events, carried by NATS JetStream,
// into this PostgreSQL table, and `corral events --postgres` queries it with the same filters.
// Inserts are idempotent on the event id (JetStream delivers at least once), and the SQL is
// parameterised throughout: event text never becomes SQL.
import pg from 'pg';
import type { CorralEvent } from '../events/event.js';
import type { CheckedEvent } from './event-check.js';
import { alertField, type EventQuery, queryList, type SessionSummary } from './sqlite-index.js';
import { keyToNs, tsKey } from './ts-key.js';
import { redact } from './pg-url.js';

export { redact };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS corral_events (
  id TEXT PRIMARY KEY,
  ts TEXT NOT NULL,
  kind TEXT NOT NULL,
  host TEXT,
  session TEXT NOT NULL,
  run TEXT,
  episode TEXT,
  step INTEGER,
  tool_call TEXT,
  pid INTEGER,
  category TEXT,
  rule TEXT,
  severity TEXT,
  event JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS corral_events_session_ts ON corral_events (session, ts);
CREATE INDEX IF NOT EXISTS corral_events_episode_step ON corral_events (episode, step);
CREATE INDEX IF NOT EXISTS corral_events_run ON corral_events (run);
CREATE INDEX IF NOT EXISTS corral_events_tool_call ON corral_events (tool_call);
CREATE INDEX IF NOT EXISTS corral_events_kind ON corral_events (kind);
CREATE INDEX IF NOT EXISTS corral_events_category ON corral_events (category) WHERE category IS NOT NULL;
CREATE INDEX IF NOT EXISTS corral_events_host ON corral_events (host);
`;

/** Columns per row (the multi-row INSERT has this many parameters per event). */
const COLS = 14;
/** Rows per INSERT statement (PostgreSQL allows 65535 parameters). */
const ROWS_PER_INSERT = 1000;

/** An event as the collector received it, with the machine it came from. */
export interface HostEvent { checked: CheckedEvent; host?: string }

/** PostgreSQL text cannot hold NUL: NULs in labels (agent-influenced text) become U+FFFD in the columns (the event keeps them, escaped). */
const noNul = (s: string | undefined): string | null => (s === undefined ? null : s.replace(/\0/g, '\uFFFD'));
/**
 * jsonb refuses some JSON that JSON.stringify writes for an agent's text: the escape \u0000 and
 * lone UTF-16 surrogates. Such an event is re-serialised with NUL as U+FFFD and lone surrogates
 * made well-formed (rare: the fast path keeps the line as it is).
 */
const jsonbSafe = (c: CheckedEvent): string => (/\\u(0000|d[89a-f])/i.test(c.line)
  ? JSON.stringify(c.ev, (_k, v: unknown) => (typeof v === 'string' ? (v as string & { toWellFormed(): string }).toWellFormed().replace(/\0/g, '\uFFFD') : v))
  : c.line);

export class PgEventStore {
  private constructor(private readonly pool: pg.Pool) {}

  /** Connects (postgres://user@host:port/db or a libpq key=value string) and creates the table if needed. */
  static async open(url: string): Promise<PgEventStore> {
    const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 10_000 });
    pool.on('error', () => { /* an idle client lost its connection: the pool replaces it */ });
    try {
      await pool.query(SCHEMA);
    } catch (e) {
      await pool.end().catch(() => {});
      throw new Error(`PostgreSQL ${redact(url)}: ${(e as Error).message}`);
    }
    return new PgEventStore(pool);
  }

  /** Inserts a batch in one transaction; an id already stored is skipped. Returns how many rows were new. */
  async insert(rows: HostEvent[]): Promise<number> {
    if (rows.length === 0) return 0;
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      let added = 0;
      for (let at = 0; at < rows.length; at += ROWS_PER_INSERT) {
        const part = rows.slice(at, at + ROWS_PER_INSERT);
        const args: unknown[] = [];
        const tuples = part.map(({ checked, host }, i) => {
          const ev = checked.ev;
          args.push(noNul(ev.id), checked.key, noNul(ev.kind), noNul(host), ev.session, noNul(ev.run), noNul(ev.episode), ev.step ?? null,
            noNul(ev.tool_call), ev.pid ?? null, noNul(alertField(ev, 'category') ?? undefined), noNul(alertField(ev, 'rule') ?? undefined),
            noNul(alertField(ev, 'severity') ?? undefined), jsonbSafe(checked));
          return `(${Array.from({ length: COLS }, (_, c) => `$${i * COLS + c + 1}`).join(',')})`;
        });
        const r = await client.query(
          `INSERT INTO corral_events (id, ts, kind, host, session, run, episode, step, tool_call, pid, category, rule, severity, event)
           VALUES ${tuples.join(',')} ON CONFLICT (id) DO NOTHING`, args);
        added += r.rowCount ?? 0;
      }
      await client.query('COMMIT');
      return added;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      client.release();
    }
  }

  /** The same filters as the SQLite index (store/sqlite-index.ts), plus the machine. Oldest first. */
  async query(q: EventQuery & { host?: string }): Promise<(CorralEvent & { host?: string })[]> {
    const { where, args } = filters(q);
    let sql = 'SELECT event, host FROM corral_events';
    if (where.length) sql += ` WHERE ${where.join(' AND ')}`;
    sql += ' ORDER BY ts, id';
    if (q.limit !== undefined) { args.push(q.limit); sql += ` LIMIT $${args.length}`; }
    const r = await this.pool.query<{ event: CorralEvent; host: string | null }>(sql, args);
    return r.rows.map((row) => (row.host === null ? row.event : { ...row.event, host: row.host }));
  }

  /**
   * query's events in pages of `page` (after the last row's ts and id), so a session of millions of
   * events is never held whole, here or in the server's answer. `limit` is not applied.
   */
  async *iterate(q: EventQuery & { host?: string }, page = 2000): AsyncGenerator<CorralEvent & { host?: string }> {
    let after: { ts: string; id: string } | undefined;
    for (;;) {
      const { where, args } = filters(q);
      if (after) { args.push(after.ts, after.id); where.push(`(ts, id) > ($${args.length - 1}, $${args.length})`); }
      args.push(page);
      const sql = `SELECT event, host, ts, id FROM corral_events${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ts, id LIMIT $${args.length}`;
      const r = await this.pool.query<{ event: CorralEvent; host: string | null; ts: string; id: string }>(sql, args);
      for (const row of r.rows) yield row.host === null ? row.event : { ...row.event, host: row.host };
      if (r.rows.length < page) return;
      const last = r.rows.at(-1)!;
      after = { ts: last.ts, id: last.id };
    }
  }

  /** Every session in the store, oldest first, as the SQLite index lists them (plus the machine). */
  async sessions(): Promise<(SessionSummary & { host?: string })[]> {
    const r = await this.pool.query<{ session: string; host: string | null; run: string | null; episode: string | null; first_ts: string; last_ts: string; events: string; alerts: string }>(`
      SELECT session, MIN(host) AS host, MIN(run) AS run, MIN(episode) AS episode, MIN(ts) AS first_ts, MAX(ts) AS last_ts,
             COUNT(*) AS events, COUNT(*) FILTER (WHERE kind = 'alert') AS alerts
      FROM corral_events GROUP BY session ORDER BY first_ts, session`);
    return r.rows.map((row) => ({
      session: row.session, first_ts: keyToNs(row.first_ts), last_ts: keyToNs(row.last_ts), events: Number(row.events), alerts: Number(row.alerts),
      ...(row.run !== null ? { run: row.run } : {}), ...(row.episode !== null ? { episode: row.episode } : {}), ...(row.host !== null ? { host: row.host } : {}),
    }));
  }

  async count(): Promise<number> {
    const r = await this.pool.query<{ n: string }>('SELECT count(*) AS n FROM corral_events');
    return Number(r.rows[0]!.n);
  }

  async close(): Promise<void> { await this.pool.end(); }
}

/** WHERE terms and their arguments for the SQLite index's filters plus the machine. */
function filters(q: EventQuery & { host?: string }): { where: string[]; args: unknown[] } {
  const where: string[] = [];
  const args: unknown[] = [];
  const eq = (col: string, v: string | number | undefined): void => {
    if (v === undefined) return;
    args.push(v);
    where.push(`${col} = $${args.length}`);
  };
  const inList = (col: string, vs: string[] | undefined): void => {
    if (!vs?.length) return;
    args.push(vs);
    where.push(`${col} = ANY($${args.length})`);
  };
  eq('session', q.session); eq('run', q.run); eq('episode', q.episode); eq('step', q.step);
  eq('tool_call', q.tool_call); eq('host', q.host);
  inList('kind', queryList(q.kind)); inList('category', queryList(q.category));
  if (q.since !== undefined) { args.push(tsKey(q.since)); where.push(`ts >= $${args.length}`); }
  return { where, args };
}
