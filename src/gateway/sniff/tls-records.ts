// Why: once a connection's first bytes are a TLS ClientHello, its upload is encrypted and cannot be
// inspected; what can be checked is that it stays TLS — a sequence of records, each a 5-byte header
// (content type 20-24, version 3.x, a length of at most 2^14 + 2048) and that many bytes.
// Threat stopped: a fake ClientHello followed by cleartext (a pool login, an SSH stream) on a
// destination whose rule allows TLS: the gateway stopped inspecting at the hello (a review,
// session 31, mined through an allowed 443 that way with no alert).

/** The largest TLSCiphertext fragment (RFC 8446 5.2: 2^14 + 256; RFC 5246 allows 2^14 + 2048). */
const MAX_RECORD = (1 << 14) + 2048;

/** Walks a client's TLS records across chunks; push() returns where in a chunk the stream stops being TLS. */
export class TlsRecordWalker {
  /** Body bytes of the current record still to come. */
  private body = 0;
  /** A header split across chunks. */
  private head: number[] = [];

  /** The offset in chunk of the first byte that cannot be a TLS record's, or -1 when all of it can. */
  push(chunk: Buffer, onBody?: (body: Buffer) => void): number {
    let i = 0;
    while (i < chunk.length) {
      if (this.body > 0) {
        const n = Math.min(this.body, chunk.length - i);
        onBody?.(chunk.subarray(i, i + n)); // (record bodies, for what checks their bytes: cleartext in records)
        this.body -= n;
        i += n;
        continue;
      }
      const start = i - this.head.length;
      while (this.head.length < 5 && i < chunk.length) this.head.push(chunk[i++]!);
      if (this.head.length < 5) {
        if (!this.plausible()) return Math.max(0, start);
        return -1;
      }
      if (!this.plausible()) return Math.max(0, start);
      this.body = (this.head[3]! << 8) | this.head[4]!;
      this.head = [];
    }
    return -1;
  }

  /** Whether the header bytes so far can begin a record. */
  private plausible(): boolean {
    const h = this.head;
    if (h.length > 0 && (h[0]! < 20 || h[0]! > 24)) return false;
    if (h.length > 1 && h[1] !== 3) return false;
    if (h.length > 2 && h[2]! > 4) return false;
    if (h.length > 4 && ((h[3]! << 8) | h[4]!) > MAX_RECORD) return false;
    return true;
  }
}
