// Why: decides how to read the traces: on the main thread for small inputs, or split into
// tasks (whole files, or line-aligned byte ranges of big line-oriented files) spread over
// worker threads, so both cores parse at once. Returns one merged linker state either way.
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { InputStats, Placement } from '../types.js';
import { splitLineRanges } from '../inputs/lines.js';
import { isCompressed } from '../inputs/source.js';
import { documentRanges } from '../inputs/otlp-resync.js';
import { firstLineIsDocument } from '../inputs/traces-otlp.js';
import { mergeLinkStates, type KeyAlertsInput, type LinkOptions, type MergedLinkState } from './linker.js';
import { runTraceTasks, type TaskResults, type TraceTask, type WorkerInput, type WorkerInputMessage, type WorkerMessage } from './trace-worker.js';
import type { TraceWorkerPool } from './trace-worker-pool.js';

/**
 * Formats with one record per line, which may be split at line boundaries. OTLP JSON lines hold
 * one document per line; an OTLP file that is one document is cut at its ResourceSpans elements
 * instead (otlp-resync.ts), or read whole when it cannot be.
 */
const SPLITTABLE = new Set(['canonical-jsonl', 'openai-messages', 'otlp-json']);
/** Below this many bytes in all, threads cost more than they save. */
export const PARALLEL_MIN_BYTES = 32 << 20;
/** Byte ranges per worker for a split file (more than one evens out the load). */
const RANGES_PER_JOB = 2;

export interface TracePassInput {
  traces: { path: string; format: string }[];
  keys: KeyAlertsInput[]; placements: Placement[]; opts: LinkOptions; assumedDurationMs?: number; tz?: string;
  jobs: number;
  /** Inputs smaller than this are read on the main thread (default PARALLEL_MIN_BYTES; tests lower it). */
  parallelMinBytes?: number;
  onProgress?: (bytes: number, total: number) => void;
  /** Workers booted ahead (trace-worker-pool.ts), taken before new ones are started; the caller closes it. */
  pool?: TraceWorkerPool;
}

/** rereadWhole: OTLP documents read in parallel whose parts did not join up, read again whole. */
export async function tracePass(inp: TracePassInput): Promise<{ state: MergedLinkState; stats: InputStats[]; workers: number; fast: number; rereadWhole: string[] }> {
  const sizes = inp.traces.map((t) => statSync(t.path).size);
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  const onBytes = (d: number): void => { done += d; inp.onProgress?.(done, total); };
  const base = { keys: inp.keys, placements: inp.placements, opts: inp.opts, assumedDurationMs: inp.assumedDurationMs, tz: inp.tz };
  const jobs = Math.max(1, Math.floor(inp.jobs));
  const minBytes = inp.parallelMinBytes ?? PARALLEL_MIN_BYTES;
  const tasks: TraceTask[] = [];
  let serial = 0;
  const nextBase = (): number => (serial++) * 2 ** 32;
  for (const [i, t] of inp.traces.entries()) {
    const split = jobs > 1 && total >= minBytes && SPLITTABLE.has(t.format) && sizes[i]! >= minBytes && !isCompressed(t.path); // (compressed: read whole)
    if (!split) { tasks.push({ path: t.path, format: t.format, numberBase: nextBase() }); continue; }
    // One OTLP document is cut at its ResourceSpans elements instead (see otlp-resync.ts).
    const docs = t.format === 'otlp-json' && !firstLineIsDocument(t.path) ? await documentRanges(t.path, jobs * RANGES_PER_JOB) : undefined;
    if (docs) {
      docs.forEach((d, k) => tasks.push({ path: t.path, format: t.format, range: { start: d.start, end: d.end, firstLine: k === 0 ? 1 : 0 }, doc: d, numberBase: nextBase() }));
      continue;
    }
    // The canonical fast scanner counts the lines of its range itself: line numbers are shifted
    // once all ranges are read, instead of a serial counting pass over the file before.
    const counts = t.format !== 'canonical-jsonl' || inp.placements.length > 0;
    for (const r of splitLineRanges(t.path, jobs * RANGES_PER_JOB, counts)) tasks.push({ path: t.path, format: t.format, range: r, numberBase: nextBase() });
  }
  const fileOf = new Map(inp.traces.map((t, i) => [t.path, i]));
  if (jobs === 1 || tasks.length === 1 || total < minBytes) {
    const r = await runTraceTasks({ ...base, tasks }, onBytes);
    shiftLines(tasks, r);
    const c = canonical(tasks, r, fileOf);
    return { state: await mergeLinkStates(c.states), stats: mergeStats(c.stats), workers: 0, fast: sum(c.fast), rereadWhole: [] };
  }
  // Largest tasks first, dealt round-robin: the workers finish at about the same time.
  const order = tasks.map((t, i) => ({ t, size: t.range ? t.range.end - t.range.start : sizes[inp.traces.findIndex((x) => x.path === t.path)]!, i }))
    .sort((a, b) => b.size - a.size);
  const n = Math.min(jobs, tasks.length);
  const buckets: TraceTask[][] = Array.from({ length: n }, () => []);
  const load = new Array<number>(n).fill(0);
  for (const o of order) { const k = load.indexOf(Math.min(...load)); buckets[k]!.push(o.t); load[k]! += o.size; }
  const results = await Promise.all(buckets.map((b) => runWorker({ ...base, tasks: b }, onBytes, inp.pool?.take())));
  let order2 = buckets.flat();
  let all = joinResults(results);
  // A document whose ranges did not join up is read again, whole, as a serial read would.
  const broken = new Set(order2.filter((t, i) => t.doc && all.docEnds[i] !== t.doc.expectEnd).map((t) => t.path));
  for (const path of broken) {
    const keep = order2.map((_, i) => i).filter((i) => order2[i]!.path !== path);
    const whole: TraceTask = { path, format: 'otlp-json', numberBase: nextBase() };
    onBytes(-sizes[fileOf.get(path)!]!); // (progress goes back and counts the file again)
    all = joinResults([selectResults(all, keep), await runTraceTasks({ ...base, tasks: [whole] }, onBytes)]);
    order2 = [...keep.map((i) => order2[i]!), whole];
  }
  shiftLines(order2, all);
  const c = canonical(order2, all, fileOf);
  return { state: await mergeLinkStates(c.states), stats: mergeStats(c.stats), workers: n, fast: sum(c.fast), rereadWhole: [...broken] };
}

/**
 * The results in file order (input file, then byte range), with every candidate call numbered as
 * a single reader numbers it: the file's base (its index × 2^32) plus the calls before it in the
 * file. Workers number each range from its own base; without this the calls of --json (and the
 * episodes' order) would depend on how many threads read the traces.
 */
function canonical(tasks: TraceTask[], r: TaskResults, fileOf: Map<string, number>): TaskResults {
  const idx = tasks.map((_, i) => i).sort((a, b) => fileOf.get(tasks[a]!.path)! - fileOf.get(tasks[b]!.path)! || (tasks[a]!.range?.start ?? 0) - (tasks[b]!.range?.start ?? 0));
  const before = new Map<string, number>();
  for (const i of idx) {
    const t = tasks[i]!, st = r.states[i]!;
    const prior = before.get(t.path) ?? 0;
    const base = fileOf.get(t.path)! * 2 ** 32 + prior;
    for (const c of st.candidates) c.n = base + (c.n - t.numberBase);
    before.set(t.path, prior + st.spans);
  }
  return selectResults(r, idx);
}

/** The results of tasks idx, in that order. */
function selectResults(r: TaskResults, idx: number[]): TaskResults {
  return { states: idx.map((i) => r.states[i]!), stats: idx.map((i) => r.stats[i]!), lines: idx.map((i) => r.lines[i]!), fast: idx.map((i) => r.fast[i]!), docEnds: idx.map((i) => r.docEnds[i]!) };
}

/** Several workers' results one after another. */
function joinResults(rs: TaskResults[]): TaskResults {
  return { states: rs.flatMap((r) => r.states), stats: rs.flatMap((r) => r.stats), lines: rs.flatMap((r) => r.lines), fast: rs.flatMap((r) => r.fast), docEnds: rs.flatMap((r) => r.docEnds) };
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

/**
 * Ranges read without knowing their first line number (firstLine 0) numbered their lines from 1:
 * shifts the line numbers of their candidate calls and bad-line reports by the lines of the
 * ranges before them, so every report names the true line of the file.
 */
function shiftLines(tasks: TraceTask[], r: TaskResults): void {
  const byFile = new Map<string, number[]>();
  tasks.forEach((t, i) => { if (t.range) { const l = byFile.get(t.path) ?? []; l.push(i); byFile.set(t.path, l); } });
  for (const idx of byFile.values()) {
    idx.sort((a, b) => tasks[a]!.range!.start - tasks[b]!.range!.start);
    let before = 0;
    for (const i of idx) {
      const t = tasks[i]!;
      const shift = t.range!.firstLine === 0 ? before : 0;
      if (shift > 0) {
        for (const c of r.states[i]!.candidates) {
          const s = c.span;
          if (s.tool_call_id === `${s.file}:${s.line}`) s.tool_call_id = `${s.file}:${s.line + shift}`;
          s.line += shift;
        }
        for (const issue of r.stats[i]!.issues) issue.line += shift;
      }
      if (r.lines[i]! < 0) break; // lines not counted: the ranges were numbered up front
      before += r.lines[i]!;
    }
  }
}

/** Runs input on a worker: one booted ahead (booted: it gets its input as a message) or a new one. */
function runWorker(input: WorkerInput, onBytes: (d: number) => void, booted?: Worker): Promise<TaskResults> {
  return new Promise((resolve, reject) => {
    const w = booted ?? new Worker(new URL('./trace-worker.js', import.meta.url), { workerData: { corralTraceWorker: true, input } });
    if (booted) booted.postMessage({ type: 'input', input } satisfies WorkerInputMessage);
    let settled = false;
    w.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') onBytes(m.bytes);
      else if (m.type === 'done') { settled = true; resolve({ states: m.states, stats: m.stats, lines: m.lines, fast: m.fast, docEnds: m.docEnds }); void w.terminate(); }
      else { settled = true; reject(new Error(`trace worker failed: ${m.error}`)); void w.terminate(); }
    });
    w.on('error', (e) => { if (!settled) { settled = true; reject(e); } });
    w.on('exit', (code) => { if (!settled) { settled = true; reject(new Error(`trace worker exited with code ${code}`)); } });
  });
}

/** Ranges of one file are reported as one input: counts summed, issues merged in line order. */
export function mergeStats(stats: InputStats[]): InputStats[] {
  const byFile = new Map<string, InputStats>();
  for (const s of stats) {
    const cur = byFile.get(s.file);
    if (!cur) { const k = (s as { skippedKinds?: Record<string, number> }).skippedKinds; byFile.set(s.file, { ...s, issues: [...s.issues], ...(k ? { skippedKinds: { ...k } } : {}) }); continue; }
    cur.records += s.records; cur.bad += s.bad;
    cur.issues = [...cur.issues, ...s.issues].sort((a, b) => a.line - b.line).slice(0, 100);
    if (s.tsNote) cur.tsNote = cur.tsNote ? mergeNotes(cur.tsNote, s.tsNote) : s.tsNote;
    const kinds = (s as { skippedKinds?: Record<string, number> }).skippedKinds, into = (cur as { skippedKinds?: Record<string, number> }).skippedKinds;
    if (kinds && into && kinds !== into) for (const [k, v] of Object.entries(kinds)) into[k] = (into[k] ?? 0) + v;
    // Readers may return extra counters (skipped lines …): sum the numeric ones.
    for (const [k, v] of Object.entries(s)) {
      if (typeof v === 'number' && !['records', 'bad'].includes(k) && typeof (cur as unknown as Record<string, unknown>)[k] === 'number') (cur as unknown as Record<string, number>)[k]! += v;
    }
  }
  return [...byFile.values()];
}

/**
 * Notes of two ranges of one file: parts that differ only in their leading count
 * ("26 syslog timestamps have no year …") are summed, other new parts are appended.
 */
function mergeNotes(a: string, b: string): string {
  const parts = a.split('; ');
  for (const p of b.split('; ')) {
    const m = /^(\d+) (.*)$/s.exec(p);
    const at = m ? parts.findIndex((q) => q.endsWith(` ${m[2]}`) && /^\d+ /.test(q) && q.slice(q.indexOf(' ') + 1) === m[2]) : -1;
    if (m && at >= 0) parts[at] = `${Number(parts[at]!.slice(0, parts[at]!.indexOf(' '))) + Number(m[1])} ${m[2]}`;
    else if (!parts.includes(p)) parts.push(p);
  }
  return parts.join('; ');
}
