// Why: the logs a fleet already has are mostly rotated and compressed — Zeek archives every hour
// as .log.gz, VPC Flow Logs land in S3 as .log.gz, logrotate gzips eve.json.1 (or, configured so,
// compresses with zstd, xz or bzip2) — and asking users to unpack gigabytes before an
// investigation is friction and doubles the disk. Every reader gets a file's content through
// here: plain files as they are (a byte range when the caller splits them), compressed files
// (recognised by their magic bytes, not their name) decompressed as a stream — gzip by zlib, the
// others by their own command (`zstd -dc`, `xz -dc`, `bzip2 -dc`, run from an argv array, never a
// shell, fed the file on stdin so progress counts its compressed bytes). A compressed file is
// never split into ranges: it is read whole by one reader.
// Threat stopped: a truncated or corrupt file ending the investigation or being silently cut
// short: the readers report it as a bad record at the line where it broke and keep what came
// before; a missing decompressor is said with the package that provides it.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createGunzip, gunzipSync, constants as zc } from 'node:zlib';
import { looksSyslogWrapped, SyslogUnwrap, unwrapChunks } from './syslog-unwrap.js';
import { looksEnveloped, unwrapEnvelopes, unwrapText } from './envelope-unwrap.js';
import { crToLf, looksCrOnly } from './cr-lines.js';

export type Codec = 'plain' | 'gzip' | 'zstd' | 'xz' | 'bzip2';

const MAGIC: [Codec, number[]][] = [
  ['gzip', [0x1f, 0x8b]], ['zstd', [0x28, 0xb5, 0x2f, 0xfd]], ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]], ['bzip2', [0x42, 0x5a, 0x68]],
];
/** The command and Debian package that decompress each codec zlib does not. */
const TOOLS: Partial<Record<Codec, { cmd: string; pkg: string }>> = { zstd: { cmd: 'zstd', pkg: 'zstd' }, xz: { cmd: 'xz', pkg: 'xz-utils' }, bzip2: { cmd: 'bzip2', pkg: 'bzip2' } };

/** How the file is compressed, by its magic bytes ('plain' for anything else). */
export function codecOf(path: string): Codec {
  const fd = openSync(path, 'r');
  const b = Buffer.alloc(6);
  let got: number;
  try { got = readSync(fd, b, 0, 6, 0); } finally { closeSync(fd); }
  // (bzip2's "BZh" is also how a text file may begin: its fourth byte must be the block size digit)
  for (const [codec, m] of MAGIC) if (got >= m.length && m.every((x, i) => b[i] === x) && (codec !== 'bzip2' || (b[3]! >= 0x31 && b[3]! <= 0x39))) return codec;
  return 'plain';
}

/**
 * Whether the file's content is not its bytes as they are (compressed, syslog-wrapped JSON,
 * JSON envelopes or CR-only line ends: see syslog-unwrap.ts, envelope-unwrap.ts, cr-lines.ts):
 * such a file is read whole, never cut into byte ranges.
 */
export function isCompressed(path: string): boolean { return codecOf(path) !== 'plain' || contentWrapper(path) !== undefined; }

/** The wrapper the lines of path's content are taken out of as they are read, if any. */
export function contentWrapper(path: string): Wrapper | 'cr' | undefined {
  const head = withoutBom(rawHead(path, WRAP_SNIFF + 3));
  return looksCrOnly(head.subarray(0, WRAP_SNIFF)) ? 'cr' : wrapperOf(head);
}

/** How much of the content's start decides whether it is wrapped. */
const WRAP_SNIFF = 4096;

/** A wrapper each line of the content is taken out of as it is read. */
export type Wrapper = 'syslog' | 'envelope';

/** Which wrapper the content's first bytes show, if any. */
function wrapperOf(head: Buffer): Wrapper | undefined {
  const h = head.subarray(0, WRAP_SNIFF);
  return looksSyslogWrapped(h) ? 'syslog' : looksEnveloped(lineHead(head)) ? 'envelope' : undefined;
}

/** The first line of head whole when it is longer than WRAP_SNIFF (an envelope is judged by parsing it). */
function lineHead(head: Buffer): Buffer {
  const nl = head.indexOf(10);
  return nl < 0 || nl > WRAP_SNIFF ? head : head.subarray(0, WRAP_SNIFF);
}

/** Whether b starts with a UTF-8 byte order mark (Windows tools, PowerShell exports): not content. */
export function startsWithBom(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf;
}

function withoutBom(b: Buffer): Buffer { return startsWithBom(b) ? b.subarray(3) : b; }

/** A compressed file that cannot be decompressed (truncated, corrupt, no decompressor): reported as a bad record by the readers. */
export class ContentError extends Error {}

/** Up to n bytes of the file's content from its start (decompressed when compressed, syslog lines unwrapped). */
export function headBytes(path: string, n: number): Buffer {
  let raw = withoutBom(rawHead(path, n));
  if (looksCrOnly(raw.subarray(0, WRAP_SNIFF))) raw = crToLf(raw);
  const w = wrapperOf(raw);
  if (w === 'envelope') return Buffer.from(unwrapText(raw.toString('utf8')), 'utf8');
  if (w !== 'syslog') return raw;
  const u = new SyslogUnwrap();
  return Buffer.concat([u.push(raw), u.end()]);
}

/** Up to n bytes of the file's content from its start, decompressed when compressed. */
function rawHead(path: string, n: number): Buffer {
  const codec = codecOf(path);
  const tool = TOOLS[codec];
  if (tool) {
    // The decompressor is stopped once n bytes came out (spawnSync keeps the output up to maxBuffer).
    const r = spawnSync(tool.cmd, ['-dc', '--', path], { maxBuffer: n, stdio: ['ignore', 'pipe', 'ignore'] });
    return r.stdout ? r.stdout.subarray(0, n) : Buffer.alloc(0);
  }
  // Compressed text shrinks 5-20×: 16 × n bytes of gzip (at most 16 MiB) hold n bytes of content.
  const raw = Buffer.alloc(codec === 'gzip' ? Math.min(n * 16, 16 << 20) : n);
  const fd = openSync(path, 'r');
  let got: number;
  try { got = readSync(fd, raw, 0, raw.length, 0); } finally { closeSync(fd); }
  if (codec === 'plain') return raw.subarray(0, got);
  try {
    // A prefix of a gzip stream: decompress what it holds (no error for the missing end), a growing
    // part of it until n bytes came out, and never more than HEAD_INFLATE_MAX × n: a megabyte of gzip
    // can hold a gigabyte of one line, which was all decompressed (11 s) to look at its start.
    for (let k = Math.min(got, Math.max(4096, n >> 2)); ; k = Math.min(got, k * 4)) {
      const out = gunzipSync(raw.subarray(0, k), { finishFlush: zc.Z_SYNC_FLUSH, maxOutputLength: Math.max(n * HEAD_INFLATE_MAX, 1 << 20) });
      if (out.length >= n || k >= got) return out.subarray(0, n);
    }
  } catch {
    // A bad checksum or a break inside the prefix, or more output than that bound: gzip(1) writes
    // what comes before a break, and is stopped once n bytes came out.
    const r = spawnSync('gzip', ['-dc', '--', path], { maxBuffer: n, stdio: ['ignore', 'pipe', 'ignore'] });
    return r.stdout ? r.stdout.subarray(0, n) : Buffer.alloc(0);
  }
}

/** The most content decompressed in process to read a head of n bytes, as a multiple of n (past it, gzip(1) is asked). */
const HEAD_INFLATE_MAX = 16;

/** The file's content as chunks; progress() is how many bytes of the file itself were read. */
export interface ContentStream { chunks: AsyncIterable<Buffer>; progress(): number }

/**
 * The content of path, or of bytes [start, end) of a plain file. A range of a compressed file is
 * an error (callers read compressed files whole).
 */
export function openContent(path: string, opts: { start?: number; end?: number; chunkBytes: number }): ContentStream {
  const c = openDecoded(path, opts);
  // (a range past 0 is of a plain, unwrapped file: only the content's start carries a mark or a wrapper)
  return (opts.start ?? 0) === 0 ? { chunks: contentStart(c.chunks), progress: c.progress } : c;
}

/**
 * The content from its start: without a byte order mark, CR-only line ends read as LF, and with
 * its lines unwrapped when its first bytes show a wrapper — decided on the stream itself, as
 * headBytes decides on the head.
 */
async function* contentStart(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = chunks[Symbol.asyncIterator]();
  const held: Buffer[] = [];
  let len = 0, done = false, failure: unknown;
  try {
    while (len < WRAP_SNIFF + 3) {
      const r = await it.next();
      if (r.done) { done = true; break; }
      held.push(r.value); len += r.value.length;
    }
  } catch (e) { failure = e; done = true; } // (a break in the first bytes: what came before is still read)
  const first = withoutBom(Buffer.concat(held));
  const cr = looksCrOnly(first.subarray(0, WRAP_SNIFF));
  const head = cr ? crToLf(first) : first;
  async function* all(): AsyncGenerator<Buffer> {
    try {
      if (head.length) yield head;
      if (failure !== undefined) throw failure;
      while (!done) { const r = await it.next(); if (r.done) done = true; else yield cr ? crToLf(r.value) : r.value; }
    } finally { if (!done) await it.return?.(); } // (a reader that stops early stops the source: a decompressor is killed)
  }
  const w = wrapperOf(head);
  yield* w === 'syslog' ? unwrapChunks(all()) : w === 'envelope' ? unwrapEnvelopes(all()) : all();
}


function openDecoded(path: string, opts: { start?: number; end?: number; chunkBytes: number }): ContentStream {
  const codec = codecOf(path);
  if (codec !== 'plain' && (opts.start ?? 0) > 0) throw new Error(`${path}: a compressed file cannot be read from byte ${opts.start}`);
  const tool = TOOLS[codec];
  if (tool) {
    // The file is fed to the decompressor's stdin by us, so progress counts its compressed bytes.
    let read = 0;
    return { chunks: toolChunks(path, codec, tool, (n) => { read += n; }), progress: () => read };
  }
  const raw = createReadStream(path, { start: opts.start, end: opts.end === undefined ? undefined : opts.end - 1, highWaterMark: opts.chunkBytes });
  let read = 0;
  raw.on('data', (c: Buffer | string) => { read += c.length; });
  if (codec === 'plain') return { chunks: raw as AsyncIterable<Buffer>, progress: () => read };
  const gunzip = createGunzip({ chunkSize: opts.chunkBytes });
  raw.on('error', (e) => gunzip.destroy(e));
  raw.pipe(gunzip);
  return { chunks: gunzipChunks(path, gunzip), progress: () => read };
}

async function* gunzipChunks(path: string, gunzip: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let delivered = 0;
  let failure: Error;
  try {
    for await (const c of gunzip) { delivered += c.length; yield c; }
    return;
  } catch (e) { failure = e as Error; }
  // zlib drops what the failing call decompressed (up to a chunk: the whole of a small file with a
  // bad checksum); gzip(1) writes everything it decompressed before the break: the rest comes from it.
  yield* gzipToolTail(path, delivered);
  throw new ContentError(`cannot decompress ${path} (${failure.message}): truncated or corrupt gzip; the lines before this point were read`);
}

/** What `gzip -dc` decompresses of path after its first skip bytes (nothing when gzip cannot run). */
async function* gzipToolTail(path: string, skip: number): AsyncGenerator<Buffer> {
  const child = spawn('gzip', ['-dc', '--', path], { stdio: ['ignore', 'pipe', 'ignore'] });
  child.on('error', () => {}); // (no gzip: the break is reported as it is)
  let seen = 0;
  try {
    for await (const c of child.stdout as AsyncIterable<Buffer>) {
      const from = Math.max(0, skip - seen);
      seen += c.length;
      if (from < c.length) yield from > 0 ? c.subarray(from) : c;
    }
  } catch { /* (a broken pipe: what came is kept) */ } finally { child.kill(); }
}

async function* toolChunks(path: string, codec: Codec, tool: { cmd: string; pkg: string }, onRead: (bytes: number) => void): AsyncGenerator<Buffer> {
  const child = spawn(tool.cmd, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const raw = createReadStream(path, { highWaterMark: 1 << 20 });
  raw.on('data', (c: Buffer | string) => onRead(c.length));
  // (a decompressor that stops early, or is missing, closes its stdin: that is reported below, not here)
  child.stdin.on('error', () => {});
  raw.on('error', (e) => child.stdin.destroy(e));
  raw.pipe(child.stdin);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { if (stderr.length < 2000) stderr += c.toString(); });
  const exited = new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.on('error', (error) => resolve({ code: null, error }));
    child.on('close', (code) => resolve({ code }));
  });
  let ended = false;
  try {
    for await (const c of child.stdout as AsyncIterable<Buffer>) yield c;
    ended = true;
  } finally {
    if (!ended) { raw.destroy(); child.kill(); } // (the reader stopped early: nothing more is wanted)
  }
  const r = await exited;
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ContentError(missing ? `cannot read ${path}: it is ${codec}-compressed and the ${tool.cmd} command is missing (install the ${tool.pkg} package)` : `cannot decompress ${path} (${r.error.message})`);
  }
  // (the tool's last message line; progress output is separated by carriage returns)
  const why = stderr.split(/[\r\n]+/).map((l) => l.trim()).filter(Boolean).pop() ?? `exit ${String(r.code)}`;
  if (r.code !== 0) throw new ContentError(`cannot decompress ${path} (${tool.cmd}: ${why}): truncated or corrupt ${codec}; the lines before this point were read`);
}

/**
 * Reads content sequentially into a caller's buffer (the JSON Lines reader keeps its own buffer
 * and carries partial lines): plain files by readSync at a position (a byte order mark at 0 is the
 * caller's to skip: its positions are file positions), compressed files from the stream.
 */
export interface ContentReader { read(into: Buffer, at: number, max: number): Promise<number>; close(): void; progress(): number }

export function contentReader(path: string, start: number): ContentReader {
  if (!isCompressed(path)) {
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
