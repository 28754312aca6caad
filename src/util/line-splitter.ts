// Why: several readers walk files far larger than one JavaScript string may be (V8 refuses a
// string over ~512 MiB): `corral investigate` inputs of several GB, and Corral's own session logs,
// which an agent can grow to that size (say 100k execs with long argv). This is the one byte-level
// line splitter they share. It is fed chunks (read synchronously or from a stream) and hands out
// runs of whole lines as byte ranges, never splitting a multi-byte UTF-8 character; a partial line
// is carried to the next chunk, so memory stays at O(chunk + longest line).
// Threat stopped: a hostile or corrupt file (one gigantic line, binary junk without newlines)
// exhausting memory or crashing the reader: a line longer than the limit is reported with its
// length and skipped, and its bytes are never held.

/** The largest line handed out; a longer one is reported to LineSink.overlong and skipped. */
export const MAX_LINE_BYTES = 64 << 20;

export interface LineSink {
  /** Whole lines of buf[from, to): `to` is just after a '\n' (cutting the '\n's is the caller's). */
  lines(buf: Buffer, from: number, to: number): void;
  /** A line longer than the limit ended, or the input ended inside it: `bytes` long (without its '\n'), none of them kept. */
  overlong(bytes: number): void;
  /** The input ended inside a line (no '\n' after it) no longer than the limit: its bytes. */
  tail(buf: Buffer): void;
}

/**
 * Splits chunks into lines for a LineSink. The splitter keeps references into the chunks it was
 * given (the partial line at their end): pass a buffer that is not overwritten afterwards.
 */
export class LineSplitter {
  private carry: Buffer[] = [];
  private carryLen = 0;
  private skipping = false;

  constructor(private readonly sink: LineSink, private readonly maxLine = MAX_LINE_BYTES) {}

  push(chunk: Buffer): void {
    const last = chunk.lastIndexOf(10);
    if (last < 0) {
      this.carryLen += chunk.length;
      if (!this.skipping) {
        this.carry.push(chunk);
        if (this.carryLen > this.maxLine) { this.skipping = true; this.carry = []; }
      }
      return;
    }
    if (this.skipping) {
      // The overlong line ends at the first newline of this chunk.
      const first = chunk.indexOf(10);
      this.sink.overlong(this.carryLen + first);
      if (first < last) this.sink.lines(chunk, first + 1, last + 1);
    } else if (this.carryLen > 0) {
      // Only the line the chunk finishes is joined with what came before (a copy of one line, not of the chunk).
      const first = chunk.indexOf(10);
      this.carry.push(chunk.subarray(0, first + 1));
      const joined = Buffer.concat(this.carry);
      this.sink.lines(joined, 0, joined.length);
      if (first < last) this.sink.lines(chunk, first + 1, last + 1);
    } else {
      this.sink.lines(chunk, 0, last + 1);
    }
    this.drop();
    if (last + 1 < chunk.length) { this.carry.push(chunk.subarray(last + 1)); this.carryLen = chunk.length - last - 1; }
  }

  /** Forgets the partial line (the input broke off there: the lines before it were handed out). */
  drop(): void {
    this.carry = [];
    this.carryLen = 0;
    this.skipping = false;
  }

  /** The input ended: hands out the last line if it had no '\n' (to tail, or to overlong). */
  end(): void {
    if (this.skipping) this.sink.overlong(this.carryLen);
    else if (this.carryLen > 0) this.sink.tail(Buffer.concat(this.carry));
    this.drop();
  }
}
