// Why: agent frameworks instrumented with OpenTelemetry GenAI conventions export tool calls as
// `execute_tool` spans (gen_ai.operation.name) with gen_ai.tool.call.id, gen_ai.tool.name and
// gen_ai.tool.call.arguments, start/end in unix ns, and where they ran in the resource
// (host.name, container.id, net.host.ip / host.ip). Frameworks traced with OpenInference (Arize
// Phoenix, LlamaIndex, …) mark them `openinference.span.kind: TOOL` with tool.name, tool_call.id
// and input.value (the arguments): read the same way. Two file shapes are accepted:
// JSON lines with one OTLP document per line (each line ≤ 64 MiB), or one document of any size
// (pretty-printed or not), which is stream-scanned span by span (see json-scan.ts).
// Other spans (chat, agent, …) are skipped and counted by their operation name.
import { headBytes } from './source.js';
import type { ToolCallSpan } from '../types.js';
import { DEFAULT_ASSUMED_DURATION_MS, isBlank, isObj, parseObject, readLines, type SpanReader, type TraceReadOptions } from './base.js';
import { scanJson, type ScanRange, type ScanResult } from './json-scan.js';
import { StatsBuilder, lineError, type ReadStats } from './stats.js';
import { TsParser } from './timestamps.js';
import { ipsOf, mkSpan } from './traces-canonical.js';
import { toStr } from './normalise.js';

type Attrs = Record<string, unknown>;

const EXECUTE_TOOL = Buffer.from('execute_tool');
/**
 * Most bytes of tool spans held while their resource has not come yet (JSON key order is free);
 * beyond, they are read without its attributes, and said: a document whose resource comes after
 * GBs of spans, or never, is not held in memory.
 */
const MAX_PENDING_BYTES = 64 << 20;
/** An OpenInference TOOL span names its kind as this string value. */
const OI_TOOL = Buffer.from('"TOOL"');

/** OTLP AnyValue → plain JS value. */
function anyValue(v: unknown): unknown {
  if (!isObj(v)) return v;
  if ('stringValue' in v) return v.stringValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('boolValue' in v) return v.boolValue;
  if (isObj(v.arrayValue)) return Array.isArray(v.arrayValue.values) ? v.arrayValue.values.map(anyValue) : [];
  if (isObj(v.kvlistValue)) return attrsOf(v.kvlistValue.values);
  return undefined;
}

/** [{key, value}] → {key: value}. */
export function attrsOf(list: unknown): Attrs {
  const out: Attrs = {};
  if (Array.isArray(list)) for (const kv of list) if (isObj(kv) && typeof kv.key === 'string') out[kv.key] = anyValue(kv.value);
  return out;
}

/** attrsOf(list)[key] without building the object (the last entry of a key wins, as there). */
function attrOf(list: unknown, key: string): unknown {
  if (!Array.isArray(list)) return undefined;
  for (let i = list.length - 1; i >= 0; i--) { const kv: unknown = list[i]; if (isObj(kv) && kv.key === key) return anyValue(kv.value); }
  return undefined;
}

function first(a: Attrs, r: Attrs, keys: string[]): unknown {
  for (const k of keys) { if (a[k] !== undefined) return a[k]; }
  for (const k of keys) { if (r[k] !== undefined) return r[k]; }
  return undefined;
}

/**
 * The command of a tool call from its arguments (JSON text or object with command/cmd/code), else
 * the raw text; notJson is called when the arguments are text that is not JSON (a cut or broken object).
 */
export function commandOf(args: unknown, notJson?: () => void): string | undefined {
  let o: unknown = args;
  if (typeof args === 'string') { try { o = JSON.parse(args); } catch { notJson?.(); return args; } }
  if (isObj(o)) { const c = [o.command, o.cmd, o.code, o.script].find((v) => typeof v === 'string'); if (typeof c === 'string') return c; }
  return typeof args === 'string' ? args : args === undefined ? undefined : JSON.stringify(args);
}

class OtlpState {
  assumed = 0;
  constructor(readonly file: string, readonly stats: StatsBuilder, readonly ts: TsParser, readonly assumedMs: number, readonly onSpan: (s: ToolCallSpan) => void) {}

  /** One span object with its resource's attributes. */
  span(sp: unknown, res: Attrs, line: number): void {
    if (!isObj(sp)) { this.stats.badLine(line, 'span is not an object'); return; }
    // Most spans are model calls: decided by one attribute before the others are read.
    const op = attrOf(sp.attributes, 'gen_ai.operation.name');
    const name = typeof sp.name === 'string' ? sp.name : '';
    // OpenTelemetry GenAI's execute_tool, or OpenInference's TOOL span kind (Arize Phoenix, LlamaIndex, …).
    if (op !== 'execute_tool' && !(op === undefined && name.startsWith('execute_tool')) && attrOf(sp.attributes, 'openinference.span.kind') !== 'TOOL') {
      this.stats.skip(`span:${typeof op === 'string' ? op : name || 'unnamed'}`); return;
    }
    const a = attrsOf(sp.attributes);
    const start = this.ts.parse(sp.startTimeUnixNano, 'ns');
    if (Number.isNaN(start)) { this.stats.badLine(line, `span ${String(sp.spanId ?? '?')}: missing or unparseable startTimeUnixNano`); return; }
    const endRaw = sp.endTimeUnixNano;
    let end: number, endKnown = true;
    if (endRaw === undefined || endRaw === null || endRaw === '0' || endRaw === 0) { end = start + this.assumedMs; endKnown = false; this.assumed++; }
    else {
      end = this.ts.parse(endRaw, 'ns');
      if (Number.isNaN(end) || end < start) { this.stats.badLine(line, `span ${String(sp.spanId ?? '?')}: bad endTimeUnixNano ${JSON.stringify(endRaw)}`); return; }
    }
    const episode = toStr(first(a, res, ['episode', 'corral.episode', 'gen_ai.conversation.id', 'session.id'])) ?? toStr(sp.traceId);
    if (episode === undefined) { this.stats.badLine(line, 'span has no episode attribute and no traceId'); return; }
    const id = toStr(a['gen_ai.tool.call.id']) ?? toStr(a['tool_call.id']) ?? toStr(sp.spanId) ?? `${this.file}:${line}`;
    const s = mkSpan(episode, id, start, end, endKnown, this.file, line);
    s.run = toStr(first(a, res, ['run', 'corral.run', 'gen_ai.run.id']));
    const step = first(a, res, ['step', 'corral.step', 'gen_ai.step']);
    s.step = typeof step === 'number' && Number.isInteger(step) ? step : typeof step === 'string' && /^\d+$/.test(step) ? Number(step) : undefined;
    s.tool = toStr(a['gen_ai.tool.name']) ?? toStr(a['tool.name']);
    s.command = commandOf(a['gen_ai.tool.call.arguments'] ?? a['input.value']);
    s.host = toStr(first(a, res, ['host.name', 'host']));
    s.sandbox = toStr(first(a, res, ['container.id', 'corral.sandbox', 'sandbox', 'k8s.pod.name']));
    s.ips = ipsOf(first(a, res, ['net.host.ip']), first(a, res, ['host.ip']), first(a, res, ['network.local.address']));
    this.stats.records++;
    this.onSpan(s);
  }

  /** A whole document {resourceSpans: […]}. */
  doc(d: Record<string, unknown>, line: number): void {
    const rs = d.resourceSpans;
    if (!Array.isArray(rs)) { this.stats.badLine(line, 'not an OTLP document (no "resourceSpans" array)'); return; }
    for (const r of rs) {
      if (!isObj(r)) { this.stats.tally('resourceSpans elements that are not objects skipped', line); continue; }
      const res = attrsOf(isObj(r.resource) ? r.resource.attributes : undefined);
      const list = r.scopeSpans ?? r.instrumentationLibrarySpans;
      if (!Array.isArray(list)) { if (list !== undefined) this.stats.tally('"scopeSpans" that are not lists skipped', line); continue; }
      for (const sc of list) {
        if (isObj(sc) && Array.isArray(sc.spans)) for (const sp of sc.spans) this.span(sp, res, line);
        else if (!isObj(sc) || sc.spans !== undefined) this.stats.tally('scope spans that are not {"spans": […]} skipped', line);
      }
    }
  }
}

/** True when the first non-blank line of the file is a complete JSON value (JSON-lines mode). */
export function firstLineIsDocument(path: string): boolean {
  for (const l of headBytes(path, 1 << 20).toString('utf8').split('\n')) {
    if (isBlank(l)) continue;
    try { JSON.parse(l); return true; } catch { return false; }
  }
  return false;
}

/**
 * A file of OTLP documents (not JSON lines), or one range of it (otlp-resync.ts): its spans, the
 * stats (in a range, lines counted from 1; the caller shifts them), and how the scan ended, for
 * the caller to check that a range began and ended where the ranges were cut.
 */
export async function readDocument(path: string, onSpan: (s: ToolCallSpan) => void, opts: TraceReadOptions, range?: ScanRange): Promise<{ stats: ReadStats; scan: ScanResult }> {
  const stats = new StatsBuilder(path, 'otlp-json');
  const ts = new TsParser({ tz: opts.tz });
  const st = new OtlpState(path, stats, ts, opts.assumedDurationMs ?? DEFAULT_ASSUMED_DURATION_MS, onSpan);
  // Tool spans seen before their resource (JSON key order is free) wait until the resource is known
  // (up to MAX_PENDING_BYTES; unbounded: the resource's element read on without it).
  let res: Attrs | undefined;
  let pending: { bytes: Buffer; line: number }[] = [];
  let pendingBytes = 0, unresourced = false;
  const flushPending = (r: Attrs): void => {
    for (const p of pending) emit(p.bytes, p.line, r);
    pending = []; pendingBytes = 0;
  };
  // Most spans of an agent trace are model calls: skip them without decoding them (an ASCII
  // word is in UTF-8 bytes exactly when it is in their decoded text).
  const toolSpan = (bytes: Buffer): boolean => bytes.indexOf(EXECUTE_TOOL) >= 0 || bytes.indexOf(OI_TOOL) >= 0;
  const emit = (bytes: Buffer, line: number, r: Attrs): void => {
    if (!toolSpan(bytes)) { stats.skip('span:not execute_tool'); return; }
    let sp: unknown;
    try { sp = JSON.parse(bytes.toString('utf8')); } catch (e) { stats.badLine(line, `invalid span JSON: ${(e as Error).message}`); return; }
    st.span(sp, r, line);
  };
  const off = (s: readonly { arr: boolean }[]): number => (s[0]?.arr ? 1 : 0);
  const scan = await scanJson(path, {
    want(s) {
      const o = off(s), d = s.length - o;
      if (d === 3 && s[o]!.key === 'resourceSpans' && s[o + 2]!.key === 'resource') return 'resource';
      if (d === 6 && s[o]!.key === 'resourceSpans' && s[o + 4]!.key === 'spans' && (s[o + 2]!.key === 'scopeSpans' || s[o + 2]!.key === 'instrumentationLibrarySpans')) return 'span';
      return undefined;
    },
    captured(tag, bytes, line) {
      if (tag === 'resource') {
        try { const r = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>; res = attrsOf(r.attributes); } catch (e) { stats.badLine(line, `invalid resource JSON: ${(e as Error).message}`); res = {}; }
        flushPending(res);
      } else if (res !== undefined) emit(bytes, line, res);
      else if (!toolSpan(bytes)) stats.skip('span:not execute_tool');
      else if (unresourced || pendingBytes + bytes.length > MAX_PENDING_BYTES) {
        if (!unresourced) stats.note(`more than ${MAX_PENDING_BYTES >> 20} MiB of tool spans before their resource (from line ${pending[0]?.line ?? line}): read without its attributes (host, sandbox, ip)`);
        unresourced = true;
        flushPending({});
        emit(bytes, line, {});
      } else { pending.push({ bytes: Buffer.from(bytes), line }); pendingBytes += bytes.length; }
    },
    closed(s) {
      const o = off(s);
      if (s.length - o === 3 && s[o]!.key === 'resourceSpans' && !s[o + 2]!.arr) {
        flushPending({});
        res = undefined; unresourced = false;
      }
    },
    problem(line, error) { stats.badLine(line, error); },
  }, opts.onProgress, range);
  // A document cut before its resource (or its element's end) came: the complete spans are kept.
  // (a range that ends inside an element is no valid cut: its caller reads the document whole)
  if (pending.length && !range) {
    stats.note(`${pending.length} tool spans (from line ${pending[0]!.line}) whose resource never came (the document ends first): read without its attributes (host, sandbox, ip)`);
    flushPending({});
  }
  if (st.assumed) stats.note(`${st.assumed} spans had no end time: end assumed ${st.assumedMs} ms after start (endKnown=false)`);
  return { stats: stats.finish(ts, scan.bytes), scan };
}

export const otlpTraceReader: SpanReader = {
  format: 'otlp-json',
  read(path, onSpan, opts = {}) {
    if (!firstLineIsDocument(path)) {
      // One document cannot be split by line ranges: the range that starts at 0 reads it all, the others nothing.
      if (opts.range && opts.range.start > 0) return Promise.resolve(new StatsBuilder(path, 'otlp-json').finish(undefined, 0));
      return readDocument(path, onSpan, opts).then((r) => r.stats);
    }
    let st: OtlpState | undefined;
    return readLines(path, 'otlp-json', opts, (ctx) => {
      st = new OtlpState(ctx.file, ctx.stats, ctx.ts, opts.assumedDurationMs ?? DEFAULT_ASSUMED_DURATION_MS, onSpan);
      return (text, line, info) => {
        if (isBlank(text)) return;
        const d = parseObject(text);
        if (typeof d === 'string') { ctx.stats.badLine(line, lineError(d, info.unterminated)); return; }
        st!.doc(d, line);
      };
    }, ({ stats }) => { if (st?.assumed) stats.note(`${st.assumed} spans had no end time: end assumed ${st.assumedMs} ms after start (endKnown=false)`); });
  },
};
