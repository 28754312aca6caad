// Why: `corral report` turns Corral's record of a session (or of every session of an episode or
// run) into the explanation people ask for after an alert: a timeline of the tool calls, what
// each was blamed for (background processes included), what was stopped, and a verdict — on the
// terminal, as --json for tools, or as a self-contained HTML file to hand around.
import { parseArgs } from 'node:util';
import { EventReader } from '../store/event-reader.js';
import { resolveHome } from '../store/home.js';
import { StoreError } from '../store/store-error.js';
import { compareTs } from '../store/ts-key.js';
import { SessionReportBuilder, type SessionReport } from '../report/session-report.js';
import { renderSessionText } from '../report/session-text.js';
import { renderSessionHtml } from '../report/session-html.js';
import { makeStyle, safeText } from './style.js';
import type { CorralEvent } from '../events/event.js';
import type { SessionSummary } from '../store/sqlite-index.js';
import { checkWritable, UsageError, type CliIO } from './io.js';
import { postgresUrlProblem } from '../store/pg-url.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export const REPORT_USAGE = `Usage: corral report [--session S | [--run R] [--episode E] | --last N] [--html FILE] [--json] [--home DIR | --postgres URL]
  Explains recorded sessions: a timeline of each session's tool calls with the alerts attributed
  to them (including those raised later by processes a call left running), what was blocked or
  killed, and a verdict (clean | flagged | blocked | killed). Without a selector: the latest session.
  --run and --episode together pick that run's episode (episode names repeat across runs).
  --json prints one report object per line; --html FILE writes one self-contained HTML file.
  --postgres URL reads the fleet's central store (filled by \`corral collect\`, docs/fleet.md), so
  one report covers an episode or run across machines.
  The local store is only read (read-only copies work); a damaged index is named with its repair.
  --html FILE is written whole or not at all (a temporary file renamed over it), readable by its
  owner only (0600: it holds the agents' commands).
  Exit code: 0 every selected session is clean, 3 at least one has alerts, 2 usage error or nothing found
  (also an --html FILE that cannot be written: its directory missing or not writable, checked before the
  store is read, as corral investigate and corral replay do), 1 the store cannot be read (damaged,
  unreadable, or its index lost: corral events --reindex; or the fleet store given by --postgres), or
  writing --html FILE failed after the check (a full disk).`;

export async function reportCommand(argv: string[], io: CliIO): Promise<number> {
  const { values: v } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      session: { type: 'string' }, episode: { type: 'string' }, run: { type: 'string' }, last: { type: 'string' },
      html: { type: 'string' }, json: { type: 'boolean' }, home: { type: 'string' }, postgres: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) { io.stdout.write(`${REPORT_USAGE}\n`); return 0; }
  // (--run and --episode narrow each other: one selector between them)
  const selectors = [v.session, v.episode ?? v.run, v.last].filter((x) => x !== undefined).length;
  if (selectors > 1) throw new UsageError('give only one of --session, --run/--episode (either or both), --last');
  let last = 1;
  if (v.last !== undefined) {
    if (!/^\d+$/.test(v.last) || Number(v.last) < 1) throw new UsageError(`--last must be an integer ≥ 1, got "${v.last}"`);
    last = Number(v.last);
  }
  if (v.postgres !== undefined && v.home !== undefined) throw new UsageError('give --home DIR or --postgres URL, not both');
  const pgProblem = v.postgres === undefined ? undefined : postgresUrlProblem(v.postgres);
  if (pgProblem) throw new UsageError(`--postgres ${safeText(pgProblem)}`);
  if (v.html !== undefined) checkWritable(v.html, '--html');
  const src = v.postgres !== undefined ? await fleetSource(v.postgres) : localSource(v.home, io);
  if (typeof src === 'string') { io.stderr.write(`corral report: ${safeText(src)}\n`); return 1; }
  try {
    return await reportFrom(src, v, last, io);
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    io.stderr.write(`corral report: ${safeText(err.message)}\n`);
    return 1;
  }
}

async function reportFrom(src: ReportSource, v: { session?: string; episode?: string; run?: string; html?: string; json?: boolean }, last: number, io: CliIO): Promise<number> {
  const home = src.where;
  let reports: SessionReport[];
  try {
    const all = (await src.sessions()).sort((a, b) => compareTs(a.first_ts, b.first_ts));
    const chosen = v.session !== undefined ? all.filter((s) => s.session === v.session)
      : v.episode !== undefined || v.run !== undefined ? all.filter((s) => (v.episode === undefined || s.episode === v.episode) && (v.run === undefined || s.run === v.run))
        : all.slice(-last);
    if (!chosen.length) {
      const what = v.session !== undefined ? `session ${v.session}` : v.episode !== undefined || v.run !== undefined
        ? [v.run !== undefined && `run ${v.run}`, v.episode !== undefined && `episode ${v.episode}`].filter(Boolean).join(', ') : 'any session';
      io.stderr.write(`corral report: no recorded events for ${what} in ${home}\n`);
      return 2;
    }
    reports = [];
    for (const s of chosen) {
      // (streamed in the store's time order: a session's events are never all in memory)
      const b = new SessionReportBuilder();
      for await (const e of src.events(s.session)) b.add(e);
      reports.push(b.finish());
    }
  } finally {
    await src.close();
  }
  if (v.html) {
    try {
      writeFileAtomic(v.html, renderSessionHtml(reports));
    } catch (e) {
      io.stderr.write(`corral report: --html ${safeText(v.html)}: cannot write it: ${safeText((e as Error).message)}\n`);
      return 1;
    }
    if (!v.json) io.stderr.write(`corral report: wrote ${v.html} (${reports.length} session(s))\n`);
  }
  if (v.json) for (const r of reports) io.stdout.write(`${JSON.stringify(r)}\n`);
  else if (!v.html) {
    const st = makeStyle(io.stdout as NodeJS.WriteStream, io.env);
    io.stdout.write(reports.map((r) => renderSessionText(r, st)).join('\n'));
  }
  return reports.every((r) => r.verdict === 'clean') ? 0 : 3;
}

/** Where the reports' events come from: this machine's store, or the fleet's PostgreSQL. */
interface ReportSource {
  where: string;
  sessions(): Promise<SessionSummary[]>;
  /** The session's events in time order (ts, then id), streamed. */
  events(session: string): AsyncIterable<CorralEvent> | Iterable<CorralEvent>;
  close(): Promise<void>;
}

/** This machine's store, read-only; a store that cannot be read is its StoreError's message (exit 1), a missing one a usage error. */
function localSource(homeFlag: string | undefined, io: CliIO): ReportSource | string {
  const home = resolveHome(homeFlag, io.env);
  let store: EventReader;
  try {
    store = EventReader.open({ home });
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    if (err.kind === 'missing') throw new UsageError(err.message);
    return err.message;
  }
  return { where: home, sessions: async () => store.sessions(), events: (session) => store.iterate({ session }), close: async () => store.close() };
}

/** The fleet store, or why it cannot be read. */
async function fleetSource(url: string): Promise<ReportSource | string> {
  const { PgEventStore, redact } = await import('../store/pg-store.js');
  try {
    const store = await PgEventStore.open(url);
    return { where: redact(url), sessions: () => store.sessions(), events: (session) => store.iterate({ session }), close: () => store.close() };
  } catch (e) {
    return (e as Error).message;
  }
}
