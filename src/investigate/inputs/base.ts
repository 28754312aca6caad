// Why: the shared frame of every line-oriented reader: open the file, set up the timestamp
// parser (with the file's mtime for syslog years), count good/bad/skipped records, report
// progress, and build NetRecords with one fixed object shape (same hidden class → fast).
import { statSync } from 'node:fs';
import type { FieldMap, NetKind, NetLogReader, NetRecord, ToolCallSpan, TraceReader } from '../types.js';
import type { CategoryCache } from './category.js';
import type { FlowPairs } from './flow-pairs.js';
import { forEachLine, type BulkLines, type LineInfo, type LineRange, type PreludeLine } from './lines.js';
import { canonicalIp } from './normalise.js';
import { StatsBuilder, type ReadStats } from './stats.js';
import { TsParser } from './timestamps.js';

/** Options every net reader accepts (a superset of the contract's opts). */
export interface NetReadOptions {
  map?: FieldMap;
  onProgress?: (bytes: number, total: number) => void;
  /** Zone for timestamps written without one (default UTC, always stated in tsNote). */
  tz?: string;
  /** Year for syslog lines (default: from the file's mtime, stated in tsNote). */
  year?: number;
  /** Read only this line-aligned byte range (for parallel readers; see splitLineRanges). */
  range?: LineRange;
  /** VPC flow logs without a header line: the custom field list (names, with or without ${}). */
  vpcFields?: string[];
  /** Header lines before range.start (Zeek "#…", a VPC field list), replayed silently first. */
  prelude?: PreludeLine[];
  /**
   * Plain, non-alert flows may be taken into this set (their destination and source) and counted
   * in the stats instead of being passed to onRecord (Zeek conn TSV, VPC, eve.json; see flow-pairs.ts).
   */
  pairs?: FlowPairs;
  /** Told the number of lines read (of the range, when one is given) at the end. */
  onLines?: (lines: number) => void;
}


/** Options every trace reader accepts (a superset of the contract's opts). */
export interface TraceReadOptions {
  onProgress?: (bytes: number, total: number) => void;
  /** End assumed for a call whose end is unknown: start + this (default 30 000 ms). */
  assumedDurationMs?: number;
  tz?: string;
  range?: LineRange;
}

export const DEFAULT_ASSUMED_DURATION_MS = 30_000;

/** A NetLogReader that also takes the extra options and returns the skip counts. */
export interface NetReader extends NetLogReader {
  read(path: string, onRecord: (r: NetRecord) => void, opts?: NetReadOptions): Promise<ReadStats>;
}

/** A TraceReader that also takes the extra options and returns the skip counts. */
export interface SpanReader extends TraceReader {
  read(path: string, onSpan: (s: ToolCallSpan) => void, opts?: TraceReadOptions): Promise<ReadStats>;
}

export interface LineCtx {
  file: string; stats: StatsBuilder; ts: TsParser; cats: CategoryCache;
  /** Set by the caller that wants plain flows as pairs (NetReadOptions.pairs). */
  pairs?: FlowPairs;
  /** Set by a reader's handler factory to take runs of lines natively (see LineOptions.bulk). */
  bulk?: BulkLines;
}
export type LineHandler = (text: string, lineNo: number, info: LineInfo) => void;

/** A reader's frame for one file: stats, a timestamp parser (file mtime for syslog years), category cache. */
export function lineCtx(path: string, format: string, opts: { tz?: string; year?: number } = {}): LineCtx {
  return { file: path, stats: new StatsBuilder(path, format), ts: new TsParser({ tz: opts.tz, year: opts.year, refMs: statSync(path).mtimeMs }), cats: new Map() };
}

/** Runs one line-oriented reader over a file. makeHandler is called once per read. */
export async function readLines(path: string, format: string, opts: { onProgress?: (b: number, t: number) => void; tz?: string; year?: number; range?: LineRange; prelude?: PreludeLine[]; pairs?: FlowPairs; onLines?: (lines: number) => void },
  makeHandler: (ctx: LineCtx) => LineHandler, finish?: (ctx: LineCtx) => void): Promise<ReadStats> {
  const ctx = lineCtx(path, format, opts);
  ctx.pairs = opts.pairs;
  const { stats, ts } = ctx;
  const handler = makeHandler(ctx);
  // The range before reports these lines; here they only set the reader's state (fields, separator).
  if (opts.prelude?.length) {
    stats.muted = true;
    for (const p of opts.prelude) handler(p.text, p.line, { unterminated: false });
    stats.muted = false;
  }
  const res = await forEachLine(path, handler, { onProgress: opts.onProgress, range: opts.range, bulk: ctx.bulk });
  opts.onLines?.(res.lines);
  if (res.error) stats.badLine(res.error.line, res.error.message);
  finish?.(ctx);
  return stats.finish(ts, res.bytes, res.overlong);
}

/** A NetRecord with every optional field present (undefined), so all records share one shape. */
export function mkRecord(ts: number, kind: NetKind, src: string, dst: string, file: string, line: number): NetRecord {
  // (addresses in one spelling: an IPv6 alert and a call on the same address must meet)
  return { ts, kind, src: canonicalIp(src), dst: canonicalIp(dst), sport: undefined, dport: undefined, proto: undefined, action: undefined, severity: undefined, rule: undefined, category: undefined, host: undefined, bytes: undefined, file, line };
}

/** True for lines that are empty or only whitespace. */
export function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) { const c = s.charCodeAt(i); if (c !== 32 && c !== 9 && c !== 13) return false; }
  return true;
}

/** JSON.parse of one line into an object, or an error message. */
export function parseObject(text: string): Record<string, unknown> | string {
  let v: unknown;
  try { v = JSON.parse(text); } catch (e) { return `invalid JSON: ${(e as Error).message}`; }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'expected a JSON object';
  return v as Record<string, unknown>;
}

export function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
