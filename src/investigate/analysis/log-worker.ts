// Why: reading a million firewall records (JSON.parse of eve.json, field splitting of Zeek and
// VPC logs) is the second largest cost of an investigation and is independent per file or per
// line range. A log worker reads its tasks with the same readers and returns a digest per task:
// the alert-like records (few), the record count and the reader's stats; the distinct sources
// of each destination (for rarity) are gathered over all its tasks and sent once at the end.
// Tasks are pulled one at a time, so a worker that got cheap tasks takes the next one.
// Messages: in {task, index} or {close}; out {progress}, {digest, index} per task, {sources}
// after close, or {error}.
import { parentPort, workerData } from 'node:worker_threads';
import type { FieldMap, NetRecord } from '../types.js';
import { netReader } from '../inputs/index.js';
import type { LineRange, PreludeLine } from '../inputs/lines.js';
import type { ReadStats } from '../inputs/stats.js';
import { isAlertLike } from './alert-table.js';
import { SourceSet, type SourcesExport } from './source-set.js';

export interface LogTask { path: string; format: string; range?: LineRange; prelude?: PreludeLine[]; tz?: string; year?: number }
/** What one task read: records, the alert-like ones, the reader's stats, and the lines of its range. */
export interface LogDigest { records: number; alerts: NetRecord[]; stats: ReadStats; lines: number }

export type LogWorkerMessage =
  | { type: 'progress'; bytes: number }
  | { type: 'digest'; index: number; digest: LogDigest }
  | { type: 'sources'; sources: SourcesExport }
  | { type: 'error'; error: string };

export type LogWorkerRequest = { type: 'task'; index: number; task: LogTask } | { type: 'close' };

/** Reads one task into a digest; every record's (destination, source) goes into sources. */
export async function digestLog(t: LogTask, map: FieldMap | undefined, onBytes: (delta: number) => void, sources: SourceSet): Promise<LogDigest> {
  const alerts: NetRecord[] = [];
  let records = 0, last = 0;
  // Plain flows are taken natively into sources.pairs (counted in the stats, not passed here).
  const pairs = sources.pairs;
  const before = pairs?.taken ?? 0;
  let lines = 0;
  const stats = await netReader(t.format).read(t.path, (r) => {
    records++;
    sources.add(r.dst, r.src);
    if (isAlertLike(r)) alerts.push(r);
  }, { map, range: t.range, prelude: t.prelude, tz: t.tz, year: t.year, pairs, onProgress: (b) => { onBytes(b - last); last = b; }, onLines: (n) => { lines = n; } });
  if (pairs) records += pairs.taken - before;
  return { records, alerts, stats, lines };
}

if (parentPort && workerData && (workerData as { corralLogWorker?: boolean }).corralLogWorker) {
  const port = parentPort;
  const { map } = workerData as { map?: FieldMap };
  const sources = new SourceSet();
  let pending = 0, lastPost = 0;
  const onBytes = (d: number): void => {
    pending += d;
    const now = Date.now();
    if (now - lastPost > 200) { port.postMessage({ type: 'progress', bytes: pending } satisfies LogWorkerMessage); pending = 0; lastPost = now; }
  };
  port.on('message', (m: LogWorkerRequest) => {
    if (m.type === 'close') {
      const exp = sources.export();
      // The main thread ends this worker when the message arrives.
      port.postMessage({ type: 'sources', sources: exp } satisfies LogWorkerMessage, [exp.pairs.buffer as ArrayBuffer]);
      return;
    }
    digestLog(m.task, map, onBytes, sources).then((digest) => {
      if (pending) { port.postMessage({ type: 'progress', bytes: pending } satisfies LogWorkerMessage); pending = 0; }
      port.postMessage({ type: 'digest', index: m.index, digest } satisfies LogWorkerMessage);
    }, (e: unknown) => {
      port.postMessage({ type: 'error', error: (e as Error).stack ?? String(e) } satisfies LogWorkerMessage);
    });
  });
}
