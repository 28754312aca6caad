// Why: the kernel half of "the gateway is the only path out". In the namespace where the
// gateway runs, traffic arriving from a sandbox's veth is either redirected into Corral's
// transparent proxy (all TCP) or resolver (DNS), or logged and rejected (everything else:
// other UDP, ICMP, IPv6, forwarding). Threats: direct egress around the proxy, UDP/ICMP
// tunnels, reaching the host's own services, IPv6 side doors. Rejecting (not dropping)
// makes blocked attempts fail fast instead of hanging the agent.
//
// One table per runtime, not one per sandbox: the runtime's sandboxes' host-side veths are
// elements of one set (`ifs`) that a fixed handful of rules match. With a table per sandbox
// every packet on the host (the gateway's own relays included) walked every sandbox's base
// chains — 258 sandboxes made a loopback round trip 4× slower — and every `nft` run read and
// re-committed a ruleset that grew with them (≈ 1 ms per sandbox per add or delete). A set
// lookup costs the same for 1 or 16 000 sandboxes, and a sandbox comes and goes as one element.
//
// Each sandbox may hold at most CONNTRACK_PER_SANDBOX connection-tracking entries in the gateway's
// namespace (the host's, in production): every DNS query to a new address and every TCP attempt is
// one, kept up to 30 s (DNS) or 2 min (a closed TCP connection), and they are charged to no cgroup.
// Threat: one sandbox sending DNS to ever-changing addresses filled a quarter of the host's table in
// 3 s (a review, session 21); a full table drops new flows for the host and every other sandbox.
// All of a runtime's sandboxes together hold at most `ctTotal` (by default a quarter of the host's
// nf_conntrack_max): without it, a few dozen hostile sandboxes, each under its own cap, could still
// fill the table, and the gateway's own upstream connections (every sandbox's way out) need room in it.
// Past either cap a new flow is logged (rate-limited, attributed by its veth) and refused.
//
// The gateway's TCP proxy and resolver listen on every address of the gateway's namespace (the
// redirect sends a sandbox's flows to the address of its veth, one per sandbox). Threat: anyone
// else who can reach the host — another machine on its networks, a local user, a neighbour
// forging a sandbox's source address — opening connections to them. The proxy and resolver
// answer sandbox sources only and need the redirect's original destination, but the kernel now
// refuses such flows before either sees them.

export interface GatewayRulesetSpec {
  table: string;
  tcpPort: number;
  dnsPort: number;
  /** Connection-tracking entries all of the runtime's sandboxes may hold together (conntrackTotal()). */
  ctTotal: number;
}

export const DROP_LOG_PREFIX = 'corral-drop';
/**
 * Logged drops per second per sandbox (burst above it); beyond, packets are rejected unlogged. Small enough that
 * one flooding sandbox writes ≈ 30 KiB at once and ≈ 15 KiB a second into the kernel's log ring (128 KiB here),
 * which its reader also needs for everyone else's drops (200/s with a 400 burst, ≈ 120 KiB at once, got a quiet
 * neighbour's drop overwritten under load: session 37).
 */
export const DROP_LOG_RATE = 50;
export const DROP_LOG_BURST = 100;
/** Connection-tracking entries one sandbox may hold at once (≈ 270 new DNS flows or 68 TCP connections a second, sustained). */
export const CONNTRACK_PER_SANDBOX = 8192;
/** Bounds of the runtime-wide cap: never below one sandbox's cap, never above 1 Mi entries. */
const CONNTRACK_TOTAL_MIN = CONNTRACK_PER_SANDBOX, CONNTRACK_TOTAL_MAX = 1 << 20;

/**
 * The default runtime-wide cap for a host whose table holds `hostMax` entries (nf_conntrack_max; undefined
 * when the module is not loaded yet: the kernel's usual default, 65 536, is assumed): a quarter of it, so
 * the host's own services and the gateway's upstream connections keep three quarters.
 */
export function conntrackTotal(hostMax: number | undefined): number {
  const max = hostMax !== undefined && Number.isFinite(hostMax) && hostMax > 0 ? hostMax : 65_536;
  return Math.min(CONNTRACK_TOTAL_MAX, Math.max(CONNTRACK_TOTAL_MIN, Math.floor(max / 4)));
}

/** The set of the runtime's sandbox veths (host side). */
export const SANDBOX_IF_SET = 'ifs';
/** The per-sandbox log limiter (a meter keyed by the veth). */
const DROP_METER = 'droplog';
/** The per-sandbox count of connection-tracking entries (keyed by the veth). */
const CT_COUNT = 'ctcount';

/** The table of the runtime `instance` (`<pid>-<hex>`); its pid lets a later start find it orphaned. */
export function gatewayTableName(instance: string): string {
  return `corral_gw_${instance.replace(/[^0-9a-zA-Z]/g, '_')}`;
}

/** The owner pid of a table gatewayTableName made, or undefined for any other name. */
export function gatewayTableOwner(table: string): number | undefined {
  const m = /^corral_gw_(\d+)_[0-9a-zA-Z_]*$/.exec(table);
  return m ? Number(m[1]) : undefined;
}

/** Pure builder for `nft -f -`: the runtime's table, with no sandbox in it yet. */
export function buildGatewayRuleset(s: GatewayRulesetSpec): string {
  // Logging is rate-limited per sandbox (a meter keyed by its veth), so a flooding sandbox floods
  // neither the host's kernel log nor Corral's reader, nor uses up another sandbox's budget; every
  // packet is still rejected by the rule that follows its log rule. The meter is bounded (16 384
  // leases at most); when it is full a drop goes unlogged, never unrejected.
  const log = `update @${DROP_METER} { iifname limit rate ${DROP_LOG_RATE}/second burst ${DROP_LOG_BURST} packets } log prefix "${DROP_LOG_PREFIX} " level info`;
  const logThen = (match: string, verdict: string): string => {
    const m = match ? `${match} ` : '';
    return `${m}${log}\n    ${m}${verdict}`;
  };
  const mine = `iifname @${SANDBOX_IF_SET}`;
  return [
    `table inet ${s.table} {`,
    `  set ${SANDBOX_IF_SET} { type ifname; }`,
    `  set ${DROP_METER} { type ifname; size 65535; flags dynamic; }`,
    `  set ${CT_COUNT} { type ifname; size 65535; flags dynamic; }`,
    `  chain sandbox_redirect {`,
    `    type nat hook prerouting priority dstnat; policy accept;`,
    `    ${mine} meta nfproto ipv4 meta l4proto tcp redirect to :${s.tcpPort}`,
    `    ${mine} meta nfproto ipv4 udp dport 53 redirect to :${s.dnsPort}`,
    `  }`,
    // Multicast to a group nobody on the host joined never reaches the input hook (the kernel drops it at its
    // route lookup): logged and dropped here, before that, so it leaves a drop record like any other datagram
    // (a review, session 31: mDNS to 224.0.0.251 left only the sensor's send record, and no alert).
    `  chain sandbox_prerouting {`,
    `    type filter hook prerouting priority filter; policy accept;`,
    `    ${logThen(`${mine} meta pkttype multicast`, 'drop')}`,
    `  }`,
    `  chain sandbox_input {`,
    `    type filter hook input priority filter; policy accept;`,
    // The gateway's listeners are bound to every address of the host: nothing but a sandbox's
    // redirected flow may open a connection to them (see the header: the listeners' exposure).
    `    iifname != @${SANDBOX_IF_SET} ct state new meta nfproto ipv4 tcp dport ${s.tcpPort} reject with tcp reset`,
    `    iifname != @${SANDBOX_IF_SET} ct state new meta nfproto ipv4 udp dport ${s.dnsPort} reject with icmpx port-unreachable`,
    // (ends only this chain for everyone else's packets: another table's drop still applies)
    `    iifname != @${SANDBOX_IF_SET} accept`,
    `    ${logThen('meta nfproto ipv6', 'reject with icmpx admin-prohibited')}`,
    // (counted once per new flow: the chain below logs and refuses it; first all sandboxes together, then this one)
    `    ct state new ct count over ${checkTotal(s.ctTotal)} jump sandbox_ct_full`,
    `    ct state new add @${CT_COUNT} { iifname ct count over ${CONNTRACK_PER_SANDBOX} } jump sandbox_ct_full`,
    `    meta nfproto ipv4 tcp dport ${s.tcpPort} ct status dnat accept`,
    `    meta nfproto ipv4 udp dport ${s.dnsPort} ct status dnat accept`,
    `    ${logThen('meta l4proto tcp', 'reject with tcp reset')}`,
    `    ${logThen('', 'reject with icmpx admin-prohibited')}`,
    `  }`,
    `  chain sandbox_ct_full {`,
    `    ${logThen('meta l4proto tcp', 'reject with tcp reset')}`,
    `    ${logThen('', 'reject with icmpx admin-prohibited')}`,
    `  }`,
    `  chain sandbox_forward {`,
    `    type filter hook forward priority filter; policy accept;`,
    `    ${logThen(mine, 'reject with icmpx admin-prohibited')}`,
    `    oifname @${SANDBOX_IF_SET} reject with icmpx admin-prohibited`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}

function checkTotal(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > CONNTRACK_TOTAL_MAX) throw new Error(`gateway ruleset: ctTotal must be a whole number from 1 to ${CONNTRACK_TOTAL_MAX} (got ${n})`);
  return n;
}
