// Why: after an HTTP `Upgrade: websocket`, a client's bytes are WebSocket frames whose payloads are
// XOR-masked with a per-frame key (RFC 6455 §5.3), so a mining JSON-RPC carried inside them never
// shows its marker strings to a byte scanner. Threat it stops: Stratum tunnelled through a cleartext
// WebSocket to an allowed HTTP host (the browser-miner proxies' transport). This reader undoes the
// framing and the mask of the client's stream, chunk by chunk, so the payloads can be scanned like
// any other upload. It never throws on hostile input: any bytes frame as something, and a lying
// length only makes it read the stream as one long payload.

/**
 * A piece of one frame's unmasked payload: its opcode, whether it is the frame's first bytes, whether its message
 * is compressed (RSV1 on the message's first frame: permessage-deflate, RFC 7692), and whether it ends a message
 * (the last bytes of a data frame with FIN set).
 */
export interface FramePiece { data: Buffer; opcode: number; frameStart: boolean; compressed: boolean; messageEnd: boolean }

/** Incremental reader of a client's (masked) WebSocket frames: push() returns the unmasked payload bytes. */
export class WebSocketUnmasker {
  private opcode = 0;

  push(chunk: Buffer): Buffer[] { return this.pushFrames(chunk).map((p) => p.data); }

  private head = Buffer.alloc(0);
  /** Payload bytes left in the current frame; -1 while reading a header. */
  private left = -1;
  private key = Buffer.alloc(4);
  private masked = false;
  /** Offset into the current frame's payload (for the mask's rotation). */
  private at = 0;
  private fin = false;
  /** The current data message is compressed (set by its first frame, kept by its continuations). */
  private compressed = false;

  /**
   * Set at a header no client may send — unmasked, RSV2 or RSV3, a reserved opcode, a control frame over 125 bytes
   * or fragmented: what follows is not WebSocket (raw JSON after an `Upgrade` the server ignored — a red-team
   * review, session 39), so no more frames are read and the caller scans the bytes raw.
   */
  broken = false;

  /** The payload pieces in this chunk, with their frames' opcodes (a control frame's too). */
  pushFrames(chunk: Buffer): FramePiece[] {
    const out: FramePiece[] = [];
    let pos = 0;
    while (pos < chunk.length && !this.broken) {
      if (this.left < 0) {
        // (any 14 bytes hold a complete header: fewer are kept for the next chunk)
        const need = Math.min(14 - this.head.length, chunk.length - pos);
        const h = Buffer.concat([this.head, chunk.subarray(pos, pos + need)]);
        const parsed = parseHeader(h);
        if (!parsed) { this.head = h; pos += need; continue; }
        const op = parsed.opcode;
        if (!parsed.masked || (h[0]! & 0x30) !== 0 || (op > 2 && op < 8) || op > 10 || (op >= 8 && (parsed.length > 125 || !parsed.fin))) { this.broken = true; break; }
        pos += parsed.size - this.head.length;
        this.head = Buffer.alloc(0);
        this.masked = parsed.masked;
        this.opcode = parsed.opcode;
        this.fin = parsed.fin;
        // (control frames, 8 and up, come between a message's frames and leave its compression alone)
        if (parsed.opcode === 1 || parsed.opcode === 2) this.compressed = parsed.rsv1;
        if (parsed.masked) parsed.key.copy(this.key);
        this.left = parsed.length;
        this.at = 0;
        if (this.left === 0) {
          this.left = -1;
          // (an empty last frame still ends its message)
          if (parsed.fin && parsed.opcode < 8) out.push({ data: Buffer.alloc(0), opcode: parsed.opcode, frameStart: true, compressed: this.compressed, messageEnd: true });
        }
        continue;
      }
      const n = Math.min(this.left, chunk.length - pos);
      const piece = Buffer.from(chunk.subarray(pos, pos + n));
      if (this.masked) for (let i = 0; i < n; i++) piece[i] = piece[i]! ^ this.key[(this.at + i) & 3]!;
      const ends = this.left === n && this.fin && this.opcode < 8;
      out.push({ data: piece, opcode: this.opcode, frameStart: this.at === 0, compressed: this.opcode < 8 && this.compressed, messageEnd: ends });
      this.at += n;
      this.left -= n;
      pos += n;
      if (this.left === 0) this.left = -1;
    }
    return out;
  }
}

/** A frame header at the start of h, or undefined when h is too short to hold it. */
function parseHeader(h: Buffer): { size: number; length: number; masked: boolean; key: Buffer; opcode: number; fin: boolean; rsv1: boolean } | undefined {
  if (h.length < 2) return undefined;
  const masked = (h[1]! & 0x80) !== 0;
  const len7 = h[1]! & 0x7f;
  const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  const size = 2 + ext + (masked ? 4 : 0);
  if (h.length < size) return undefined;
  let length = len7;
  if (ext === 2) length = h.readUInt16BE(2);
  else if (ext === 8) length = Math.min(Number(h.readBigUInt64BE(2)), Number.MAX_SAFE_INTEGER);
  return { size, length, masked, key: masked ? h.subarray(2 + ext, size) : Buffer.alloc(4), opcode: h[0]! & 0x0f, fin: (h[0]! & 0x80) !== 0, rsv1: (h[0]! & 0x40) !== 0 };
}

const FRAME_SSH = /^[ \t\r\n]*(SSH-(?:2\.0|1\.99)-[\x21-\x7e][^\r\n]{0,200})/;
const FRAME_SSH_PREFIX = 'SSH-2.0-';

/**
 * SSH carried in WebSocket frames (websockify, wstunnel, a ProxyCommand through a WebSocket relay): a
 * client data frame whose unmasked payload begins, after blanks, with an SSH identification string.
 * Threat: `ssh -o ProxyCommand=<ws client>` to an allowed HTTP host, whose relay hands the frames to an
 * sshd. Reads at most the first 64 bytes of each data frame; push() returns the identification line.
 */
export class WebSocketSshCheck {
  private head = '';
  private open = false;

  push(p: FramePiece): string | undefined {
    if (p.opcode >= 8) return undefined; // (control frames carry no stream data)
    if (p.frameStart) { this.head = ''; this.open = true; }
    if (!this.open) return undefined;
    this.head += p.data.toString('latin1', 0, Math.min(p.data.length, 64 - this.head.length));
    const m = FRAME_SSH.exec(this.head);
    if (m) { this.open = false; return m[1]!.replace(/[^\x20-\x7e]/g, '?'); }
    const rest = this.head.trimStart();
    // (still a possible prefix of "SSH-2.0-x" / "SSH-1.99-x": wait for more of the frame)
    const possible = rest.length < 10 && (FRAME_SSH_PREFIX.startsWith(rest.slice(0, 8)) || 'SSH-1.99-'.startsWith(rest.slice(0, 9)));
    if (!possible || this.head.length >= 64) this.open = false;
    return undefined;
  }
}
