// Why: the logs a fleet already has are mostly rotated and compressed — Zeek archives every hour
// as .log.gz, VPC Flow Logs land in S3 as .log.gz, logrotate gzips eve.json.1 — and asking users
// to unpack gigabytes before an investigation is friction and doubles the disk. Every reader gets
// a file's content through here: plain files as they are (a byte range when the caller splits
// them), gzip files (recognised by their magic bytes, not their name) decompressed as a stream.
// A gzip file is never split into ranges: it is read whole by one reader.
// Threat stopped: a truncated or corrupt .gz ending the investigation or being silently cut short:
// the readers report it as a bad record at the line where it broke and keep what came before.
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createGunzip, gunzipSync, constants as zc } from 'node:zlib';

/** True when the file starts with gzip's magic bytes (1f 8b). */
export function isGzip(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally { closeSync(fd); }
}

/** Up to n bytes of the file's content from its start (decompressed for gzip). */
export function headBytes(path: string, n: number): Buffer {
  const gz = isGzip(path);
  // Compressed text shrinks 5-20×: 16 × n bytes of it (at most 16 MiB) hold n bytes of content.
  const raw = Buffer.alloc(gz ? Math.min(n * 16, 16 << 20) : n);
  const fd = openSync(path, 'r');
  let got: number;
  try { got = readSync(fd, raw, 0, raw.length, 0); } finally { closeSync(fd); }
  if (!gz) return raw.subarray(0, got);
  try {
    // A prefix of a gzip stream: decompress what it holds (no error for the missing end).
    return gunzipSync(raw.subarray(0, got), { finishFlush: zc.Z_SYNC_FLUSH }).subarray(0, n);
  } catch { return Buffer.alloc(0); }
}

/** The file's content as chunks; progress() is how many bytes of the file itself were read. */
export interface ContentStream { chunks: AsyncIterable<Buffer>; progress(): number }

/**
 * The content of path, or of bytes [start, end) of a plain file. A range of a gzip file is an
 * error (callers read gzip files whole).
 */
export function openContent(path: string, opts: { start?: number; end?: number; chunkBytes: number }): ContentStream {
  const gz = isGzip(path);
  if (gz && (opts.start ?? 0) > 0) throw new Error(`${path}: a gzip file cannot be read from byte ${opts.start}`);
  const raw = createReadStream(path, { start: opts.start, end: opts.end === undefined ? undefined : opts.end - 1, highWaterMark: opts.chunkBytes });
  let read = 0;
  raw.on('data', (c: Buffer | string) => { read += c.length; });
  if (!gz) return { chunks: raw as AsyncIterable<Buffer>, progress: () => read };
  const gunzip = createGunzip({ chunkSize: opts.chunkBytes });
  raw.on('error', (e) => gunzip.destroy(e));
  raw.pipe(gunzip);
  return { chunks: gunzipChunks(path, gunzip), progress: () => read };
}

/** A compressed file that cannot be decompressed further (truncated, corrupt): reported as a bad record by the readers. */
export class ContentError extends Error {}

async function* gunzipChunks(path: string, gunzip: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  try {
    for await (const c of gunzip) yield c;
  } catch (e) {
    throw new ContentError(`cannot decompress ${path} (${(e as Error).message}): truncated or corrupt gzip; the lines before this point were read`);
  }
}

/**
 * Reads content sequentially into a caller's buffer (the JSON Lines reader keeps its own buffer
 * and carries partial lines): plain files by readSync at a position, gzip files from the stream.
 */
export interface ContentReader { read(into: Buffer, at: number, max: number): Promise<number>; close(): void; progress(): number }

export function contentReader(path: string, start: number): ContentReader {
  if (!isGzip(path)) {
    const fd = openSync(path, 'r');
    let pos = start;
    return {
      async read(into, at, max) { const got = readSync(fd, into, at, max, pos); pos += got; return got; },
      close() { closeSync(fd); },
      progress() { return pos - start; },
    };
  }
  const src = openContent(path, { start, chunkBytes: 1 << 20 });
  const it = src.chunks[Symbol.asyncIterator]();
  let pending: Buffer | undefined;
  return {
    async read(into, at, max) {
      if (!pending || pending.length === 0) {
        const r = await it.next();
        if (r.done) return 0;
        pending = r.value;
      }
      const n = Math.min(max, pending.length);
      pending.copy(into, at, 0, n);
      pending = pending.subarray(n);
      return n;
    },
    close() { void it.return?.(); },
    progress: src.progress,
  };
}
