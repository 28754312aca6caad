// Why: Corral's resolver forwards a sandbox's allowed queries to the policy's upstream resolver, and
// two threats live in that forwarding. Descriptor exhaustion: a UDP socket per forwarded query, held up
// to 2 s with no cap, let one sandbox behind a slow upstream take the process from 22 to 5 413
// descriptors with 6 000 queries, until the runtime's own open() — and so the TCP proxy's accept() and
// every sandbox's tool-call startup — failed with EMFILE (a review). Cache poisoning: the first datagram
// from anyone was taken as the answer, and its A records went into the sandbox's name map, which drives
// allow decisions. So each resolver (DnsServer) owns one long-lived socket per address family; every
// query goes out under a fresh random 16-bit id; a reply counts only when it comes from the address and
// port the query went to, with that id, as a response, asking the same question (name without regard to
// case, type, class); and queries in flight are capped per sandbox and overall: one over a cap is refused
// at once (never queued), so a flood costs no descriptors and no waiting. A single long-lived socket
// would leave an off-path spoofer only the 16-bit id to guess (its source port never changes), so a
// socket is retired after QUERIES_PER_SOCKET queries: the next query opens a fresh one on a port the
// kernel picks at random, and the retired one closes once its last query is answered or times out.
// Descriptors stay bounded by the in-flight caps (at most one socket per 16 queries waiting, plus one).
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import { parseResolver } from '../policy/index.js';
import { addrKey, parseAddr } from '../policy/ip.js';

/** Queries one sandbox may have waiting on the upstream at once (a resolver library's burst fits well inside). */
export const MAX_DNS_IN_FLIGHT_PER_SANDBOX = 64;
/** Queries all sandboxes together may have waiting on the upstream at once. */
export const MAX_DNS_IN_FLIGHT_TOTAL = 1024;
/** How long a forwarded query waits for its answer before the sandbox gets SERVFAIL. */
export const DNS_UPSTREAM_TIMEOUT_MS = 2000;

export interface DnsUpstreamOptions {
  maxPerSandbox: number;
  maxTotal: number;
  timeoutMs: number;
}

export interface UpstreamAnswer {
  /** The upstream's datagram as it came (its id is the upstream id, not the client's). */
  raw: Buffer;
  packet: dnsPacket.DecodedPacket;
}

/** A query refused because a cap of queries in flight is reached; `why` says which. */
export class DnsUpstreamBusy extends Error {
  constructor(readonly why: string) { super(`DNS upstream busy: ${why}`); }
}

interface Pending {
  key: string;
  sock: dgram.Socket;
  /** addrKey of the resolver's address, and its port: the only source a reply is taken from. */
  from: string;
  port: number;
  name: string;
  type: string;
  klass: string;
  timer: NodeJS.Timeout;
  resolve(a: UpstreamAnswer): void;
  reject(e: Error): void;
}

const normName = (n: string) => n.toLowerCase().replace(/\.$/, '');
/** Queries one upstream socket sends before it is retired for a fresh one on a new random source port. */
export const QUERIES_PER_SOCKET = 16;
/** Ids are 16 bits; a cap above half of them would make a blind guess too likely to hit a pending one. */
const MAX_IDS = 32_768;

export class DnsUpstream {
  private readonly opts: DnsUpstreamOptions;
  /** The socket new queries go out on, per address family. */
  private socks = new Map<'udp4' | 'udp6', dgram.Socket>();
  /** Every open socket (current and retired) with its queries sent and still waiting. */
  private sent = new Map<dgram.Socket, { total: number; waiting: number; retired: boolean }>();
  /** Queries in flight, by the id they went upstream with. */
  private pending = new Map<number, Pending>();
  /** Queries in flight, by sandbox key. */
  private perKey = new Map<string, number>();
  private closed = false;

  constructor(opts: Partial<DnsUpstreamOptions> = {}) {
    this.opts = {
      maxPerSandbox: opts.maxPerSandbox ?? MAX_DNS_IN_FLIGHT_PER_SANDBOX,
      maxTotal: Math.min(opts.maxTotal ?? MAX_DNS_IN_FLIGHT_TOTAL, MAX_IDS),
      timeoutMs: opts.timeoutMs ?? DNS_UPSTREAM_TIMEOUT_MS,
    };
  }

  /** Queries in flight (for `key`'s sandbox, or in all). */
  inFlight(key?: string): number { return key === undefined ? this.pending.size : this.perKey.get(key) ?? 0; }

  /** Why a query from sandbox `key` would be refused now; undefined when it may go. */
  busy(key: string): string | undefined {
    const mine = this.inFlight(key), per = this.opts.maxPerSandbox, total = this.opts.maxTotal;
    if (mine >= per) return `this sandbox already has ${mine} queries waiting on the upstream resolver (at most ${per})`;
    if (this.pending.size >= total) return `the resolver has ${this.pending.size} queries waiting on upstream resolvers for all sandboxes (at most ${total})`;
    return undefined;
  }

  /**
   * Sends `question` (with `flags`) to `resolver` for sandbox `key`, under a fresh random id, and resolves
   * with the first reply that passes every check; rejects on timeout, on a send error, with
   * DnsUpstreamBusy past a cap, or when closed.
   */
  query(key: string, resolver: string, question: dnsPacket.Question, flags: number): Promise<UpstreamAnswer> {
    if (this.closed) return Promise.reject(new Error('DNS upstream closed'));
    const why = this.busy(key);
    if (why !== undefined) return Promise.reject(new DnsUpstreamBusy(why));
    const r = parseResolver(resolver);
    if (!r.ok) return Promise.reject(new Error(r.error));
    const addr = parseAddr(r.address);
    if (!addr) return Promise.reject(new Error(`resolver '${resolver}': not an address`));
    const sock = this.socket(r.address.includes(':') ? 'udp6' : 'udp4');
    const use = this.sent.get(sock)!;
    use.total++; use.waiting++;
    // (the next query goes out from a fresh socket: a new random source port to guess)
    if (use.total >= QUERIES_PER_SOCKET) this.retire(sock);
    let id: number;
    do id = randomInt(0x10000); while (this.pending.has(id));
    const out = dnsPacket.encode({ type: 'query', id, flags, questions: [question] });
    return new Promise<UpstreamAnswer>((resolve, reject) => {
      const timer = setTimeout(() => this.finish(id, new Error('upstream DNS timeout')), this.opts.timeoutMs);
      this.pending.set(id, { key, sock, from: addrKey(addr), port: r.port, name: normName(question.name), type: String(question.type),
        klass: String(question.class ?? 'IN'), timer, resolve, reject });
      this.perKey.set(key, this.inFlight(key) + 1);
      sock.send(out, r.port, r.address, (err) => { if (err) this.finish(id, err); });
    });
  }

  /** Fails every query in flight and closes the sockets. */
  close(): void {
    this.closed = true;
    for (const id of [...this.pending.keys()]) this.finish(id, new Error('DNS upstream closed'));
    for (const s of this.sent.keys()) { try { s.close(); } catch { /* closed */ } }
    this.socks.clear();
    this.sent.clear();
  }

  private socket(type: 'udp4' | 'udp6'): dgram.Socket {
    let s = this.socks.get(type);
    if (s) return s;
    s = dgram.createSocket(type);
    const sock = s;
    sock.on('message', (m, rinfo) => this.onReply(sock, m, rinfo));
    // (a socket that fails is dropped with its queries; the next query opens a new one)
    sock.on('error', () => this.drop(sock));
    sock.unref();
    this.socks.set(type, sock);
    this.sent.set(sock, { total: 0, waiting: 0, retired: false });
    return sock;
  }

  /** No new query goes out on `sock`; it closes when nothing waits on it. */
  private retire(sock: dgram.Socket): void {
    this.unassign(sock);
    const use = this.sent.get(sock);
    if (!use) return;
    use.retired = true;
    if (use.waiting === 0) this.closeSocket(sock);
  }

  /** New queries no longer go out on `sock`. */
  private unassign(sock: dgram.Socket): void {
    for (const [t, s] of this.socks) if (s === sock) this.socks.delete(t);
  }

  private closeSocket(sock: dgram.Socket): void {
    this.sent.delete(sock);
    try { sock.close(); } catch { /* closed */ }
  }

  private drop(sock: dgram.Socket): void {
    this.unassign(sock);
    for (const [id, p] of [...this.pending]) if (p.sock === sock) this.finish(id, new Error('DNS upstream socket failed'));
    this.closeSocket(sock);
  }

  /** A datagram on an upstream socket: the answer of a query in flight only if every check passes; else ignored. */
  private onReply(sock: dgram.Socket, m: Buffer, rinfo: dgram.RemoteInfo): void {
    if (m.length < 12) return;
    const id = m.readUInt16BE(0);
    const p = this.pending.get(id);
    if (!p || p.sock !== sock || rinfo.port !== p.port) return;
    const src = parseAddr(rinfo.address);
    if (!src || addrKey(src) !== p.from) return;
    let packet: dnsPacket.DecodedPacket;
    try { packet = dnsPacket.decode(m); } catch { return; }
    if (packet.type !== 'response') return;
    const qs = packet.questions ?? [];
    const q = qs[0];
    if (qs.length !== 1 || !q || normName(q.name) !== p.name || String(q.type) !== p.type || String(q.class ?? 'IN') !== p.klass) return;
    this.finish(id, undefined, { raw: m, packet });
  }

  private finish(id: number, err: Error | undefined, answer?: UpstreamAnswer): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    const n = (this.perKey.get(p.key) ?? 1) - 1;
    if (n > 0) this.perKey.set(p.key, n); else this.perKey.delete(p.key);
    const use = this.sent.get(p.sock);
    if (use && --use.waiting === 0 && use.retired) this.closeSocket(p.sock);
    if (err || !answer) p.reject(err ?? new Error('no answer')); else p.resolve(answer);
  }
}
