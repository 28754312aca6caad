// Why: pass 1 of an investigation (the firewall/network logs) on both cores. Small inputs are
// read on the main thread; large ones are cut into tasks (whole files, or line-aligned ranges
// of big headerless line formats such as eve.json) dealt to worker threads, whose digests are
// added to the alert table in file and line order, so the table is the one a serial read builds.
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { FieldMap, InputStats } from '../types.js';
import { splitLineRanges } from '../inputs/lines.js';
import type { AlertTable } from './alert-table.js';
import { digestLog, type LogDigest, type LogTask, type LogWorkerMessage } from './log-worker.js';
import { mergeStats, PARALLEL_MIN_BYTES } from './trace-pass.js';

/** Line formats without a header line: any line-aligned range can be read on its own. */
const SPLITTABLE = new Set(['suricata-eve', 'iptables-log', 'zeek-conn-json', 'corral-events']);

export interface LogPassInput {
  logs: { path: string; format: string }[];
  map?: FieldMap;
  jobs: number;
  parallelMinBytes?: number;
  onProgress?: (bytes: number, total: number) => void;
}

/** Reads every log into the table; returns the stats per file, in input order. */
export async function logPass(table: AlertTable, inp: LogPassInput): Promise<{ stats: InputStats[]; workers: number }> {
  const sizes = inp.logs.map((l) => statSync(l.path).size);
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  const onBytes = (d: number): void => { done += d; inp.onProgress?.(done, total); };
  const jobs = Math.max(1, Math.floor(inp.jobs));
  const minBytes = inp.parallelMinBytes ?? PARALLEL_MIN_BYTES;
  const tasks: LogTask[] = [];
  const taskSize: number[] = [];
  inp.logs.forEach((l, i) => {
    if (jobs > 1 && total >= minBytes && SPLITTABLE.has(l.format) && sizes[i]! >= minBytes) {
      for (const r of splitLineRanges(l.path, jobs * 2)) { tasks.push({ path: l.path, format: l.format, range: r }); taskSize.push(r.end - r.start); }
    } else { tasks.push({ path: l.path, format: l.format }); taskSize.push(sizes[i]!); }
  });
  let digests: LogDigest[];
  let workers = 0;
  if (jobs === 1 || tasks.length === 1 || total < minBytes) {
    digests = [];
    for (const t of tasks) digests.push(await digestLog(t, inp.map, onBytes));
  } else {
    // Largest first to the least loaded worker; results go back to task order.
    workers = Math.min(jobs, tasks.length);
    const buckets: number[][] = Array.from({ length: workers }, () => []);
    const load = new Array<number>(workers).fill(0);
    for (const i of tasks.map((_, i) => i).sort((a, b) => taskSize[b]! - taskSize[a]!)) {
      const k = load.indexOf(Math.min(...load));
      buckets[k]!.push(i); load[k]! += taskSize[i]!;
    }
    digests = new Array<LogDigest>(tasks.length);
    await Promise.all(buckets.map(async (b) => {
      const got = await runWorker(b.map((i) => tasks[i]!), inp.map, onBytes);
      b.forEach((i, j) => { digests[i] = got[j]!; });
    }));
  }
  for (const d of digests) table.addDigest(d.records, d.dstSources, d.alerts);
  const merged = mergeStats(digests.map((d) => d.stats));
  return { stats: inp.logs.map((l) => merged.find((s) => s.file === l.path)!).filter((s, i, all) => all.indexOf(s) === i), workers };
}

function runWorker(tasks: LogTask[], map: FieldMap | undefined, onBytes: (d: number) => void): Promise<LogDigest[]> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL('./log-worker.js', import.meta.url), { workerData: { corralLogWorker: true, tasks, map } });
    let settled = false;
    w.on('message', (m: LogWorkerMessage) => {
      if (m.type === 'progress') onBytes(m.bytes);
      else if (m.type === 'done') { settled = true; resolve(m.digests); void w.terminate(); }
      else { settled = true; reject(new Error(`log worker failed: ${m.error}`)); void w.terminate(); }
    });
    w.on('error', (e) => { if (!settled) { settled = true; reject(e); } });
    w.on('exit', (code) => { if (!settled) { settled = true; reject(new Error(`log worker exited with code ${code}`)); } });
  });
}
