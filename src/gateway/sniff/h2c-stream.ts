// Why: cleartext HTTP/2 (prior knowledge, `curl --http2-prior-knowledge`, or after an `Upgrade: h2c`)
// names each request's host in a HEADERS frame's `:authority`, HPACK-compressed, not in a Host line.
// Without reading it, an agent could resolve an allowed name, connect to its address and ask a
// shared front end for `:authority: pool.test` — domain fronting the HTTP/1 check stops. This follows
// the client's frames (RFC 9113 §4: 9-byte headers; HEADERS + CONTINUATION make one header block) and
// decodes every block with one HPACK decoder for the connection (its dynamic table spans requests;
// hpack.js, the decoder spdy and webpack-dev-server use). Threat: fronting over h2c. A stream it cannot
// follow (a bad preface, a header block it cannot decode, a client PUSH_PROMISE, a block over
// MAX_HEADER_BLOCK) yields one ambiguous head and stops: no later request could be judged. A port in
// `:authority` (a forward proxy's `registry.test:6379`) is judged as HTTP/1's absolute-form port is.
// Request bodies: each stream's DATA payloads (padding taken off) go to `onData` with the stream's
// `content-encoding`, so the upload scanners read a body as the server will, not as raw frames whose 9-byte
// headers, cut into a pool login split over frames, broke the JSON reading (session 39).
import hpackModule from 'hpack.js';
import { authorityPort, normalizeAuthority } from './http-request.js';
import type { RequestHead } from './http-stream.js';

const hpack = hpackModule as unknown as HpackModule;

/** The client connection preface (RFC 9113 §3.4); after an h2c upgrade the HTTP/1 stream has read its first 18 bytes as a head. */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const PREFACE_TAIL = 18;
/** The largest header block followed (a server's usual SETTINGS_MAX_HEADER_LIST_SIZE is 16–64 KiB). */
export const MAX_HEADER_BLOCK = 256 * 1024;
/** The dynamic table the decoder accepts: far above the 4 KiB default a server advertises. */
const MAX_TABLE = 64 * 1024;

const DATA = 0x0, HEADERS = 0x1, RST_STREAM = 0x3, PUSH_PROMISE = 0x5, CONTINUATION = 0x9;
/** The coding given for a stream whose own could not be remembered (too many open): read as one Corral cannot decode. */
export const UNTRACKED_CODING = 'untracked (too many open streams)';
const END_STREAM = 0x1, END_HEADERS = 0x4, PADDED = 0x8, PRIORITY = 0x20;
/** Streams whose `content-encoding` is remembered until their body ends (a client opens ≈ 100 at once). */
const MAX_CODED_STREAMS = 1024;

/** A stream's request-body bytes: `start` on its first, `end` on its last (an empty piece when END_STREAM comes alone). */
export type H2DataFn = (stream: number, piece: Buffer, start: boolean, end: boolean, coding: string) => void;

export class H2cRequestStream {
  // (hpack.js reads `maxSize`: with any other name its table had no bound — it never evicted — and every dynamic
  //  table size update a client sends failed an assertion, so a conforming client was refused; a review, session 39)
  private readonly dec = hpack.decompressor.create({ table: { maxSize: MAX_TABLE } });
  private decodeError?: string;
  /** Preface bytes still expected, and where in H2_PREFACE they start. */
  private prefaceAt: number;
  private head = Buffer.alloc(0);
  /** Bytes of the current frame's payload still to skip (not a header block). */
  private skip = 0;
  /** The header block being gathered: its stream, its parts so far. */
  private block?: { stream: number; parts: Buffer[]; len: number };
  /** A HEADERS or CONTINUATION frame whose payload did not fit the chunk: its header, and the bytes so far. */
  private pending?: Frame;
  private partial: Buffer[] = [];
  private partialLen = 0;
  private stopped = false;
  /** The DATA frame being read: its stream, body bytes left, padding after them (-1: the pad length byte is next), END_STREAM. */
  private data?: { stream: number; left: number; pad: number; end: boolean };
  /** Streams whose body has begun (to mark a body's first bytes). */
  private readonly bodies = new Set<number>();
  /** Streams' `content-encoding`, from their HEADERS. */
  private readonly codings = new Map<number, string>();
  /** A coding could not be remembered (MAX_CODED_STREAMS open): streams without a known one are UNTRACKED_CODING. */
  private overflowed = false;

  /** `afterHead`: the HTTP/1 stream already read "PRI * HTTP/2.0\r\n\r\n" (prior knowledge seen as a request head, or an upgrade). */
  constructor(afterHead = false, private readonly onData?: H2DataFn) {
    this.prefaceAt = afterHead ? PREFACE_TAIL : 0;
    this.dec.on('error', (e: Error) => { this.decodeError ??= e.message; });
  }

  /** True once the stream could not be followed (see the header); stoppedBy says what it met. */
  get opaque(): boolean { return this.stopped; }
  stoppedBy?: string;

  /** Feeds the next upload chunk; returns the requests whose header blocks completed in it. */
  push(chunk: Buffer): RequestHead[] {
    const heads: RequestHead[] = [];
    let i = 0;
    while (i < chunk.length && !this.stopped) {
      if (this.prefaceAt < H2_PREFACE.length) {
        const n = Math.min(H2_PREFACE.length - this.prefaceAt, chunk.length - i);
        if (!chunk.subarray(i, i + n).equals(H2_PREFACE.subarray(this.prefaceAt, this.prefaceAt + n))) return this.stop(heads, 'not the HTTP/2 connection preface');
        this.prefaceAt += n; i += n;
        continue;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n; i += n;
        continue;
      }
      if (this.data) { i = this.takeData(chunk, i, heads); continue; }
      if (!this.pending) {
        // A frame header (9 bytes), gathered across chunks.
        const take = chunk.subarray(i, i + 9 - this.head.length);
        this.head = this.head.length ? Buffer.concat([this.head, take]) : Buffer.from(take);
        i += take.length;
        if (this.head.length < 9) break;
        const len = this.head.readUIntBE(0, 3), type = this.head[3]!, flags = this.head[4]!, stream = this.head.readUInt32BE(5) & 0x7fffffff;
        this.head = Buffer.alloc(0);
        if (this.block && type !== CONTINUATION) return this.stop(heads, 'a header block not continued by CONTINUATION');
        if (type === PUSH_PROMISE) return this.stop(heads, 'a client PUSH_PROMISE');
        if (type === DATA && flags & PADDED && len === 0) return this.stop(heads, 'a bad DATA padding');
        if (type === DATA && this.onData) {
          this.data = { stream, left: len, pad: flags & PADDED ? -1 : 0, end: (flags & END_STREAM) !== 0 };
          if (len === 0) this.takeData(chunk, i, heads);
          continue;
        }
        // (a reset stream's body is over: its state goes, so resets cannot fill the tables)
        if (type === RST_STREAM) { this.bodies.delete(stream); this.codings.delete(stream); }
        if (type !== HEADERS && type !== CONTINUATION) { this.skip = len; continue; }
        if (type === CONTINUATION && (!this.block || this.block.stream !== stream)) return this.stop(heads, 'a CONTINUATION without its HEADERS');
        if ((this.block?.len ?? 0) + len > MAX_HEADER_BLOCK) return this.stop(heads, `a header block over ${MAX_HEADER_BLOCK} bytes`);
        this.pending = { len, type, flags, stream };
      }
      // The payload, gathered across chunks.
      const p = this.gather(chunk, i, this.pending.len);
      i = p.next;
      if (p.frame === undefined) break;
      const f = this.pending;
      this.pending = undefined;
      const r = this.frame(f, p.frame, heads);
      if (r) return r;
    }
    return heads;
  }

  private gather(chunk: Buffer, i: number, len: number): { frame?: Buffer; next: number } {
    const want = len - this.partialLen;
    const take = chunk.subarray(i, i + want);
    this.partial.push(Buffer.from(take));
    this.partialLen += take.length;
    if (this.partialLen < len) return { next: i + take.length };
    const frame = this.partial.length === 1 ? this.partial[0]! : Buffer.concat(this.partial);
    this.partial = []; this.partialLen = 0;
    return { frame, next: i + take.length };
  }

  /** A whole HEADERS or CONTINUATION payload: added to the block; a block that ends is decoded. */
  private frame(f: Frame, payload: Buffer, heads: RequestHead[]): RequestHead[] | undefined {
    let frag = payload;
    if (f.type === HEADERS) {
      let at = 0, end = payload.length;
      if (f.flags & PADDED) { if (payload.length < 1) return this.stop(heads, 'a bad HEADERS padding'); end -= payload[0]!; at = 1; }
      if (f.flags & PRIORITY) at += 5;
      if (at > end) return this.stop(heads, 'a bad HEADERS padding');
      frag = payload.subarray(at, end);
      this.block = { stream: f.stream, parts: [], len: 0 };
    }
    const b = this.block!;
    b.parts.push(frag); b.len += frag.length;
    if (!(f.flags & END_HEADERS)) return undefined;
    this.block = undefined;
    const headers = this.decode(Buffer.concat(b.parts));
    if (!headers) return this.stop(heads, `an HPACK block it cannot decode (${this.decodeError ?? 'unknown'})`);
    const coding = headers.filter((h) => h.name === 'content-encoding').map((h) => h.value.trim()).join(',');
    if (coding !== '') {
      if (this.codings.size < MAX_CODED_STREAMS || this.codings.has(b.stream)) this.codings.set(b.stream, coding);
      else this.overflowed = true; // (from here on a stream's coding may be unknown: said, never taken as none)
    }
    // END_STREAM on HEADERS: a request with no body, or trailers that end one — told as the body's end
    if (f.type === HEADERS && f.flags & END_STREAM) {
      if (this.bodies.has(b.stream)) this.onData?.(b.stream, Buffer.alloc(0), false, true, this.codings.get(b.stream) ?? '');
      this.bodies.delete(b.stream);
      this.codings.delete(b.stream);
    }
    const hosts = new Set<string | undefined>();
    const ports = new Set<number | null>();
    for (const h of headers) {
      if (h.name !== ':authority' && h.name !== 'host') continue;
      hosts.add(normalizeAuthority(h.value));
      const port = authorityPort(h.value);
      if (port !== undefined) ports.add(port);
    }
    if (hosts.size > 1 || hosts.has(undefined) || ports.size > 1 || ports.has(null)) heads.push({ ambiguous: true, why: 'The HTTP/2 request names its host ambiguously (:authority and host differ, or one is not a host name with a valid port)' });
    else heads.push({ ...(hosts.size ? { host: [...hosts][0]! } : {}), ...(ports.size ? { connectPort: [...ports][0] as number } : {}), ambiguous: false });
    return undefined;
  }

  /** Reads a DATA frame's payload from i: its padding length, its body bytes (to onData), its padding (skipped). */
  private takeData(chunk: Buffer, i: number, heads: RequestHead[]): number {
    const d = this.data!;
    if (d.pad < 0) {
      if (i >= chunk.length) return i;
      d.pad = chunk[i]!; d.left -= 1; i += 1;
      if (d.pad > d.left) { this.data = undefined; this.stop(heads, 'a bad DATA padding'); return chunk.length; }
      d.left -= d.pad;
    }
    const n = Math.min(d.left, chunk.length - i);
    const last = n === d.left;
    if (n > 0 || (last && d.end)) {
      const start = !this.bodies.has(d.stream);
      if (start && this.bodies.size < MAX_CODED_STREAMS) this.bodies.add(d.stream);
      this.onData!(d.stream, chunk.subarray(i, i + n), start, last && d.end, this.codings.get(d.stream) ?? (this.overflowed ? UNTRACKED_CODING : ''));
    }
    d.left -= n;
    if (last) {
      this.skip = d.pad;
      if (d.end) { this.bodies.delete(d.stream); this.codings.delete(d.stream); }
      this.data = undefined;
    }
    return i + n;
  }

  private decode(block: Buffer): { name: string; value: string }[] | undefined {
    const out: { name: string; value: string }[] = [];
    try {
      this.dec.write(block);
      this.dec.execute();
      for (let h = this.dec.read(); h; h = this.dec.read()) out.push({ name: String(h.name), value: String(h.value) });
    } catch (e) { this.decodeError ??= (e as Error).message; }
    return this.decodeError === undefined ? out : undefined;
  }

  /** Stops following the stream, with one ambiguous head. */
  private stop(heads: RequestHead[], why: string): RequestHead[] {
    this.stopped = true;
    this.stoppedBy = why;
    heads.push({ ambiguous: true, why: `The cleartext HTTP/2 stream cannot be followed (${why}), so its requests' hosts cannot be read` });
    return heads;
  }
}

interface Frame { len: number; type: number; flags: number; stream: number }

interface HpackModule {
  decompressor: { create(o: { table: { maxSize: number } }): HpackDecompressor };
}
interface HpackDecompressor {
  on(ev: 'error', fn: (e: Error) => void): void;
  write(b: Buffer): void;
  execute(): void;
  read(): { name: string; value: string } | null;
}
