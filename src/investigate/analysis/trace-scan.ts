// Why: 10 M tool calls are 2.7 GB of canonical JSONL, and JSON.parse of every line (≈1.5 µs
// each) is most of an investigation's time. Lines written by one writer for one episode share
// their layout: the same keys at the same offsets from the line's start (fields before the
// command) or end (fields after it), the same episode and IP. This scanner learns that layout
// from a line the full parser accepted, then reads the next lines by checking a handful of
// literal patterns at the predicted offsets and parsing the two timestamps in place (≈0.2 µs).
// When the episode or IP changes, the fields are found again on that line (each key exactly
// once). Any line that does not fit, whose IP has an alert near the call (a possible
// candidate), or that opens a new episode under an IP with alerts goes through the full parser
// (traces-canonical.ts), which reports bad lines with file:line; the layout is learned again.
// An episode opened without a full parse that later runs under an alert key is reported
// (LinkState.mixed) and trace-pass.ts reads the traces again with exact=true.
// Why the patterns are safe: inside a JSON string every '"' is escaped, so a text like
// `"ip":"10.0.0.1"` with bare quotes can only be the key "ip" and its value, never part of a
// command. What the fast path does not check: the bytes of fields it does not use (a line
// corrupted only inside, say, its command text is not reported unless its IP raised alerts).
// Threat stopped: a fleet's traces taking minutes to analyse (or being sampled instead).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { ToolCallSpan } from '../types.js';
import type { LineCtx } from '../inputs/base.js';
import { MAX_LINE_BYTES, type LineRange } from '../inputs/lines.js';
import { StatsBuilder, type ReadStats } from '../inputs/stats.js';
import { TsParser } from '../inputs/timestamps.js';
import { canonicalLineHandler } from '../inputs/traces-canonical.js';
import { leavesProcessRunning } from './command-evidence.js';
import type { EpisodeAgg, KeyState, SpanLinker } from './linker.js';

/** Small enough that each chunk becomes a young, sequential V8 string: 1 MiB chunks decode 7× slower (large-object space). */
const CHUNK = 64 << 10;

/**
 * Where a field of the last line was: pat (the key, and for episode and ip also the value and its
 * closing quote) at off from the line's start (fromEnd=false) or end. key: pat up to the value.
 */
interface Field { pat: string; key: string; off: number; fromEnd: boolean }
interface Layout { ep: Field; cmd: Field; ip: Field; ts: Field; end: Field; agg: EpisodeAgg; st: KeyState | undefined }

export interface ScanResult { stats: ReadStats; lines: number; fast: number }

/**
 * Reads a canonical trace (or a line-aligned range of it) into the linker. Line numbers start
 * at range.firstLine (1 when absent or 0 = unknown; the caller then shifts them). The linker
 * must have no placements (quickCheck() does not apply them). With exact, the first call of every
 * episode is read in full (see LinkState.mixed).
 */
export async function scanCanonical(path: string, linker: SpanLinker, opts: { range?: LineRange; assumedDurationMs: number; exact?: boolean; onProgress?: (bytes: number, total: number) => void }): Promise<ScanResult> {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const stats = new StatsBuilder(path, 'canonical-jsonl');
    const ts = new TsParser({ refMs: fstatSync(fd).mtimeMs });
    const ctx: LineCtx = { file: path, stats, ts, cats: new Map() };
    let layout: Layout | undefined;
    let cur = ''; let curFrom = 0; let curNl = 0; let relearn = true;
    const { handle, finish } = canonicalLineHandler(ctx, (span: ToolCallSpan) => {
      linker.add(span);
      if (relearn) layout = learn(cur, curFrom, curNl, span, linker, ts);
    }, opts.assumedDurationMs);
    const begin = opts.range?.start ?? 0, stop = opts.range?.end ?? size, total = stop - begin;
    let lineNo = Math.max(1, opts.range?.firstLine ?? 1) - 1;
    const first = lineNo;
    let fast = 0, pos = begin, carry = 0, skipping = 0;
    let buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(total, 1)) + 1);
    const overlong: { line: number; bytes: number }[] = [];
    const info = { unterminated: false };
    // Whether a command can leave a process running, by its raw JSON text (commands repeat).
    const detachedCache = new Map<string, boolean>();
    /** The command string starting at s[at] (after its opening quote): can it outlive the call? undefined when unsure. */
    const detachedAt = (s: string, at: number, nl: number): boolean | undefined => {
      let q = s.indexOf('"', at);
      let escaped = false;
      while (q > 0 && q < nl && s.charCodeAt(q - 1) === 92) {
        let k = q - 1;
        while (s.charCodeAt(k) === 92) k--;
        if ((q - 1 - k) % 2 === 0) break;
        escaped = true;
        q = s.indexOf('"', q + 1);
      }
      if (q < 0 || q >= nl) return undefined;
      const raw = s.slice(at, q);
      let d = detachedCache.get(raw);
      if (d !== undefined) return d;
      let text = buf.toString('utf8', at, q);
      if (escaped || text.indexOf('\\') >= 0) { try { text = JSON.parse(`"${text}"`) as string; } catch { return undefined; } }
      d = leavesProcessRunning(text);
      if (detachedCache.size >= 100_000) detachedCache.clear();
      detachedCache.set(raw, d);
      return d;
    };
    const slow = (from: number, nl: number): void => {
      const end = nl > from && buf[nl - 1] === 13 ? nl - 1 : nl;
      handle(buf.toString('utf8', from, end), lineNo, info);
    };
    const exact = opts.exact === true;
    /** Other offsets the command key was seen at (the tool name before it varies). */
    const cmdAlt = [0, 0, 0];
    // Next occurrence of a pattern in the current chunk at or after a position. Lines are visited
    // in order, so each pattern is searched through a chunk at most once in all: a pattern
    // missing from a line never makes each line scan to the chunk's end.
    let cursorOf = '';
    const cursors = new Map<string, number>();
    const nextAt = (s: string, pat: string, at: number): number => {
      if (s !== cursorOf) { cursors.clear(); cursorOf = s; }
      let p = cursors.get(pat);
      if (p === undefined || (p >= 0 && p < at)) { p = s.indexOf(pat, at); cursors.set(pat, p); }
      return p;
    };
    /** Reads one line by the layout: 0 done, 1 the layout does not fit, 2 a possible candidate (full parse). */
    const tryFast = (s: string, from: number, nl: number, L: Layout): 0 | 1 | 2 => {
      if (!s.startsWith(L.ip.pat, L.ip.fromEnd ? nl - L.ip.off : from + L.ip.off)
        || !s.startsWith(L.ep.pat, L.ep.fromEnd ? nl - L.ep.off : from + L.ep.off)) return 1;
      // The command key moves with the length of the fields before it (tool, call id):
      // looked for near where it was, and it must come before the line's end.
      // Four remembered offsets: tools vary ("bash", "python", …), and so does where it is.
      let c = from + L.cmd.off;
      if (!s.startsWith(L.cmd.pat, c)) {
        let k = 0;
        while (k < 3 && !s.startsWith(L.cmd.pat, from + cmdAlt[k]!)) k++;
        if (k < 3) c = from + cmdAlt[k]!;
        else {
          c = nextAt(s, L.cmd.pat, from);
          if (c < 0 || c >= nl) return 1;
          cmdAlt[2] = cmdAlt[1]!; cmdAlt[1] = cmdAlt[0]!; cmdAlt[0] = L.cmd.off; L.cmd.off = c - from;
        }
      }
      const tsAt = (L.ts.fromEnd ? nl - L.ts.off : from + L.ts.off) + L.ts.pat.length;
      const endAt = (L.end.fromEnd ? nl - L.end.off : from + L.end.off) + L.end.pat.length;
      if (!s.startsWith(L.ts.pat, tsAt - L.ts.pat.length) || !s.startsWith(L.end.pat, endAt - L.end.pat.length)
        || s.charCodeAt(tsAt + 24) !== 34 || s.charCodeAt(endAt + 24) !== 34) return 1;
      const a = ts.isoZAt(s, tsAt), b = ts.isoZAt(s, endAt);
      if (!(b >= a)) return 1;
      const q = L.st === undefined ? 0 : linker.quickCheck(a, b, L.st);
      if (q === 1 || (q === 2 && detachedAt(s, c + L.cmd.pat.length, nl) !== false)) return 2;
      linker.quickCommit(L.agg, a, b, L.st); ts.acceptZoned(a); ts.acceptZoned(b); stats.records++; fast++;
      return 0;
    };
    /** The layout moved to this line's episode and IP, or undefined (full parse). */
    const adapt = (L0: Layout | undefined, s: string, from: number, nl: number): Layout | undefined => {
      if (L0 === undefined) return undefined;
      // Each key must occur once (JSON.parse keeps the last of duplicates; nested keys differ).
      const find = (f: Field): number => {
        const first = nextAt(s, f.key, from);
        if (first < 0 || first >= nl) return -1;
        const second = nextAt(s, f.key, first + 1);
        return second >= 0 && second < nl ? -1 : first;
      };
      // A line with "ips" gets the union of ip and ips: read in full.
      if (s.slice(from, nl).includes('"ips"')) return undefined;
      const moved = (f: Field, p: number, pat: string): Field => ({ pat, key: f.key, off: f.fromEnd ? nl - p : p - from, fromEnd: f.fromEnd });
      const value = (f: Field, p: number): string | undefined => {
        const v = p + f.key.length, e = s.indexOf('"', v);
        if (e < 0 || e >= nl || e === v) return undefined;
        for (let i = v; i < e; i++) { const ch = s.charCodeAt(i); if (ch < 32 || ch > 126 || ch === 92) return undefined; }
        return s.slice(v, e);
      };
      const pe = find(L0.ep), pi = find(L0.ip), pt = find(L0.ts), pn = find(L0.end);
      if (pe < 0 || pi < 0 || pt < 0 || pn < 0) return undefined;
      const ep = value(L0.ep, pe), ip = value(L0.ip, pi);
      if (ep === undefined || ip === undefined) return undefined;
      const st = linker.ipState(ip);
      let agg = linker.episodeAgg(ep);
      if (agg === undefined) {
        if (st !== undefined || exact) return undefined; // its first call is read in full (run, host, sandbox)
        agg = linker.newEpisode(ep);
      }
      return {
        ep: moved(L0.ep, pe, `${L0.ep.key}${ep}"`), ip: moved(L0.ip, pi, `${L0.ip.key}${ip}"`),
        ts: moved(L0.ts, pt, L0.ts.key), end: moved(L0.end, pn, L0.end.key), cmd: L0.cmd, agg, st,
      };
    };
    while (pos < stop) {
      if (carry === buf.length) {
        if (buf.length >= MAX_LINE_BYTES) { skipping += carry; carry = 0; }
        else { const b = Buffer.allocUnsafe(Math.min(buf.length * 2, MAX_LINE_BYTES)); buf.copy(b, 0, 0, carry); buf = b; }
      }
      const got = readSync(fd, buf, carry, Math.min(buf.length - carry, stop - pos), pos);
      if (got <= 0) break;
      pos += got;
      const n = carry + got;
      let from = 0;
      if (skipping) {
        const nl = buf.indexOf(10, carry);
        if (nl < 0 || nl >= n) { skipping += n - carry; carry = 0; continue; }
        lineNo++; overlong.push({ line: lineNo, bytes: skipping + nl - carry }); skipping = 0;
        from = nl + 1;
      }
      const last = buf.lastIndexOf(10, n - 1);
      if (last >= from) {
        const s = buf.toString('latin1', 0, last + 1);
        cur = s;
        for (;;) {
          const nl = s.indexOf('\n', from);
          if (nl < 0) break;
          lineNo++;
          let how = layout === undefined || s.charCodeAt(from) !== 123 || s.charCodeAt(nl - 1) !== 125 ? 1 : tryFast(s, from, nl, layout);
          if (how === 1 && s.charCodeAt(from) === 123 && s.charCodeAt(nl - 1) === 125) {
            // Another episode or IP (or field lengths) than the line before: find the fields again
            // near where they were; a new episode under an IP with alerts is read in full.
            const L = adapt(layout, s, from, nl);
            if (L !== undefined) { layout = L; how = tryFast(s, from, nl, L); }
          }
          if (how !== 0) { curFrom = from; curNl = nl; relearn = how === 1; slow(from, nl); }
          from = nl + 1;
        }
        cur = '';
      }
      carry = n - (last >= from ? last + 1 : from);
      if (carry > 0) buf.copy(buf, 0, n - carry, n);
      opts.onProgress?.(pos - begin - carry, total);
    }
    if (skipping) { lineNo++; overlong.push({ line: lineNo, bytes: skipping + carry }); }
    else if (carry > 0) {
      lineNo++;
      let end = carry;
      if (buf[end - 1] === 13) end--;
      handle(buf.toString('utf8', 0, end), lineNo, { unterminated: true });
    }
    opts.onProgress?.(total, total);
    finish();
    return { stats: stats.finish(ts, pos - begin, overlong), lines: lineNo - first, fast };
  } finally { closeSync(fd); }
}

/** The layout of a line the full parser accepted, or undefined when it does not fit the fast path. */
function learn(s: string, from: number, nl: number, span: ToolCallSpan, linker: SpanLinker, ts: TsParser): Layout | undefined {
  if (s === '' || !span.endKnown || span.ips?.length !== 1 || span.command === undefined) return undefined;
  const agg = linker.episodeAgg(span.episode);
  if (!agg) return undefined;
  const t = s.slice(from, nl);
  const key = (name: string): { k: number; v: number } | undefined => {
    const q = `"${name}"`;
    const k = t.indexOf(q);
    if (k < 0 || t.indexOf(q, k + 1) >= 0) return undefined;
    let v = k + q.length;
    while (t.charCodeAt(v) === 32) v++;
    if (t.charCodeAt(v) !== 58) return undefined;
    v++;
    while (t.charCodeAt(v) === 32) v++;
    return t.charCodeAt(v) === 34 ? { k, v: v + 1 } : undefined;
  };
  if (t.indexOf('"ips"') >= 0) return undefined;
  const ep = key('episode'), cmd = key('command'), ip = key('ip'), a = key('ts'), b = key('end_ts');
  if (!ep || !cmd || !ip || !a || !b) return undefined;
  const epEnd = t.indexOf('"', ep.v), ipEnd = t.indexOf('"', ip.v);
  if (t.slice(ep.v, epEnd) !== span.episode || t.slice(ip.v, ipEnd) !== span.ips[0]) return undefined;
  if (ts.isoZAt(t, a.v) !== span.start || ts.isoZAt(t, b.v) !== span.end || t.charCodeAt(a.v + 24) !== 34 || t.charCodeAt(b.v + 24) !== 34) return undefined;
  const n = t.length;
  // Fields before the command sit at fixed offsets from the start, fields after it from the end.
  const field = (k: number, v: number, patEnd: number): Field => {
    const fromEnd = k > cmd.k;
    return { pat: t.slice(k, patEnd), key: t.slice(k, v), off: fromEnd ? n - k : k, fromEnd };
  };
  return {
    ep: field(ep.k, ep.v, epEnd + 1), cmd: { pat: t.slice(cmd.k, cmd.v), key: t.slice(cmd.k, cmd.v), off: cmd.k, fromEnd: false },
    ip: field(ip.k, ip.v, ipEnd + 1), ts: field(a.k, a.v, a.v), end: field(b.k, b.v, b.v),
    agg, st: linker.ipState(span.ips[0]!),
  };
}
