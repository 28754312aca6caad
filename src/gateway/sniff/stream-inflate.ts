// Why: a pool login or an SSH line can travel compressed — an HTTP request body sent with `Content-Encoding: gzip`
// (deflate, br) to an allowed host whose relay decodes it, WebSocket messages under permessage-deflate (RFC 7692) —
// and compressed bytes show the gateway's scanners no marker string and no JSON. This decodes such a stream as it
// arrives, synchronously, so the piece that completes a login is judged before it is forwarded.
// Threat: mining JSON-RPC or SSH hidden by compression; and the decoder as a weapon: a decompression bomb (the
// input is fed in slices, so one slice yields at most ≈ 4 MiB, and the output stops at a bound), a corrupt stream
// (it stops, said), an endless one (the output bound again).
// Library: fflate for the deflate family (gzip, zlib, raw): its streaming inflater calls back synchronously, with
// 32 KiB of window per stream. Node's zlib streams answer asynchronously, after the bytes would be forwarded, and
// its sync functions are one-shot, so a growing stream had to be re-inflated from its start at each message
// (quadratic: the session-38 WebSocket inflater stopped after 1 MiB and 256 messages). Brotli has no streaming sync
// decoder here: its stream is decoded again from its start with Node's brotli when it has grown by a quarter (or
// at its end), its compressed bytes bounded.
import { Gunzip, Inflate, Unzlib } from 'fflate';
import { brotliDecompressSync, constants, inflateRawSync } from 'node:zlib';

export const INFLATE_LIMITS = { SLICE: 4096, REDECODE_MAX_COMPRESSED: 1 << 20, REDECODE_MAX_OUTPUT: 64 << 20 } as const;

/** A content coding this can decode ('deflate-raw': permessage-deflate's, and HTTP `deflate` sent without its zlib header). */
export type Coding = 'gzip' | 'deflate' | 'deflate-raw' | 'br';
/** Why a stream stopped being decoded: its output bound, bad data, a coding this cannot decode. */
export type StopReason = 'bound' | 'corrupt' | 'unsupported';

/** One coding's decoder: bytes in, decoded bytes out through `out`, synchronously. */
interface Stage {
  push(data: Uint8Array, end: boolean, out: (b: Buffer) => void): void;
  /** The stream ended inside (a deflate final block): later bytes would be ignored. */
  ended(): boolean;
}

const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.length);

type FflateStream = { push(chunk: Uint8Array, final?: boolean): void; ondata: (data: Uint8Array, final: boolean) => void };

/**
 * gzip (several members too), zlib, raw deflate; HTTP `deflate` picks zlib or raw by its first two bytes, as browsers
 * do — and since raw deflate can begin with two bytes that pass the zlib check (a review, session 39: a stored block
 * whose length bytes read as a zlib header stalled the zlib reading while a server falling back to raw read a login),
 * a `deflate` body read as zlib that has not ended when the body does is decoded again as raw (its first 1 MiB kept).
 */
/**
 * How an HTTP `deflate` body that starts with `b` is read: as zlib when its header is one (CM 8 in the low nibble, the
 * pair a multiple of 31 — RFC 1950) that zlib itself accepts (a window of at most 32 KiB, CINFO ≤ 7, no preset
 * dictionary) and its first block is one zlib would read; else as raw, as a zlib-then-raw decoder reads it. fflate does
 * not check a stored block's NLEN, so `78 01` and then a "stored block" of 65534 bytes kept the zlib reading waiting
 * while a server that fell back to raw read a login (a red-team review, session 40): that block's 5 bytes are waited
 * for ('wait'), unless the body ends first.
 */
function deflateKind(b: Uint8Array, end: boolean): 'zlib' | 'raw' | 'wait' {
  const header = b.length >= 2 && (b[0]! & 0x0f) === 8 && (b[0]! >> 4) <= 7 && (b[1]! & 0x20) === 0 && ((b[0]! << 8) | b[1]!) % 31 === 0;
  const btype = header && b.length > 2 ? (b[2]! >> 1) & 3 : -1;
  if ((b.length < 2 || (btype === 0 && b.length < 7)) && !end) return 'wait';
  if (!header || btype === 3) return 'raw';
  if (btype === 0 && b.length >= 7 && ((b[3]! | (b[4]! << 8)) ^ 0xffff) !== (b[5]! | (b[6]! << 8))) return 'raw';
  return 'zlib';
}

class DeflateStage implements Stage {
  private s?: FflateStream;
  private held: Uint8Array = new Uint8Array(0);
  /** A `deflate` body read as zlib: its compressed bytes so far (undefined past REDECODE_MAX_COMPRESSED: no second reading). */
  private saved?: Buffer[];
  private savedLen = 0;
  private sink: (b: Buffer) => void = () => {};
  constructor(private readonly kind: 'gzip' | 'deflate' | 'deflate-raw') {
    if (kind !== 'deflate') this.s = this.make(kind === 'gzip' ? new Gunzip() : new Inflate());
  }

  private make(s: Gunzip | Inflate | Unzlib): FflateStream {
    const st = s as unknown as FflateStream;
    st.ondata = (d) => { if (d.length > 0) this.sink(buf(d)); };
    return st;
  }

  push(data: Uint8Array, end: boolean, out: (b: Buffer) => void): void {
    this.sink = out;
    if (!this.s) {
      const all = this.held.length ? Buffer.concat([this.held, data]) : data;
      const kind = deflateKind(all, end);
      if (kind === 'wait') { this.held = Uint8Array.from(all); return; }
      this.held = new Uint8Array(0);
      const zlib = kind === 'zlib';
      this.s = this.make(zlib ? new Unzlib() : new Inflate());
      if (zlib) this.saved = [];
      data = all;
    }
    if (this.saved) {
      this.savedLen += data.length;
      if (this.savedLen > INFLATE_LIMITS.REDECODE_MAX_COMPRESSED) this.saved = undefined; else this.saved.push(Buffer.from(data));
    }
    let failed: unknown;
    try {
      this.feed(data);
    } catch (e) {
      if (e instanceof Stop || !this.saved) throw e;
      failed = e;
    }
    if (failed !== undefined && this.saved) {
      // Not zlib after all: from here on the body is raw deflate, from its first byte — as a decoder that falls back to
      // raw reads it. A one-off raw reading of the bytes so far, with the broken zlib reader kept for the rest, passed a
      // login sent after a stored block whose bytes passed the zlib check (a red-team review, session 40).
      const saved = Buffer.concat(this.saved);
      this.saved = undefined;
      this.s = this.make(new Inflate());
      try { this.feed(saved); } catch (e) { if (e instanceof Stop) throw e; throw new Stop('corrupt'); }
      return;
    }
    if (end && this.saved && !this.finished()) {
      // (zlib that never finished: the body read again as raw deflate, what it yields scanned too)
      const saved = Buffer.concat(this.saved);
      this.saved = undefined;
      let raw: Buffer;
      try { raw = inflateRawSync(saved, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: INFLATE_LIMITS.REDECODE_MAX_OUTPUT }); } catch { throw new Stop('corrupt'); }
      if (raw.length) out(raw);
    } else if (failed !== undefined) throw failed;
  }

  /** Into the current reader, a slice at a time (so a bomb's output is checked between slices). */
  private feed(data: Uint8Array): void {
    for (let i = 0; i < data.length; i += INFLATE_LIMITS.SLICE) this.s!.push(data.subarray(i, i + INFLATE_LIMITS.SLICE));
  }

  /** The deflate stream's final block has been read whole. */
  private finished(): boolean {
    const st = (this.s as unknown as { s?: { f?: number; l?: unknown } } | undefined)?.s;
    return !!st?.f && !st.l;
  }

  ended(): boolean {
    // (fflate keeps its inflate state in `s`: f the final block's flag, l its pending lengths; a test sends a
    //  message that ends in a final block and a login after it, so a change in fflate fails there)
    return this.kind !== 'gzip' && this.finished();
  }
}

/** Brotli, decoded again from its start when it has grown by a quarter or ends; bounded. */
class BrotliStage implements Stage {
  private parts: Buffer[] = [];
  private size = 0;
  private decodedAt = 0;
  private produced = 0;
  private work = 0;
  push(data: Uint8Array, end: boolean, out: (b: Buffer) => void): void {
    if (data.length) { this.parts.push(Buffer.from(data)); this.size += data.length; }
    if (this.size > INFLATE_LIMITS.REDECODE_MAX_COMPRESSED) throw new Stop('bound');
    if (!end && this.size - this.decodedAt < Math.max(256, this.decodedAt / 4)) return;
    this.decodedAt = this.size;
    let all: Buffer;
    try {
      all = brotliDecompressSync(Buffer.concat(this.parts), { finishFlush: constants.BROTLI_OPERATION_FLUSH, maxOutputLength: INFLATE_LIMITS.REDECODE_MAX_OUTPUT });
    } catch (e) { throw new Stop((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ? 'bound' : 'corrupt'); }
    this.work += all.length;
    if (this.work > INFLATE_LIMITS.REDECODE_MAX_OUTPUT) throw new Stop('bound');
    if (all.length > this.produced) out(all.subarray(this.produced));
    this.produced = all.length;
  }
  ended(): boolean { return false; }
}

class Stop extends Error { constructor(readonly why: StopReason) { super(why); } }

function stage(c: Coding): Stage { return c === 'br' ? new BrotliStage() : new DeflateStage(c); }

/**
 * Reads a `Content-Encoding` value (all its headers joined by commas): the codings in the order they were applied,
 * or the first one this cannot decode. `identity` is no coding.
 */
export function parseContentCodings(value: string): { codings: Coding[] } | { unsupported: string } {
  const codings: Coding[] = [];
  for (const raw of value.split(',')) {
    const t = raw.trim().toLowerCase();
    if (t === '' || t === 'identity') continue;
    const c: Coding | undefined = t === 'gzip' || t === 'x-gzip' ? 'gzip' : t === 'deflate' ? 'deflate' : t === 'br' ? 'br' : undefined;
    if (!c) return { unsupported: t.slice(0, 40) };
    codings.push(c);
  }
  // (more layers than any client sends: a way to multiply the decoding work, not a real body)
  return codings.length > 3 ? { unsupported: `${codings.length} layered codings` } : { codings };
}

/**
 * Decodes one compressed stream — an HTTP body's codings applied in order, or a WebSocket connection's raw deflate —
 * as it arrives, up to `maxOutput` decoded bytes. `push` returns the decoded bytes of that piece; once stopped
 * (`stopped` says why) it returns nothing more.
 */
export class StreamInflater {
  private stages: Stage[];
  private produced = 0;
  stopped?: StopReason;

  constructor(codings: Coding[], private readonly maxOutput: number) {
    this.stages = [...codings].reverse().map(stage);
  }

  /** Decoded bytes produced so far. */
  get output(): number { return this.produced; }

  /** True when a deflate stream ended in a final block (a new one may follow: see `restart`). */
  ended(): boolean { return this.stages.some((s) => s.ended()); }

  /** Starts over with fresh decoders (a WebSocket message after one that ended its deflate stream). */
  restart(codings: Coding[]): void { this.stages = [...codings].reverse().map(stage); }

  push(piece: Uint8Array, end = false): Buffer[] {
    if (this.stopped) return [];
    const out: Buffer[] = [];
    try {
      this.feed(0, piece, end, out);
    } catch (e) {
      this.stopped = e instanceof Stop ? e.why : 'corrupt';
      this.stages = [];
      return out;
    }
    return out;
  }

  private feed(i: number, data: Uint8Array, end: boolean, out: Buffer[]): void {
    const s = this.stages[i];
    if (!s) {
      this.produced += data.length;
      if (this.produced > this.maxOutput) {
        // (what fits is still scanned: the bound is where decoding stops, not a reason to skip the last piece)
        const keep = data.length - (this.produced - this.maxOutput);
        if (keep > 0) out.push(buf(data.subarray(0, keep)));
        throw new Stop('bound');
      }
      if (data.length) out.push(buf(data));
      return;
    }
    s.push(data, end, (b) => this.feed(i + 1, b, false, out));
    if (end && i + 1 < this.stages.length) this.feed(i + 1, new Uint8Array(0), true, out);
  }
}
