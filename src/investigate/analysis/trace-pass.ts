// Why: decides how to read the traces: on the main thread for small inputs, or split into
// tasks (whole files, or line-aligned byte ranges of big line-oriented files) spread over
// worker threads, so both cores parse at once. Returns one merged linker state either way.
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { InputStats, Placement } from '../types.js';
import { splitLineRanges } from '../inputs/lines.js';
import { mergeLinkStates, type KeyAlertsInput, type LinkOptions, type LinkState } from './linker.js';
import { runTraceTasks, type TraceTask, type WorkerInput, type WorkerMessage } from './trace-worker.js';

/** Formats with one record per line, which may be split at line boundaries. */
const SPLITTABLE = new Set(['canonical-jsonl', 'openai-messages']);
/** Below this many bytes in all, threads cost more than they save. */
export const PARALLEL_MIN_BYTES = 32 << 20;
/** Byte ranges per worker for a split file (more than one evens out the load). */
const RANGES_PER_JOB = 2;

export interface TracePassInput {
  traces: { path: string; format: string }[];
  keys: KeyAlertsInput[]; placements: Placement[]; opts: LinkOptions; assumedDurationMs?: number;
  jobs: number;
  /** Inputs smaller than this are read on the main thread (default PARALLEL_MIN_BYTES; tests lower it). */
  parallelMinBytes?: number;
  onProgress?: (bytes: number, total: number) => void;
}

export async function tracePass(inp: TracePassInput): Promise<{ state: LinkState; stats: InputStats[]; workers: number }> {
  const sizes = inp.traces.map((t) => statSync(t.path).size);
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  const onBytes = (d: number): void => { done += d; inp.onProgress?.(done, total); };
  const base = { keys: inp.keys, placements: inp.placements, opts: inp.opts, assumedDurationMs: inp.assumedDurationMs };
  const jobs = Math.max(1, Math.floor(inp.jobs));
  const minBytes = inp.parallelMinBytes ?? PARALLEL_MIN_BYTES;
  const tasks: TraceTask[] = [];
  let serial = 0;
  const nextBase = (): number => (serial++) * 2 ** 32;
  inp.traces.forEach((t, i) => {
    const split = jobs > 1 && total >= minBytes && SPLITTABLE.has(t.format) && sizes[i]! >= minBytes;
    if (!split) { tasks.push({ path: t.path, format: t.format, numberBase: nextBase() }); return; }
    for (const r of splitLineRanges(t.path, jobs * RANGES_PER_JOB)) tasks.push({ path: t.path, format: t.format, range: r, numberBase: nextBase() });
  });
  if (jobs === 1 || tasks.length === 1 || total < minBytes) {
    const { states, stats } = await runTraceTasks({ ...base, tasks }, onBytes);
    return { state: mergeLinkStates(states), stats: mergeStats(stats), workers: 0 };
  }
  // Largest tasks first, dealt round-robin: the workers finish at about the same time.
  const order = tasks.map((t, i) => ({ t, size: t.range ? t.range.end - t.range.start : sizes[inp.traces.findIndex((x) => x.path === t.path)]!, i }))
    .sort((a, b) => b.size - a.size);
  const n = Math.min(jobs, tasks.length);
  const buckets: TraceTask[][] = Array.from({ length: n }, () => []);
  const load = new Array<number>(n).fill(0);
  for (const o of order) { const k = load.indexOf(Math.min(...load)); buckets[k]!.push(o.t); load[k]! += o.size; }
  const results = await Promise.all(buckets.map((b) => runWorker({ ...base, tasks: b }, onBytes)));
  return { state: mergeLinkStates(results.flatMap((r) => r.states)), stats: mergeStats(results.flatMap((r) => r.stats)), workers: n };
}

function runWorker(input: WorkerInput, onBytes: (d: number) => void): Promise<{ states: LinkState[]; stats: InputStats[] }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./trace-worker.js', import.meta.url), { workerData: { corralTraceWorker: true, input } });
    let settled = false;
    w.on('message', (m: WorkerMessage) => {
      if (m.type === 'progress') onBytes(m.bytes);
      else if (m.type === 'done') { settled = true; resolve({ states: m.states, stats: m.stats }); void w.terminate(); }
      else { settled = true; reject(new Error(`trace worker failed: ${m.error}`)); void w.terminate(); }
    });
    w.on('error', (e) => { if (!settled) { settled = true; reject(e); } });
    w.on('exit', (code) => { if (!settled) { settled = true; reject(new Error(`trace worker exited with code ${code}`)); } });
  });
}

/** Ranges of one file are reported as one input: counts summed, issues merged in line order. */
function mergeStats(stats: InputStats[]): InputStats[] {
  const byFile = new Map<string, InputStats>();
  for (const s of stats) {
    const cur = byFile.get(s.file);
    if (!cur) { byFile.set(s.file, { ...s, issues: [...s.issues] }); continue; }
    cur.records += s.records; cur.bad += s.bad;
    cur.issues = [...cur.issues, ...s.issues].sort((a, b) => a.line - b.line).slice(0, 100);
    if (s.tsNote && !(cur.tsNote ?? '').split('; ').includes(s.tsNote)) cur.tsNote = cur.tsNote ? `${cur.tsNote}; ${s.tsNote}` : s.tsNote;
    // Readers may return extra counters (skipped lines …): sum the numeric ones.
    for (const [k, v] of Object.entries(s)) {
      if (typeof v === 'number' && !['records', 'bad'].includes(k) && typeof (cur as unknown as Record<string, unknown>)[k] === 'number') (cur as unknown as Record<string, number>)[k]! += v;
    }
  }
  return [...byFile.values()];
}
