// Why: the kernel half of "the gateway is the only path out". In the namespace where the
// gateway runs, traffic arriving from a sandbox's veth is either redirected into Corral's
// transparent proxy (all TCP) or resolver (DNS), or logged and rejected (everything else:
// other UDP, ICMP, IPv6, forwarding). Threats: direct egress around the proxy, UDP/ICMP
// tunnels, reaching the host's own services, IPv6 side doors. Rejecting (not dropping)
// makes blocked attempts fail fast instead of hanging the agent.

export interface SandboxRulesetSpec {
  table: string;
  hostIf: string;
  sandboxId: string;
  tcpPort: number;
  dnsPort: number;
}

export const DROP_LOG_PREFIX = 'corral-drop';
/** Logged drops per second per rule and sandbox (burst above it); beyond, packets are rejected unlogged. */
export const DROP_LOG_RATE = 200;
export const DROP_LOG_BURST = 400;

/** Pure builder for `nft -f -`. */
export function buildSandboxRuleset(s: SandboxRulesetSpec): string {
  const ifm = `iifname "${s.hostIf}"`;
  // Logging is rate-limited per rule (a flooding sandbox must not flood the host's kernel log or
  // Corral's reader); every packet is still rejected by the rule that follows its log rule.
  const log = `limit rate ${DROP_LOG_RATE}/second burst ${DROP_LOG_BURST} packets log prefix "${DROP_LOG_PREFIX} ${s.sandboxId} " level info`;
  const logThen = (match: string, verdict: string): string => `${match} ${log}\n    ${match} ${verdict}`;
  return [
    `table inet ${s.table} {`,
    `  chain sandbox_redirect {`,
    `    type nat hook prerouting priority dstnat; policy accept;`,
    `    ${ifm} meta nfproto ipv4 meta l4proto tcp redirect to :${s.tcpPort}`,
    `    ${ifm} meta nfproto ipv4 udp dport 53 redirect to :${s.dnsPort}`,
    `  }`,
    `  chain sandbox_input {`,
    `    type filter hook input priority filter; policy accept;`,
    `    ${logThen(`${ifm} meta nfproto ipv6`, 'reject with icmpx admin-prohibited')}`,
    `    ${ifm} meta nfproto ipv4 tcp dport ${s.tcpPort} ct status dnat accept`,
    `    ${ifm} meta nfproto ipv4 udp dport ${s.dnsPort} ct status dnat accept`,
    `    ${logThen(`${ifm} meta l4proto tcp`, 'reject with tcp reset')}`,
    `    ${logThen(ifm, 'reject with icmpx admin-prohibited')}`,
    `  }`,
    `  chain sandbox_forward {`,
    `    type filter hook forward priority filter; policy accept;`,
    `    ${logThen(ifm, 'reject with icmpx admin-prohibited')}`,
    `    oifname "${s.hostIf}" reject with icmpx admin-prohibited`,
    `  }`,
    `}`,
    '',
  ].join('\n');
}
