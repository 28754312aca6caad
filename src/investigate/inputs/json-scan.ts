// Why: an OTLP JSON export is often one big document ({"resourceSpans":[…]}) of many GB.
// JSON.parse would need the whole file (and several times its size) in memory. This scanner
// walks the bytes once, tracks only nesting, object keys and string boundaries, and hands out
// the few sub-values a caller asks for (here: each span and each resource) as small JSON texts
// (their bytes: a caller may skip one without decoding it) to JSON.parse. The walk through a
// captured value is native when the addon is built (native/json-skip.c, the same rules).
// Memory: one chunk plus the largest captured value (capped).
// Threat stopped: a huge or hostile trace file exhausting memory.
import { statSync } from 'node:fs';
import { ContentError, openContent } from './source.js';
import { jsonLinesAddon } from './json-lines.js';

export const MAX_CAPTURE_BYTES = 64 << 20;
/** Deeper nesting than any OTLP export has; stops a '[[[[…' file from growing the stack without bound. */
export const MAX_DEPTH = 256;
/** Longest object key kept (the keys asked about are short names): a key of GBs is not held in memory. */
const MAX_KEY_BYTES = 4096;

interface Frame { arr: boolean; key: string | undefined; idx: number }

type SkipValue = (buf: Uint8Array, from: number, to: number, state: Int32Array, room: number) => number;
function skipAddon(): SkipValue | undefined {
  const a = jsonLinesAddon() as { skipValue?: SkipValue } | undefined;
  return a?.skipValue;
}

/**
 * Where a scan starts and stops inside one document (parallel reading, see otlp-resync.ts): bytes
 * [start, end) of a plain file, entered with this stack of open containers. A range that ends
 * before the document does is not "truncated": its caller compares the stack it ended with.
 */
export interface ScanRange { start: number; end: number; stack: readonly { arr: boolean; key?: string }[] }

/** What a scan saw: bytes read, newlines, structural problems, and the open containers at its end. */
export interface ScanResult { bytes: number; newlines: number; problems: number; stack: { arr: boolean; key?: string }[] }

export interface ScanHandlers {
  /** Called at each '{' outside a capture; return a tag to capture that object, or undefined. */
  want(stack: readonly Frame[]): string | undefined;
  /** A captured object's bytes (valid until the handler returns: copy to keep), and the line it started on. */
  captured(tag: string, bytes: Buffer, line: number): void;
  /** A container closed; stack is as it was while inside it (the closed frame last). */
  closed(stack: readonly Frame[]): void;
  /** Structural problems: junk between documents, oversize values, truncation. */
  problem(line: number, error: string): void;
}

/** Streams path (or one range of it) through the scanner. */
export async function scanJson(path: string, h: ScanHandlers, onProgress?: (b: number, t: number) => void, range?: ScanRange): Promise<ScanResult> {
  const total = range ? range.end - range.start : statSync(path).size;
  const stack: Frame[] = range ? range.stack.map((f) => ({ arr: f.arr, key: f.key, idx: 0 })) : [];
  let problems = 0;
  const problem = (at: number, error: string): void => { problems++; h.problem(at, error); };
  // (the stack reported ends at a captured value: the frames inside it are the native walk's depth only)
  const result = (bytes: number): ScanResult => ({
    bytes, newlines: line - 1, problems,
    stack: (capTag !== undefined ? stack.slice(0, capDepth + 1) : stack).map((f) => ({ arr: f.arr, ...(f.key !== undefined ? { key: f.key } : {}) })),
  });
  let line = 1;
  let inStr = false;
  let escNext = false;
  let isKey = false;
  let keyParts: Buffer[] = [];
  let keyLen = 0;
  let wantKey = false;
  let capTag: string | undefined;
  let capDepth = 0;
  let capLine = 0;
  let capParts: Buffer[] = [];
  let capLen = 0;
  let capDropped = false;
  let skipToNl = false;
  let docLine = 1;
  let bytes = 0;
  // The native walk through captured values, when the addon is built (else the loop below does it).
  const skip = skipAddon();
  let skipping = false;
  const skipState = new Int32Array(4);
  const content = openContent(path, { chunkBytes: 1 << 20, ...(range ? { start: range.start, end: range.end } : {}) }); // (gzip decompressed on the way)
  try {
    for await (const chunk of content.chunks) {
      let capStart = capTag !== undefined ? 0 : -1;
      let keyStart = inStr && isKey ? 0 : -1;
      const n = chunk.length;
      for (let i = 0; i < n; i++) {
        if (skipping) {
          // Inside a captured value: native/json-skip.c walks to its closing bracket (same rules as below).
          const p = skip!(chunk, i, n, skipState, MAX_DEPTH - stack.length);
          line += skipState[3]!;
          if (p < 0) { problem(line, `JSON nested deeper than ${MAX_DEPTH} levels; the rest of the file is not read`); return result(bytes - p - 1); }
          if (p >= n) break;
          skipping = false;
          i = p; // the closing bracket, handled below
        }
        if (inStr) {
          // Inline scan to the closing quote (most strings are short; a native call per string costs more).
          if (escNext) { escNext = false; i++; }
          while (i < n) {
            const b = chunk[i]!;
            if (b === 34) break;
            i += b === 92 ? 2 : 1;
          }
          if (i >= n) { escNext = i > n; break; }
          inStr = false;
          if (isKey) {
            keyParts.push(chunk.subarray(keyStart, i));
            keyLen += i - keyStart;
            const top = stack[stack.length - 1];
            if (top) top.key = capTag === undefined && stack.length <= 8 && keyLen <= MAX_KEY_BYTES ? Buffer.concat(keyParts).toString('utf8') : undefined;
            keyParts = []; keyLen = 0;
            isKey = false;
          }
          continue;
        }
        const c = chunk[i]!;
        if (skipToNl) { if (c === 10) { line++; skipToNl = false; } continue; }
        switch (c) {
          case 10: line++; break;
          case 34: // '"'
            inStr = true;
            if (wantKey) { wantKey = false; if (capTag === undefined) { isKey = true; keyStart = i + 1; keyParts = []; keyLen = 0; } }
            break;
          case 123: case 91: { // '{' '['
            if (stack.length === 0) docLine = line;
            if (c === 123 && capTag === undefined) {
              const tag = h.want(stack);
              if (tag !== undefined) { capTag = tag; capDepth = stack.length; capLine = line; capParts = []; capLen = 0; capDropped = false; capStart = i; skipping = skip !== undefined; skipState.fill(0); }
            }
            if (stack.length >= MAX_DEPTH) {
              problem(line, `JSON nested deeper than ${MAX_DEPTH} levels; the rest of the file is not read`);
              return result(bytes + i);
            }
            stack.push({ arr: c === 91, key: undefined, idx: 0 });
            wantKey = c === 123;
            break;
          }
          case 125: case 93: { // '}' ']'
            if (stack.length === 0) { problem(line, `unexpected "${String.fromCharCode(c)}" outside any document`); break; }
            if (capTag !== undefined && stack.length === capDepth + 1) {
              const piece = chunk.subarray(capStart, i + 1);
              if (!capDropped) h.captured(capTag, capParts.length ? Buffer.concat([...capParts, piece]) : piece, capLine);
              capTag = undefined; capParts = []; capStart = -1;
            }
            if (capTag === undefined) h.closed(stack);
            stack.pop();
            wantKey = false;
            break;
          }
          case 44: { // ','
            const top = stack[stack.length - 1];
            if (top) { if (top.arr) top.idx++; else wantKey = true; }
            break;
          }
          case 32: case 9: case 13: case 58: break;
          default:
            if (stack.length === 0) { problem(line, `unexpected text outside a JSON document (byte 0x${c.toString(16)}); skipped to the end of the line`); skipToNl = true; }
        }
      }
      if (capTag !== undefined && capStart >= 0) {
        capLen += n - capStart;
        if (capLen > MAX_CAPTURE_BYTES) { if (!capDropped) problem(capLine, `value larger than ${MAX_CAPTURE_BYTES} bytes; skipped`); capDropped = true; capParts = []; }
        else capParts.push(chunk.subarray(capStart));
      }
      if (inStr && isKey && keyStart >= 0) {
        // (a longer key is no key asked about: only its length is kept)
        keyLen += n - keyStart;
        if (keyLen <= MAX_KEY_BYTES) keyParts.push(chunk.subarray(keyStart)); else keyParts = [];
      }
      bytes += n;
      onProgress?.(content.progress(), total);
    }
  } catch (e) {
    if (!(e instanceof ContentError)) throw e;
    problem(line, e.message);
    return result(bytes);
  }
  // (a range's caller compares the stack it ended with instead)
  const open = stack.length + (skipping ? skipState[0]! : 0);
  if (open > 0 && !range) problem(docLine, `document starting at line ${docLine} is truncated: ${open} unclosed bracket(s) at end of file`);
  return result(bytes);
}

