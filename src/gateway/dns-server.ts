// Why: Corral answers every DNS query a sandbox makes. Threats: resolving a mining pool
// or a tunnel endpoint, DNS tunnelling through a real resolver, reaching cloud metadata
// by name. Only names the policy allows are answered (from the static map, or an upstream
// the policy names); everything else gets NXDOMAIN and is recorded — with an Extended DNS Error
// (RFC 8914, "Blocked", naming Corral's rule) for a client that speaks EDNS, so `dig` and
// EDNS-aware resolvers show the agent why. The answers also tell the TCP proxy which name a
// sandbox used to reach an address. Each query's report carries the source port of the agent's
// socket and the resolver it sent to, both from conntrack's original tuple (udpOriginal): the
// redirect can give a reused source port another on this side, and the datagram's own
// destination is this resolver whatever the agent asked for.
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import type { SandboxNet } from './types.js';
import type { GatewayNative } from '../sandbox/launcher.js';
import { isMetadataName, parseResolver } from '../policy/index.js';

const FORMERR = 1;
const NXDOMAIN = 3;
const SERVFAIL = 2;
/** RFC 8914 Extended DNS Error option code, and its INFO-CODE 15 "Blocked" (by the resolver's operator). */
const EDE_OPTION = 15, EDE_BLOCKED = 15;

/** An OPT record carrying an Extended DNS Error: info code, then UTF-8 extra text. */
export function blockedEde(text: string): dnsPacket.Answer {
  const extra = Buffer.from(text.slice(0, 400), 'utf8');
  const data = Buffer.alloc(2 + extra.length);
  data.writeUInt16BE(EDE_BLOCKED, 0);
  extra.copy(data, 2);
  return { type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [{ code: EDE_OPTION, data }] } as unknown as dnsPacket.Answer;
}
const FLAGS_RESPONSE = 0x8000 | 0x0400 /* AA */ | 0x0100 /* RD */ | 0x0080; /* RA */

export class DnsServer {
  private sock = dgram.createSocket('udp4');
  private port = 0;
  /** native: asks conntrack for each query's original tuple (left out, the datagram's own source port is reported). */
  constructor(private lookup: (ip: string) => SandboxNet | undefined, private native?: Pick<GatewayNative, 'udpOriginal'>) {}

  async listen(): Promise<number> {
    await new Promise<void>((res, rej) => {
      this.sock.once('error', rej);
      this.sock.bind(0, '0.0.0.0', () => res());
    });
    // (a query that throws anywhere in its handling is dropped, never an unhandled rejection: that would end
    // the whole runtime, every sandbox's gateway with it)
    this.sock.on('message', (msg, rinfo) => { this.onQuery(msg, rinfo).catch(() => undefined); });
    this.sock.on('error', () => { /* keep serving */ });
    this.port = this.sock.address().port;
    return this.port;
  }

  close(): void { try { this.sock.close(); } catch { /* closed */ } }

  /**
   * The agent's source port and the resolver it sent to: conntrack's original tuple of the flow the
   * datagram arrived on (one ctnetlink GET, ≈ 10 µs); the datagram's own source port without it.
   */
  private original(sb: SandboxNet, rinfo: dgram.RemoteInfo): { sport: number; dst?: { ip: string; port: number } } {
    if (!this.native || !sb.gatewayIp || !this.port) return { sport: rinfo.port };
    let o: ReturnType<GatewayNative['udpOriginal']> = null;
    try { o = this.native.udpOriginal(sb.gatewayIp, this.port, rinfo.address, rinfo.port); } catch { /* (a malformed address: not asked) */ }
    return o ? { sport: o.sourcePort ?? rinfo.port, dst: { ip: o.address, port: o.port } } : { sport: rinfo.port };
  }

  private async onQuery(msg: Buffer, rinfo: dgram.RemoteInfo): Promise<void> {
    const sb = this.lookup(rinfo.address);
    if (!sb) return; // not a sandbox: never answer (no open resolver)
    const tsNs = process.hrtime.bigint();
    const { sport, dst } = this.original(sb, rinfo);
    let q: dnsPacket.Packet;
    try { q = dnsPacket.decode(msg); } catch {
      sb.report({ kind: 'dns', sport, dst, name: '', qtype: 'malformed', verdict: 'deny', rule: 'dns:malformed', reason: 'Malformed DNS query.', answers: [], rcode: 'FORMERR', tsNs });
      return;
    }
    const question = q.questions?.[0];
    if (!question || q.questions!.length !== 1 || q.type !== 'query') {
      // One question per query, as every resolver asks (RFC 9619): the policy judges a query by its question,
      // so a second one (a denied name behind an allowed first) would reach the upstream unjudged (a review,
      // session 31). Refused and recorded as malformed, like a packet that does not decode.
      const out = dnsPacket.encode({ type: 'response', id: q.id, flags: FLAGS_RESPONSE | FORMERR, questions: [] });
      this.sock.send(out, rinfo.port, rinfo.address);
      const names = (q.questions ?? []).map((x) => x.name.toLowerCase().replace(/\.$/, '')).join(' ').slice(0, 512);
      sb.report({ kind: 'dns', sport, dst, name: names, qtype: 'malformed', verdict: 'deny', rule: 'dns:malformed', reason: `A DNS query must ask exactly one question (${q.questions?.length ?? 0} asked).`, answers: [], rcode: 'FORMERR', tsNs });
      return;
    }
    const name = question.name.toLowerCase().replace(/\.$/, '');
    const d = sb.policy.decideDns(name);
    // (an OPT record only for a query that had one: RFC 6891)
    const edns = (q.additionals ?? []).some((a) => a.type === 'OPT');
    const reply = (rcode: number, answers: dnsPacket.Answer[], why?: string) => {
      const additionals = why !== undefined && edns ? [blockedEde(why)] : [];
      const out = dnsPacket.encode({ type: 'response', id: q.id, flags: FLAGS_RESPONSE | rcode, questions: q.questions, answers, additionals });
      this.sock.send(out, rinfo.port, rinfo.address);
    };
    const rec = (verdict: 'allow' | 'deny', answers: string[], rcode: string) =>
      sb.report({ kind: 'dns', sport, dst, name, qtype: question.type, verdict, rule: d.rule, reason: d.reason, answers, rcode, tsNs });

    if (d.verdict === 'deny' && (!sb.observe || isMetadataName(name))) { reply(NXDOMAIN, [], `${d.reason} [corral rule ${d.rule}]`); rec('deny', [], 'NXDOMAIN'); return; }
    if (d.staticAddress) {
      const answers: dnsPacket.Answer[] = question.type === 'A' ? [{ type: 'A', name: question.name, ttl: 60, data: d.staticAddress }] : [];
      if (question.type === 'A') sb.names.set(d.staticAddress, name);
      reply(0, answers);
      rec(d.verdict, answers.map((a) => String((a as { data?: unknown }).data)), 'NOERROR');
      return;
    }
    const resolvers = sb.policy.policy.network.resolvers;
    if (resolvers.length === 0) { reply(NXDOMAIN, []); rec(d.verdict, [], 'NXDOMAIN'); return; }
    try {
      // (the query rebuilt from what was judged — its one question and recursion flag — not the sandbox's bytes:
      // EDNS options or other sections could carry data to the upstream unseen)
      const clean = dnsPacket.encode({ type: 'query', id: q.id, flags: (q.flags ?? 0) & dnsPacket.RECURSION_DESIRED, questions: [question] });
      const raw = await forward(clean, resolvers[0]!);
      const ans = dnsPacket.decode(raw);
      const ips = (ans.answers ?? []).filter((a) => a.type === 'A').map((a) => String((a as { data?: unknown }).data));
      for (const ip of ips) sb.names.set(ip, name);
      this.sock.send(raw, rinfo.port, rinfo.address);
      rec(d.verdict, ips, (ans as { rcode?: string }).rcode ?? 'NOERROR');
    } catch {
      reply(SERVFAIL, []);
      rec(d.verdict, [], 'SERVFAIL');
    }
  }
}

function forward(query: Buffer, resolver: string, timeoutMs = 2000): Promise<Buffer> {
  const r = parseResolver(resolver);
  if (!r.ok) return Promise.reject(new Error(r.error));
  const { address: host, port } = r;
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const t = setTimeout(() => { s.close(); reject(new Error('upstream DNS timeout')); }, timeoutMs);
    s.on('message', (m) => { clearTimeout(t); s.close(); resolve(m); });
    s.on('error', (e) => { clearTimeout(t); s.close(); reject(e); });
    s.send(query, port, host);
  });
}
