// Why: a WebSocket client that negotiated permessage-deflate (RFC 7692; browsers and most libraries offer it)
// sends its messages compressed, so a pool login inside them shows no marker string and no JSON to the
// gateway's scanners — Stratum through a compressing WebSocket relay passed as HTTP. This inflates a client's
// compressed messages so they are scanned like any other payload. Messages share one compression context by
// default (each may refer to the ones before), so the connection's compressed bytes so far are inflated as one
// raw-deflate stream (each message ends with the 00 00 ff ff the sender left out) and the new output is the
// message. That costs more per message as the stream grows, so it is bounded: the first MAX_COMPRESSED bytes and
// MAX_MESSAGES messages of a connection (a pool login comes first), at most MAX_OUTPUT inflated bytes (a
// decompression bomb gets no further), and at most MAX_WORK bytes inflated over all the re-inflations (the relay's
// thread is shared by every sandbox: ≈ 0.15 s of it at most per connection). Past a bound `exhausted` says so.
import { constants, inflateRawSync } from 'node:zlib';
import type { FramePiece } from './websocket-frames.js';

export const WS_INFLATE_LIMITS = { MAX_COMPRESSED: 1 << 20, MAX_MESSAGES: 256, MAX_OUTPUT: 16 << 20, MAX_WORK: 64 << 20 } as const;

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

export class WebSocketInflater {
  private parts: Buffer[] = [];
  private compressedBytes = 0;
  private produced = 0;
  private messages = 0;
  private work = 0;
  /** The bound was reached, or the stream did not inflate: later messages are not inflated. */
  exhausted = false;
  /** Why it stopped ('bound' or 'corrupt'), once exhausted. */
  why?: 'bound' | 'corrupt';

  /** Feeds one piece of a compressed message; returns the message's inflated text when the piece ends it. */
  push(p: FramePiece): Buffer | undefined {
    if (this.exhausted || !p.compressed) return undefined;
    if (this.compressedBytes + p.data.length > WS_INFLATE_LIMITS.MAX_COMPRESSED) return this.stop('bound');
    this.parts.push(p.data);
    this.compressedBytes += p.data.length;
    if (!p.messageEnd) return undefined;
    if (++this.messages > WS_INFLATE_LIMITS.MAX_MESSAGES) return this.stop('bound');
    this.parts.push(TAIL);
    this.compressedBytes += TAIL.length;
    let all: Buffer;
    try {
      all = inflateRawSync(Buffer.concat(this.parts), { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: WS_INFLATE_LIMITS.MAX_OUTPUT });
    } catch (e) {
      // (past MAX_OUTPUT: a bomb, or simply a long stream — either way no further)
      return this.stop((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE' ? 'bound' : 'corrupt');
    }
    const out = all.subarray(this.produced);
    this.produced = all.length;
    this.work += all.length;
    // (this message is still scanned; the next ones would cost more than the bound allows)
    if (this.work > WS_INFLATE_LIMITS.MAX_WORK) this.stop('bound');
    return out;
  }

  private stop(why: 'bound' | 'corrupt'): undefined {
    this.exhausted = true;
    this.why = why;
    this.parts = [];
    return undefined;
  }
}
