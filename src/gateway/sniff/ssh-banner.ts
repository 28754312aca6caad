// Why: an SSH client always speaks first with its identification string "SSH-2.0-..." (RFC 4253
// 4.2), so the gateway can recognise SSH on any port from the first bytes.
// Threat stopped: SSH tunnels (ssh -R / -D / -L) to an otherwise allowed address, for example on
// port 443. As soon as "SSH-" is seen the verdict is final, so a client cannot stall mid-line
// until the gateway gives up waiting and forwards the stream unclassified.

import type { SniffResult } from './index.js';

const PREFIX = Buffer.from('SSH-', 'latin1');
/** RFC 4253: the identification line is at most 255 bytes including CR LF. */
export const MAX_SSH_ID_LINE = 255;

/** Fresh objects each time: callers may annotate results. */
const OTHER = (): SniffResult => ({ status: 'done', protocol: 'other' });

/** Classifies bytes that may start an SSH client identification string. detail = that line. */
export function parseSshBanner(buf: Buffer): SniffResult {
  const n = Math.min(buf.length, PREFIX.length);
  for (let i = 0; i < n; i++) if (buf[i] !== PREFIX[i]) return OTHER();
  if (buf.length < PREFIX.length) return { status: 'incomplete', protocol: 'ssh' };
  const lf = buf.indexOf(0x0a);
  let end = lf >= 0 && lf < MAX_SSH_ID_LINE ? lf : Math.min(buf.length, MAX_SSH_ID_LINE);
  if (end > 0 && buf[end - 1] === 0x0d) end--;
  const line = buf.toString('latin1', 0, end).replace(/[^\x20-\x7e]/g, '?');
  return { status: 'done', protocol: 'ssh', detail: line };
}

/** Blanks an identification line may follow on its own line (a relay on the far end can strip them). */
// (\v and \f too: a relay that trims a line before its sshd sees them as blanks — a red-team review, session 39)
function isBlank(c: number): boolean { return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0b || c === 0x0c; }
const IDS = [Buffer.from('SSH-2.0-', 'latin1'), Buffer.from('SSH-1.99-', 'latin1')];

/** 1: an identification string starts at buf[i] (its version and one byte of software name); 0: not; -1: buf ends first. */
function idAt(buf: Buffer, i: number): number {
  for (const id of IDS) {
    let k = 0;
    while (k < id.length && i + k < buf.length && buf[i + k] === id[k]) k++;
    if (k < id.length) { if (i + k === buf.length) return -1; continue; }
    if (i + k === buf.length) return -1;
    const c = buf[i + k]!;
    if (c > 0x20 && c < 0x7f) return 1;
  }
  return 0;
}

/**
 * Finds an SSH identification string ("SSH-2.0-x", "SSH-1.99-x") at the start of a line of a client's
 * byte stream, blanks before it allowed, across the chunks it arrives in. Threat stopped: an SSH tunnel
 * behind other first bytes — a benign HTTP request, blank lines, a space — on a destination whose rule
 * does not allow SSH, with a relay on the far end that strips them before its sshd (a review, session 31:
 * the sniff looked at the very first byte only, and upload scanning only for mining).
 */
export class SshIdScanner {
  /** Bytes at the end of the last chunk that may begin an identification string (kept for the next). */
  private pending: Buffer = Buffer.alloc(0);
  /** Whether the stream so far ends at a line start (only blanks since the last '\n', or since the start). */
  private lineStart = true;

  /** The identification line found in this chunk (with what came before), or undefined. */
  push(chunk: Buffer): string | undefined {
    const buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const before = this.pending.length ? true : this.lineStart;
    const startsLine = (i: number): boolean => {
      let j = i - 1;
      while (j >= 0 && isBlank(buf[j]!)) j--;
      return j < 0 ? before : buf[j] === 0x0a;
    };
    for (let at = buf.indexOf(0x53); at >= 0; at = buf.indexOf(0x53, at + 1)) { // 'S'
      const r = idAt(buf, at);
      if (r === 0 || !startsLine(at)) continue;
      if (r === 1) { this.pending = Buffer.alloc(0); return parseSshBanner(buf.subarray(at)).detail; }
      // (the chunk ends inside what may be an identification string at a line start: kept for the next one)
      this.pending = Buffer.from(buf.subarray(at));
      return undefined;
    }
    this.pending = Buffer.alloc(0);
    this.lineStart = startsLine(buf.length);
    return undefined;
  }
}

/** Where a line-start SSH identification string begins in the first bytes of a stream (blanks and blank lines before it), or -1. */
export function sshIdentificationAt(buf: Buffer): number {
  for (let at = buf.indexOf(0x53); at >= 0; at = buf.indexOf(0x53, at + 1)) {
    if (idAt(buf, at) !== 1) continue;
    let j = at - 1;
    while (j >= 0 && (isBlank(buf[j]!) || buf[j] === 0x0a)) j--;
    if (j < 0) return at;
  }
  return -1;
}
