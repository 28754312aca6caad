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
