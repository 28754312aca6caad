// Why: the egress gateway enforces per-destination protocol policy ("443 on this address is TLS to
// registry.test only"), so it must classify what a sandboxed client actually speaks from its first
// bytes instead of trusting the port.
// Threat stopped: SSH tunnels, mining pools and HTTP proxies hidden on allowed addresses/ports.
// Every function here is pure and never throws, whatever bytes the (hostile) client sends.

import { parseClientHello } from './tls-client-hello.js';
import type { TlsFingerprint } from './tls-fingerprint.js';
import { parseHttpRequest } from './http-request.js';
import { parseSshBanner, sshIdentificationAt } from './ssh-banner.js';
import { parseMiningRpc, containsMiningRpc } from './mining-jsonrpc.js';

export { parseClientHello } from './tls-client-hello.js';
export { tlsFingerprint, isGrease, type TlsFingerprint, type HelloFields } from './tls-fingerprint.js';
export { parseHttpRequest, normalizeAuthority, HTTP_METHODS, MAX_HTTP_HEAD } from './http-request.js';
export { parseSshBanner, MAX_SSH_ID_LINE, SshIdScanner } from './ssh-banner.js';
export { TlsRecordWalker } from './tls-records.js';
export {
  parseMiningRpc, containsMiningRpc, classifyRpcMessage, classifyRawText, MiningRpcScanner, MAX_JSON_LINE,
} from './mining-jsonrpc.js';
export type { MiningVerdict } from './mining-jsonrpc.js';

export type SniffedProtocol = 'tls' | 'http' | 'ssh' | 'mining' | 'other';

export interface SniffResult {
  /**
   * 'incomplete' means: more bytes are needed to decide (caller will wait a bit more, then call
   * again with the concatenated buffer, or give up and treat as 'other'). In an incomplete
   * result, protocol is only the tentative guess so far ('other' when there is none).
   */
  status: 'done' | 'incomplete';
  protocol: SniffedProtocol;
  /** TLS SNI or HTTP Host (lowercased, port stripped). */
  host?: string;
  /** e.g. 'SSH-2.0-OpenSSH_9.2p1', 'mining.subscribe', 'login agent=XMRig/6.21', 'GET /path'. */
  detail?: string;
  /** HTTP method, or the mining JSON-RPC method. */
  method?: string;
  /** A TLS ClientHello's JA3 and JA4 fingerprints (tls-fingerprint.ts). */
  tls?: TlsFingerprint;
  /** An HTTP request or TLS ClientHello that names its host ambiguously (conflicting Host headers, an invalid one; an unusable server_name): refused. */
  hostAmbiguous?: boolean;
  /** What made the host ambiguous, when the sniff can say more than "conflicting Host headers". */
  ambiguousWhy?: string;
  /** The port an HTTP CONNECT or absolute-form target names (`GET http://a.test:6379/`): where a proxy is asked to go, judged like a connection to it. */
  connectPort?: number;
}

type Parser = (buf: Buffer) => SniffResult;

function candidates(first: number): readonly Parser[] {
  if (first === 0x16) return [parseClientHello];
  if (first === 0x53) return [parseSshBanner, parseHttpRequest]; // 'S'
  if (first >= 0x41 && first <= 0x5a) return [parseHttpRequest];
  if (first === 0x7b || first === 0x5b) return [parseMiningRpc]; // '{' '['
  if (first === 0x0d || first === 0x0a) return [parseHttpRequest, parseMiningRpc];
  if (first === 0x20 || first === 0x09) return [parseMiningRpc];
  return [];
}

/** Classifies the first bytes a client sent on a TCP connection. Never throws. */
export function sniff(firstBytes: Buffer): SniffResult {
  try {
    if (firstBytes.length === 0) return { status: 'incomplete', protocol: 'other' };
    let incomplete: SniffResult | undefined;
    let fallback: SniffResult | undefined;
    for (const parse of candidates(firstBytes[0]!)) {
      const r = parse(firstBytes);
      if (r.status === 'done' && r.protocol !== 'other') return r;
      if (r.status === 'incomplete') incomplete ??= r;
      else if (fallback === undefined && r.method !== undefined) fallback = r;
    }
    if (incomplete) return incomplete;
    // SSH after blanks or blank lines (a relay on the far end strips them before its sshd) is SSH.
    const id = sshIdentificationAt(firstBytes);
    if (id > 0) return parseSshBanner(firstBytes.subarray(id));
    // Whatever it is, a pool message anywhere in these bytes (after a junk first line, say) wins.
    const pool = containsMiningRpc(firstBytes);
    if (pool) return { status: 'done', protocol: 'mining', method: pool.method, detail: pool.method };
    return fallback ?? { status: 'done', protocol: 'other' };
  } catch {
    return { status: 'done', protocol: 'other' };
  }
}
