// Why: `corral investigate` ties the firewall/network logs an operator already has to agent
// traces, offline, for teams that do not (yet) run Corral's sandbox. Thin layer over
// src/investigate/investigate.ts: argument parsing, progress on stderr, the three outputs.
// Exit codes: 0 no likely incident · 3 incidents attributed with confidence ≥ 2/3 · 2 usage error · 1 failure.
import { createReadStream, realpathSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-write.js';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { investigate, DEFAULTS } from '../investigate/investigate.js';
import { checkTz, NET_FORMATS, parseFieldMap, TRACE_FORMATS } from '../investigate/inputs/index.js';
import { renderSummary } from '../investigate/report/terminal.js';
import { renderHtml } from '../investigate/report/html.js';
import { parseDuration } from '../policy/units.js';
import { checkWritable, Progress, UsageError, type CliIO } from './io.js';
import { expandInputs } from './input-files.js';
import { renamePath, spoolStdin, stdinWanted, STDIN_NAME, type SpooledStdin } from './stdin-input.js';
import { makeStyle, safeText } from './style.js';

/** After a usage error: where the options are (the whole usage, 30 lines, buried the one line that mattered — a review, session 40). */
const USAGE_HINT = '(corral investigate --help lists the options)';

export const INVESTIGATE_USAGE = `Usage: corral investigate [options] LOGFILE…
  Ties firewall / network logs to agent traces: which tool call caused which alert.
  LOGFILE                 suricata eve.json, zeek conn.log (TSV/JSON), iptables/nftables log, AWS VPC flow log,
                          CSV/JSONL or key=value lines (FortiGate; columns guessed, or --map), or a Corral event log;
                          the format is detected unless --format;
                          any input may be compressed (gzip, zstd, xz, bzip2: read as it streams); a directory stands for
                          the files under it (recursively; hidden ones skipped); "-" is standard input (once, as a
                          LOGFILE, --traces or --placements: e.g. aws s3 cp s3://…/flow.log.gz - | corral investigate -);
                          named pipes too (<(zcat eve.json.*.gz)), each read once
  --format F              format of the LOGFILEs: suricata-eve zeek-conn-tsv zeek-conn-json iptables-log vpc-flow cisco-asa csv jsonl kv corral-events
  --map ts=…,src=…,…      field mapping for csv/jsonl/kv (ts src dst sport dport proto action severity rule host bytes category)
  --traces FILE           agent traces (repeatable): canonical JSONL, OTLP JSON, OpenAI messages (detected)
  --trace-format F        format of the --traces files when detection fails: canonical-jsonl otlp-json openai-messages
  --placements FILE       where episodes ran: CSV/JSONL ip,from,to,host,sandbox,episode (repeatable)
  --skew DUR              clock skew between trace and firewall clocks (default ${DEFAULTS.skewMs / 1000}s)
  --lag DUR               longest time a process a call left running is blamed on it, never past the episode's end (default ${DEFAULTS.lagMs / 60_000}m)
  --gap DUR               alerts further apart start a new incident (default ${DEFAULTS.gapMs / 60_000}m)
  --jobs N                worker threads for the traces (default: cores)
  --tz ZONE               zone of times written without one, in logs and traces: IANA name or ±HH:MM (default UTC, stated)
  --log-tz ZONE           the same for the logs only (overrides --tz there)
  --trace-tz ZONE         the same for the traces and placements only (overrides --tz there)
  --year YYYY             year of syslog times, which have none (default: each file's modification time, stated)
  --html FILE             write a self-contained HTML report (timeline, evidence per incident; owner-only, 0600); never one of the inputs
  --json                  print the full result (incidents, alerts, calls, statistics) as JSON on stdout
  --no-rules              do not use the command analyzer even when it is present
  --quiet                 no progress on stderr
Exit: 0 no likely incident · 3 at least one incident attributed to a tool call with confidence ≥ 2/3 ·
2 usage error · 1 failure, or nothing to analyse (no network record or no tool call could be read). Bad records are counted and
reported with file:line; the rest is analysed.`;

/** Whether path is a named pipe or a pipe's /dev/fd entry (read once, so it is spooled first). */
function isPipe(path: string): boolean {
  try { return statSync(path).isFIFO(); } catch { return false; }
}

/**
 * Refuses an --html path that is one of the inputs (same real path, or same device and inode: a
 * hard link): writing the report would overwrite the evidence. A path not there yet is no input.
 */
function refuseInputAsOutput(out: string, inputs: readonly string[]): void {
  const stat = (p: string): ReturnType<typeof statSync> => { try { return statSync(p); } catch { return undefined; } };
  const st = stat(out);
  if (!st) return;
  let real: string | undefined;
  try { real = realpathSync(out); } catch { /* (compared by inode only) */ }
  for (const p of new Set(inputs)) {
    if (p === STDIN_NAME) continue;
    const s = stat(p);
    let same = s !== undefined && s.dev === st.dev && s.ino === st.ino;
    if (!same && real !== undefined) { try { same = realpathSync(p) === real; } catch { /* (not there: no match) */ } }
    if (same) throw new UsageError(`--html ${safeText(out)} is the input ${safeText(p)}: the report would overwrite it (name a new file)`);
  }
}

/** Longest values taken: past them a window holds every call of any real fleet, and a typo (`--skew 2d` for `2s`) would link every alert to every call. */
const DURATION_MAX = { skew: { ms: 86_400_000, text: '1d' }, lag: { ms: 30 * 86_400_000, text: '30d' }, gap: { ms: 30 * 86_400_000, text: '30d' } } as const;

function duration(name: keyof typeof DURATION_MAX, v: string | undefined, dflt: number, allowZero: boolean): number {
  if (v === undefined) return dflt;
  if (allowZero && /^\s*0+(?:\.0+)?\s*(?:ms|s|m|min|h)?\s*$/.test(v)) return 0;
  const d = parseDuration(v);
  if (!d.ok) throw new UsageError(`--${name}: ${d.error}`);
  const max = DURATION_MAX[name];
  if (d.value > max.ms) throw new UsageError(`--${name}: at most ${max.text}, got '${safeText(v)}'`);
  return d.value;
}

export async function investigateCommand(argv: string[], io: CliIO): Promise<number> {
  const stdinSpool: Spools = { pipes: [] };
  try {
    return await investigateWith(argv, io, stdinSpool);
  } finally { stdinSpool.file?.cleanup(); for (const p of stdinSpool.pipes) p.file.cleanup(); }
}

/** Standard input, and named pipes given as inputs (`<(zcat …)`), spooled to private files (the caller removes them). */
interface Spools { file?: SpooledStdin; pipes: { name: string; file: SpooledStdin }[] }

/** The command; standard input and named pipes, when read, are spooled into stdinSpool (the caller removes them). */
async function investigateWith(argv: string[], io: CliIO, stdinSpool: Spools): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv, strict: true, allowPositionals: true,
      options: {
        format: { type: 'string' }, 'trace-format': { type: 'string' }, map: { type: 'string' }, traces: { type: 'string', multiple: true },
        placements: { type: 'string', multiple: true }, skew: { type: 'string' }, lag: { type: 'string' }, gap: { type: 'string' },
        jobs: { type: 'string' }, tz: { type: 'string' }, 'log-tz': { type: 'string' }, 'trace-tz': { type: 'string' }, year: { type: 'string' }, html: { type: 'string' }, json: { type: 'boolean' }, 'no-rules': { type: 'boolean' },
        quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    io.stderr.write(`corral investigate: ${(e as Error).message}\n${USAGE_HINT}\n`);
    return 2;
  }
  const { values: v, positionals } = args;
  if (v.help) { io.stdout.write(`${INVESTIGATE_USAGE}\n`); return 0; }
  let input;
  try {
    if (!positionals.length) throw new UsageError('no LOGFILE given');
    // "-" is standard input, spooled to a private file first (stdin-input.ts).
    const stdin = io.stdin ?? process.stdin;
    if (stdinWanted([...positionals, ...(v.traces ?? []), ...(v.placements ?? [])], stdin)) {
      const p = new Progress(io, !v.quiet);
      try {
        stdinSpool.file = await spoolStdin(stdin, (b) => p.update(`reading standard input: ${(b / 1e6).toFixed(0)} MB`));
      } catch (e) {
        p.done();
        io.stderr.write(`corral investigate: cannot read standard input: ${safeText((e as Error).message)}\n`);
        return 1;
      }
      p.done();
    }
    // A named pipe (a shell's process substitution, <(zcat eve.json.gz)) is read once, like stdin: spooled.
    for (const x of new Set([...positionals, ...(v.traces ?? []), ...(v.placements ?? [])])) {
      if (x === STDIN_NAME || !isPipe(x)) continue;
      const p = new Progress(io, !v.quiet);
      try {
        stdinSpool.pipes.push({ name: x, file: await spoolStdin(createReadStream(x), (b) => p.update(`reading ${safeText(x)}: ${(b / 1e6).toFixed(0)} MB`)) });
      } catch (e) {
        p.done();
        io.stderr.write(`corral investigate: cannot read ${safeText(x)}: ${safeText((e as Error).message)}\n`);
        return 1;
      }
      p.done();
    }
    const piped = new Map(stdinSpool.pipes.map((p) => [p.name, p.file.path]));
    const real = (paths: readonly string[]): string[] => paths.map((x) => (x === STDIN_NAME && stdinSpool.file ? stdinSpool.file.path : piped.get(x) ?? x));
    // A directory stands for the files under it (rotated logs); every path must exist.
    const twice: string[] = [];
    const logFiles = expandInputs(real(positionals), twice), traceFiles = expandInputs(real(v.traces ?? []), twice), placementFiles = expandInputs(real(v.placements ?? []), twice);
    if (v.format !== undefined && !NET_FORMATS.includes(v.format)) throw new UsageError(`unknown --format "${safeText(v.format)}" (formats: ${NET_FORMATS.join(', ')})`);
    const traceFormat = v['trace-format'];
    if (traceFormat !== undefined && !TRACE_FORMATS.includes(traceFormat)) throw new UsageError(`unknown --trace-format "${safeText(traceFormat)}" (formats: ${TRACE_FORMATS.join(', ')})`);
    const jobs = v.jobs === undefined ? undefined : Number(v.jobs);
    if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1 || jobs > 64)) throw new UsageError(`--jobs must be an integer 1..64, got "${safeText(v.jobs!)}"`);
    let map;
    if (v.map !== undefined) {
      try { map = parseFieldMap(v.map); } catch (e) { throw new UsageError(`--map: ${(e as Error).message}`); }
    }
    for (const opt of ['tz', 'log-tz', 'trace-tz'] as const) {
      const z = v[opt];
      if (z !== undefined) { try { checkTz(z); } catch (e) { throw new UsageError(`--${opt}: ${(e as Error).message}`); } }
    }
    const year = v.year === undefined ? undefined : Number(v.year);
    if (year !== undefined && !(Number.isInteger(year) && year >= 1970 && year <= 9999)) throw new UsageError(`--year must be a year 1970..9999, got "${safeText(v.year!)}"`);
    if (v.html !== undefined) { checkWritable(v.html, '--html'); refuseInputAsOutput(v.html, [...logFiles, ...traceFiles, ...placementFiles, ...positionals, ...(v.traces ?? []), ...(v.placements ?? [])]); }
    input = {
      logs: logFiles.map((path) => ({ path, format: v.format })),
      traces: traceFiles.map((path) => ({ path, format: traceFormat })),
      placements: placementFiles, map,
      skewMs: duration('skew', v.skew, DEFAULTS.skewMs, true),
      lagMs: duration('lag', v.lag, DEFAULTS.lagMs, true),
      gapMs: duration('gap', v.gap, DEFAULTS.gapMs, false),
      jobs, rules: v['no-rules'] ? 'off' as const : 'auto' as const,
      tz: v.tz, ...(v['log-tz'] !== undefined ? { logTz: v['log-tz'] } : {}), ...(v['trace-tz'] !== undefined ? { traceTz: v['trace-tz'] } : {}), year, notes: twice,
    };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`corral investigate: ${e.message}\n${USAGE_HINT}\n`);
    return 2;
  }

  // The command analyzer parses only the candidate calls' commands (thousands, not millions):
  // baseline-compiled wasm is enough, and V8's optimizing compile of the grammar would take
  // ~0.6 CPU-s from the readers on a 2-core machine (measured: logs pass 2.4-2.8 s -> 2.1-2.35 s).
  if (!v['no-rules']) setFlagsFromString('--liftoff-only');
  const progress = new Progress(io, !v.quiet);
  const started = Date.now();
  let result;
  try {
    result = await investigate({
      ...input,
      onProgress: (phase, done, total, file) => {
        const mb = done / 1e6, rate = mb / Math.max(0.001, (Date.now() - started) / 1000);
        progress.update(`${phase === 'logs' ? `reading ${safeText(file ?? '')}` : 'reading traces'}: ${total ? Math.floor((100 * done) / total) : 0}% (${mb.toFixed(0)} MB, ${rate.toFixed(0)} MB/s)`);
      },
    });
  } catch (e) {
    progress.done();
    io.stderr.write(`corral investigate: failed: ${safeText(oneLine(e))}\n`);
    return 1;
  }
  progress.done();
  // Reports name standard input "-", not the spooled file (removed when the command ends).
  if (stdinSpool.file) result = renamePath(result, stdinSpool.file.path, STDIN_NAME);
  for (const p of stdinSpool.pipes) result = renamePath(result, p.file.path, p.name);
  if (v.html) {
    // (whole or not at all, owner-only like corral report's: it holds the agents' commands — a review, session 40)
    try { writeFileAtomic(v.html, renderHtml(result)); } catch (e) {
      io.stderr.write(`corral investigate: cannot write ${safeText(v.html)}: ${safeText((e as Error).message)}\n`);
      return 1;
    }
    if (!v.quiet) io.stderr.write(`report written to ${safeText(v.html)}\n`);
  }
  try {
    if (v.json) io.stdout.write(`${JSON.stringify(result)}\n`);
    else io.stdout.write(renderSummary(result, makeStyle(io.stdout as NodeJS.WriteStream, io.env)));
  } catch (e) {
    // (a result too large for one string: --json of millions of alerts; the HTML report was written above)
    io.stderr.write(`corral investigate: cannot render the result: ${safeText(oneLine(e))}${e instanceof RangeError ? ' (the result is too large to print: narrow the inputs or the time range)' : ''}\n`);
    return 1;
  }
  // Nothing read on one side: "no incident" would be a false all-clear (swapped or unreadable inputs).
  const empty = nothingToAnalyse(result, v.json);
  if (empty) { io.stderr.write(`corral investigate: nothing to analyse: ${empty}\n`); return 1; }
  return result.incidents.some((i) => i.likely) ? 3 : 0;
}

/** An error as one line (its class and message): a stack trace is no answer for an operator. */
function oneLine(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  return `${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e.message}`.replace(/\s*\n\s*/g, ' ');
}

/** Why the result cannot be an all-clear (no network record, or no tool call, was read), or undefined. */
export function nothingToAnalyse(r: { counts: { records: number; toolCalls: number }; inputs: { net: { bad: number }[]; traces: { bad: number }[] } }, json = false): string | undefined {
  const bad = (xs: { bad: number }[]): string => { const n = xs.reduce((a, x) => a + x.bad, 0); return n ? ` (${n} bad records, ${json ? 'under "inputs" in the JSON' : 'listed above'})` : ''; };
  if (r.counts.records === 0) return `no network record was read from the logs${bad(r.inputs.net)}`;
  if (r.counts.toolCalls === 0) return `no tool call was read from the traces${bad(r.inputs.traces)}`;
  return undefined;
}
