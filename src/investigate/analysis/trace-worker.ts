// Why: parsing 10 M tool calls is the bulk of an investigation's time, and it parallelises:
// each worker thread reads some trace files (or line-aligned byte ranges of one big file) with
// the same readers, runs its own SpanLinker against the alert index it was sent, and returns
// only the linker's small state. Messages: in {tasks, keys, placements, opts}; out {progress}
// and finally {done, states, stats} or {error}.
import { parentPort, workerData } from 'node:worker_threads';
import type { InputStats, Placement } from '../types.js';
import { DEFAULT_ASSUMED_DURATION_MS, traceReader } from '../inputs/index.js';
import { stackSignature, type DocRange } from '../inputs/otlp-resync.js';
import { readDocument } from '../inputs/traces-otlp.js';
import { scanCanonical } from './trace-scan.js';
import { PlacementIndex } from './placements.js';
import { SpanLinker, stateBuffers, type KeyAlertsInput, type LinkOptions, type LinkState } from './linker.js';

export interface TraceTask {
  path: string; format: string;
  range?: { start: number; end: number; firstLine: number };
  /** A range of one OTLP document (otlp-resync.ts) instead of a line range. */
  doc?: DocRange;
  /** Call numbers of this task start here (unique across tasks). */
  numberBase: number;
}

export interface WorkerInput {
  tasks: TraceTask[]; keys: KeyAlertsInput[]; placements: Placement[]; opts: LinkOptions; assumedDurationMs?: number;
  /** Zone for zone-less trace times (default UTC, stated). */
  tz?: string;
}

export type WorkerMessage =
  | { type: 'progress'; bytes: number }
  | ({ type: 'done' } & TaskResults)
  | { type: 'error'; error: string };

/** Reads tasks one after another; shared by the worker and the single-threaded path. */
/**
 * Per task (in input order): the linker state, the stats, the lines read (-1: not counted), the
 * lines read by the fast path, and for a document range how its scan ended (stackSignature, "!"
 * added after a structural problem; null for other tasks).
 */
export interface TaskResults { states: LinkState[]; stats: InputStats[]; lines: number[]; fast: number[]; docEnds: (string | null)[] }

export async function runTraceTasks(input: WorkerInput, onBytes: (delta: number) => void): Promise<TaskResults> {
  const placements = input.placements.length ? new PlacementIndex(input.placements) : undefined;
  const states: LinkState[] = [];
  const stats: InputStats[] = [];
  const lines: number[] = [];
  const fast: number[] = [];
  const docEnds: (string | null)[] = [];
  for (const t of input.tasks) {
    const linker = new SpanLinker(input.keys, placements, input.opts, t.numberBase);
    let last = 0;
    const reader = traceReader(t.format);
    const opts: Record<string, unknown> = {
      onProgress: (b: number) => { onBytes(b - last); last = b; },
      assumedDurationMs: input.assumedDurationMs,
      tz: input.tz,
    };
    if (t.range) opts.range = t.range;
    if (t.doc) {
      const r = await readDocument(t.path, (s) => linker.add(s), opts, t.doc);
      stats.push(r.stats); lines.push(r.scan.newlines); fast.push(0);
      docEnds.push(stackSignature(r.scan.stack) + (r.scan.problems > 0 ? '!' : ''));
    } else if (t.format === 'canonical-jsonl' && !placements) {
      const r = await scanCanonical(t.path, linker, { range: t.range, assumedDurationMs: input.assumedDurationMs ?? DEFAULT_ASSUMED_DURATION_MS, tz: input.tz, onProgress: opts.onProgress as (b: number) => void });
      stats.push(r.stats); lines.push(r.lines); fast.push(r.fast); docEnds.push(null);
    } else {
      stats.push(await reader.read(t.path, (s) => linker.add(s), opts));
      lines.push(-1); fast.push(0); docEnds.push(null);
    }
    states.push(linker.state(true));
  }
  return { states, stats, lines, fast, docEnds };
}

/** A worker's input: in its workerData, or (booted ahead by trace-worker-pool.ts) the first message. */
export interface WorkerInputMessage { type: 'input'; input: WorkerInput }

if (parentPort && workerData && (workerData as { corralTraceWorker?: boolean }).corralTraceWorker) {
  const port = parentPort;
  const given = (workerData as { input?: WorkerInput }).input;
  if (given) run(given);
  else port.once('message', (m: WorkerInputMessage) => run(m.input));
}

function run(input: WorkerInput): void {
  const port = parentPort!;
  let pending = 0, lastPost = 0;
  runTraceTasks(input, (d) => {
    pending += d;
    const now = Date.now();
    if (now - lastPost > 200) { port.postMessage({ type: 'progress', bytes: pending } satisfies WorkerMessage); pending = 0; lastPost = now; }
  }).then((r) => {
    if (pending) port.postMessage({ type: 'progress', bytes: pending } satisfies WorkerMessage);
    const transfer = r.states.flatMap(stateBuffers);
    port.postMessage({ type: 'done', ...r } satisfies WorkerMessage, transfer);
  }, (e: unknown) => {
    port.postMessage({ type: 'error', error: (e as Error).stack ?? String(e) } satisfies WorkerMessage);
  });
}
