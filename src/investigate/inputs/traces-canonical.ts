// Why: the canonical trace (the replay format of `corral replay`, one tool call per line) is
// what RL trainers can write cheaply: {run?, episode, step, tool_call_id?, tool?, command, ts,
// end_ts? | duration_ms?, host?, sandbox?, ip?|ips?}. ts may be ISO or epoch (unit detected).
// A call with only ts gets end = ts + assumed duration and endKnown=false, so the analysis
// knows the window is a guess. Missing tool_call_id → "<episode>#<step>" (or "<file>:<line>").
import type { ToolCallSpan } from '../types.js';
import { DEFAULT_ASSUMED_DURATION_MS, isBlank, parseObject, readLines, type LineCtx, type LineHandler, type SpanReader } from './base.js';
import { canonicalIp, toStr } from './normalise.js';
import { lineError } from './stats.js';

/** A ToolCallSpan with every optional field present (one object shape). */
export function mkSpan(episode: string, id: string, start: number, end: number, endKnown: boolean, file: string, line: number): ToolCallSpan {
  return { run: undefined, episode, step: undefined, tool_call_id: id, tool: undefined, command: undefined, start, end, endKnown, host: undefined, sandbox: undefined, ips: undefined, file, line };
}

/** ip / ips as a string, an array of strings, or a comma-separated string. */
export function ipsOf(...vals: unknown[]): string[] | undefined {
  const v0 = vals[0];
  if (vals.length <= 2 && typeof v0 === 'string' && v0 !== '' && vals[1] === undefined && v0.indexOf(',') < 0) return [canonicalIp(v0)];
  const out: string[] = [];
  const add = (x: string): void => { const c = canonicalIp(x); if (!out.includes(c)) out.push(c); };
  for (const v of vals) {
    if (typeof v === 'string' && v !== '') for (const p of v.split(',')) { const s = p.trim(); if (s) add(s); }
    else if (Array.isArray(v)) for (const x of v) if (typeof x === 'string' && x) add(x);
  }
  return out.length ? out : undefined;
}

function intOf(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) ? n : undefined;
}

/**
 * The per-line parser of the canonical format (JSON.parse, every check, every bad line reported).
 * Shared by the reader below and the fast scanner (canonical-fast.ts), which falls back to it.
 * Returns the line handler and a finish step that adds the assumed-end note.
 */
/** Longest duration_ms taken as a call's (a year): a longer one is a unit mistake or garbage, and would put its end past any date. */
export const MAX_DURATION_MS = 31_536_000_000;

export function canonicalLineHandler(ctx: LineCtx, onSpan: (s: ToolCallSpan) => void, assumed: number): { handle: LineHandler; finish: () => void } {
  const { file, stats, ts } = ctx;
  let assumedCount = 0;
  const handle: LineHandler = (text, line, info) => {
    if (isBlank(text)) return;
    const o = parseObject(text);
    if (typeof o === 'string') { stats.badLine(line, lineError(o, info.unterminated)); return; }
    const episode = toStr(o.episode);
    if (episode === undefined) { stats.badLine(line, 'missing field "episode" (string)'); return; }
    if (typeof o.command !== 'string') { stats.badLine(line, 'missing field "command" (string)'); return; }
    const start = ts.parse(o.ts);
    if (Number.isNaN(start)) { stats.badLine(line, `missing or unparseable "ts" ${JSON.stringify(o.ts ?? null)}`); return; }
    let end: number, endKnown = true;
    if (o.end_ts !== undefined && o.end_ts !== null) {
      end = ts.parse(o.end_ts);
      if (Number.isNaN(end)) { stats.badLine(line, `unparseable "end_ts" ${JSON.stringify(o.end_ts)}`); return; }
    } else if (typeof o.duration_ms === 'number' && o.duration_ms >= 0 && o.duration_ms <= MAX_DURATION_MS) end = start + o.duration_ms;
    else if (o.duration_ms !== undefined) { stats.badLine(line, `"duration_ms" must be a number of milliseconds from 0 to ${MAX_DURATION_MS} (a year), got ${JSON.stringify(o.duration_ms)}`); return; }
    else { end = start + assumed; endKnown = false; assumedCount++; }
    if (end < start) { stats.badLine(line, `end before start (${new Date(end).toISOString()} < ${new Date(start).toISOString()})`); return; }
    const step = intOf(o.step);
    const id = toStr(o.tool_call_id) ?? (step !== undefined ? `${episode}#${step}` : `${file}:${line}`);
    const s = mkSpan(episode, id, start, end, endKnown, file, line);
    s.run = toStr(o.run);
    s.step = step;
    s.tool = toStr(o.tool);
    s.command = o.command;
    s.host = toStr(o.host);
    s.sandbox = toStr(o.sandbox) ?? toStr(o.container);
    s.ips = o.ips === undefined && typeof o.ip === 'string' && o.ip !== '' && o.ip.indexOf(',') < 0 ? [canonicalIp(o.ip)] : ipsOf(o.ip, o.ips);
    stats.records++;
    onSpan(s);
  };
  const finish = (): void => { if (assumedCount) stats.note(`${assumedCount} calls had no end_ts/duration_ms: end assumed ${assumed} ms after start (endKnown=false)`); };
  return { handle, finish };
}

export const canonicalTraceReader: SpanReader = {
  format: 'canonical-jsonl',
  read(path, onSpan, opts = {}) {
    const assumed = opts.assumedDurationMs ?? DEFAULT_ASSUMED_DURATION_MS;
    let done: (() => void) | undefined;
    return readLines(path, 'canonical-jsonl', opts, (ctx) => {
      const h = canonicalLineHandler(ctx, onSpan, assumed);
      done = h.finish;
      return h.handle;
    }, () => done?.());
  },
};
