// Why: the contract between the gateway (which sees sockets and DNS packets) and a
// session (which knows attribution, stores events and raises alerts). The gateway never
// stores anything itself, so several sessions with different policies share one gateway.
import type { CompiledPolicy, Decision, Protocol } from '../policy/index.js';
import type { TlsFingerprint } from './sniff/tls-fingerprint.js';

/** The rule of a connection refused because its sandbox (or the gateway) holds too many open (tcp-proxy.ts). */
export const FLOW_LIMIT_RULE = 'limit:flows';
/**
 * The rule of a connection cut because it sent data the gateway could not read but its far end may: a compressed
 * body past its decoding bound or in a coding Corral cannot decode, compressed WebSocket messages past theirs, more
 * HTTP/2 bodies than are followed (tcp-proxy.ts). Uploads are read whole or not passed (fail closed).
 */
export const UNREAD_RULE = 'upload-unread';
/** The rule of a DNS query refused because its sandbox (or the resolver) has too many waiting on the upstream (dns-upstream.ts). */
export const DNS_LIMIT_RULE = 'limit:dns';

/** What a proxied connection's reports (its decision and its flow records) all carry. */
interface ProxiedFlow {
  flowId: string;
  sport: number;
  dst: { ip: string; port: number };
  /** The name the sandbox resolved to reach dst, when the gateway answered that query. */
  name?: string;
  protocol?: Protocol;
  sniHost?: string;
  /** JA3/JA4 of the client's TLS ClientHello. */
  tls?: TlsFingerprint;
  decision: Decision;
  tsNs: bigint;
}

export interface ConnectReport extends ProxiedFlow {
  kind: 'connect';
  detail?: string;
  /** True when the decision was made after the connection was allowed (protocol seen mid-stream). */
  midstream?: boolean;
  /** observe mode: the decision was 'deny' but traffic was let through. */
  observed: boolean;
}

export interface FlowReport extends ProxiedFlow {
  kind: 'flow';
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  connectLatencyUs?: number;
  error?: string;
  /** A record of a connection still open (bytes so far); the last record of a flow has none. */
  interim?: boolean;
  /** Bytes each way at this flow's previous record (0 for its first), so a threshold is crossed once. */
  bytesUpPrev: number;
  bytesDownPrev: number;
  /** Parts of the upload the scanners could not read: a content coding not decoded, an inflate bound reached. */
  uninspected?: string[];
  /** This record is the first to carry one of `uninspected`'s entries (so a rule fires once, while the flow is open). */
  uninspectedNew?: true;
}

export interface DnsReport {
  kind: 'dns';
  /** The source port of the agent's socket (conntrack's original tuple; else the datagram's, which a clash may have changed). */
  sport: number;
  /** Where the agent sent the query: Corral's resolver, or another one the redirect caught (absent without conntrack). */
  dst?: { ip: string; port: number };
  name: string;
  qtype: string;
  verdict: 'allow' | 'deny';
  rule: string;
  reason: string;
  answers: string[];
  rcode: string;
  /** A denied name answered anyway (observe mode); absent when the answer was a refusal. */
  observed?: true;
  tsNs: bigint;
}

export type GatewayReport = ConnectReport | FlowReport | DnsReport;

/** What the gateway needs to know about one sandbox, keyed by the sandbox's veth address. */
export interface SandboxNet {
  id: string;
  ip: string;
  /** The gateway's address on this sandbox's link, where the redirect delivers its datagrams (for conntrack's tuple). */
  gatewayIp?: string;
  policy: CompiledPolicy;
  observe: boolean;
  /** IP -> the name this sandbox resolved through Corral's resolver to reach it. */
  names: Map<string, string>;
  report(r: GatewayReport): void;
  /** Told about every connection that is still being decided, so a session can wait for its reports. */
  track?(decided: Promise<void>): void;
  /**
   * Told about every proxied connection; the promise resolves once its flow record has been
   * reported, so a closing session can wait for the records of the connections its processes held.
   */
  flowOpened?(reported: Promise<void>): void;
}
