// Why: an agent that can reach internal networks, the host itself or the cloud metadata service can
// steal credentials or pivot, whatever names the policy allows. This file names every address the
// gateway must refuse by default. Threats stopped: metadata credential theft (169.254.169.254 & co),
// internal scanning (RFC1918, CGNAT, ULA), attacks on the host (loopback, the host's own IPs),
// and DNS-rebinding tricks where an allowed name resolves to one of those addresses.

import { type Addr, type Cidr, addrKey, cidr, cidrContains, parseAddr } from './ip.js';

export type AddressClass =
  | 'metadata' | 'private' | 'cgnat' | 'link_local' | 'loopback' | 'host_self' | 'multicast' | 'reserved' | 'public';

/**
 * Cloud metadata and credential endpoints: AWS IMDS (and most clouds' at the same address), ECS task credentials,
 * EKS Pod Identity (IPv4 and IPv6: it hands out role credentials), Tencent, Alibaba, Azure's wire server, Oracle
 * legacy, AWS IPv6 IMDS, GCP IPv6 metadata. (AWS's DNS at .253 and time at .123 serve no secrets: link_local.)
 */
export const METADATA_ADDRESSES: readonly string[] = [
  '169.254.169.254', '169.254.170.2', '169.254.170.23', '169.254.0.23', '100.100.100.200', '168.63.129.16', '192.0.0.192',
  'fd00:ec2::254', 'fd00:ec2::23', 'fd20:ce::254',
];

/** Ranges, checked in order. The first match wins. Metadata and host_self are checked before these. */
const RANGES: ReadonlyArray<readonly [Cidr, AddressClass]> = [
  [cidr('127.0.0.0/8'), 'loopback'],
  [cidr('::1/128'), 'loopback'],
  [cidr('10.0.0.0/8'), 'private'],
  [cidr('172.16.0.0/12'), 'private'],
  [cidr('192.168.0.0/16'), 'private'],
  [cidr('fc00::/7'), 'private'],
  [cidr('100.64.0.0/10'), 'cgnat'],
  [cidr('169.254.0.0/16'), 'link_local'],
  [cidr('fe80::/10'), 'link_local'],
  [cidr('224.0.0.0/4'), 'multicast'],
  [cidr('255.255.255.255/32'), 'multicast'],
  [cidr('ff00::/8'), 'multicast'],
  [cidr('0.0.0.0/8'), 'reserved'],
  [cidr('240.0.0.0/4'), 'reserved'],
  [cidr('::/128'), 'reserved'],
  [cidr('100::/64'), 'reserved'],
];

/** Every always-denied range, as CIDRs, for deciding whether an explicit cidr rule may override. */
export const ALWAYS_DENIED_RANGES: ReadonlyArray<readonly [Cidr, AddressClass]> = RANGES;

/**
 * IPv6 prefixes that carry an IPv4 address the packet is bound for: NAT64's well-known prefix and the local-use one
 * (RFC 8215, used as a /96: the IPv4 in the low 32 bits), and 6to4 (RFC 3056: the IPv4 right after 2002::/16). A
 * red-team review (session 41) found 6to4 and local-use forms of the metadata address classed as public.
 */
const EMBEDDED_V4: ReadonlyArray<readonly [Cidr, (w: Addr & { v: 6 }) => number]> = [
  [cidr('64:ff9b::/96'), (a) => a.w[3]!],
  [cidr('64:ff9b:1::/48'), (a) => a.w[3]!],
  [cidr('2002::/16'), (a) => ((a.w[0]! & 0xffff) << 16 | a.w[1]! >>> 16) >>> 0],
];

const METADATA_KEYS = new Set(METADATA_ADDRESSES.map((s) => {
  const a = parseAddr(s);
  if (!a) throw new Error(`internal: bad metadata address ${s}`);
  return addrKey(a);
}));

/**
 * Classifies a parsed address. `hostKeys` holds addrKey() of the host's own addresses; `hostRanges`
 * are ranges that belong to the host as a whole — Corral's own sandbox subnet, whose host-side veth
 * addresses appear one by one as sandboxes start (also other Corral processes' sandboxes), so no
 * address list captured at start-up can hold them.
 */
export function classifyParsed(a: Addr, hostKeys?: ReadonlySet<string>, hostRanges?: readonly Cidr[]): AddressClass {
  const key = addrKey(a);
  if (METADATA_KEYS.has(key)) return 'metadata';
  if (hostKeys && hostKeys.size > 0 && hostKeys.has(key)) {
    // Loopback stays loopback: it is the more specific reason.
    if (!(a.v === 4 && a.n >>> 24 === 127)) return 'host_self';
  }
  if (hostRanges?.some((c) => cidrContains(c, a))) return 'host_self';
  for (const [c, cls] of RANGES) if (cidrContains(c, a)) return cls;
  for (const [c, v4] of EMBEDDED_V4) {
    if (a.v !== 6 || !cidrContains(c, a)) continue;
    // judge the IPv4 address it will reach
    const inner = classifyParsed({ v: 4, n: v4(a) }, hostKeys, hostRanges);
    if (inner !== 'public') return inner;
  }
  return 'public';
}

/** Builds the host-self key set from address strings; unparsable entries are ignored. */
export function hostKeySet(addrs: Iterable<string> | undefined): Set<string> {
  const out = new Set<string>();
  if (!addrs) return out;
  for (const s of addrs) {
    const a = parseAddr(s);
    if (a) out.add(addrKey(a));
  }
  return out;
}

/**
 * Classifies an address string. Unparsable input is 'reserved' (never 'public'), so callers that
 * only deny non-public classes fail closed.
 */
export function classifyAddress(ip: string, hostAddrs?: Set<string>, hostRanges?: readonly Cidr[]): AddressClass {
  const a = parseAddr(ip);
  if (!a) return 'reserved';
  return classifyParsed(a, hostAddrs ? hostKeySet(hostAddrs) : undefined, hostRanges);
}

/** Parses CIDR strings for hostRanges; a malformed one is an internal error (they come from configuration). */
export function hostRangeList(ranges: readonly string[] | undefined): Cidr[] {
  return (ranges ?? []).map((r) => cidr(r));
}
