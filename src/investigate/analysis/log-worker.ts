// Why: reading a million firewall records (JSON.parse of eve.json, field splitting of Zeek and
// VPC logs) is the second largest cost of an investigation and is independent per file or per
// line range. A log worker reads its tasks with the same readers and returns a digest: the
// alert-like records (few), the distinct sources of each destination (for rarity), the record
// count and the reader's stats. Tasks are pulled one at a time, so a worker that got cheap
// tasks takes the next one. Messages: in {task, index} or {close}; out {progress},
// {digest, index} per task, or {error}.
import { parentPort, workerData } from 'node:worker_threads';
import type { FieldMap, NetRecord } from '../types.js';
import { netReader } from '../inputs/index.js';
import type { LineRange, PreludeLine } from '../inputs/lines.js';
import type { ReadStats } from '../inputs/stats.js';
import { isAlertLike } from './alert-table.js';

export interface LogTask { path: string; format: string; range?: LineRange; prelude?: PreludeLine[] }
export interface LogDigest { records: number; dstSources: [string, string[]][]; alerts: NetRecord[]; stats: ReadStats }

export type LogWorkerMessage =
  | { type: 'progress'; bytes: number }
  | { type: 'digest'; index: number; digest: LogDigest }
  | { type: 'error'; error: string };

export type LogWorkerRequest = { type: 'task'; index: number; task: LogTask } | { type: 'close' };

/** Reads one task into a digest. */
export async function digestLog(t: LogTask, map: FieldMap | undefined, onBytes: (delta: number) => void): Promise<LogDigest> {
  const bySrc = new Map<string, Set<string> | string>();
  const alerts: NetRecord[] = [];
  let records = 0, last = 0;
  const stats = await netReader(t.format).read(t.path, (r) => {
    records++;
    const cur = bySrc.get(r.dst);
    if (cur === undefined) bySrc.set(r.dst, r.src);
    else if (typeof cur === 'string') { if (cur !== r.src) bySrc.set(r.dst, new Set([cur, r.src])); }
    else cur.add(r.src);
    if (isAlertLike(r)) alerts.push(r);
  }, { map, range: t.range, prelude: t.prelude, onProgress: (b) => { onBytes(b - last); last = b; } });
  const dstSources: [string, string[]][] = [];
  for (const [d, v] of bySrc) dstSources.push([d, typeof v === 'string' ? [v] : [...v]]);
  return { records, dstSources, alerts, stats };
}

if (parentPort && workerData && (workerData as { corralLogWorker?: boolean }).corralLogWorker) {
  const port = parentPort;
  const { map } = workerData as { map?: FieldMap };
  let pending = 0, lastPost = 0;
  const onBytes = (d: number): void => {
    pending += d;
    const now = Date.now();
    if (now - lastPost > 200) { port.postMessage({ type: 'progress', bytes: pending } satisfies LogWorkerMessage); pending = 0; lastPost = now; }
  };
  port.on('message', (m: LogWorkerRequest) => {
    if (m.type === 'close') { port.close(); return; }
    digestLog(m.task, map, onBytes).then((digest) => {
      if (pending) { port.postMessage({ type: 'progress', bytes: pending } satisfies LogWorkerMessage); pending = 0; }
      port.postMessage({ type: 'digest', index: m.index, digest } satisfies LogWorkerMessage);
    }, (e: unknown) => {
      port.postMessage({ type: 'error', error: (e as Error).stack ?? String(e) } satisfies LogWorkerMessage);
    });
  });
}
