// Why: users point `corral investigate` at whatever logs they have; asking them to name each
// format is friction and a source of silent misreads. These sniffers look at the first KB
// (first non-comment lines; a longer first line is read whole, up to 1 MiB) and name the
// format, or 'unknown' with no guessing.
import { headBytes } from './source.js';
import { looksKv } from './kv.js';
import { looksAsa } from './cisco-asa.js';

const SNIFF_BYTES = 4096;
/**
 * A first line longer than SNIFF_BYTES (an OpenAI episode with its messages, an eve alert with its
 * payload, a long command) is read on, up to this many bytes, so it can be parsed whole.
 */
const LONG_LINE_BYTES = 1 << 20;

/** The first bytes of the file's content (decompressed for a gzip file). */
function sniff(path: string): Buffer {
  return headBytes(path, SNIFF_BYTES);
}

/**
 * True when the first KB are mostly no text (NUL and other control bytes than tab, CR, LF and form
 * feed, or bytes that are not UTF-8, over 10 %): an archive, a pcap, a database — never guessed as a
 * CSV log. A few NUL bytes in a text log (a damaged line) do not make it binary: those lines are
 * left out of the detection and reported by the reader.
 */
function isBinary(b: Buffer): boolean {
  let odd = 0;
  for (const c of b) if (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12) odd++;
  const text = b.toString('utf8');
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 0xfffd) odd++;
  return odd > b.length / 10;
}

export function looksBinary(path: string): boolean { return isBinary(sniff(path)); }

/** The first non-blank lines of the first KB (none for a binary file). */
function head(path: string): string[] {
  let buf = sniff(path);
  if (isBinary(buf)) return [];
  let asked = SNIFF_BYTES;
  if (buf.length === SNIFF_BYTES && firstLineOpen(buf)) { asked = LONG_LINE_BYTES; buf = headBytes(path, asked); }
  const text = buf.toString('utf8'); // (headBytes drops a byte order mark)
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (buf.length === asked && lines.length > 1) lines.pop(); // possibly cut
  return lines.filter((l) => l.trim() !== '' && !l.includes('\u0000'));
}

/** True when the first non-blank line does not end within buf. */
function firstLineOpen(buf: Buffer): boolean {
  let i = 0;
  while (i < buf.length && (buf[i] === 32 || buf[i] === 9 || buf[i] === 10 || buf[i] === 13)) i++;
  return buf.indexOf(10, i) < 0;
}

/** A JSON object cut short (a first line longer than LONG_LINE_BYTES): whether it starts with `{` and names key k early on. */
function cutObjectHasKey(line: string, k: string): boolean {
  return line.trimStart().startsWith('{') && new RegExp(`"${k}"\\s*:`).test(line);
}

function firstObject(lines: string[]): Record<string, unknown> | undefined {
  for (const l of lines) {
    if (!l.trimStart().startsWith('{')) return undefined;
    try { const v: unknown = JSON.parse(l); if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>; } catch { /* next */ }
  }
  return undefined;
}

/** One of suricata-eve, zeek-conn-tsv, zeek-conn-json, iptables-log, vpc-flow, corral-events, jsonl, cisco-asa, kv, csv, or 'unknown'. */
export async function detectNetFormat(path: string): Promise<string> {
  const lines = head(path);
  const l0 = lines[0];
  if (l0 === undefined) return 'unknown';
  if (l0.startsWith('#separator') || l0.startsWith('#fields')) return 'zeek-conn-tsv';
  // One line longer than LONG_LINE_BYTES (an alert with a huge payload): told by its keys.
  const cut = firstObject(lines) ? undefined : lines.length === 1 && l0.trimStart().startsWith('{') ? l0 : undefined;
  if (cut !== undefined) {
    if (cutObjectHasKey(cut, 'event_type') && (cutObjectHasKey(cut, 'src_ip') || cutObjectHasKey(cut, 'timestamp'))) return 'suricata-eve';
    if (cutObjectHasKey(cut, 'id.orig_h')) return 'zeek-conn-json';
    if (cutObjectHasKey(cut, 'kind') && cutObjectHasKey(cut, 'session') && cutObjectHasKey(cut, 'payload')) return 'corral-events';
    return 'jsonl';
  }
  const o = firstObject(lines);
  if (o) {
    if ('event_type' in o && ('src_ip' in o || 'timestamp' in o)) return 'suricata-eve';
    // AWS Network Firewall's alert and flow logs: eve events in an envelope.
    const ev = o.event;
    if (ev !== null && typeof ev === 'object' && !Array.isArray(ev) && 'event_type' in ev && ('firewall_name' in o || 'event_timestamp' in o)) return 'suricata-eve';
    if ('id.orig_h' in o) return 'zeek-conn-json';
    if ('kind' in o && 'session' in o && 'payload' in o) return 'corral-events';
    return 'jsonl';
  }
  if (lines.some((l) => l.includes(' SRC=') && l.includes(' DST=') && l.includes('IN='))) return 'iptables-log';
  if (lines.some(looksAsa)) return 'cisco-asa';
  if (/(^|\s)(\$\{)?srcaddr\}?(\s|$)/.test(l0) && /(^|\s)(\$\{)?dstaddr\}?(\s|$)/.test(l0)) return 'vpc-flow';
  const toks = l0.trim().split(/\s+/);
  if (toks.length >= 10 && /^[2-9]$/.test(toks[0]!) && /^(eni-|-)/.test(toks[2] ?? '')) return 'vpc-flow';
  if (toks.length === 14 && /^\d+$/.test(toks[0]!) && /^(ACCEPT|REJECT|-)$/.test(toks[12]!)) return 'vpc-flow';
  if (looksKv(l0)) return 'kv';
  if (/[,;\t|]/.test(l0) && !l0.trimStart().startsWith('{')) return 'csv';
  return 'unknown';
}

/** One of canonical-jsonl, otlp-json, openai-messages, or 'unknown'. */
export async function detectTraceFormat(path: string): Promise<string> {
  const lines = head(path);
  if (lines.length === 0) return 'unknown';
  const o = firstObject(lines);
  if (o) {
    if ('resourceSpans' in o) return 'otlp-json';
    if (Array.isArray(o.messages) || Array.isArray(o.items)) return 'openai-messages';
    if ('episode' in o && 'command' in o) return 'canonical-jsonl';
    return 'unknown';
  }
  // A pretty-printed or single huge OTLP document: its first line is not a whole JSON value.
  if (lines.join('\n').includes('"resourceSpans"')) return 'otlp-json';
  // One line longer than LONG_LINE_BYTES: told by its keys.
  const l0 = lines[0] ?? '';
  if (cutObjectHasKey(l0, 'messages') || cutObjectHasKey(l0, 'items')) return 'openai-messages';
  if (cutObjectHasKey(l0, 'episode') && cutObjectHasKey(l0, 'command')) return 'canonical-jsonl';
  return 'unknown';
}
