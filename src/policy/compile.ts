// Why: the gateway asks "may this connection / DNS query go through?" for every flow, so the policy
// is compiled once into numeric CIDR ranges, port sets, protocol bit masks and domain Maps, and each
// decision is O(rules) with no regex. Threats stopped: egress to unlisted destinations, cloud
// metadata and internal-network access (even via an allowed name that resolves there: DNS
// rebinding), domain fronting (SNI/Host differing from the resolved name), protocol smuggling
// (ssh or mining traffic on an allowed web port), and metadata lookups at DNS.

import { labProblems } from '../lab/lab-guard.js';
import { type AddressClass, ALWAYS_DENIED_RANGES, classifyParsed, hostKeySet, hostRangeList, METADATA_ADDRESSES } from './address-class.js';
import { DomainIndex, isMetadataName, normaliseName } from './domain.js';
import { policyFieldError } from './field-source.js';
import { addrKey, type Cidr, cidrContains, cidrWithin, parseAddr, parseCidr } from './ip.js';
import type { NetRule, Policy, Protocol } from './schema.js';

export interface Decision {
  verdict: 'allow' | 'deny';
  /** Stable id: 'allow[0]:registry.test', 'deny[2]:*.pool.test', 'always-deny:metadata', 'default-deny',
   *  'protocol:ssh-not-allowed', 'port:22-not-allowed', 'sni-mismatch', 'invalid-address'. */
  rule: string;
  /** One sentence an AI agent can read and act on. */
  reason: string;
  addressClass: AddressClass;
}

export interface ConnectContext {
  ip: string;
  port: number;
  /** The DNS name the sandbox resolved to reach ip (from the gateway's own DNS answers). */
  name?: string;
  /** Absent = not sniffed yet: decide on address, port and name only. */
  protocol?: Protocol;
  /** TLS SNI or HTTP Host from sniffing (a ':port' suffix is ignored). */
  sniHost?: string;
  /**
   * The sniffed HTTP request or TLS ClientHello named its host ambiguously (several different Host
   * headers, one that is not a host name; an unusable or doubled server_name): refused, since the gateway and the server could read different hosts and no
   * host-based rule can be checked (a review, session 23: such a request was allowed by the resolved name).
   */
  hostAmbiguous?: boolean;
  /** What made it ambiguous, when the sniff says more (an HTTP/2 stream the gateway cannot follow): the start of the reason. */
  ambiguousWhy?: string;
  /**
   * An HTTP CONNECT's target port, or the explicit port of an absolute-form target or an h2 `:authority`
   * (a forward proxy's `GET http://registry.test:6379/`): the proxy at this address is asked to go there,
   * so that port must be allowed too (a review, session 23: `CONNECT registry.test:22` passed a port-80
   * rule; session 35: so did `GET http://registry.test:6379/`).
   */
  connectPort?: number;
  /** The TLS client's fingerprints (from its ClientHello). */
  tls?: { ja3: string; ja4: string };
}

export interface DnsDecision {
  verdict: 'allow' | 'deny';
  rule: string;
  reason: string;
  /** Set when the answer comes from the policy's static hosts map. */
  staticAddress?: string;
}

export interface CompiledPolicy {
  policy: Policy;
  decideConnect(ctx: ConnectContext): Decision;
  /** Whether the resolver may answer this name, and from where (staticAddress, else the upstream resolvers). */
  decideDns(name: string): DnsDecision;
}

export interface CompileOptions {
  /** The host's own addresses; connections to them are always denied (class host_self). */
  hostAddresses?: string[];
  /**
   * The same as a live set of address keys (session/host-address-watch.ts), held as is: an address the
   * host gains later is host_self at once. Wins over hostAddresses.
   */
  hostKeys?: Set<string>;
  /** Ranges that are the host's as a whole (Corral's sandbox subnet): class host_self, never opened by a rule. */
  hostRanges?: string[];
  /** Environment consulted for CORRAL_LAB (defaults to process.env). */
  env?: Record<string, string | undefined>;
  /**
   * Why this process is not in the lab (empty when it is): observe mode needs an empty answer, not
   * only CORRAL_LAB=1 (an environment variable anyone can set). Default: lab-guard's labProblems.
   */
  labCheck?: () => string[];
}

const PROTO_BIT: Record<Protocol, number> = { tls: 1, http: 2, ssh: 4, mining: 8, other: 16 };
const ALL_PROTOS = 31;

interface CRule {
  index: number;
  id: string;
  label: string;
  cidr?: Cidr;
  /** null = any port. */
  ports: Set<number> | null;
  portsText: string;
  protoMask: number;
  protosText: string;
  /** Always-denied classes this (allow, cidr) rule is explicit enough to open. */
  overrides: Set<AddressClass>;
}

function compileRule(r: NetRule, index: number, kind: 'allow' | 'deny', hostKeys: Set<string>): CRule {
  const label = r.domain ?? r.cidr ?? '?';
  let mask = 0;
  for (const p of r.protocols) mask |= PROTO_BIT[p];
  const out: CRule = {
    index,
    id: `${kind}[${index}]:${label}`,
    label,
    ports: r.ports === 'any' ? null : new Set(r.ports),
    portsText: r.ports === 'any' ? 'any port' : `port${r.ports.length > 1 ? 's' : ''} ${r.ports.join(', ')}`,
    protoMask: mask,
    protosText: r.protocols.join('/'),
    overrides: new Set(),
  };
  if (r.cidr !== undefined) {
    const c = parseCidr(r.cidr);
    if (!c.ok) throw new Error(`internal: unvalidated cidr ${r.cidr}`);
    out.cidr = c.cidr;
    if (kind === 'allow') {
      // A cidr rule opens an always-denied class only if it lies entirely inside that class's range
      // (so 0.0.0.0/0 means "the public internet", never "also 10/8"). Metadata and the host's own
      // addresses open only with a single-address rule naming them exactly.
      for (const [range, cls] of ALWAYS_DENIED_RANGES) if (cidrWithin(c.cidr, range)) out.overrides.add(cls);
      const single = c.cidr.prefix === (c.cidr.v === 4 ? 32 : 128);
      if (single) {
        const key = addrKey(c.cidr.v === 4 ? { v: 4, n: c.cidr.net } : { v: 6, w: c.cidr.net });
        if (METADATA_ADDRESSES.some((m) => { const a = parseAddr(m); return a !== null && addrKey(a) === key; })) out.overrides.add('metadata');
        if (hostKeys.has(key)) out.overrides.add('host_self');
      }
    }
  }
  return out;
}

const CLASS_REASON: Record<AddressClass, string> = {
  metadata: 'is a cloud metadata address; Corral always blocks it to protect credentials, do not retry',
  private: 'is a private-network address; sandboxed code may not reach internal networks',
  cgnat: 'is a carrier-grade NAT (internal) address; sandboxed code may not reach internal networks',
  link_local: 'is a link-local address; sandboxed code may not reach the local link',
  loopback: 'is a loopback address outside the sandbox; it is always blocked',
  host_self: "is one of the host's own addresses; sandboxed code may not connect to the host",
  multicast: 'is a multicast/broadcast address; it is always blocked',
  reserved: 'is a reserved address; it is always blocked',
  public: 'is public',
};

/** Strips a ':port' suffix and brackets from a sniffed Host value and normalises it. */
function normaliseSniffed(h: string): string {
  let s = h.trim();
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    return end > 0 ? s.slice(1, end).toLowerCase() : s.toLowerCase();
  }
  const colon = s.indexOf(':');
  if (colon >= 0 && s.indexOf(':', colon + 1) < 0) s = s.slice(0, colon);
  return normaliseName(s);
}

class Compiled implements CompiledPolicy {
  readonly policy: Policy;
  private readonly hostKeys: Set<string>;
  private readonly hostRanges: Cidr[];
  private readonly allow: CRule[];
  private readonly deny: CRule[];
  private readonly allowDomains = new DomainIndex();
  private readonly denyDomains = new DomainIndex();
  private readonly allowCidrs: CRule[];
  private readonly denyCidrs: CRule[];
  private readonly hosts: Map<string, string>;
  private readonly hostsKey: Map<string, string>;
  private readonly denyTls: Set<string>;

  constructor(p: Policy, hostKeys: Set<string>, hostRanges: Cidr[]) {
    this.policy = p;
    this.hostKeys = hostKeys;
    this.hostRanges = hostRanges;
    this.allow = p.network.allow.map((r, i) => compileRule(r, i, 'allow', hostKeys));
    this.deny = p.network.deny.map((r, i) => compileRule(r, i, 'deny', hostKeys));
    p.network.allow.forEach((r, i) => r.domain && this.allowDomains.add(r.domain.replace(/^\*\./, ''), r.domain.startsWith('*.'), i));
    p.network.deny.forEach((r, i) => r.domain && this.denyDomains.add(r.domain.replace(/^\*\./, ''), r.domain.startsWith('*.'), i));
    this.allowCidrs = this.allow.filter((r) => r.cidr);
    this.denyCidrs = this.deny.filter((r) => r.cidr);
    this.hosts = new Map(Object.entries(p.network.hosts));
    this.denyTls = new Set(p.network.deny_tls);
    this.hostsKey = new Map();
    for (const [n, ip] of this.hosts) {
      const a = parseAddr(ip);
      if (a) this.hostsKey.set(n, addrKey(a));
    }
  }

  decideConnect(ctx: ConnectContext): Decision {
    const a = parseAddr(ctx.ip);
    if (!a) return { verdict: 'deny', rule: 'invalid-address', reason: `'${ctx.ip}' is not a valid IP address.`, addressClass: 'reserved' };
    const cls = classifyParsed(a, this.hostKeys, this.hostRanges);
    const port = ctx.port;
    const target = ctx.name ? `${ctx.name} (${ctx.ip})` : ctx.ip;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      return { verdict: 'deny', rule: 'invalid-port', reason: `Port ${port} is not a valid port number.`, addressClass: cls };
    }
    const pbit = ctx.protocol === undefined ? 0 : (PROTO_BIT[ctx.protocol] ?? PROTO_BIT.other);
    const name = ctx.name ? normaliseName(ctx.name) : undefined;
    let sni = ctx.sniHost ? normaliseSniffed(ctx.sniHost) : undefined;
    if (sni === '' || sni === name) sni = undefined;

    // 1. Always-denied address classes, unless an explicit cidr allow rule opens this class here.
    // Port and protocol of the opening rule are checked in step 4, which then considers only such rules.
    const restricted = cls !== 'public';
    if (restricted) {
      let opened = false;
      for (const r of this.allowCidrs) {
        if (r.overrides.has(cls) && cidrContains(r.cidr as Cidr, a)) {
          opened = true;
          break;
        }
      }
      if (!opened) {
        return { verdict: 'deny', rule: `always-deny:${cls}`, reason: `${target} ${CLASS_REASON[cls]}.`, addressClass: cls };
      }
    }

    // 2. A TLS client this policy refuses by its fingerprint, wherever it connects.
    if (ctx.tls && this.denyTls.size) {
      const fp = this.denyTls.has(ctx.tls.ja4) ? ctx.tls.ja4 : this.denyTls.has(ctx.tls.ja3) ? ctx.tls.ja3 : undefined;
      if (fp !== undefined) return { verdict: 'deny', rule: `deny-tls:${fp}`, reason: `This TLS client (fingerprint ${fp}) is denied by this policy, whatever it connects to; do not retry with it.`, addressClass: cls };
    }

    // 3. Deny rules win over allow rules. A deny rule restricted to some protocols waits for sniffing.
    const denyHit = (r: CRule): boolean => portOk(r, port) && (r.protoMask === ALL_PROTOS || (pbit !== 0 && (r.protoMask & pbit) !== 0));
    let denied: CRule | undefined;
    const pickDeny = (i: number): boolean => {
      const r = this.deny[i] as CRule;
      if (denyHit(r) && (!denied || r.index < denied.index)) denied = r;
      return false;
    };
    if (name) this.denyDomains.forEach(name, pickDeny);
    if (sni) this.denyDomains.forEach(sni, pickDeny);
    for (const r of this.denyCidrs) if (cidrContains(r.cidr as Cidr, a)) pickDeny(r.index);
    if (denied) {
      const what = denied.protoMask === ALL_PROTOS ? target : `${ctx.protocol ?? 'this'} traffic to ${target}`;
      return { verdict: 'deny', rule: denied.id, reason: `${what} is explicitly denied by this policy (${denied.label}); do not retry this destination.`, addressClass: cls };
    }

    // 4. Sniffed host: an IP literal must be this IP; a name must itself be allowed (no fronting).
    if (ctx.hostAmbiguous) {
      return mismatch(ctx.ambiguousWhy ? `${ctx.ambiguousWhy}, so no rule can be checked; send well-formed requests naming an allowed host.`
        : 'The HTTP request names its host ambiguously (conflicting Host headers, or one that is not a host name), so no rule can be checked; send one Host header naming an allowed host.', cls);
    }
    let nameForRules = name;
    if (sni) {
      const sa = parseAddr(sni);
      if (sa) {
        if (addrKey(sa) !== addrKey(a)) return mismatch(`The sniffed host ${sni} is not the address being connected to (${ctx.ip}); the connection is blocked.`, cls);
        sni = undefined;
      } else if (name) {
        const sniRule = this.firstAllowedDomainRule(sni, port, pbit);
        if (sniRule === undefined) {
          return mismatch(`The TLS/HTTP host '${sni}' differs from the resolved name '${name}' and is not allowed by this policy (domain fronting is blocked); connect to an allowed host by its own name.`, cls);
        }
      } else if (this.hostsKey.get(sni) === addrKey(a)) {
        nameForRules = sni; // bound by the static hosts map: the sniffed name really lives at this IP
      }
    }

    // 5. A CONNECT's tunnel is a connection to its target's port: allowed only if that would be.
    if (ctx.connectPort !== undefined && ctx.connectPort !== port) {
      const inner = this.decideConnect({ ip: ctx.ip, port: ctx.connectPort, name: ctx.name, sniHost: ctx.sniHost });
      if (inner.verdict === 'deny') {
        return { verdict: 'deny', rule: `connect-port:${ctx.connectPort}-not-allowed`, reason: `The HTTP request (a CONNECT, or one naming a port in its target) asks ${target}:${port} to tunnel to port ${ctx.connectPort}, which this policy does not allow (${inner.rule}); connect only to allowed ports.`, addressClass: cls };
      }
    }

    // 6. Allow rules: lowest index wins. Remember near-misses for a precise reason.
    let best: CRule | undefined;
    let portMiss: CRule | undefined;
    let protoMiss: CRule | undefined;
    const consider = (i: number): boolean => {
      const r = this.allow[i] as CRule;
      if (!portOk(r, port)) {
        portMiss ??= r;
      } else if (!protoOk(r, pbit)) {
        protoMiss ??= r;
      } else if (!best || r.index < best.index) {
        best = r;
      }
      return false;
    };
    if (nameForRules && !restricted) this.allowDomains.forEach(nameForRules, consider);
    for (const r of this.allowCidrs) {
      if ((!restricted || r.overrides.has(cls)) && cidrContains(r.cidr as Cidr, a)) consider(r.index);
    }
    if (best) return { verdict: 'allow', rule: best.id, reason: `${target}:${port} is allowed by this policy (${best.label}).`, addressClass: cls };
    if (protoMiss) {
      const proto = ctx.protocol ?? 'other';
      const pm = protoMiss as CRule;
      return { verdict: 'deny', rule: `protocol:${proto}-not-allowed`, reason: `${target}:${port} is allowed only for ${pm.protosText} traffic, and ${proto} traffic was detected; use an allowed protocol.`, addressClass: cls };
    }
    if (portMiss) {
      const pm = portMiss as CRule;
      return { verdict: 'deny', rule: `port:${port}-not-allowed`, reason: `${target} is allowed only on ${pm.portsText}, not port ${port}.`, addressClass: cls };
    }
    if (sni && !name && this.firstAllowedDomainRule(sni, port, pbit) !== undefined) {
      return mismatch(`The TLS/HTTP host '${sni}' is allowed, but ${ctx.ip} is not an address Corral resolved for it; connect by name through Corral's DNS.`, cls);
    }
    return {
      verdict: 'deny',
      rule: 'default-deny',
      reason: `No rule in policy '${this.policy.name}' allows ${target} on port ${port}; only listed destinations are reachable (an operator can add one with --allow).`,
      addressClass: cls,
    };
  }

  private firstAllowedDomainRule(n: string, port: number, pbit: number): number | undefined {
    let found: number | undefined;
    this.allowDomains.forEach(n, (i) => {
      const r = this.allow[i] as CRule;
      if (portOk(r, port) && protoOk(r, pbit)) {
        found = i;
        return true;
      }
      return false;
    });
    return found;
  }

  decideDns(rawName: string): DnsDecision {
    const n = normaliseName(rawName.trim());
    if (n.length === 0 || n.length > 253 || n.startsWith('.') || n.includes('..')) {
      return { verdict: 'deny', rule: 'invalid-name', reason: `'${rawName}' is not a valid host name.` };
    }
    if (parseAddr(n)) return { verdict: 'deny', rule: 'invalid-name', reason: `'${rawName}' is an IP address, not a name.` };
    if (isMetadataName(n)) {
      return { verdict: 'deny', rule: 'always-deny:metadata', reason: `${n} is a cloud metadata name; Corral always blocks it to protect credentials, do not retry.` };
    }
    let denied: CRule | undefined;
    this.denyDomains.forEach(n, (i) => {
      const r = this.deny[i] as CRule;
      // Only port/protocol-unrestricted deny rules act at DNS; restricted ones act per connection.
      if (r.ports === null && r.protoMask === ALL_PROTOS) {
        denied = r;
        return true;
      }
      return false;
    });
    if (denied) return { verdict: 'deny', rule: denied.id, reason: `${n} is explicitly denied by this policy (${denied.label}); do not retry.` };
    const fixed = this.hosts.get(n);
    if (fixed !== undefined) return { verdict: 'allow', rule: `hosts:${n}`, reason: `${n} resolves to ${fixed} from the policy's hosts map.`, staticAddress: fixed };
    const m = this.allowDomains.matches(n);
    if (m.length > 0) {
      const r = this.allow[m[0] as number] as CRule;
      if (this.policy.network.resolvers.length === 0) {
        return { verdict: 'deny', rule: 'no-resolver', reason: `${n} is allowed (${r.label}) but this policy has no upstream resolver and no hosts entry for it, so it does not resolve.` };
      }
      return { verdict: 'allow', rule: r.id, reason: `${n} is allowed by this policy (${r.label}); it is resolved upstream.` };
    }
    return { verdict: 'deny', rule: 'default-deny', reason: `No rule in policy '${this.policy.name}' allows the name ${n}; only listed destinations resolve.` };
  }
}

function portOk(r: CRule, port: number): boolean {
  return r.ports === null || r.ports.has(port);
}

/** Unknown protocol (0) passes: the gateway decides again once it has sniffed the flow. */
function protoOk(r: CRule, pbit: number): boolean {
  return pbit === 0 || (r.protoMask & pbit) !== 0;
}

function mismatch(reason: string, cls: AddressClass): Decision {
  return { verdict: 'deny', rule: 'sni-mismatch', reason, addressClass: cls };
}

/**
 * Compiles a policy for the gateway and sandbox. Throws PolicyError for mode: observe unless this
 * process is proven to be inside the lab (observe lets blocked traffic through, which is only
 * acceptable where nothing can leave): CORRAL_LAB=1 and the network namespace checks of lab-guard.
 */
export function compilePolicy(p: Policy, opts: CompileOptions = {}): CompiledPolicy {
  const env = opts.env ?? process.env;
  if (p.mode === 'observe') {
    const problems = env.CORRAL_LAB !== '1' ? ['CORRAL_LAB=1 is not set'] : (opts.labCheck ?? (() => labProblems({ env: { ...process.env, ...env } })))();
    if (problems.length) {
      // (at the line of the file that set it, when the policy was loaded from one)
      throw policyFieldError(p, ['mode'], `'observe' lets blocked traffic through and is only allowed inside the Corral lab (CORRAL_LAB=1 in a network namespace with no way out); here: ${problems.join('; ')}; use mode: enforce`);
    }
  }
  return new Compiled(p, opts.hostKeys ?? hostKeySet(opts.hostAddresses), hostRangeList(opts.hostRanges));
}
