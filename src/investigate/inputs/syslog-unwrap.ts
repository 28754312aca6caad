// Why: JSON logs are often shipped through syslog — Suricata's `eve-log` with `filetype: syslog`,
// any JSON logger collected by rsyslog — and land as `May  1 12:00:00 sensor1 suricata[812]: {…}`
// or `2024-05-01T12:00:00+00:00 sensor1 suricata[812]: {…}`. Such a file was guessed as CSV and
// rejected with a baffling column error. Its lines are unwrapped here, like a compression layer
// (inputs/source.ts): everything before a line's first `{` is dropped, one line out per line in, so
// the JSON readers and their line numbers work unchanged; the JSON's own timestamp is the one read.
// A line without `{` is passed on whole (the reader then reports it as a bad line).
// Threat stopped: a whole log being unreadable (or silently misread as CSV) because of its transport.

/** A syslog line (optional <PRI>, BSD or RFC 3339 time, host, tag with optional [pid]) carrying a JSON object. */
const WRAPPED = /^(?:<\d{1,3}>(?:1 )?)?(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) \S+ [^\s:{]+(?:\[\d+\])?: ?\{/;

/** Whether the first non-blank line of head is a syslog message whose text is a JSON object. */
export function looksSyslogWrapped(head: Buffer): boolean {
  const text = head.toString('utf8');
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const m = WRAPPED.exec(line);
    if (!m) return false;
    const json = line.slice(m[0].length - 1).replace(/\r$/, '');
    try { const v: unknown = JSON.parse(json); return v !== null && typeof v === 'object' && !Array.isArray(v); } catch { return false; }
  }
  return false;
}

/** Longest prefix held while looking for a line's `{` (a longer one is passed on as it is). */
const MAX_PREFIX = 64 << 10;

/** Drops each line's text before its first `{`, across chunk edges. */
export class SyslogUnwrap {
  private inPrefix = true;
  private pending: Buffer[] = [];
  private pendingLen = 0;

  push(c: Buffer): Buffer {
    const parts: Buffer[] = [];
    let i = 0;
    const n = c.length;
    while (i < n) {
      if (!this.inPrefix) {
        const nl = c.indexOf(10, i);
        if (nl < 0) { parts.push(c.subarray(i)); break; }
        parts.push(c.subarray(i, nl + 1));
        i = nl + 1;
        this.inPrefix = true;
        continue;
      }
      const nl = c.indexOf(10, i), brace = c.indexOf(123, i);
      if (brace >= 0 && (nl < 0 || brace < nl)) { this.drop(); this.inPrefix = false; i = brace; continue; }
      if (nl >= 0) { parts.push(...this.take(), c.subarray(i, nl + 1)); i = nl + 1; continue; } // a line without '{': kept whole
      this.pending.push(c.subarray(i)); this.pendingLen += n - i;
      if (this.pendingLen > MAX_PREFIX) { parts.push(...this.take()); this.inPrefix = false; }
      break;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** What is left at the end (a last line without '{' and without a newline). */
  end(): Buffer { return Buffer.concat(this.take()); }

  private take(): Buffer[] { const p = this.pending; this.pending = []; this.pendingLen = 0; return p; }
  private drop(): void { this.pending = []; this.pendingLen = 0; }
}

/** chunks with each line unwrapped. */
export async function* unwrapChunks(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const u = new SyslogUnwrap();
  for await (const c of chunks) { const out = u.push(c); if (out.length) yield out; }
  const rest = u.end();
  if (rest.length) yield rest;
}
