// Why: a WebSocket client that negotiated permessage-deflate (RFC 7692; browsers and most libraries offer it)
// sends its messages compressed, so a pool login inside them shows no marker string and no JSON to the
// gateway's scanners — Stratum through a compressing WebSocket relay passed as HTTP. This inflates a client's
// compressed messages as they stream, so they are scanned like any other payload. Messages share one compression
// context by default (each may refer to the ones before): one raw-deflate stream for the connection, each message
// followed by the 00 00 ff ff its sender left out (stream-inflate.ts, streaming: no re-inflation of the messages
// before). A message that ends its deflate stream (a final block, which the RFC allows) starts a fresh one for the
// next, as a receiver must — an inflater that ignored the bytes after it would have been blind from there on.
// Threat: a pool login or SSH in compressed messages; a bomb or an endless stream stops at MAX_OUTPUT inflated bytes
// per connection (≈ 0.6 s of the relay's thread at most), said by `exhausted`/`why` and put on the flow record.
import type { FramePiece } from './websocket-frames.js';
import { StreamInflater, type StopReason } from './stream-inflate.js';

export const WS_INFLATE_LIMITS = { MAX_OUTPUT: 64 << 20 } as const;

const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** A piece of a message's inflated text; `start` on the first of its message. */
export interface InflatedPiece { data: Buffer; start: boolean }

export class WebSocketInflater {
  private z = new StreamInflater(['deflate-raw'], WS_INFLATE_LIMITS.MAX_OUTPUT);
  private inMessage = false;
  /** No text of the current message has been returned yet. */
  private startPending = false;
  /** The bound was reached, or the stream did not inflate: later messages are not inflated. */
  exhausted = false;
  /** Why it stopped, once exhausted. */
  why?: StopReason;

  /** Feeds one piece of a compressed message; returns the inflated text it completes (possibly none yet). */
  push(p: FramePiece): InflatedPiece | undefined {
    if (this.exhausted || !p.compressed) return undefined;
    if (!this.inMessage) this.startPending = true;
    this.inMessage = !p.messageEnd;
    const out = this.z.push(p.data);
    if (p.messageEnd) {
      if (this.z.ended()) this.z.restart(['deflate-raw']);
      else out.push(...this.z.push(TAIL));
    }
    if (this.z.stopped) { this.exhausted = true; this.why = this.z.stopped; }
    if (out.length === 0) return undefined;
    const start = this.startPending;
    this.startPending = false;
    return { data: out.length === 1 ? out[0]! : Buffer.concat(out), start };
  }
}
