// Why: the kernel's connect()/sendto() records of one session, kept briefly so later evidence can be
// tied to the process that caused it: a gateway flow whose 4-tuple record is missing, a dropped
// UDP/ICMP packet from the kernel log, a DNS query at Corral's resolver. Threat it stops: a
// background process (a miner, a beacon) escaping attribution to the tool call that started it.
import type { BudgetOverflowRecord, ConnectRecord, UdpSourceRecord } from '../sensors/bpftrace-sensor.js';

/** Records kept (amortised trim at twice this); a burst of hundreds of connects must not push out
 *  records the gateway has not judged yet. */
export const CONNECT_RING = 4096;
/** How far back a join looks. */
const HORIZON_NS = 5_000_000_000n;
/** The sensor's budget window (SEND_WINDOW_NS), with room: how long after its O record a cgroup's sends may have gone unrecorded. */
const BUDGET_WINDOW_NS = 2_000_000n;
/** How near (either way) two senders' records to a dropped packet's destination make its sender a guess; also how late a sender's record may be. */
const DROP_JOIN_NS = 1_000_000_000n;
/** How far before a DNS query its sender's record may be. */
const DNS_JOIN_NS = 2_000_000_000n;

/**
 * The newest record matching `match` at most DNS_JOIN_NS before `at` (records newest last), and
 * whether another cgroup (another tool call's process) also has one there: then it is a guess.
 */
function newestSender<T extends { tsNs: bigint; cgroupId: string }>(recs: T[], at: bigint, match: (r: T) => boolean): { rec: T; ambiguous: boolean } | undefined {
  let rec: T | undefined;
  for (let i = recs.length - 1; i >= 0; i--) {
    const r = recs[i]!;
    if (r.tsNs > at) continue;
    if (at - r.tsNs > DNS_JOIN_NS) break;
    if (!match(r)) continue;
    if (!rec) rec = r;
    else if (r.cgroupId !== rec.cgroupId) return { rec, ambiguous: true };
  }
  return rec && { rec, ambiguous: false };
}

export class ConnectRing {
  private recs: ConnectRecord[] = [];
  /** Source ports of datagrams sent to port 53 (or unconnected), newest last. */
  private sources: UdpSourceRecord[] = [];
  private lastSend = new Map<string, bigint>();
  /** When each cgroup last went past a send-record budget (its sends then went unrecorded for up to a window). */
  private overflows = new Map<string, bigint>();

  push(rec: ConnectRecord): void {
    this.recs.push(rec);
    if (this.recs.length > 2 * CONNECT_RING) this.recs.splice(0, this.recs.length - CONNECT_RING);
  }

  pushSource(rec: UdpSourceRecord): void {
    this.sources.push(rec);
    if (this.sources.length > 2 * CONNECT_RING) this.sources.splice(0, this.sources.length - CONNECT_RING);
  }

  pushOverflow(rec: BudgetOverflowRecord): void {
    if (this.overflows.size > 4096) this.overflows.clear();
    this.overflows.set(rec.cgroupId, rec.tsNs);
  }

  /**
   * True when a cgroup other than `cgroupId` went past a record budget between `from` (less one
   * budget window) and `at`: one of its unrecorded sends may be the one being joined, so a record
   * found for someone else is a guess. (A beacon spending its own budget right before its lookup
   * must not leave the lookup to the only sender still on record: an innocent call, killed.)
   */
  private othersUnrecorded(cgroupId: string, from: bigint, at: bigint): boolean {
    for (const [cg, ts] of this.overflows) if (cg !== cgroupId && ts <= at && ts + BUDGET_WINDOW_NS >= from) return true;
    return false;
  }

  /**
   * The process that sent the datagram the resolver received from source port `sport` at `at`: the
   * newest send from that port at most 2 s before. Exact: within the sandbox's network namespace a
   * UDP port belongs to one socket at a time — unless sockets share it (SO_REUSEPORT): when another
   * cgroup (another tool call's process) sent from the same port in that time, the sender is a guess.
   */
  dnsSender(sport: number, at: bigint): { rec: UdpSourceRecord; ambiguous: boolean } | undefined {
    const found = newestSender(this.sources, at, (s) => s.sport === sport);
    return found && (found.ambiguous ? found : { rec: found.rec, ambiguous: this.othersUnrecorded(found.rec.cgroupId, found.rec.tsNs, at) });
  }

  /** True when the same process sent to the same destination within the last second (already recorded as an event). */
  repeatedSend(rec: { pid: number; ip: string; port: number; tsNs: bigint }): boolean {
    const k = `${rec.pid}|${rec.ip}|${rec.port}`;
    const last = this.lastSend.get(k);
    if (last !== undefined && rec.tsNs - last < 1_000_000_000n) return true;
    if (this.lastSend.size > 4096) this.lastSend.clear();
    this.lastSend.set(k, rec.tsNs);
    return false;
  }

  /** The newest record to ip (and port, when given) no older than the horizon before `now`. */
  find(ip: string, port: number | undefined, now: bigint): ConnectRecord | undefined {
    for (let i = this.recs.length - 1; i >= 0; i--) {
      const c = this.recs[i]!;
      if (now - c.tsNs > HORIZON_NS) break;
      if (c.ip === ip && (port === undefined || c.port === port)) return c;
    }
    return undefined;
  }

  /**
   * The sender of a packet the sandbox's firewall dropped at `at` (a kernel-log record: destination only, no
   * source port): the newest record to ip (and port) no later than a second after it, and whether another
   * cgroup — another tool call's process — sent to the same destination within a second of that record, or
   * went past its send budget then: the kernel log cannot tell the two apart, so the sender is a guess.
   */
  dropSender(ip: string, port: number | undefined, at: bigint): { rec: ConnectRecord; ambiguous: boolean } | undefined {
    const rec = this.find(ip, port, at + DROP_JOIN_NS);
    if (!rec) return undefined;
    for (let i = this.recs.length - 1; i >= 0; i--) {
      const c = this.recs[i]!;
      if (c.tsNs > rec.tsNs + DROP_JOIN_NS) continue;
      if (rec.tsNs - c.tsNs > DROP_JOIN_NS) break;
      if (c.cgroupId !== rec.cgroupId && c.ip === ip && (port === undefined || c.port === port)) return { rec, ambiguous: true };
    }
    return { rec, ambiguous: this.othersUnrecorded(rec.cgroupId, rec.tsNs - DROP_JOIN_NS, at) };
  }

  /** The destinations of the port-53 records in the 2 s before `at` (which resolvers queries were sent to). */
  dnsTargets(at: bigint): Set<string> {
    const out = new Set<string>();
    for (let i = this.recs.length - 1; i >= 0; i--) {
      const c = this.recs[i]!;
      if (c.tsNs > at) continue;
      if (at - c.tsNs > DNS_JOIN_NS) break;
      if (c.port === 53) out.add(c.ip);
    }
    return out;
  }

  /**
   * The newest record to port 53 at most 2 s before `at`, and whether another cgroup (another tool
   * call's process) also sent to port 53 in that time: then the query's sender is a guess — the
   * records carry no source port to join on — and nothing may be killed on its strength.
   */
  findDns(at: bigint): { rec: ConnectRecord; ambiguous: boolean } | undefined {
    const found = newestSender(this.recs, at, (c) => c.port === 53);
    return found && (found.ambiguous ? found : { rec: found.rec, ambiguous: this.othersUnrecorded(found.rec.cgroupId, at - DNS_JOIN_NS, at) });
  }

  /** Every record to ip:port in the horizon before `at` (the gateway's fallback join). */
  toDestination(ip: string, port: number, at: bigint): ConnectRecord[] {
    return this.recs.filter((c) => c.ip === ip && c.port === port && c.tsNs <= at && at - c.tsNs < HORIZON_NS);
  }
}
