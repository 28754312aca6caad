// Why: the egress gateway decides per destination which TLS server names a sandboxed client may
// reach, so it must read the server_name (SNI) out of the client's first TLS bytes itself.
// Threat stopped: a client that connects to an allowed address on 443 but names another server,
// sends no SNI at all, or sends bytes that only pretend to be TLS (a tunnel on port 443).
// A server_name the parser cannot use (a NUL, a blank or a non-ASCII byte in it, a name over 253
// characters, two host_names, two server_name extensions, an empty one) is host-ambiguous, refused as
// an ambiguous HTTP Host is: the server may read a name the gateway did not (a review, session 35: such
// a hello was judged as "no SNI" and allowed by the resolved name).
// The parser is bounds-checked everywhere and never throws on hostile input: malformed input is
// 'other', a prefix of a valid ClientHello is 'incomplete'.

import type { SniffResult } from './index.js';
import { tlsFingerprint, type HelloFields } from './tls-fingerprint.js';

const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
/** RFC 8446 5.1: a plaintext record never carries more than 2^14 bytes. */
const MAX_RECORD_LEN = 16384;
/** Real ClientHellos (even post-quantum ones) are a few KiB; more is treated as hostile. */
const MAX_HANDSHAKE_LEN = 65536;
/** version(2) random(32) session_id(1+) cipher_suites(2+2) compression(1+1). */
const MIN_CLIENT_HELLO_BODY = 41;

const EXT_SERVER_NAME = 0;
const EXT_SUPPORTED_GROUPS = 10;
const EXT_POINT_FORMATS = 11;
const EXT_SIGNATURE_ALGORITHMS = 13;
const EXT_ALPN = 16;
const EXT_SUPPORTED_VERSIONS = 43;
/** Values kept per list for the fingerprints (real ClientHellos have tens). */
const MAX_LIST = 512;
const EXT_ECH = 0xfe0d;

const DNS_NAME = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?$/;

/** Fresh objects each time: callers may annotate results. */
const OTHER = (): SniffResult => ({ status: 'done', protocol: 'other' });
const INCOMPLETE = (): SniffResult => ({ status: 'incomplete', protocol: 'tls' });

/** Thrown (and always caught in this file) when a read would pass the declared handshake end. */
const MALFORMED = { why: 'malformed' };
/** Thrown (and always caught in this file) when a read needs bytes that have not arrived yet. */
const NEED_MORE = { why: 'need-more' };

/** Reads the handshake body: `end` is what the header declares, `avail` what has arrived. */
class Reader {
  pos: number;
  constructor(readonly buf: Buffer, start: number, readonly end: number, readonly avail: number) {
    this.pos = start;
  }
  need(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw MALFORMED;
    if (this.pos + n > this.avail) throw NEED_MORE;
  }
  u8(): number { this.need(1); return this.buf[this.pos++]!; }
  u16(): number { this.need(2); const v = this.buf.readUInt16BE(this.pos); this.pos += 2; return v; }
  skip(n: number): void { this.need(n); this.pos += n; }
}

type Gathered =
  | { kind: 'bad' }
  /**
   * body: the handshake message (4-byte header included) as far as it has arrived; trailing: bytes the
   * records that carried it declare after its end (a client's first flight has nothing there).
   */
  | { kind: 'data'; body: Buffer; declared: number; complete: boolean; trailing: number };

/** Reassembles the first handshake message from one or more handshake records. */
function gatherHandshake(buf: Buffer): Gathered {
  const parts: Buffer[] = [];
  let have = 0;
  let declared = -1;
  let pos = 0;
  /** Body bytes the records so far declare (whether or not they have arrived). */
  let spanned = 0;
  for (;;) {
    const left = buf.length - pos;
    if (left <= 0) break;
    if (buf[pos] !== CONTENT_HANDSHAKE) return { kind: 'bad' };
    if (left >= 2 && buf[pos + 1] !== 3) return { kind: 'bad' };
    if (left >= 3 && buf[pos + 2]! > 4) return { kind: 'bad' };
    if (left < 5) break;
    const len = buf.readUInt16BE(pos + 3);
    if (len === 0 || len > MAX_RECORD_LEN) return { kind: 'bad' };
    const frag = buf.subarray(pos + 5, Math.min(pos + 5 + len, buf.length));
    parts.push(frag);
    have += frag.length;
    spanned += len;
    const head = parts.length === 1 ? frag : Buffer.concat(parts, have);
    if (head.length >= 1 && head[0] !== HANDSHAKE_CLIENT_HELLO) return { kind: 'bad' };
    if (declared < 0 && head.length >= 4) {
      const bodyLen = (head[1]! << 16) | (head[2]! << 8) | head[3]!;
      if (bodyLen < MIN_CLIENT_HELLO_BODY || bodyLen > MAX_HANDSHAKE_LEN) return { kind: 'bad' };
      declared = 4 + bodyLen;
    }
    if (declared >= 0 && have >= declared) {
      return { kind: 'data', body: head.subarray(0, declared), declared, complete: true, trailing: spanned - declared };
    }
    if (frag.length < len) break; // record itself is truncated
    pos += 5 + len;
  }
  const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts, have);
  return { kind: 'data', body, declared, complete: false, trailing: 0 };
}

function printable(s: string, max: number): string {
  return s.slice(0, max).replace(/[^\x20-\x7e]/g, '?');
}

interface Hello { host?: string; sniProblem?: string; alpn: string[]; ech: boolean; f: HelloFields }

function parseServerName(r: Reader, extLen: number, out: Hello): void {
  r.need(extLen);
  const end = r.pos + extLen;
  if (extLen < 2) { out.sniProblem = 'empty server_name'; return; }
  const listLen = r.u16();
  if (listLen !== extLen - 2) throw MALFORMED;
  let names = 0;
  while (r.pos < end) {
    const type = r.u8();
    const len = r.u16();
    if (r.pos + len > end) throw MALFORMED;
    if (type === 0) {
      names++;
      const raw = r.buf.toString('latin1', r.pos, r.pos + len).toLowerCase();
      if (names === 1) {
        if (len >= 1 && len <= 253 && DNS_NAME.test(raw)) out.host = raw.endsWith('.') ? raw.slice(0, -1) : raw;
        else out.sniProblem = `invalid server_name "${printable(raw, 64)}"`;
      }
    }
    r.pos += len;
  }
  if (names > 1) { out.host = undefined; out.sniProblem = 'several host_names in server_name'; }
}

function parseAlpn(r: Reader, extLen: number, out: Hello): void {
  r.need(extLen);
  const end = r.pos + extLen;
  if (extLen < 2 || r.u16() !== extLen - 2) throw MALFORMED;
  while (r.pos < end && out.alpn.length < 16) {
    const len = r.u8();
    if (len === 0 || r.pos + len > end) throw MALFORMED;
    if (out.alpn.length === 0) out.f.alpnFirst = Buffer.from(r.buf.subarray(r.pos, r.pos + len));
    out.alpn.push(printable(r.buf.toString('latin1', r.pos, r.pos + len), 32));
    r.pos += len;
  }
  r.pos = end;
}

/** A list of u16 (lenBytes: its length prefix, 1 or 2 bytes) filling exactly extLen bytes, into out (capped). */
function u16List(r: Reader, extLen: number, lenBytes: 1 | 2, out: number[]): void {
  r.need(extLen);
  const end = r.pos + extLen;
  if (extLen < lenBytes) throw MALFORMED;
  const n = lenBytes === 1 ? r.u8() : r.u16();
  if (n !== extLen - lenBytes || n % 2 !== 0) throw MALFORMED;
  while (r.pos < end) { const v = r.u16(); if (out.length < MAX_LIST) out.push(v); }
}

/**
 * The lists the fingerprints use (groups, point formats, signature algorithms, versions). A
 * malformed list is only cut short: it must not turn a ClientHello into 'other' (classification
 * stays what it was before fingerprints), but bytes that have not arrived yet still mean 'incomplete'.
 */
function fingerprintList(r: Reader, type: number, len: number, f: HelloFields): void {
  try {
    if (type === EXT_SUPPORTED_GROUPS) u16List(r, len, 2, f.groups);
    else if (type === EXT_SIGNATURE_ALGORITHMS) u16List(r, len, 2, f.sigAlgs);
    else if (type === EXT_SUPPORTED_VERSIONS) u16List(r, len, 1, f.versions);
    else if (type === EXT_POINT_FORMATS) {
      r.need(len);
      if (len < 1 || r.u8() !== len - 1) throw MALFORMED;
      for (let i = 1; i < len; i++) f.pointFormats.push(r.u8());
    }
  } catch (e) {
    if (e === NEED_MORE) throw e;
  }
}

function parseBody(r: Reader): Hello {
  const f: HelloFields = { version: 0, ciphers: [], extensions: [], groups: [], pointFormats: [], sigAlgs: [], versions: [], sni: false };
  const out: Hello = { alpn: [], ech: false, f };
  if (r.u8() !== 3) throw MALFORMED; // legacy_version major
  f.version = 0x0300 | r.u8();
  r.skip(32); // random
  const sid = r.u8();
  if (sid > 32) throw MALFORMED;
  r.skip(sid);
  const cs = r.u16();
  if (cs < 2 || cs % 2 !== 0) throw MALFORMED;
  r.need(cs);
  for (let i = 0; i < cs; i += 2) { const v = r.u16(); if (f.ciphers.length < MAX_LIST) f.ciphers.push(v); }
  const cm = r.u8();
  if (cm < 1) throw MALFORMED;
  r.skip(cm);
  if (r.pos === r.end) return out; // no extensions at all
  const extTotal = r.u16();
  if (r.pos + extTotal !== r.end) throw MALFORMED;
  let sawSni = false;
  let sawAlpn = false;
  while (r.pos < r.end) {
    const type = r.u16();
    const len = r.u16();
    if (r.pos + len > r.end) throw MALFORMED;
    const start = r.pos, next = r.pos + len;
    if (f.extensions.length < MAX_LIST) f.extensions.push(type);
    if (type === EXT_SERVER_NAME) f.sni = true;
    fingerprintList(r, type, len, f);
    r.pos = start;
    if (type === EXT_SERVER_NAME) {
      if (sawSni) { out.host = undefined; out.sniProblem = 'duplicate server_name extension'; }
      else parseServerName(r, len, out);
      sawSni = true;
    } else if (type === EXT_ALPN && !sawAlpn) {
      sawAlpn = true;
      parseAlpn(r, len, out);
    } else if (type === EXT_ECH) {
      out.ech = true;
    }
    r.pos = next;
  }
  return out;
}

/**
 * Classifies bytes that should start with a TLS ClientHello record. Handles a ClientHello split
 * over several handshake records. host is the SNI host_name, lowercased, without trailing dot.
 */
export function parseClientHello(buf: Buffer): SniffResult {
  try {
    if (buf.length === 0) return INCOMPLETE();
    const g = gatherHandshake(buf);
    if (g.kind === 'bad') return OTHER();
    if (g.body.length < 4) return INCOMPLETE();
    const end = g.declared;
    const r = new Reader(g.body, 4, end, g.complete ? end : g.body.length);
    let hello: Hello;
    try {
      hello = parseBody(r);
    } catch (e) {
      if (e === NEED_MORE) return INCOMPLETE();
      return OTHER();
    }
    if (!g.complete) return INCOMPLETE();
    let detail = 'ClientHello';
    if (hello.alpn.length > 0) detail += ` alpn=${hello.alpn.join(',')}`;
    if (hello.ech) detail += ' ech';
    // (bytes after the ClientHello inside its own record: no client sends any before the server answers, and
    // whatever rides there reaches the server unseen by the SNI decision — a tunnel's first bytes, say)
    if (g.trailing > 0 && !hello.sniProblem) { hello.host = undefined; hello.sniProblem = `${g.trailing} bytes follow the ClientHello inside its record`; }
    if (hello.sniProblem) detail += ` (${hello.sniProblem})`;
    const res: SniffResult = { status: 'done', protocol: 'tls', detail, tls: tlsFingerprint(hello.f) };
    if (hello.host !== undefined) res.host = hello.host;
    if (hello.sniProblem) {
      res.hostAmbiguous = true;
      res.ambiguousWhy = `The TLS ClientHello names its server ambiguously (${hello.sniProblem})`;
    }
    return res;
  } catch {
    return OTHER();
  }
}
