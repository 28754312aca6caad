// Why: turns gateway decisions into alerts in the fixed categories, with ATT&CK IDs and a
// reason the agent can read: an SSH tunnel -> tunnel, Stratum or a pool -> mining,
// metadata -> metadata_access, internal ranges -> internal_probe, anything else denied ->
// policy_violation; an upload the gateway could not read (a decompression bound, an unknown coding) -> defense_evasion.
// Pure functions, so the mapping is unit-tested without sockets.
// A pool is recognised by the resolved name and also by the name the client asked the server
// for (TLS SNI, HTTP Host, CONNECT target): connecting to an allowed address while asking for
// pool.example is mining, not a mere host mismatch (red team: sni_pool, front_http, connect_pool).
import type { AlertDraft } from '../events/event.js';
import type { MiningNameMatcher } from './mining-names.js';
import { DNS_LIMIT_RULE, FLOW_LIMIT_RULE, UNREAD_RULE, type ConnectReport, type DnsReport } from '../gateway/types.js';

export type { AlertDraft };

const INTERNAL = new Set(['private', 'cgnat', 'link_local', 'loopback', 'host_self', 'reserved', 'multicast']);

/** What an agent reads first when observe mode let it through: it was not refused, though enforce mode refuses it. */
export function observedNote(what: 'this connection' | 'these connections' | 'this name'): string {
  const done = what === 'this name' ? 'was resolved and recorded; under enforce it is'
    : what === 'this connection' ? 'went through and was recorded; under enforce it is' : 'went through and were recorded; under enforce they are';
  return `Observe mode: ${what} ${done} refused. `;
}

export function alertForConnect(r: ConnectReport, pools: MiningNameMatcher): AlertDraft | null {
  if (r.decision.verdict !== 'deny') return null;
  const dst = `${r.dst.ip}:${r.dst.port}${r.name ? ` (${r.name})` : ''}`;
  const how = r.observed ? 'would have been blocked (observe mode)' : 'was blocked';
  // (observe mode let the connection through: the agent reads that, then why enforce mode refuses it)
  const base = { reason: `${r.observed ? observedNote('this connection') : ''}${r.decision.reason} [corral rule ${r.decision.rule}]` };
  const poolName = r.name ? pools.match(r.name) : null;
  if (r.protocol === 'mining' || poolName) {
    return { ...base, rule: 'gateway.mining', category: 'mining', severity: 'critical', attack: ['T1496', 'T1496.001'],
      message: `Cryptomining traffic to ${dst} ${how}: ${r.detail ?? poolName ?? 'mining JSON-RPC'}` };
  }
  // The sniffed host: a known pool is as certain as a resolved pool name (critical); the name
  // heuristic (words such as pool, xmr, miner) also fits benign hosts, so it is high.
  const asked = r.sniHost !== undefined && r.sniHost !== r.name ? r.sniHost : undefined;
  const knownPool = asked !== undefined ? pools.known(asked) : null;
  const askedPool = asked !== undefined ? (knownPool !== null ? `known pool domain ${knownPool}` : pools.match(asked)) : null;
  if (askedPool) {
    const where = r.protocol === 'tls' ? 'TLS SNI' : r.protocol === 'http' ? (r.detail?.startsWith('CONNECT ') ? 'CONNECT target' : 'HTTP Host') : 'requested host';
    return { ...base, rule: 'gateway.mining', category: 'mining', severity: knownPool !== null ? 'critical' : 'high', attack: ['T1496', 'T1496.001'],
      message: `Cryptomining pool ${asked} named in the ${where} of a connection to ${dst} ${how}: ${askedPool}` };
  }
  if (r.decision.rule === UNREAD_RULE) {
    // (data hidden where the gateway cannot read it — a decompression bound, an unknown coding — on an allowed flow)
    return { ...base, rule: 'gateway.upload_unread', category: 'defense_evasion', severity: 'medium', attack: ['T1001', 'T1027'],
      message: `Upload to ${dst}${r.protocol ? ` [${r.protocol}]` : ''} ${r.observed ? 'would have been cut (observe mode)' : 'was cut'}: ${r.decision.reason.split(';')[0]}` };
  }
  if (r.decision.rule === FLOW_LIMIT_RULE) {
    return { ...base, rule: 'gateway.flow_limit', category: 'resource_abuse', severity: 'medium', attack: ['T1499'],
      message: `Connection to ${dst} refused: ${r.decision.reason}` };
  }
  if (r.protocol === 'ssh') {
    const attack = ['T1572', 'T1021.004'];
    if (r.dst.port !== 22) attack.push('T1571');
    return { ...base, rule: 'gateway.ssh_tunnel', category: 'tunnel', severity: 'high', attack,
      message: `SSH connection to ${dst} ${how}${r.detail ? ` (${r.detail})` : ''}` };
  }
  if (r.decision.addressClass === 'metadata') {
    return { ...base, rule: 'gateway.metadata', category: 'metadata_access', severity: 'high', attack: ['T1552.005'],
      message: `Cloud metadata access to ${dst} ${how}` };
  }
  if (INTERNAL.has(r.decision.addressClass)) {
    return { ...base, rule: 'gateway.internal_probe', category: 'internal_probe', severity: 'medium', attack: ['T1046', 'T1018'],
      message: `Connection to internal address ${dst} ${how}` };
  }
  return { ...base, rule: 'gateway.policy', category: 'policy_violation', severity: 'low', attack: ['T1071'],
    message: `Connection to ${dst}${r.protocol ? ` [${r.protocol}]` : ''} ${how}: ${r.decision.rule}` };
}

const METADATA_NAMES = /^(metadata(\.google\.internal)?|metadata\.azure\.internal|instance-data(\.ec2\.internal)?|metadata\.packet\.net|169\.254\.169\.254)$/;

export function alertForDns(r: DnsReport, pools: MiningNameMatcher): AlertDraft | null {
  if (r.verdict !== 'deny') return null;
  const pool = pools.match(r.name);
  const reason = `${r.observed ? observedNote('this name') : ''}${r.reason} [corral rule ${r.rule}]`;
  const refused = r.observed ? 'answered (observe mode: would have been refused)' : 'refused';
  if (pool) {
    return { rule: 'dns.mining_pool', category: 'mining', severity: 'high', attack: ['T1496', 'T1496.001'], reason,
      message: `DNS lookup of mining pool ${r.name} ${refused} (${pool})` };
  }
  if (METADATA_NAMES.test(r.name)) {
    return { rule: 'dns.metadata', category: 'metadata_access', severity: 'high', attack: ['T1552.005'], reason,
      message: `DNS lookup of cloud metadata name ${r.name} ${refused}` };
  }
  if (r.rule === DNS_LIMIT_RULE) {
    return { rule: 'dns.query_limit', category: 'resource_abuse', severity: 'medium', attack: ['T1499'], reason,
      message: `DNS lookup of ${r.name} refused: ${r.reason}` };
  }
  if (r.qtype === 'malformed') {
    return { rule: 'dns.malformed', category: 'policy_violation', severity: 'medium', attack: ['T1071.004'], reason,
      message: 'Malformed DNS query from the sandbox' };
  }
  return { rule: 'dns.denied', category: 'policy_violation', severity: 'low', attack: ['T1071.004'], reason,
    message: `DNS lookup of ${r.name} ${refused}: ${r.rule}` };
}

export function alertForDrop(d: { proto: string; dst: string; dport?: number }, addressClass: string): AlertDraft {
  const target = `${d.dst}${d.dport ? `:${d.dport}` : ''}`;
  const reason = `Only TCP through Corral's gateway and DNS to Corral's resolver may leave this sandbox; ${d.proto} to ${target} was rejected.`;
  if (addressClass === 'metadata') {
    return { rule: 'drop.metadata', category: 'metadata_access', severity: 'high', attack: ['T1552.005'], reason, message: `${d.proto} packet to metadata ${target} dropped` };
  }
  if (INTERNAL.has(addressClass)) {
    return { rule: 'drop.internal', category: 'internal_probe', severity: 'medium', attack: ['T1046', 'T1018'], reason, message: `${d.proto} packet to internal ${target} dropped` };
  }
  return { rule: 'drop.non_tcp', category: 'policy_violation', severity: 'medium', attack: ['T1095'], reason, message: `${d.proto} packet to ${target} dropped (non-TCP egress is not allowed)` };
}

/** Names of the socket families and types a refused socket() names (the rest by number). */
const FAMILIES: Record<number, string> = { 2: 'AF_INET', 10: 'AF_INET6', 17: 'AF_PACKET', 40: 'AF_VSOCK', 31: 'AF_BLUETOOTH', 29: 'AF_CAN', 21: 'AF_RDS', 30: 'AF_TIPC', 38: 'AF_ALG', 44: 'AF_XDP', 15: 'AF_KEY' };
const TYPES: Record<number, string> = { 1: 'SOCK_STREAM', 2: 'SOCK_DGRAM', 3: 'SOCK_RAW', 5: 'SOCK_SEQPACKET', 10: 'SOCK_PACKET' };

/**
 * A socket() the sandbox's seccomp filter refused. A raw or packet socket crafts packets around the
 * gateway; AF_VSOCK talks to the hypervisor past the network namespace; the other families are
 * kernel attack surface no tool call needs. Nothing left the sandbox: the alert says someone tried.
 */
export function alertForDeniedSocket(d: { family: number; type: number; errno: number }): AlertDraft {
  // family and type are -1 where the sensor does not read them (registers of an architecture other than x86_64)
  if (d.family < 0) {
    const reason = 'Only TCP through Corral\'s gateway, DNS to Corral\'s resolver, and unix and netlink sockets are available in this sandbox; a socket() was refused.';
    return d.errno === 1
      ? { rule: 'socket.raw', category: 'policy_violation', severity: 'medium', attack: ['T1095'], reason, message: 'socket() refused by the sandbox (EPERM: a raw or packet socket; family and type not read on this architecture)' }
      : { rule: 'socket.family', category: 'policy_violation', severity: 'low', attack: ['T1095'], reason, message: 'socket() refused by the sandbox (EAFNOSUPPORT: a family not available in sandboxes; family and type not read on this architecture)' };
  }
  const fam = FAMILIES[d.family] ?? `family ${d.family}`, type = TYPES[d.type] ?? `type ${d.type}`;
  const what = `socket(${fam}, ${type})`;
  const reason = `Only TCP through Corral's gateway, DNS to Corral's resolver, and unix and netlink sockets are available in this sandbox; ${what} was refused.`;
  if (d.family === 40) {
    return { rule: 'socket.vsock', category: 'policy_violation', severity: 'high', attack: ['T1599', 'T1095'], reason,
      message: `${what} refused: vsock reaches the hypervisor around the sandbox's network` };
  }
  if (d.family === 17 || d.type === 3 || d.type === 10) {
    return { rule: 'socket.raw', category: 'policy_violation', severity: 'medium', attack: ['T1095'], reason,
      message: `${what} refused: raw and packet sockets would craft traffic around the gateway` };
  }
  return { rule: 'socket.family', category: 'policy_violation', severity: 'low', attack: ['T1095'], reason,
    message: `${what} refused: the family is not available in sandboxes` };
}

/**
 * A sandbox process connected a unix socket file whose listener is a process outside its sandbox: a socket
 * in a host directory the sandbox sees (a host workspace: a dev server's, an agent's, docker's) takes it
 * around its network namespace and the gateway to whatever that process will do for it.
 */
export function alertForUnixOutside(d: { path: string; type: number }): AlertDraft {
  const kind = d.type === 2 ? 'datagram' : d.type === 5 ? 'seqpacket' : 'stream';
  return {
    rule: 'sandbox.unix_socket_outside', category: 'sandbox_escape', severity: 'critical', attack: ['T1611', 'T1559'],
    message: `Connected to ${JSON.stringify(d.path)}, a unix socket (${kind}) that a process outside this sandbox listens on: around the sandbox's network and gateway`,
    reason: 'A unix socket in a directory shared with the host reaches a host process outside the sandbox; connecting to it is not allowed.',
  };
}
