// Why: Corral answers every DNS query a sandbox makes. Threats: resolving a mining pool
// or a tunnel endpoint, DNS tunnelling through a real resolver, reaching cloud metadata
// by name. Only names the policy allows are answered (from the static map, or an upstream
// the policy names); everything else gets NXDOMAIN and is recorded — with an Extended DNS Error
// (RFC 8914, "Blocked", naming Corral's rule) for a client that speaks EDNS, so `dig` and
// EDNS-aware resolvers show the agent why. The answers also tell the TCP proxy which name a
// sandbox used to reach an address. Each query's report carries the source port of the agent's
// socket and the resolver it sent to, both from conntrack's original tuple (udpOriginal): the
// redirect can give a reused source port another on this side, and the datagram's own
// destination is this resolver whatever the agent asked for. Forwarding to the upstream (one socket,
// checked replies, queries in flight capped; a query over a cap gets SERVFAIL and is recorded as a
// `limit:dns` refusal) is dns-upstream.ts.
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { DNS_LIMIT_RULE, type SandboxNet } from './types.js';
import type { GatewayNative } from '../sandbox/launcher.js';
import { isMetadataName } from '../policy/index.js';
import { DnsUpstream, DnsUpstreamBusy, type DnsUpstreamOptions } from './dns-upstream.js';

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
  private upstream: DnsUpstream;
  /**
   * native: asks conntrack for each query's original tuple (left out, the datagram's own source port is reported).
   * upstream: caps of queries in flight and the upstream timeout (defaults: 64 per sandbox, 1 024 in all, 2 s).
   */
  constructor(private lookup: (ip: string) => SandboxNet | undefined, private native?: Pick<GatewayNative, 'udpOriginal'>,
    upstream: Partial<DnsUpstreamOptions> = {}) {
    this.upstream = new DnsUpstream(upstream);
  }

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

  close(): void {
    this.upstream.close();
    try { this.sock.close(); } catch { /* closed */ }
  }

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
    // (past the deny branch below, a denied name is observe mode's: answered, and its report says so)
    const rec = (verdict: 'allow' | 'deny', answers: string[], rcode: string, refused = false) =>
      sb.report({ kind: 'dns', sport, dst, name, qtype: question.type, verdict, rule: d.rule, reason: d.reason, answers, rcode, ...(verdict === 'deny' && !refused ? { observed: true as const } : {}), tsNs });

    if (d.verdict === 'deny' && (!sb.observe || isMetadataName(name))) { reply(NXDOMAIN, [], `${d.reason} [corral rule ${d.rule}]`); rec('deny', [], 'NXDOMAIN', true); return; }
    if (d.staticAddress) {
      const answers: dnsPacket.Answer[] = question.type === 'A' ? [{ type: 'A', name: question.name, ttl: 60, data: d.staticAddress }] : [];
      if (question.type === 'A') sb.names.set(d.staticAddress, name);
      reply(0, answers);
      rec(d.verdict, answers.map((a) => String((a as { data?: unknown }).data)), 'NOERROR');
      return;
    }
    const resolvers = sb.policy.policy.network.resolvers;
    if (resolvers.length === 0) { reply(NXDOMAIN, []); rec(d.verdict, [], 'NXDOMAIN'); return; }
    // (past a cap of queries in flight: refused at once, in observe mode too — a flood must not hold descriptors or wait)
    const busy = this.upstream.busy(sb.ip);
    if (busy !== undefined) { this.refuseBusy(sb, { sport, dst, name, qtype: question.type, tsNs }, busy, reply); return; }
    try {
      // (the query rebuilt from what was judged — its one question and recursion flag — not the sandbox's bytes:
      // EDNS options or other sections could carry data to the upstream unseen)
      const ans = await this.upstream.query(sb.ip, resolvers[0]!, question, (q.flags ?? 0) & dnsPacket.RECURSION_DESIRED);
      const ips = (ans.packet.answers ?? []).filter((a) => a.type === 'A').map((a) => String((a as { data?: unknown }).data));
      for (const ip of ips) sb.names.set(ip, name);
      // (the upstream's answer as it came, under the client's id again)
      const out = Buffer.from(ans.raw);
      out.writeUInt16BE(q.id ?? 0, 0);
      this.sock.send(out, rinfo.port, rinfo.address);
      rec(d.verdict, ips, (ans.packet as { rcode?: string }).rcode ?? 'NOERROR');
    } catch (e) {
      if (e instanceof DnsUpstreamBusy) { this.refuseBusy(sb, { sport, dst, name, qtype: question.type, tsNs }, e.why, reply); return; }
      reply(SERVFAIL, []);
      rec(d.verdict, [], 'SERVFAIL');
    }
  }

  /** SERVFAIL for a query past a cap of queries in flight, recorded as a refusal (rule limit:dns). */
  private refuseBusy(sb: SandboxNet, q: { sport: number; dst?: { ip: string; port: number }; name: string; qtype: string; tsNs: bigint },
    why: string, reply: (rcode: number, answers: dnsPacket.Answer[]) => void): void {
    reply(SERVFAIL, []);
    sb.report({ kind: 'dns', ...q, verdict: 'deny', rule: DNS_LIMIT_RULE, reason: `Too many DNS queries at once: ${why}; wait for answers before asking more.`, answers: [], rcode: 'SERVFAIL' });
  }
}
