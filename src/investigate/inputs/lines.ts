// Why: every reader of `corral investigate` walks files of up to several GB line by line.
// readline is slow and decodes per line; this reader takes 1 MiB chunks, cuts each chunk
// at its last newline byte (so multi-byte UTF-8 characters are never split: the byte-level
// cutting is util/line-splitter.ts, shared with the event store's session-log reader), decodes
// that part once and hands out lines with indexOf. Memory stays at O(chunk + longest line).
// Threat stopped: a hostile or corrupt log (one gigantic line, binary junk) exhausting
// memory or crashing the investigation; such lines are reported and skipped.
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { ContentError, openContent } from './source.js';
import { LineSplitter, MAX_LINE_BYTES } from '../../util/line-splitter.js';

export const CHUNK_BYTES = 1 << 20;
/** Lines longer than this are reported as bad and skipped (their bytes are never held). */
export { MAX_LINE_BYTES };

/** A header line of a file (Zeek "#fields …", a VPC field list), with its line number. */
export interface PreludeLine { text: string; line: number }

/** A byte range of a file that starts at a line start and ends after a newline (or at EOF). */
export interface LineRange { start: number; end: number; firstLine: number }

export interface LineOptions {
  onProgress?: (bytes: number, total: number) => void;
  /** Read only this part of the file (see splitLineRanges); line numbers start at range.firstLine. */
  range?: LineRange;
  /** Takes runs of lines before they are decoded (a native fast path); the lines it leaves go to onLine. */
  bulk?: BulkLines;
}

/** Takes whole lines of buf[from, to) (to is just after a '\n'); returns where the first line it left starts, and how many it took in `lines`. */
export interface BulkLines { take(buf: Buffer, from: number, to: number): number; lines: number }

export interface LineInfo {
  /** True for a last line that had no terminating newline (possibly a torn write). */
  unterminated: boolean;
}

export interface LineResult {
  bytes: number; lines: number; total: number; overlong: { line: number; bytes: number }[];
  /** Reading stopped early (a corrupt gzip stream): where, and why. The lines before it were read. */
  error?: { line: number; message: string };
}

/**
 * Calls onLine(text, lineNo, info) for each line (without '\n' or a trailing '\r').
 * Empty lines are passed too, so callers see true line numbers. onLine may throw only on
 * programming errors: parse errors are the caller's business.
 */
export async function forEachLine(path: string, onLine: (text: string, lineNo: number, info: LineInfo) => void, opts: LineOptions = {}): Promise<LineResult> {
  const fd = openSync(path, 'r');
  let size: number;
  try { size = fstatSync(fd).size; } finally { closeSync(fd); }
  const start = opts.range?.start ?? 0;
  const end = opts.range?.end ?? size;
  const total = end - start;
  // (firstLine 0 = unknown: numbered from 1, the caller shifts them)
  const lineBase = Math.max(1, opts.range?.firstLine ?? 1) - 1;
  let lineNo = lineBase;
  let bytes = 0;
  const overlong: { line: number; bytes: number }[] = [];
  const term: LineInfo = { unterminated: false };
  const bulk = opts.bulk;
  /** Lines of b[from, end) (end just after a '\n'): runs the bulk reader takes, the others decoded one by one. */
  const emitBytes = (b: Buffer, from: number, end: number): void => {
    let p = from;
    while (p < end) {
      p = bulk!.take(b, p, end);
      lineNo += bulk!.lines;
      if (p >= end) break;
      const nl = b.indexOf(10, p);
      lineNo++;
      onLine(b.toString('utf8', p, nl > p && b[nl - 1] === 13 ? nl - 1 : nl), lineNo, term);
      p = nl + 1;
    }
  };
  const emitText = (s: string): void => {
    let from = 0;
    for (;;) {
      const nl = s.indexOf('\n', from);
      if (nl < 0) break;
      lineNo++;
      const stop = nl > from && s.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      onLine(s.slice(from, stop), lineNo, term);
      from = nl + 1;
    }
  };
  /** Whole lines of b[from, end): through the bulk reader, or decoded at once and split. */
  const emit = (b: Buffer, from: number, end: number): void => { if (bulk) emitBytes(b, from, end); else emitText(b.toString('utf8', from, end)); };
  if (total <= 0) return { bytes: 0, lines: 0, total: 0, overlong };
  const splitter = new LineSplitter({
    lines: emit,
    overlong: (n) => { lineNo++; overlong.push({ line: lineNo, bytes: n }); },
    tail: (b) => {
      let s = b.toString('utf8');
      if (s.charCodeAt(s.length - 1) === 13) s = s.slice(0, -1);
      lineNo++;
      onLine(s, lineNo, { unterminated: true });
    },
  });
  // (a gzip file is decompressed on the way: see source.ts; progress counts the file's own bytes)
  const content = openContent(path, { start, end, chunkBytes: CHUNK_BYTES });
  let error: LineResult['error'];
  try {
    for await (const chunk of content.chunks) {
      bytes += chunk.length;
      splitter.push(chunk);
      opts.onProgress?.(content.progress(), total);
    }
  } catch (e) {
    if (!(e instanceof ContentError)) throw e;
    // The partial line at the break is not read.
    error = { line: lineNo + 1, message: e.message };
    splitter.drop();
  }
  splitter.end();
  return { bytes, lines: lineNo - lineBase, total, overlong, ...(error ? { error } : {}) };
}

/**
 * Cuts a file into n line-aligned byte ranges of about equal size, with the line number each
 * starts at, so n workers can read one file in parallel and still report true line numbers.
 * Counting lines reads the file once (memchr speed); pass countLines=false to skip that
 * (firstLine is then 0 for every range but the first, meaning "unknown").
 */
export function splitLineRanges(path: string, n: number, countLines = true): LineRange[] {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const cuts = [0];
    const probe = Buffer.allocUnsafe(1 << 16);
    for (let i = 1; i < n; i++) {
      let pos = Math.max(Math.floor((size * i) / n), cuts[cuts.length - 1]!);
      let found = -1;
      while (pos < size && found < 0) {
        const got = readSync(fd, probe, 0, probe.length, pos);
        if (got <= 0) break;
        const nl = probe.subarray(0, got).indexOf(10);
        if (nl >= 0) found = pos + nl + 1; else pos += got;
      }
      if (found < 0 || found >= size) break;
      if (found > cuts[cuts.length - 1]!) cuts.push(found);
    }
    cuts.push(size);
    const ranges: LineRange[] = [];
    let line = 1;
    let at = 0;
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    for (let i = 0; i + 1 < cuts.length; i++) {
      const s = cuts[i]!;
      if (countLines) {
        while (at < s) {
          const got = readSync(fd, buf, 0, Math.min(buf.length, s - at), at);
          if (got <= 0) break;
          const view = buf.subarray(0, got);
          let k = view.indexOf(10);
          while (k >= 0) { line++; k = view.indexOf(10, k + 1); }
          at += got;
        }
      }
      ranges.push({ start: s, end: cuts[i + 1]!, firstLine: countLines || i === 0 ? line : 0 });
    }
    return ranges;
  } finally { closeSync(fd); }
}

/**
 * For each cut (a line start), the header lines before it, in file order, so a range reader can
 * start with the state a serial read has there, and the number of the line the cut starts. A
 * header line is one for which isHeader holds; every header line must contain one of the needles
 * (found at memchr speed; only lines holding a needle are decoded). One read of the file up to
 * the last cut. undefined when a line before the last cut is longer than 1 MiB (the caller then
 * reads the file as a whole).
 */
export function headerLinesBefore(path: string, cuts: number[], needles: string[], isHeader: (line: string) => boolean): { preludes: PreludeLine[][]; firstLines: number[] } | undefined {
  const out: PreludeLine[][] = cuts.map(() => []);
  const firstLines = cuts.map(() => 1);
  const last = Math.max(0, ...cuts);
  if (last === 0) return { preludes: out, firstLines };
  const lineAt = new Map<number, number>();
  const fd = openSync(path, 'r');
  try {
    const found: { at: number; line: PreludeLine }[] = [];
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    const pats = needles.map((n) => Buffer.from(n));
    let pos = 0, line = 1, carry = 0;
    while (pos < last) {
      const got = readSync(fd, buf, carry, Math.min(buf.length - carry, last - pos), pos);
      if (got <= 0) break;
      const n = carry + got, base = pos - carry;
      pos += got;
      const end = pos >= last ? n : buf.lastIndexOf(10, n - 1) + 1; // whole lines only
      if (end <= 0) { if (n === buf.length) return undefined; carry = n; continue; } // a line over 1 MiB: do not split
      const starts = new Set<number>();
      for (const pat of pats) {
        for (let k = buf.indexOf(pat, 0); k >= 0 && k < end; k = buf.indexOf(pat, k + 1)) starts.add(k > 0 ? buf.lastIndexOf(10, k - 1) + 1 : 0);
      }
      // (the cuts in this part are line starts too: their line numbers are taken on the way)
      const cutsHere = new Set(cuts.filter((c) => c >= base && c - base < end).map((c) => c - base));
      let counted = 0;
      for (const s of [...new Set([...starts, ...cutsHere])].sort((a, b) => a - b)) {
        for (let k = buf.indexOf(10, counted); k >= 0 && k < s; k = buf.indexOf(10, k + 1)) line++;
        counted = s;
        if (cutsHere.has(s)) lineAt.set(base + s, line);
        if (!starts.has(s)) continue;
        let e = buf.indexOf(10, s);
        if (e < 0 || e > end) e = end;
        const text = buf.toString('utf8', s, e > s && buf[e - 1] === 13 ? e - 1 : e);
        if (isHeader(text)) found.push({ at: base + s, line: { text, line } });
      }
      for (let k = buf.indexOf(10, counted); k >= 0 && k < end; k = buf.indexOf(10, k + 1)) line++;
      carry = n - end;
      if (carry > 0) buf.copy(buf, 0, end, n);
    }
    lineAt.set(pos, line); // (the last cut, at the end of what was read)
    cuts.forEach((c, i) => { for (const f of found) if (f.at < c) out[i]!.push(f.line); firstLines[i] = c === 0 ? 1 : lineAt.get(c) ?? 0; });
    return { preludes: out, firstLines };
  } finally { closeSync(fd); }
}
