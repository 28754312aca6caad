// Why: the library entry of `corral investigate`: ties firewall/network logs an operator
// already has to agent traces, offline. Pass 1 reads the logs into a compact alert table;
// pass 2 streams the traces (in worker threads when large) and keeps only candidate calls;
// then scoring, the enrichment test, incidents and the fleet view. Memory is bounded by the
// alerts and candidates, not by the size of the traces.
import { statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { FieldMap, InputStats, NetRecord, Placement, ToolCallSpan } from './types.js';
import { detectNetFormat, detectTraceFormat, netReader, readPlacementsDetailed } from './inputs/index.js';
import { AlertTable } from './analysis/alert-table.js';
import { loadCommandRules, type CommandRules } from './analysis/command-evidence.js';
import { buildFleetView } from './analysis/fleet.js';
import { episodeKey } from './analysis/episode-key.js';
import { buildIncidents } from './analysis/incidents.js';
import { clockOffset, clockOffsetNote } from './analysis/clock-check.js';
import { mergeLinkStates, SpanLinker, type KeyAlertsInput, type MergedLinkState } from './analysis/linker.js';
import { PlacementIndex } from './analysis/placements.js';
import type { InvestigationOptions, InvestigationResult } from './analysis/model.js';
import { alertKind, linkAndScore } from './analysis/score.js';
import { PARALLEL_MIN_BYTES, tracePass } from './analysis/trace-pass.js';
import { TraceWorkerPool } from './analysis/trace-worker-pool.js';
import { logPass } from './analysis/log-pass.js';

export type { InvestigationResult, Incident, AlertOut, CallRef } from './analysis/model.js';

export interface InvestigateInput {
  logs: { path: string; format?: string }[];
  traces: { path: string; format?: string }[];
  placements?: string[];
  map?: FieldMap;
  /** Clock skew between the trace and firewall clocks (default 2 s). */
  skewMs?: number;
  /** Longest lag for processes a call left running (default 30 min, never past the episode's end). */
  lagMs?: number;
  /** After-call grace for calls that show no way of leaving a process behind (default 5 s). */
  graceMs?: number;
  /** Alerts further apart than this start a new incident (default 10 min). */
  gapMs?: number;
  /** Worker threads for the traces (default: available cores). */
  jobs?: number;
  /** Trace inputs smaller than this (bytes) are read on the main thread (default 32 MiB). */
  parallelMinBytes?: number;
  assumedDurationMs?: number;
  /** Zone of times written without one, in logs and traces (IANA name or ±HH:MM; default UTC, always stated). */
  tz?: string;
  /** The same for the firewall and network logs only (overrides tz there): the two sides are often exported in different zones. */
  logTz?: string;
  /** The same for the traces and placement files only (overrides tz there). */
  traceTz?: string;
  /** Year of syslog times, which have none (default: from each file's modification time, stated). */
  year?: number;
  /** Notes from the caller (e.g. inputs given twice), put first in the result's notes. */
  notes?: string[];
  /** 'auto' uses src/detect's command analyzer when present; 'off' never does. Or a function. */
  rules?: 'auto' | 'off' | CommandRules;
  onProgress?: (phase: 'logs' | 'traces' | 'analysis', done: number, total: number, file?: string) => void;
}

export const DEFAULTS = { skewMs: 2_000, lagMs: 1_800_000, graceMs: 5_000, gapMs: 600_000 } as const;

export async function investigate(inp: InvestigateInput): Promise<InvestigationResult> {
  const t0 = performance.now();
  const timings: Record<string, number> = {};
  const notes: string[] = [...(inp.notes ?? [])];
  const opts: InvestigationOptions = {
    skewMs: inp.skewMs ?? DEFAULTS.skewMs, lagMs: inp.lagMs ?? DEFAULTS.lagMs, graceMs: inp.graceMs ?? DEFAULTS.graceMs,
    gapMs: inp.gapMs ?? DEFAULTS.gapMs, jobs: Math.max(1, inp.jobs ?? defaultJobs()),
  };

  // The command analyzer loads a WebAssembly grammar: start now, overlapping the reading.
  const rulesLoading = inp.rules === undefined || inp.rules === 'auto' ? loadCommandRules() : undefined;
  rulesLoading?.catch(() => undefined);

  // Pass 1: network logs → alert table (+ destination rarity from every record).
  const table = new AlertTable();
  const logs = [];
  for (const log of inp.logs) logs.push({ path: log.path, format: log.format ?? await detectNetFormat(log.path) });
  for (const l of logs) netReader(l.format); // unknown formats fail here, before any worker starts
  const label = logs.length === 1 ? logs[0]!.path : `${logs.length} logs`;
  // Trace workers boot once a core is free of the log pass (it idles while this thread builds the alert table).
  const big = opts.jobs > 1 && inp.traces.reduce((n, t) => n + sizeOf(t.path), 0) >= (inp.parallelMinBytes ?? PARALLEL_MIN_BYTES);
  const pool = new TraceWorkerPool(big ? opts.jobs : 0);
  try {
    return await fromLogPass({ table, logs, label, inp, opts, notes, timings, t0, rulesLoading, pool });
  } finally { await pool.close(); }
}

interface RunCtx {
  table: AlertTable; logs: { path: string; format: string }[]; label: string; inp: InvestigateInput; opts: InvestigationOptions;
  notes: string[]; timings: Record<string, number>; t0: number; rulesLoading: ReturnType<typeof loadCommandRules> | undefined; pool: TraceWorkerPool;
}

/** The log formats read through --map (inputs/generic.ts, inputs/kv.ts). */
const MAPPED_FORMATS = new Set(['csv', 'jsonl', 'kv']);

/** investigate() from the log pass on. */
async function fromLogPass(ctx: RunCtx): Promise<InvestigationResult> {
  const { table, logs, label, inp, opts, notes, timings, t0, rulesLoading, pool } = ctx;
  const { stats: netStats, workers: logWorkers } = await logPass(table, {
    logs, map: inp.map, jobs: opts.jobs, parallelMinBytes: inp.parallelMinBytes, tz: inp.logTz ?? inp.tz, year: inp.year,
    onProgress: (b, t) => inp.onProgress?.('logs', b, t, label), onCoreFree: () => pool.boot(),
  });
  if (logWorkers) notes.push(`logs read by ${logWorkers} worker threads`);
  // (a mapping given for a format whose fields are known is not applied: said, not silently dropped — a review, session 40)
  if (inp.map) for (const l of logs) if (!MAPPED_FORMATS.has(l.format)) notes.push(`${l.path}: --map not used (it maps csv, jsonl and key=value logs; this is ${l.format}, whose fields are known)`);
  table.buildIndex();
  timings.logsMs = performance.now() - t0;

  const placements: Placement[] = [];
  const placementStats: InputStats[] = [];
  for (const p of inp.placements ?? []) {
    const got = await readPlacementsDetailed(p, { tz: inp.traceTz ?? inp.tz }); // (--tz / --trace-tz hold for zone-less placement times too)
    placements.push(...got.placements);
    placementStats.push(got.stats);
  }

  // Pass 2: traces → candidate calls, episode windows, exposure.
  const t1 = performance.now();
  const keys = keysOf(table);
  const traces = [];
  for (const t of inp.traces) traces.push({ path: t.path, format: t.format ?? await detectTraceFormat(t.path) });
  const { state, stats: traceStats, workers, fast, rereadWhole } = await tracePass({
    traces, keys, placements, opts, assumedDurationMs: inp.assumedDurationMs, tz: inp.traceTz ?? inp.tz, jobs: opts.jobs, parallelMinBytes: inp.parallelMinBytes,
    onProgress: (b, t) => inp.onProgress?.('traces', b, t), pool,
  });
  timings.tracesMs = performance.now() - t1;
  if (workers) notes.push(`traces read by ${workers} worker threads`);
  for (const f of rereadWhole) notes.push(`${f}: one OTLP document whose parts, read in parallel, did not join up (not the OTLP layout, or damaged): read again whole by one thread`);
  if (fast) notes.push(`${fast} of ${state.spans} tool calls read from the native scanner's index (the rest, and every line it could not vouch for, by JSON.parse)`);

  return finish(table, state, {
    opts, rules: rulesLoading ?? inp.rules, notes, timings, t0,
    inputs: { net: netStats, traces: traceStats, placements: placements.length, placementFiles: placementStats },
  });
}

/**
 * The same analysis over records already in memory (tests, embedding). No files, no workers.
 * @example investigateRecords({ records: [alert], spans: [call], skewMs: 1000 })
 */
export async function investigateRecords(inp: Omit<InvestigateInput, 'logs' | 'traces' | 'placements' | 'map' | 'jobs' | 'parallelMinBytes' | 'onProgress'> & { records: NetRecord[]; spans: ToolCallSpan[]; placements?: Placement[] }): Promise<InvestigationResult> {
  const t0 = performance.now();
  const opts: InvestigationOptions = {
    skewMs: inp.skewMs ?? DEFAULTS.skewMs, lagMs: inp.lagMs ?? DEFAULTS.lagMs, graceMs: inp.graceMs ?? DEFAULTS.graceMs,
    gapMs: inp.gapMs ?? DEFAULTS.gapMs, jobs: 1,
  };
  const table = new AlertTable();
  for (const r of inp.records) table.add(r);
  table.buildIndex();
  const linker = new SpanLinker(keysOf(table), inp.placements?.length ? new PlacementIndex(inp.placements) : undefined, opts);
  for (const s of inp.spans) linker.add(s);
  return finish(table, await mergeLinkStates([linker.state()]), {
    opts, rules: inp.rules ?? 'off', notes: [], timings: {}, t0,
    inputs: { net: [], traces: [], placements: inp.placements?.length ?? 0, placementFiles: [] },
  });
}

function keysOf(table: AlertTable): KeyAlertsInput[] {
  const keys: KeyAlertsInput[] = [];
  for (const [value, ka] of table.alertsByIp()) keys.push({ kind: 'ip', value, ts: ka.ts });
  for (const [value, ka] of table.alertsByHost()) keys.push({ kind: 'host', value, ts: ka.ts });
  return keys;
}

interface FinishCtx {
  opts: InvestigationOptions; rules: InvestigateInput['rules'] | ReturnType<typeof loadCommandRules>; notes: string[]; timings: Record<string, number>; t0: number;
  inputs: InvestigationResult['inputs'];
}

async function finish(table: AlertTable, state: MergedLinkState, ctx: FinishCtx): Promise<InvestigationResult> {
  const { opts, notes, timings, t0 } = ctx;
  // Analysis.
  const t2 = performance.now();
  let rules: CommandRules | undefined;
  if (typeof ctx.rules === 'function') rules = ctx.rules;
  else if (ctx.rules !== 'off') {
    const loaded = await (typeof ctx.rules === 'object' ? ctx.rules : loadCommandRules());
    rules = loaded.check;
    notes.push(loaded.note);
  }
  const scored = linkAndScore(table, state, { skewMs: opts.skewMs, lagMs: opts.lagMs, graceMs: opts.graceMs, gapMs: opts.gapMs, rules });
  const incidents = buildIncidents(scored.alerts, scored.calls, { gapMs: opts.gapMs });
  const fleet = buildFleetView(incidents, scored.calls);
  const unattributed = summariseUnlinked(table, scored.unlinked);
  const involved = new Set(scored.calls.map((c) => episodeKey(c.run, c.episode)));
  timings.analysisMs = performance.now() - t2;
  timings.totalMs = performance.now() - t0;
  if (table.size === 0) notes.push('no alert-like records in the logs (kind=alert, a category, or a blocked/denied action)');
  if (state.spans === 0) notes.push('no tool calls in the traces');
  const warnings: string[] = [];
  const apart = clocksApart(table, state);
  if (apart) warnings.push(apart);
  else {
    const clock = clockOffset(state, (k) => (k.startsWith('ip:') ? table.alertsByIp().get(k.slice(3)) : table.alertsByHost().get(k.slice(5))));
    if (clock) warnings.push(clockOffsetNote(clock));
  }

  return {
    version: 1,
    options: opts,
    inputs: ctx.inputs,
    counts: {
      records: table.records, alerts: table.size, toolCalls: state.spans, episodes: state.episodeCount,
      candidates: scored.calls.length, linkedAlerts: scored.alerts.length, unlinkedAlerts: scored.unlinked.length,
    },
    unattributed, enrichment: scored.enrichment.enrichment, incidents, alerts: scored.alerts, calls: scored.calls, fleet,
    episodes: [...state.table.indexOf(involved).values()].sort((a, b) => a - b).map((i) => state.table.agg(i))
      .map((e) => ({ episode: e.episode, run: e.run, host: e.host, sandbox: e.sandbox, start: e.start, end: e.end, calls: e.calls })),
    notes, warnings, timings: Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)])),
  };
}

/**
 * A note when the alerts' times and the calls' times do not overlap at all (so nothing can link):
 * a wrong year for syslog lines, a zone, a unit, or logs and traces of different days.
 */
function clocksApart(table: AlertTable, state: MergedLinkState): string | undefined {
  if (table.size === 0 || state.spans === 0 || !Number.isFinite(state.minTs) || !Number.isFinite(state.maxTs)) return undefined;
  let lo = Infinity, hi = -Infinity;
  const ts = table.ts.data;
  for (let i = 0; i < table.size; i++) { const t = ts[i]!; if (t < lo) lo = t; if (t > hi) hi = t; }
  if (hi >= state.minTs - DAY_MS && lo <= state.maxTs + DAY_MS) return undefined;
  const d = (ms: number): string => new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
  const gap = lo > state.maxTs ? lo - state.maxTs : state.minTs - hi;
  return `the alerts (${d(lo)} … ${d(hi)} UTC) and the tool calls (${d(state.minTs)} … ${d(state.maxTs)} UTC) are ${(gap / DAY_MS).toFixed(gap < 10 * DAY_MS ? 1 : 0)} days apart: nothing could link; check the clocks (a syslog year from a file's mtime: --year; zones: --tz) or the files`;
}

const DAY_MS = 86_400_000;

/** A file's size, 0 when it cannot be read (the trace pass then reports it as it did). */
function sizeOf(path: string): number {
  try { return statSync(path).size; } catch { return 0; }
}

function defaultJobs(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

function summariseUnlinked(table: AlertTable, unlinked: number[]): InvestigationResult['unattributed'] {
  const groups = new Map<string, { source: string; kind: string; alerts: number; first: number; last: number }>();
  for (const a of unlinked) {
    const source = table.strings.get(table.src.data[a]!) ?? '';
    const { kind } = alertKind(table, a);
    const k = `${source}\u0000${kind}`;
    const ts = table.ts.data[a]!;
    const g = groups.get(k);
    if (g) { g.alerts++; g.first = Math.min(g.first, ts); g.last = Math.max(g.last, ts); }
    else groups.set(k, { source, kind, alerts: 1, first: ts, last: ts });
  }
  return [...groups.values()].sort((a, b) => b.alerts - a.alerts).slice(0, MAX_UNATTRIBUTED_GROUPS);
}

/** Unlinked alerts are summarised per (source, kind); only the largest groups are listed. */
export const MAX_UNATTRIBUTED_GROUPS = 500;
