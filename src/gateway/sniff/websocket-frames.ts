// Why: after an HTTP `Upgrade: websocket`, a client's bytes are WebSocket frames whose payloads are
// XOR-masked with a per-frame key (RFC 6455 §5.3), so a mining JSON-RPC carried inside them never
// shows its marker strings to a byte scanner. Threat it stops: Stratum tunnelled through a cleartext
// WebSocket to an allowed HTTP host (the browser-miner proxies' transport). This reader undoes the
// framing and the mask of the client's stream, chunk by chunk, so the payloads can be scanned like
// any other upload. It never throws on hostile input: any bytes frame as something, and a lying
// length only makes it read the stream as one long payload.

/** Incremental reader of a client's (masked) WebSocket frames: push() returns the unmasked payload bytes. */
export class WebSocketUnmasker {
  private head = Buffer.alloc(0);
  /** Payload bytes left in the current frame; -1 while reading a header. */
  private left = -1;
  private key = Buffer.alloc(4);
  private masked = false;
  /** Offset into the current frame's payload (for the mask's rotation). */
  private at = 0;

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.left < 0) {
        // (any 14 bytes hold a complete header: fewer are kept for the next chunk)
        const need = Math.min(14 - this.head.length, chunk.length - pos);
        const h = Buffer.concat([this.head, chunk.subarray(pos, pos + need)]);
        const parsed = parseHeader(h);
        if (!parsed) { this.head = h; pos += need; continue; }
        pos += parsed.size - this.head.length;
        this.head = Buffer.alloc(0);
        this.masked = parsed.masked;
        if (parsed.masked) parsed.key.copy(this.key);
        this.left = parsed.length;
        this.at = 0;
        if (this.left === 0) this.left = -1;
        continue;
      }
      const n = Math.min(this.left, chunk.length - pos);
      const piece = Buffer.from(chunk.subarray(pos, pos + n));
      if (this.masked) for (let i = 0; i < n; i++) piece[i] = piece[i]! ^ this.key[(this.at + i) & 3]!;
      out.push(piece);
      this.at += n;
      this.left -= n;
      pos += n;
      if (this.left === 0) this.left = -1;
    }
    return out;
  }
}

/** A frame header at the start of h, or undefined when h is too short to hold it. */
function parseHeader(h: Buffer): { size: number; length: number; masked: boolean; key: Buffer } | undefined {
  if (h.length < 2) return undefined;
  const masked = (h[1]! & 0x80) !== 0;
  const len7 = h[1]! & 0x7f;
  const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  const size = 2 + ext + (masked ? 4 : 0);
  if (h.length < size) return undefined;
  let length = len7;
  if (ext === 2) length = h.readUInt16BE(2);
  else if (ext === 8) length = Math.min(Number(h.readBigUInt64BE(2)), Number.MAX_SAFE_INTEGER);
  return { size, length, masked, key: masked ? h.subarray(2 + ext, size) : Buffer.alloc(4) };
}
