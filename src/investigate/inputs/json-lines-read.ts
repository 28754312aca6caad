// Why: the line loop shared by the readers that use the native JSON Lines scanner (canonical
// traces, eve.json): reads a file (or a line-aligned range) in 1 MiB chunks into one Buffer,
// lets the scanner index each chunk's complete lines, and hands every line either to the
// reader's fast path (indexed fields) or, when the scanner could not vouch for it or the fast
// path declines, to the reader's full parser as text — with its true line number. Without the
// addon every line goes to the full parser.
// Threat stopped: a hostile or corrupt file (one gigantic line, a torn last line) exhausting
// memory or being silently dropped: lines over MAX_LINE_BYTES are skipped and reported, a last
// line without '\n' is handed over marked unterminated.
import { statSync } from 'node:fs';
import { ContentError, contentReader, isCompressed, startsWithBom } from './source.js';
import { forEachLine, MAX_LINE_BYTES, type LineInfo, type LineRange, type LineResult } from './lines.js';
import { JsonLineScanner, jsonLinesAddon, ST_BLANK, ST_OK, type KeyPath } from './json-lines.js';

const CHUNK = 1 << 20;

export interface JsonLineHandlers {
  /** Line i of the scanner's last batch, fields indexed: true when handled, false to have it parsed in full. */
  fast(sc: JsonLineScanner, buf: Buffer, i: number, lineNo: number): boolean;
  /** The full parser (also gets blank lines). */
  slow(text: string, lineNo: number, info: LineInfo): void;
  /** A new batch starts (values from the batch before are no longer "the line before"). */
  batch?(): void;
  /**
   * The scanner has indexed lines lines of buf, the first being line firstLine (before fast() sees
   * them). May return the indexes of the lines that still need fast()/slow(): every other line of
   * the batch is then taken as handled by the fast path.
   */
  chunk?(sc: JsonLineScanner, buf: Buffer, lines: number, firstLine: number): Int32Array | void;
}

/** Reads path (or opts.range of it) line by line; see JsonLineHandlers. */
export async function readJsonLines(path: string, keys: readonly KeyPath[], h: JsonLineHandlers, opts: { range?: LineRange; onProgress?: (bytes: number, total: number) => void; same?: readonly number[] }): Promise<LineResult & { fast: number }> {
  const addon = jsonLinesAddon();
  if (!addon) return { ...(await forEachLine(path, h.slow, opts)), fast: 0 };
  const sc = new JsonLineScanner(addon, keys, opts.same);
  const size = statSync(path).size;
  const gz = isCompressed(path); // (read whole, decompressed: its content is longer than the file)
  const reader = contentReader(path, opts.range?.start ?? 0);
  try {
    const begin = opts.range?.start ?? 0, stop = gz ? Infinity : opts.range?.end ?? size, total = gz ? size : Math.max(0, stop - begin);
    let lineNo = Math.max(1, opts.range?.firstLine ?? 1) - 1;
    const first = lineNo;
    let fast = 0, pos = begin, carry = 0, skipping = 0, atStart = begin === 0;
    let error: LineResult['error'];
    let buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(gz ? CHUNK : total, 1)) + 1);
    const overlong: { line: number; bytes: number }[] = [];
    const info: LineInfo = { unterminated: false };
    while (pos < stop) {
      if (carry === buf.length) {
        if (buf.length >= MAX_LINE_BYTES) { skipping += carry; carry = 0; }
        else { const nb = Buffer.allocUnsafe(Math.min(buf.length * 2, MAX_LINE_BYTES)); buf.copy(nb, 0, 0, carry); buf = nb; }
      }
      let got: number;
      try { got = await reader.read(buf, carry, Math.min(buf.length - carry, stop - pos)); } catch (e) {
        if (!(e instanceof ContentError)) throw e;
        // A corrupt gzip stream: what came before is read; the partial line at the break is not.
        error = { line: lineNo + 1, message: e.message }; carry = 0; skipping = 0;
        break;
      }
      if (got <= 0) break;
      pos += got;
      const n = carry + got;
      let from = 0;
      // A UTF-8 byte order mark at the start of a plain file is not content (the stream of a compressed one has none left).
      if (atStart) { atStart = false; if (startsWithBom(buf.subarray(0, n))) from = 3; }
      if (skipping) {
        const nl = buf.indexOf(10, carry);
        if (nl < 0 || nl >= n) { skipping += n - carry; carry = 0; continue; }
        lineNo++; overlong.push({ line: lineNo, bytes: skipping + nl - carry }); skipping = 0;
        from = nl + 1;
      }
      for (;;) {
        h.batch?.();
        const lines = sc.scan(buf, from, n);
        const todo = lines > 0 ? h.chunk?.(sc, buf, lines, lineNo + 1) : undefined;
        const base = lineNo;
        const count = todo ? todo.length : lines;
        if (todo) fast += lines - todo.length;
        for (let t = 0; t < count; t++) {
          const i = todo ? todo[t]! : t;
          lineNo = base + i + 1;
          const s = sc.status(i);
          if (s === ST_BLANK) continue;
          if (s === ST_OK && h.fast(sc, buf, i, lineNo)) { fast++; continue; }
          h.slow(buf.toString('utf8', sc.lineStart(i), sc.contentEnd(i)), lineNo, info);
        }
        lineNo = base + lines;
        if (lines === 0) break;
        from = sc.lineEnd(lines - 1) + 1;
      }
      carry = n - from;
      if (carry > 0) buf.copy(buf, 0, from, n);
      opts.onProgress?.(gz ? reader.progress() : pos - begin - carry, total);
    }
    if (skipping) { lineNo++; overlong.push({ line: lineNo, bytes: skipping + carry }); }
    else if (carry > 0) {
      lineNo++;
      let end = carry;
      if (buf[end - 1] === 13) end--;
      h.slow(buf.toString('utf8', 0, end), lineNo, { unterminated: true });
    }
    opts.onProgress?.(total, total);
    return { bytes: pos - begin, lines: lineNo - first, total, overlong, fast, ...(error ? { error } : {}) };
  } finally { reader.close(); }
}
