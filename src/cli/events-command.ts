// Why: `corral events` — the operator's view of the event store: filter by session, run,
// episode, step, tool call, kind or alert category, and print a readable table or JSON lines.
// All text from events is escaped (safeText) before printing, so an agent cannot inject
// terminal control sequences into the operator's screen. The local store is opened read-only;
// --reindex rebuilds its index from the session logs.
import { parseArgs } from 'node:util';
import { ALERT_CATEGORIES, EVENT_KINDS, nsToIso, type CorralEvent } from '../events/event.js';
import type { EventQuery, SessionSummary } from '../store/event-store.js';
import { queryList } from '../store/sqlite-index.js';
import { EventReader } from '../store/event-reader.js';
import { resolveHome } from '../store/home.js';
import { StoreError } from '../store/store-error.js';
import { summarizeEvent } from '../store/summary.js';
import { tsKey } from '../store/ts-key.js';
import { parseDuration } from '../policy/units.js';
import { fitWidths, makeStyle, safeText, table, tableLines, type Style } from './style.js';
import { UsageError as CliUsageError } from './io.js';
import { NATS_FLAG_OPTIONS, natsSecurityFlags } from './nats-flags.js';
import type { NatsSecurity } from '../store/nats-options.js';
import { postgresUrlProblem } from '../store/pg-url.js';

export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

const KINDS = EVENT_KINDS;

export const EVENTS_USAGE = `Usage: corral events [options]

Filters:
  --session S          only this session (sandbox id)
  --run R              only this run
  --episode E          only this episode
  --step N             only this step (non-negative integer)
  --tool-call T        only this tool call
  --kind K[,K]         only these kinds (${KINDS.join(', ')})
  --category C[,C]     only alerts of these categories
  --since TS           events at or after TS (epoch ns, ISO 8601 — UTC unless it names a zone —, or a time ago: 30s, 10m, 2h, 7d)
  --limit N            at most N events (oldest first)
Live:
  --follow             print events as they happen, from a running \`corral serve\` (filters above apply;
                       not --since/--limit/--sessions); --socket PATH names its socket; with --nats URL
                       (and optionally --host H), the whole fleet's events as machines publish them.
                       Ends 0 on Ctrl-C; 1, saying so, when the daemon stops (no reconnect: a gap
                       would go unseen; \`--since\` shows what was recorded in between)
Fleet:
  --postgres URL       query the fleet's central store (filled by \`corral collect\`) instead of this
                       machine's; events carry the machine they came from ("host")
  --host H             only events of machine H (with --postgres, or --follow --nats)
  --nats-ca FILE, --nats-cert FILE --nats-key FILE, --nats-nkey FILE
                       TLS and credentials for --nats (defaults $CORRAL_NATS_CA, …_CERT, …_KEY,
                       …_NKEY; a user:password@ or token@ in the URL works too)
Output:
  --json               one JSON event per line
  --sessions           list sessions instead of events (--session/--run/--episode/--host filter them;
                       with --postgres, the fleet's sessions with their machine)
  --home DIR           event store directory (default: $CORRAL_HOME or /var/lib/corral)
  -h, --help           show this help
Repair:
  --reindex            rebuild the store's index.sqlite from its session logs (sessions/*.jsonl, the
                       record) when it is damaged or lost; progress on stderr, the old index is kept
                       beside it (index.sqlite.before-reindex-TIME); stop \`corral serve\` first.
                       Logs of any size are read as streams; a log that cannot be read is named (file,
                       line, byte), the others are indexed, and the exit status is 1
`;

class UsageError extends Error {}

const OPTIONS = {
  session: { type: 'string' },
  run: { type: 'string' },
  episode: { type: 'string' },
  step: { type: 'string' },
  'tool-call': { type: 'string' },
  kind: { type: 'string' },
  category: { type: 'string' },
  since: { type: 'string' },
  limit: { type: 'string' },
  json: { type: 'boolean' },
  sessions: { type: 'boolean' },
  home: { type: 'string' },
  follow: { type: 'boolean' },
  socket: { type: 'string' },
  postgres: { type: 'string' },
  nats: { type: 'string' },
  host: { type: 'string' },
  reindex: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...NATS_FLAG_OPTIONS,
} as const;

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    const e = err as Error & { code?: string };
    const unknown = /Unknown option '([^']+)'/.exec(e.message);
    if (unknown) throw new UsageError(`unknown option ${unknown[1]} (see corral events --help)`);
    const positional = /Unexpected argument '([^']+)'/.exec(e.message);
    if (positional) throw new UsageError(`unexpected argument ${JSON.stringify(positional[1])} (corral events takes only options)`);
    throw new UsageError(e.message);
  }
}

function nonNegInt(flag: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min) {
    throw new UsageError(`${flag} must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

function list<T extends string>(flag: string, v: string | undefined, allowed: readonly T[]): T[] | undefined {
  if (v === undefined) return undefined;
  const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new UsageError(`${flag} needs at least one value`);
  for (const it of items) {
    if (!(allowed as readonly string[]).includes(it)) throw new UsageError(`${flag}: unknown value ${JSON.stringify(it)} (one of: ${allowed.join(', ')})`);
  }
  return items as T[];
}

function buildQuery(v: ReturnType<typeof parse>): EventQuery {
  const q: EventQuery = {};
  if (v.session !== undefined) q.session = v.session;
  if (v.run !== undefined) q.run = v.run;
  if (v.episode !== undefined) q.episode = v.episode;
  const step = nonNegInt('--step', v.step);
  if (step !== undefined) q.step = step;
  if (v['tool-call'] !== undefined) q.tool_call = v['tool-call'];
  const kind = list('--kind', v.kind, KINDS);
  if (kind) q.kind = kind;
  const category = list('--category', v.category, ALERT_CATEGORIES);
  if (category) q.category = category;
  if (v.since !== undefined) q.since = sinceTs(v.since);
  const limit = nonNegInt('--limit', v.limit, 1);
  if (limit !== undefined) q.limit = limit;
  return q;
}

/** --since: epoch nanoseconds or ISO 8601 as given, or a duration with its unit ("10m") counted back from now. */
export function sinceTs(text: string, now: number = Date.now()): string {
  if (/^\s*\d+(\.\d+)?\s*(ms|s|m|min|h|d)\s*$/.test(text)) {
    const d = parseDuration(text);
    // (events are stamped since 1970: a longer time ago has no timestamp, and past ±8.64e15 ms no Date)
    if (d.ok && d.value > now) throw new UsageError(`--since ${JSON.stringify(text)} reaches back before 1970-01-01, where event times begin: at most ${Math.floor(now / 86_400_000)}d (or give an ISO 8601 time)`);
    if (d.ok) return new Date(now - d.value).toISOString();
  }
  // (a date, or a time without a zone, is UTC — as every time Corral prints — never the machine's local zone)
  const utc = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text) ? `${text}Z` : text;
  try {
    tsKey(utc);
  } catch {
    throw new UsageError(`--since must be epoch nanoseconds, an ISO 8601 time (UTC unless it names a zone) or a duration ago (10m, 2h, 7d), got ${JSON.stringify(text)}`);
  }
  return utc;
}

/** Write and wait for drain when the stream asks us to, so large outputs do not pile up in memory. */
async function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (!stream.write(text)) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
}

/** Events as JSON lines, written in batches of about 64 KiB (a write per line made 300 000 events take seconds); how many. */
async function writeJsonLines(stream: NodeJS.WritableStream, events: Iterable<unknown> | AsyncIterable<unknown>): Promise<number> {
  let n = 0, batch = '';
  for await (const ev of events) {
    n++;
    batch += `${JSON.stringify(ev)}\n`;
    if (batch.length >= 65_536) { await write(stream, batch); batch = ''; }
  }
  if (batch) await write(stream, batch);
  return n;
}

/** Rows written per page of a table (its column widths fit the first page, and grow when a later one needs). */
const TABLE_PAGE = 1000;

/**
 * Events as a table, written a page at a time as they are read (a session of millions of events is
 * never held whole); how many. `row` makes one event's cells.
 */
async function writeEventTable<E>(stream: NodeJS.WritableStream, events: Iterable<E> | AsyncIterable<E>, header: string[], row: (ev: E) => string[]): Promise<number> {
  let n = 0, widths: number[] | undefined, page: string[][] = [];
  const flush = async (): Promise<void> => {
    const rows = widths === undefined ? [header, ...page] : page;
    widths = fitWidths(rows, widths);
    await write(stream, tableLines(rows, widths));
    page = [];
  };
  for await (const ev of events) {
    n++;
    page.push(row(ev));
    if (page.length >= TABLE_PAGE) await flush();
  }
  if (page.length > 0) await flush();
  return n;
}

function isoOf(ts: string): string {
  try {
    return nsToIso(tsKey(ts));
  } catch {
    return ts;
  }
}

/**
 * Time column: always the date with the time (UTC, as the header says): a time of day alone is
 * ambiguous for results that reach back days (--since 7d) even when they happen to share one.
 */
function timeCell(iso: string): string {
  return /^\d{4}-\d{2}-\d{2}T/.test(iso) ? iso.replace('T', ' ').slice(0, 23) : iso;
}

function shortSession(s: string): string {
  return s.length > 12 ? s.slice(0, 12) : s;
}

function colorSummary(ev: CorralEvent, text: string, st: Style): string {
  const p = ev.payload as Record<string, unknown>;
  if (ev.kind === 'alert') {
    const sev = p.severity;
    return sev === 'critical' || sev === 'high' ? st.red(text) : sev === 'medium' ? st.yellow(text) : st.cyan(text);
  }
  if (ev.kind === 'drop') return st.yellow(text);
  const d = p.decision ?? p.verdict ?? p.action;
  if (typeof d === 'string' && /^(block|blocked|deny|denied|drop|dropped|reject|rejected|kill|killed)$/i.test(d)) return st.red(text);
  return text;
}

/** The columns of eventRow(), in order. */
const EVENT_COLUMNS = ['TIME (UTC)', 'SESSION', 'EPISODE', 'STEP', 'TOOL CALL', 'KIND', 'PID', 'SUMMARY'];

function eventRow(ev: CorralEvent, st: Style, tty: boolean): string[] {
  let summary = safeText(summarizeEvent(ev));
  if (tty && summary.length > 160) summary = `${summary.slice(0, 159)}…`;
  return [
    st.dim(timeCell(isoOf(ev.ts))),
    safeText(shortSession(ev.session)),
    safeText(ev.episode ?? '-'),
    ev.step === undefined ? '-' : String(ev.step),
    safeText(ev.tool_call ?? '-'),
    ev.kind === 'alert' ? st.bold(safeText(ev.kind)) : safeText(ev.kind),
    ev.pid === undefined ? '-' : String(ev.pid),
    colorSummary(ev, summary, st),
  ];
}

function sessionRows(sessions: SessionSummary[], st: Style): string[][] {
  return sessions.map((s) => [
    safeText(s.session),
    safeText(s.run ?? '-'),
    safeText(s.episode ?? '-'),
    isoOf(s.first_ts),
    isoOf(s.last_ts),
    String(s.events),
    s.alerts > 0 ? st.red(String(s.alerts)) : String(s.alerts),
  ]);
}

export async function eventsCommand(argv: string[], io: CommandIO): Promise<number> {
  let v: ReturnType<typeof parse>;
  let q: EventQuery;
  let natsSecurity: NatsSecurity = {};
  try {
    v = parse(argv);
    if (v.help) {
      await write(io.stdout, EVENTS_USAGE);
      return 0;
    }
    q = buildQuery(v);
    const beside = Object.keys(v).filter((k) => !['reindex', 'home', 'json'].includes(k));
    if (v.reindex && beside.length > 0) throw new UsageError(`--reindex rebuilds the whole index: it takes --home and --json only, not --${beside[0]}`);
    if (v.follow && (v.since !== undefined || v.limit !== undefined || v.sessions)) throw new UsageError('--follow shows new events: it takes the filters, not --since, --limit or --sessions');
    if (v.host !== undefined && v.postgres === undefined && v.nats === undefined) throw new UsageError('--host filters the fleet: it needs --postgres URL or --follow --nats URL');
    if (v.nats !== undefined && !v.follow) throw new UsageError('--nats follows the fleet live: it needs --follow (for stored events use --postgres URL)');
    if (v.postgres !== undefined && (v.follow || v.home !== undefined)) throw new UsageError('--postgres queries the fleet store: not with --follow or --home');
    const pgProblem = v.postgres === undefined ? undefined : postgresUrlProblem(v.postgres);
    if (pgProblem) throw new UsageError(`--postgres ${safeText(pgProblem)}`);
    natsSecurity = natsSecurityFlags(v, io.env, v.nats);
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof CliUsageError)) throw err;
    await write(io.stderr, `corral events: ${err.message}\n`);
    return 2;
  }

  if (v.follow && v.nats !== undefined) {
    const { followFleet } = await import('./events-follow.js');
    return followFleet({ natsUrl: v.nats, security: natsSecurity, host: v.host, json: v.json, filter: { session: q.session, run: q.run, episode: q.episode, step: q.step, tool_call: q.tool_call, kind: queryList(q.kind), category: queryList(q.category) } }, io);
  }
  if (v.follow) {
    const { followEvents } = await import('./events-follow.js');
    return followEvents({ socket: v.socket, json: v.json, filter: { session: q.session, run: q.run, episode: q.episode, step: q.step, tool_call: q.tool_call, kind: queryList(q.kind), category: queryList(q.category) } }, io);
  }
  if (v.postgres !== undefined) return fleetEvents(v.postgres, { ...q, host: v.host }, v.json === true, io, v.sessions === true);
  const home = resolveHome(v.home, io.env);
  if (v.reindex) return (await import('./events-reindex.js')).reindexStore(home, v.json === true, io);
  let store: EventReader;
  try {
    store = EventReader.open({ home });
  } catch (err) {
    return storeFailure(err, io);
  }
  try {
    const st = makeStyle(io.stdout, io.env);
    const tty = 'isTTY' in io.stdout && io.stdout.isTTY === true;
    if (v.sessions) {
      await writeSessions(store.sessions().filter(sessionFilter(q)), v.json === true, st, io);
      return 0;
    }
    // A mistyped id is an error, not an empty answer (as `corral report` says).
    const noSession = async (): Promise<number> => {
      await write(io.stderr, `corral events: no session ${safeText(q.session ?? '')} in ${home} (corral events --sessions lists them)\n`);
      return 2;
    };
    const unknown = (): boolean => q.session !== undefined && !store.sessions().some((s) => s.session === q.session);
    if (v.json) {
      // (streamed: a session of millions of events is never held whole)
      const n = await writeJsonLines(io.stdout, store.iterate(q));
      return n === 0 && unknown() ? noSession() : 0;
    }
    // (streamed too, a page at a time)
    const n = await writeEventTable(io.stdout, store.iterate(q), EVENT_COLUMNS.map((h) => st.bold(h)), (ev) => eventRow(ev, st, tty));
    if (n === 0 && unknown()) return noSession();
    if (n === 0) await write(io.stderr, 'no matching events\n');
    return 0;
  } catch (err) {
    return storeFailure(err, io);
  } finally {
    store.close();
  }
}

/** A store that cannot be read: its message (which file, what to run), exit 2 when there is none, 1 otherwise. */
async function storeFailure(err: unknown, io: CommandIO): Promise<number> {
  if (!(err instanceof StoreError)) throw err;
  await write(io.stderr, `corral events: ${safeText(err.message)}\n`);
  return err.kind === 'missing' ? 2 : 1;
}

/** `--postgres`: the same query against the fleet's central store (store/pg-store.ts), with a HOST column. */
/** --sessions takes the session, run, episode (and, for the fleet, host) filters. */
function sessionFilter(q: EventQuery & { host?: string }): (s: SessionSummary & { host?: string }) => boolean {
  return (s) => (q.session === undefined || s.session === q.session) && (q.run === undefined || s.run === q.run)
    && (q.episode === undefined || s.episode === q.episode) && (q.host === undefined || s.host === q.host);
}

/** Sessions as JSON lines or a table; with hosts (the fleet store), a HOST column first. */
async function writeSessions(sessions: (SessionSummary & { host?: string })[], json: boolean, st: Style, io: CommandIO, hosts = false): Promise<void> {
  if (json) {
    for (const s of sessions) await write(io.stdout, `${JSON.stringify(s)}\n`);
  } else if (sessions.length === 0) {
    await write(io.stderr, 'no sessions\n');
  } else {
    const header = [...(hosts ? ['HOST'] : []), 'SESSION', 'RUN', 'EPISODE', 'FIRST', 'LAST', 'EVENTS', 'ALERTS'].map((h) => st.bold(h));
    const rows = sessionRows(sessions, st).map((r, i) => (hosts ? [safeText(sessions[i]!.host ?? '-'), ...r] : r));
    await write(io.stdout, table(rows, header));
  }
}

async function fleetEvents(url: string, q: EventQuery & { host?: string }, json: boolean, io: CommandIO, sessions = false): Promise<number> {
  const { PgEventStore } = await import('../store/pg-store.js');
  let store;
  try {
    store = await PgEventStore.open(url);
  } catch (e) {
    await write(io.stderr, `corral events: ${safeText((e as Error).message)}\n`);
    return 1;
  }
  try {
    const st = makeStyle(io.stdout, io.env);
    if (sessions) {
      const all = await store.sessions();
      await writeSessions(all.filter(sessionFilter(q)), json, st, io, true);
      return 0;
    }
    const noSession = async (): Promise<number> => {
      await write(io.stderr, `corral events: no session ${safeText(q.session ?? '')} in the fleet store (corral events --postgres URL --sessions lists them)\n`);
      return 2;
    };
    const unknown = async (): Promise<boolean> => q.session !== undefined && !(await store.sessions()).some((s) => s.session === q.session);
    if (json) {
      // (streamed in pages unless a --limit asks for one answer)
      const n = await writeJsonLines(io.stdout, q.limit === undefined ? store.iterate(q) : await store.query(q));
      return n === 0 && await unknown() ? noSession() : 0;
    }
    const tty = 'isTTY' in io.stdout && io.stdout.isTTY === true;
    const header = ['HOST', ...EVENT_COLUMNS].map((h) => st.bold(h));
    const n = await writeEventTable(io.stdout, q.limit === undefined ? store.iterate(q) : await store.query(q), header, (ev) => [safeText(ev.host ?? '-'), ...eventRow(ev, st, tty)]);
    if (n === 0 && await unknown()) return noSession();
    if (n === 0) await write(io.stderr, 'no matching events\n');
    return 0;
  } finally {
    await store.close();
  }
}
