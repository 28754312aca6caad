// Why: pass 1 of an investigation (the firewall/network logs) on both cores. Small inputs are
// read on the main thread; large ones are cut into tasks (line-aligned ranges of big line
// formats; a range of a format with header lines, Zeek TSV or VPC, carries the header lines
// before it, a range of a Corral event log the session.start lines before it) pulled by worker
// threads one at a time (formats cost very different amounts per byte, so a fixed deal would
// leave one core idle). Digests are added to the alert table in file and line order, so the
// table is the one a serial read builds.
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { FieldMap, InputStats } from '../types.js';
import { headerLinesBefore, splitLineRanges, type LineRange, type PreludeLine } from '../inputs/lines.js';
import { isSessionStart } from '../inputs/corral-events.js';
import { isCompressed } from '../inputs/source.js';
import { isVpcHeader, VPC_HEADER_NEEDLES } from '../inputs/vpc.js';
import type { AlertTable } from './alert-table.js';
import { digestLog, type LogDigest, type LogTask, type LogWorkerMessage, type LogWorkerRequest } from './log-worker.js';
import { SourceSet, type SourcesExport } from './source-set.js';
import { mergeStats, PARALLEL_MIN_BYTES } from './trace-pass.js';

/** Line formats without a header line: any line-aligned range can be read on its own. */
const SPLITTABLE = new Set(['suricata-eve', 'iptables-log', 'zeek-conn-json']);
/** Line formats whose header lines set how later lines are read: needles every header line contains, and the test. */
const HEADERED: Record<string, { needles: string[]; isHeader: (line: string) => boolean }> = {
  'zeek-conn-tsv': { needles: ['#'], isHeader: (l) => l.charCodeAt(0) === 35 },
  'vpc-flow': { needles: VPC_HEADER_NEEDLES, isHeader: isVpcHeader },
  // (a session's sandbox_ip, the source of its later events, is in its session.start line: a range after it needs it)
  'corral-events': { needles: ['session.start'], isHeader: isSessionStart },
};

export interface LogPassInput {
  logs: { path: string; format: string }[];
  map?: FieldMap;
  jobs: number;
  parallelMinBytes?: number;
  /** Zone for zone-less times, and the year of syslog times (see NetReadOptions). */
  tz?: string; year?: number;
  onProgress?: (bytes: number, total: number) => void;
  /** Called once when a core frees up: the first worker is done (or before the main thread reads the logs itself). */
  onCoreFree?: () => void;
}

/** Reads every log into the table; returns the stats per file, in input order. */
export async function logPass(table: AlertTable, inp: LogPassInput): Promise<{ stats: InputStats[]; workers: number }> {
  const sizes = inp.logs.map((l) => statSync(l.path).size);
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  const onBytes = (d: number): void => { done += d; inp.onProgress?.(done, total); };
  const jobs = Math.max(1, Math.floor(inp.jobs));
  const minBytes = inp.parallelMinBytes ?? PARALLEL_MIN_BYTES;
  const plan: Plan = { tasks: [], queue: [], digests: [] };
  // Workers boot (≈ 0.1 s) while the big files are cut into ranges; they wait for the plan.
  let start!: () => void;
  const ready = new Promise<void>((resolve) => { start = resolve; });
  // A compressed file is read whole by one reader (see inputs/source.ts): only plain files are cut into ranges.
  const gz = inp.logs.map((l) => isCompressed(l.path));
  const parallel = jobs > 1 && total >= minBytes && (inp.logs.length > 1 || (!gz[0] && (SPLITTABLE.has(inp.logs[0]!.format) || HEADERED[inp.logs[0]!.format] !== undefined)));
  const pool = parallel ? Array.from({ length: jobs }, () => runWorker(plan, ready, inp.map, onBytes)) : [];
  const taskSize: number[] = [];
  try {
    inp.logs.forEach((l, i) => {
      const big = jobs > 1 && total >= minBytes && sizes[i]! >= minBytes && !gz[i];
      const head = HEADERED[l.format];
      let ranges: LineRange[] | undefined, preludes: PreludeLine[][] | undefined;
      // Lines are not counted up front (a serial read of every big log before any worker could
      // start): a header format's ranges get their first line from the header search, which reads
      // up to the last cut anyway; the others are numbered from 1 and shifted once read (below).
      if (big && (SPLITTABLE.has(l.format) || head)) ranges = splitLineRanges(l.path, jobs * 2, false);
      if (ranges && head) {
        const h = headerLinesBefore(l.path, ranges.map((r) => r.start), head.needles, head.isHeader);
        if (!h) ranges = undefined; // a line over 1 MiB before a cut: read the file whole
        else { preludes = h.preludes; ranges = ranges.map((r, k) => ({ ...r, firstLine: h.firstLines[k]! })); }
      }
      const clock = { ...(inp.tz !== undefined ? { tz: inp.tz } : {}), ...(inp.year !== undefined ? { year: inp.year } : {}) };
      if (!ranges) { plan.tasks.push({ path: l.path, format: l.format, ...clock }); taskSize.push(sizes[i]!); return; }
      ranges.forEach((r, k) => {
        plan.tasks.push({ path: l.path, format: l.format, range: r, ...(preludes?.[k]?.length ? { prelude: preludes[k] } : {}), ...clock });
        taskSize.push(r.end - r.start);
      });
    });
  } catch (e) { start(); await Promise.allSettled(pool); throw e; }
  const tasks = plan.tasks;
  const sources: SourcesExport[] = [];
  let workers = 0;
  let freed = false;
  const coreFree = (): void => { if (!freed) { freed = true; inp.onCoreFree?.(); } };
  if (pool.length === 0 || tasks.length === 1) {
    start(); // (early workers, if any, find the queue empty and end)
    await Promise.all(pool);
    coreFree();
    const set = new SourceSet();
    for (const t of tasks) plan.digests.push(await digestLog(t, inp.map, onBytes, set));
    sources.push(set.export());
  } else {
    // Largest first; each worker pulls the next task when it is done with one.
    plan.queue = tasks.map((_, i) => i).sort((a, b) => taskSize[b]! - taskSize[a]!);
    start();
    for (const p of pool) void p.then(coreFree, () => undefined);
    for (const r of await Promise.all(pool)) if (r.tasks > 0) { workers++; sources.push(r.sources); }
  }
  const digests = plan.digests;
  shiftLines(tasks, digests);
  for (const s of sources) table.addSources(s);
  for (const d of digests) table.addDigest(d.records, d.alerts);
  const merged = mergeStats(digests.map((d) => d.stats));
  return { stats: inp.logs.map((l) => merged.find((s) => s.file === l.path)!).filter((s, i, all) => all.indexOf(s) === i), workers };
}

/**
 * Ranges read without knowing their first line (firstLine 0) numbered their lines from 1: shifts
 * their alerts' and bad lines' numbers by the lines of the ranges before them in the file, so
 * every report names the true line.
 */
function shiftLines(tasks: LogTask[], digests: LogDigest[]): void {
  let file = '', before = 0;
  tasks.forEach((t, i) => {
    if (!t.range) return;
    if (t.path !== file) { file = t.path; before = 0; }
    const d = digests[i]!;
    if (t.range.firstLine === 0 && before > 0) {
      for (const a of d.alerts) a.line += before;
      for (const issue of d.stats.issues) issue.line += before;
    }
    before += d.lines;
  });
}

/** The log pass's tasks, shared by its workers: the queue of task indexes not yet taken, and each task's digest. */
interface Plan { tasks: LogTask[]; queue: number[]; digests: LogDigest[] }

/**
 * One worker thread: starts at once, takes tasks off the shared queue once ready resolves until
 * the queue is empty; resolves with the sources it saw and how many tasks it read.
 */
function runWorker(plan: Plan, ready: Promise<void>, map: FieldMap | undefined, onBytes: (d: number) => void): Promise<{ sources: SourcesExport; tasks: number }> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./log-worker.js', import.meta.url), { workerData: { corralLogWorker: true, map } });
    let settled = false, taken = 0;
    const fail = (e: Error): void => { if (!settled) { settled = true; reject(e); void w.terminate(); } };
    const next = (): void => {
      const index = plan.queue.shift();
      if (index === undefined) { w.postMessage({ type: 'close' } satisfies LogWorkerRequest); return; }
      taken++;
      w.postMessage({ type: 'task', index, task: plan.tasks[index]! } satisfies LogWorkerRequest);
    };
    w.on('message', (m: LogWorkerMessage) => {
      if (m.type === 'progress') onBytes(m.bytes);
      else if (m.type === 'digest') { plan.digests[m.index] = m.digest; next(); }
      else if (m.type === 'sources') { settled = true; resolve({ sources: m.sources, tasks: taken }); void w.terminate(); }
      else fail(new Error(`log worker failed: ${m.error}`));
    });
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`log worker exited with code ${code} before sending its sources`)));
    void ready.then(next);
  });
}
