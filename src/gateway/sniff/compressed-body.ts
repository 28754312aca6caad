// Why: one HTTP request body sent with `Content-Encoding` (HTTP/1.1 or a cleartext HTTP/2 stream) is decoded as it
// streams and its decoded bytes read by the upload scanners, so a pool login or SSH line cannot hide behind gzip;
// what cannot be read (a coding Corral cannot decode, a bound, a corrupt stream) is said, for the flow record.
// Threat: mining JSON-RPC or SSH in a compressed request body (stream-inflate.ts, decoded-scan.ts).
import { StreamInflater, parseContentCodings } from './stream-inflate.js';
import { DecodedStreamScan, type DecodedHit } from './decoded-scan.js';

/** Decoded bytes scanned per compressed body: a bound against decompression bombs (past it the body is named unread on the flow record). */
export const BODY_MAX_OUTPUT = 16 << 20;

export class CompressedBody {
  private readonly z?: StreamInflater;
  private readonly scan = new DecodedStreamScan();
  private start = true;
  /** The codings, for messages ("gzip", "br, gzip"); the header's text when it cannot be decoded. */
  readonly label: string;
  private readonly unsupported?: string;

  /** `coding`: the request's Content-Encoding (its headers joined by commas). */
  constructor(coding: string) {
    const c = parseContentCodings(coding);
    if ('unsupported' in c) { this.unsupported = c.unsupported; this.label = c.unsupported; return; }
    this.label = c.codings.join(', ');
    if (c.codings.length > 0) this.z = new StreamInflater(c.codings, BODY_MAX_OUTPUT);
  }

  /** The next body bytes (`end` on the last); the first pool message or SSH line their decoding showed. */
  push(piece: Buffer, end: boolean): DecodedHit | undefined {
    if (!this.z || this.z.stopped) return undefined;
    let hit: DecodedHit | undefined;
    for (const text of this.z.push(piece, end)) {
      const h = this.scan.push(text, this.start, 'body');
      hit ??= h;
      this.start = false;
    }
    return hit;
  }

  /**
   * Whether what was not read is what a far end could still read — a coding Corral cannot decode, or a body past the
   * decoding bound — so the flow must not pass it (a corrupt stream is as unreadable there: only named).
   */
  get unreadable(): boolean {
    return this.unsupported !== undefined || this.z?.stopped === 'bound';
  }

  /** Why (part of) this body was not read, for the flow record; undefined while it is read whole. */
  get unread(): string | undefined {
    if (this.unsupported !== undefined) return `HTTP request body in ${this.unsupported} coding`;
    const why = this.z?.stopped;
    return why ? `HTTP request body in ${this.label} (${why === 'bound' ? 'past the inflate bound' : 'corrupt stream'})` : undefined;
  }
}
