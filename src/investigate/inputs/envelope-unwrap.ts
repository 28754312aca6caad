// Why: log collectors ship firewall lines inside JSON envelopes, one event per line, and that is the
// shape an operator's export has: CloudWatch Logs (`{"timestamp": 1714521600000, "message": "2
// 123456789012 eni-… ACCEPT OK"}` for VPC Flow Logs sent to a log group), the journal
// (`journalctl -k -o json`: `{"__REALTIME_TIMESTAMP": "…µs", "_HOSTNAME": …, "MESSAGE": "[UFW BLOCK]
// IN=eth0 … SRC=… DST=…"}`), Docker's json-file driver (`{"log": "{…eve…}\n", "time": …}`), GCP
// (`textPayload`). Such a file was unreadable: no reader knows the envelope, and `--map` cannot split
// the record inside one field. Here each line's text is taken out, like a compression layer
// (inputs/source.ts), one line out per line in, so the readers and their line numbers work
// unchanged. Text without a time of its own (a kernel firewall line) gets the envelope's time in
// front, in the RFC 3339 form the iptables reader reads. A line that is not such an envelope is passed
// on whole (the reader then reports it). Threat stopped: a fleet's firewall evidence being unreadable
// because of the collector it went through.

/** Field names of the text, the time and the host, in order of preference. */
const TEXT = ['message', 'MESSAGE', 'log', 'textPayload', 'msg'];
const TIME = ['__REALTIME_TIMESTAMP', 'timestamp', '@timestamp', 'time', 'receiveTimestamp'];
const HOST = ['_HOSTNAME', 'hostname', 'host'];

/** A kernel firewall line (`… IN=eth0 … SRC=… DST=…`). */
function isKernelLine(t: string): boolean {
  return /(?:^|\s)IN=\S* /.test(t) && t.includes(' SRC=') && t.includes(' DST=');
}

/** Text a reader recognises: a JSON object, a VPC flow record or header, a kernel firewall line. */
function innerKind(text: string): 'json' | 'vpc' | 'kernel' | undefined {
  const t = text.trimStart();
  if (t.startsWith('{')) { try { const v: unknown = JSON.parse(t); return v !== null && typeof v === 'object' && !Array.isArray(v) ? 'json' : undefined; } catch { return undefined; } }
  if (/^\d+ \S+ eni-\S+ /.test(t) || /^version account-id /.test(t)) return 'vpc';
  return isKernelLine(t) ? 'kernel' : undefined;
}

/** Longest journald byte-array MESSAGE decoded (a kernel line is under 1 KiB; the journal caps fields far above). */
const MAX_BYTE_MESSAGE = 64 * 1024;

/**
 * journalctl -o json writes a field that is not valid, printable UTF-8 (a firewall line carrying a
 * control byte from a packet's interface name or a prefix) as an array of byte values; that is still
 * the message. Anything else than an array of integers 0–255 is not text.
 */
function bytesText(v: unknown): string | undefined {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_BYTE_MESSAGE) return undefined;
  for (const b of v) if (typeof b !== 'number' || !Number.isInteger(b) || b < 0 || b > 255) return undefined;
  return Buffer.from(v as number[]).toString('utf8');
}

function textOf(o: Record<string, unknown>): string | undefined {
  for (const k of TEXT) {
    const v = o[k];
    if (typeof v === 'string') return v;
    if (k === 'MESSAGE') { const t = bytesText(v); if (t !== undefined) return t; }
  }
  return undefined;
}

/** The envelope's time in ms, from journald's µs string, an epoch number (s or ms) or an ISO string. */
function timeOf(o: Record<string, unknown>): number | undefined {
  for (const k of TIME) {
    const v = o[k];
    if (k === '__REALTIME_TIMESTAMP' && typeof v === 'string' && /^\d{13,19}$/.test(v)) return Number(v) / 1000;
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) return v < 1e11 ? v * 1000 : v < 1e14 ? v : v / 1000;
    if (typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v)) { const ms = Date.parse(v); if (!Number.isNaN(ms)) return ms; }
  }
  return undefined;
}

function hostOf(o: Record<string, unknown>): string | undefined {
  for (const k of HOST) { const v = o[k]; if (typeof v === 'string' && /^[^\s]+$/.test(v)) return v; }
  return undefined;
}

function parseObject(line: string): Record<string, unknown> | undefined {
  if (!line.trimStart().startsWith('{')) return undefined;
  try { const v: unknown = JSON.parse(line); return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : undefined; } catch { return undefined; }
}

/** Whether the first non-blank line of head is an envelope whose text a reader recognises. */
export function looksEnveloped(head: Buffer): boolean {
  for (const line of head.toString('utf8').split('\n')) {
    if (line.trim() === '') continue;
    const o = parseObject(line.replace(/\r$/, ''));
    const text = o && textOf(o);
    return text !== undefined && innerKind(text) !== undefined;
  }
  return false;
}

/** One line of the file → the line the readers see (without its newline). */
export function unwrapLine(line: string): string {
  const o = parseObject(line);
  const text = o ? textOf(o) : undefined;
  if (!o || text === undefined) return line;
  const flat = text.replace(/\r?\n$/, '').replace(/[\r\n]/g, ' ');
  // (per line only the kernel case matters — inner JSON is parsed once, by the reader)
  if (flat.trimStart().startsWith('{') || !isKernelLine(flat) || /^\s*(?:\d{4}-\d\d-\d\dT|[A-Z][a-z]{2} [ \d]\d \d\d:)/.test(flat)) return flat;
  const ms = timeOf(o);
  if (ms === undefined) return flat; // (the reader reports the missing time)
  const host = hostOf(o);
  return `${new Date(ms).toISOString()} ${host ?? ''}${host ? ' ' : ''}${/\bkernel:/.test(flat) ? '' : 'kernel: '}${flat}`;
}

/** A line longer than this is passed on as it is (no envelope is that long; the reader reports it). */
const MAX_LINE = 16 << 20;

/** chunks with each line's envelope taken off. */
export async function* unwrapEnvelopes(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let rest: Buffer | undefined;
  let raw = false; // inside an over-long line, passed on as it is up to its newline
  for await (const c0 of chunks) {
    let c = c0;
    if (raw) {
      const nl = c.indexOf(10);
      if (nl < 0) { yield c; continue; }
      yield c.subarray(0, nl + 1); c = c.subarray(nl + 1); raw = false;
    }
    const b = rest ? Buffer.concat([rest, c]) : c;
    const last = b.lastIndexOf(10);
    if (last < 0) {
      if (b.length > MAX_LINE) { yield b; rest = undefined; raw = true; } else rest = b;
      continue;
    }
    rest = last + 1 < b.length ? b.subarray(last + 1) : undefined;
    yield Buffer.from(unwrapText(b.subarray(0, last + 1).toString('utf8')), 'utf8');
  }
  if (rest?.length) yield Buffer.from(unwrapText(rest.toString('utf8')), 'utf8');
}

/** Lines of text (each with its newline, the last one maybe without) unwrapped. */
export function unwrapText(s: string): string {
  const lines = s.split('\n');
  const end = lines.pop()!; // ('' after a final newline)
  const out = lines.map((l) => (l.endsWith('\r') ? unwrapLine(l.slice(0, -1)) : unwrapLine(l)) + '\n');
  if (end !== '') out.push(unwrapLine(end));
  return out.join('');
}
