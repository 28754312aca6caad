// Why: an OTLP export that is one JSON document ({"resourceSpans":[…]}, many GB) cannot be cut at
// line boundaries, so one thread used to read all of it (10 M calls: 101 s). It can be cut at
// the start of its ResourceSpans elements: in valid JSON the bytes `{` `"resource"` `:` (blanks
// allowed between) can only open an object whose first key is "resource" — a quote inside a
// string is always escaped — and in OTLP's schema only a ResourceSpans has that key (likewise
// "scopeSpans" and "instrumentationLibrarySpans"). Each range is then read from that point with
// the stack of open containers a serial read has there.
// Threat stopped: a document that is not what it seems (a decoy `{"resource":` nested in a span,
// a truncated end, junk) giving different results read in parallel than read serially: every
// range reports the stack it ended with, and unless each ended exactly where the next began (and
// the last at the end of the document, with no structural problem) the caller reads the file
// whole instead (trace-pass.ts).
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { scanJson, type ScanRange } from './json-scan.js';

/** Opens a ResourceSpans element (see above); group 0 starts at its `{`. */
const ELEMENT = /\{[ \t\r\n]*"(?:resource|scopeSpans|instrumentationLibrarySpans)"[ \t\r\n]*:/g;
/** How far past a cut target an element start is looked for before that cut is dropped. */
const SEARCH_LIMIT = 64 << 20;
const WINDOW = 1 << 20;

/** One range of a document and the stack its scan must end with (for all but the last: the next range's start stack). */
export interface DocRange extends ScanRange { expectEnd: string }

/** A stack as a comparable string: "o:resourceSpans/a" for {"resourceSpans":[ … */
export function stackSignature(stack: readonly { arr: boolean; key?: string }[]): string {
  return stack.map((f) => (f.arr ? 'a' : `o:${f.key ?? ''}`)).join('/');
}

/** The offset of the first element start at or after from (within SEARCH_LIMIT), or -1. */
function nextElement(fd: number, size: number, from: number): number {
  const buf = Buffer.allocUnsafe(WINDOW + 256);
  for (let pos = from; pos < size && pos < from + SEARCH_LIMIT; pos += WINDOW) {
    // Windows overlap by 256 bytes, so a pattern across a window's edge is found (blank runs longer than that are not).
    const got = readSync(fd, buf, 0, buf.length, pos);
    if (got <= 0) break;
    ELEMENT.lastIndex = 0;
    const m = ELEMENT.exec(buf.toString('latin1', 0, got));
    if (m) return pos + m.index;
  }
  return -1;
}

/**
 * Cuts one OTLP document into about n ranges at element starts, or undefined when it cannot be
 * (no element start found, or the document is not {"resourceSpans":[…]} — possibly inside a
 * top-level array — at the first one).
 */
export async function documentRanges(path: string, n: number): Promise<DocRange[] | undefined> {
  const fd = openSync(path, 'r');
  let cuts: number[];
  let size: number;
  try {
    size = fstatSync(fd).size;
    const first = nextElement(fd, size, 0);
    if (first <= 0) return undefined;
    cuts = [first];
    for (let i = 1; i < n; i++) {
      const at = nextElement(fd, size, Math.max(Math.floor((size * i) / n), cuts[cuts.length - 1]! + 1));
      if (at > cuts[cuts.length - 1]!) cuts.push(at);
    }
  } finally { closeSync(fd); }
  // The stack a serial read has at the first element: what every later range starts with.
  const noop = { want: () => undefined, captured: () => {}, closed: () => {}, problem: () => {} };
  const head = await scanJson(path, noop, undefined, { start: 0, end: cuts[0]!, stack: [] });
  const sig = stackSignature(head.stack);
  if (head.problems > 0 || !/(^|\/)o:resourceSpans\/a$/.test(sig)) return undefined;
  // The first element itself is no cut: range 0 starts at the document's start.
  const starts = [0, ...cuts.slice(1)];
  if (starts.length < 2) return undefined;
  return starts.map((start, i) => {
    const last = i === starts.length - 1;
    return { start, end: last ? size : starts[i + 1]!, stack: i === 0 ? [] : head.stack, expectEnd: last ? '' : sig };
  });
}
