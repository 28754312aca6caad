// Why: proves that Corral's resolver forwards to the upstream without letting a sandbox exhaust the
// process's descriptors or poison its name map. Before, each forwarded query opened its own UDP socket
// for up to 2 s with no cap (6 000 queries behind a slow upstream: 22 -> 5 413 descriptors, EMFILE for
// the whole runtime), and the first datagram from any source was taken as the answer, its A records put
// in the name map that drives allow decisions. These tests send real queries over UDP on loopback to
// the real resolver, with real UDP "upstreams" (slow, forging, normal) on 127.0.0.x: (1) 3 000 queries
// behind a slow upstream keep /proc/self/fd nearly flat, and queries past the per-sandbox and overall
// caps get a prompt SERVFAIL recorded as `limit:dns`; (2) replies from another port or address, or
// with a wrong id, question, type, class or QR bit, are ignored and the genuine answer is used, under
// the client's own id; (3) normal resolution, upstream rcodes and the 2 s timeout still work; (4) the
// source port is not fixed: a socket serves 16 queries and is retired for one on a fresh random port,
// and a retired socket still takes the late answers of its queries, then closes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import dnsPacket from 'dns-packet';
import { DnsServer } from '../src/gateway/dns-server.js';
import type { DnsUpstreamOptions } from '../src/gateway/dns-upstream.js';
import { compilePolicy, parsePolicy } from '../src/policy/index.js';
import type { DnsReport, GatewayReport, SandboxNet } from '../src/gateway/types.js';
import { alertForDns } from '../src/alerts/network-alerts.js';
import { MiningNameMatcher } from '../src/alerts/mining-names.js';

const fds = () => fs.readdirSync('/proc/self/fd').length;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Reply = (q: dnsPacket.DecodedPacket, m: Buffer, from: dgram.RemoteInfo, sock: dgram.Socket) => void;

/** A loopback upstream: `onQuery` answers (or not); counts queries received and the most it held unanswered at once. */
async function upstream(onQuery: Reply, address = '127.0.0.1'): Promise<{ port: number; got: dnsPacket.DecodedPacket[]; open: number; maxOpen: number; close(): void }> {
  const sock = dgram.createSocket('udp4');
  const up = { port: 0, got: [] as dnsPacket.DecodedPacket[], open: 0, maxOpen: 0, close: () => sock.close() };
  sock.on('message', (m, r) => {
    const q = dnsPacket.decode(m);
    up.got.push(q);
    onQuery(q, m, r, sock);
  });
  await new Promise<void>((res) => sock.bind(0, address, res));
  up.port = sock.address().port;
  return up;
}

/** An answer to `q` (its id and question), with A records for `ips`. */
function answer(q: dnsPacket.Packet, ips: string[], over: Partial<dnsPacket.Packet> = {}): Buffer {
  const qq = q.questions![0]!;
  return dnsPacket.encode({ type: 'response', id: q.id, flags: 0x8180, questions: q.questions,
    answers: ips.map((data) => ({ type: 'A', name: qq.name, ttl: 60, data })), ...over });
}

/** An upstream that answers every query with 198.51.100.30 after `delayMs`, tracking how many it holds. */
async function slowUpstream(delayMs: number) {
  const up = await upstream((q, _m, r, sock) => {
    up.open++; up.maxOpen = Math.max(up.maxOpen, up.open);
    setTimeout(() => { up.open--; try { sock.send(answer(q, ['198.51.100.30']), r.port, r.address); } catch { /* closed */ } }, delayMs);
  });
  return up;
}

function policyFor(port: number) {
  return compilePolicy(parsePolicy(`name: t\nextends: default\nnetwork:\n  allow:\n    - domain: '*.cdn.test'\n  resolvers: ['127.0.0.1:${port}']\n`, 't.yaml'));
}

function sandboxes(ips: string[], policy: ReturnType<typeof policyFor>, reports: GatewayReport[]): Map<string, SandboxNet> {
  return new Map(ips.map((ip) => [ip, { id: ip, ip, policy, observe: false, names: new Map<string, string>(), report: (r: GatewayReport) => reports.push(r) }]));
}

/** A resolver for sandboxes at `ips` whose policy forwards to the upstream on `upPort`, listening; with what it reported. */
async function resolver(ips: string[], upPort: number, caps: Partial<DnsUpstreamOptions> = {}) {
  const reports: GatewayReport[] = [];
  const sbs = sandboxes(ips, policyFor(upPort), reports);
  const dns = new DnsServer((ip) => sbs.get(ip), undefined, caps);
  return { reports, sbs, dns, port: await dns.listen() };
}

/** A sandbox's resolver client: one socket on `ip`, every answer kept by id with the time it came. */
async function client(ip: string) {
  const sock = dgram.createSocket('udp4');
  const got = new Map<number, { p: dnsPacket.DecodedPacket & { rcode?: string }; at: number }>();
  const sentAt = new Map<number, number>();
  sock.on('message', (m) => { const p = dnsPacket.decode(m); got.set(p.id!, { p, at: performance.now() }); });
  await new Promise<void>((res) => sock.bind(0, ip, res));
  return {
    got, sentAt,
    send(port: number, id: number, name: string, type: dnsPacket.RecordType = 'A') {
      sentAt.set(id, performance.now());
      sock.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name }] }), port, '127.0.0.1');
    },
    async wait(n: number, ms: number) { const end = Date.now() + ms; while (got.size < n && Date.now() < end) await sleep(5); },
    async ask(port: number, id: number, name: string, type: dnsPacket.RecordType = 'A', ms = 4000) {
      this.send(port, id, name, type);
      const end = Date.now() + ms;
      while (!got.has(id) && Date.now() < end) await sleep(5);
      const a = got.get(id);
      if (!a) throw new Error(`no answer to ${id}`);
      return a.p;
    },
    close: () => sock.close(),
  };
}

const limited = (reports: GatewayReport[]) => (reports as DnsReport[]).filter((r) => r.rule === 'limit:dns');

test('3000 queries behind a slow upstream: descriptors stay flat, at most 64 wait upstream, the rest get a prompt SERVFAIL recorded as limit:dns', async () => {
  const up = await slowUpstream(1500);
  const { reports, dns, port } = await resolver(['127.0.0.1'], up.port);
  const c = await client('127.0.0.1');
  try {
    const before = fds();
    let peak = before;
    const N = 3000, BATCH = 100;
    for (let i = 0; i < N; i += BATCH) {
      for (let j = i; j < i + BATCH; j++) c.send(port, j, `q${j}.cdn.test`);
      // (every query of the batch but those waiting upstream answers now; waiting keeps the loopback buffers from overflowing)
      await c.wait(i + BATCH - 64, 1000);
      peak = Math.max(peak, fds());
    }
    await c.wait(N, 5000);
    assert.ok(peak - before <= 8, `descriptors: ${before} before, ${peak} at the peak`);
    assert.equal(c.got.size, N, 'every query got an answer');
    assert.ok(up.maxOpen <= 64, `the upstream held ${up.maxOpen} queries at once`);
    const refused = [...c.got.entries()].filter(([, a]) => a.p.rcode === 'SERVFAIL');
    const answered = [...c.got.values()].filter((a) => a.p.rcode === 'NOERROR');
    assert.equal(answered.length, up.got.length, 'every query that went upstream was answered from it');
    assert.equal(refused.length + answered.length, N);
    assert.ok(refused.length >= N - 64 * 3, `${refused.length} refused`);
    const slowest = Math.max(...refused.map(([id, a]) => a.at - c.sentAt.get(id)!));
    assert.ok(slowest < 1000, `a refusal took ${slowest.toFixed(0)} ms (the upstream answers in 1 500)`);
    const lim = limited(reports);
    assert.equal(lim.length, refused.length, 'each refusal recorded');
    assert.ok(lim.every((r) => r.verdict === 'deny' && r.rcode === 'SERVFAIL' && /this sandbox .* \(at most 64\)/.test(r.reason)), lim[0]?.reason);
    assert.ok(fds() <= before + 1, `afterwards: at most one upstream socket more than before (${before} -> ${fds()}): retired ones closed`);
  } finally { c.close(); dns.close(); up.close(); }
});

test('the overall cap: a second sandbox gets only what is left of it, and slots come back once answers arrive', async () => {
  const up = await slowUpstream(400);
  const { reports, dns, port } = await resolver(['127.0.0.1', '127.0.0.2'], up.port, { maxPerSandbox: 64, maxTotal: 100 });
  const a = await client('127.0.0.1'), b = await client('127.0.0.2');
  try {
    for (let i = 0; i < 64; i++) a.send(port, i, `a${i}.cdn.test`);
    const end = Date.now() + 1000;
    while (up.got.length < 64 && Date.now() < end) await sleep(5);
    assert.equal(up.got.length, 64, 'all of the first sandbox\'s queries went upstream');
    for (let i = 0; i < 64; i++) b.send(port, i, `b${i}.cdn.test`);
    await b.wait(28, 300);
    const bRefused = [...b.got.values()].filter((x) => x.p.rcode === 'SERVFAIL').length;
    assert.equal(bRefused, 28, '100 in flight at most: the second sandbox got 36 through');
    assert.ok(limited(reports).every((r) => /for all sandboxes \(at most 100\)/.test(r.reason)));
    await a.wait(64, 2000); await b.wait(64, 2000);
    assert.equal([...a.got.values()].filter((x) => x.p.rcode === 'NOERROR').length, 64);
    const later = await b.ask(port, 1000, 'later.cdn.test');
    assert.equal(later.rcode, 'NOERROR', 'slots freed once the answers came');
  } finally { a.close(); b.close(); dns.close(); up.close(); }
});

test('forged replies (other port, other address, wrong id, question, type, class, or not a response) are ignored; the genuine answer is used under the client\'s id', async () => {
  const POISON = '203.0.113.66', GOOD = '198.51.100.30';
  const forger = dgram.createSocket('udp4');
  await new Promise<void>((res) => forger.bind(0, '127.0.0.1', res));
  const forger2 = dgram.createSocket('udp4');
  let genuineId = -1;
  const up = await upstream((q, _m, r, sock) => {
    genuineId = q.id!;
    const qq = q.questions![0]!;
    // (from another port on the upstream's address; from another address with the upstream's port)
    forger.send(answer(q, [POISON]), r.port, r.address);
    forger2.send(answer(q, [POISON]), r.port, r.address);
    // (from the upstream itself, but not matching the query)
    sock.send(answer({ ...q, id: (q.id! + 1) & 0xffff }, [POISON]), r.port, r.address);
    sock.send(answer({ ...q, questions: [{ ...qq, name: 'other.cdn.test' }] }, [POISON]), r.port, r.address);
    sock.send(answer({ ...q, questions: [{ ...qq, type: 'AAAA' }] }, [POISON]), r.port, r.address);
    sock.send(answer({ ...q, questions: [{ ...qq, class: 'CH' }] }, [POISON]), r.port, r.address);
    sock.send(answer(q, [POISON], { type: 'query', flags: 0 }), r.port, r.address);
    sock.send(Buffer.from([q.id! >> 8, q.id! & 255, 0x81, 0x80, 0, 1]), r.port, r.address); // (truncated garbage)
    // (the genuine answer, its name in another case, a little later)
    setTimeout(() => sock.send(answer({ ...q, questions: [{ ...qq, name: qq.name.toUpperCase() }] }, [GOOD]), r.port, r.address), 150);
  });
  await new Promise<void>((res) => forger2.bind(up.port, '127.0.0.2', res));
  const { reports, sbs, dns, port } = await resolver(['127.0.0.1'], up.port);
  const c = await client('127.0.0.1');
  try {
    const r = await c.ask(port, 4242, 'www.cdn.test');
    assert.equal(r.id, 4242, 'the answer carries the client\'s id');
    assert.equal(r.rcode, 'NOERROR');
    assert.deepEqual(r.answers?.map((x) => (x as { data?: unknown }).data), [GOOD]);
    const names = sbs.get('127.0.0.1')!.names;
    assert.equal(names.get(GOOD), 'www.cdn.test');
    assert.equal(names.has(POISON), false, 'no forged address in the name map');
    assert.deepEqual((reports as DnsReport[]).map((x) => [x.verdict, x.rcode, x.answers]), [['allow', 'NOERROR', [GOOD]]]);
    // (ids are random per query: over a few queries, the upstream does not see the client's ids, nor one fixed id)
    const ids = [genuineId];
    for (let i = 0; i < 4; i++) { await c.ask(port, 4243 + i, `w${i}.cdn.test`); ids.push(genuineId); }
    assert.ok(ids.some((id) => id !== 4242) && new Set(ids).size > 1, `upstream ids ${ids.join(',')}`);
  } finally { c.close(); dns.close(); up.close(); forger.close(); forger2.close(); }
});

test('normal resolution: answers and upstream rcodes pass through on one socket; a silent upstream still gives SERVFAIL after 2 s', async () => {
  const up = await upstream((q, _m, r, sock) => {
    const qq = q.questions![0]!;
    if (qq.name === 'gone.cdn.test') { sock.send(dnsPacket.encode({ type: 'response', id: q.id, flags: 0x8180 | 3, questions: q.questions }), r.port, r.address); return; }
    if (qq.name === 'silent.cdn.test') return;
    if (qq.type === 'AAAA') { sock.send(dnsPacket.encode({ type: 'response', id: q.id, flags: 0x8180, questions: q.questions, answers: [{ type: 'AAAA', name: qq.name, ttl: 60, data: '2001:db8::7' }] }), r.port, r.address); return; }
    sock.send(answer(q, ['198.51.100.31', '198.51.100.32']), r.port, r.address);
  });
  const { reports, sbs, dns, port } = await resolver(['127.0.0.1'], up.port);
  const c = await client('127.0.0.1');
  try {
    const a = await c.ask(port, 1, 'www.cdn.test');
    assert.equal(a.rcode, 'NOERROR');
    assert.deepEqual(a.answers?.map((x) => (x as { data?: unknown }).data), ['198.51.100.31', '198.51.100.32']);
    assert.equal(sbs.get('127.0.0.1')!.names.get('198.51.100.32'), 'www.cdn.test');
    const before = fds();
    for (let i = 0; i < 20; i++) assert.equal((await c.ask(port, 100 + i, `n${i}.cdn.test`)).rcode, 'NOERROR');
    assert.equal(fds(), before, 'one long-lived upstream socket: no descriptor per query');
    const six = await c.ask(port, 2, 'www.cdn.test', 'AAAA');
    assert.deepEqual(six.answers?.map((x) => (x as { data?: unknown }).data), ['2001:db8::7']);
    const gone = await c.ask(port, 3, 'gone.cdn.test');
    assert.equal(gone.rcode, 'NXDOMAIN');
    const t0 = Date.now();
    const silent = await c.ask(port, 4, 'silent.cdn.test', 'A', 5000);
    const took = Date.now() - t0;
    assert.equal(silent.rcode, 'SERVFAIL');
    assert.ok(took >= 1900 && took < 3500, `timeout after ${took} ms`);
    const last = (reports as DnsReport[]).at(-1)!;
    assert.deepEqual([last.name, last.verdict, last.rcode], ['silent.cdn.test', 'allow', 'SERVFAIL']);
    assert.notEqual(last.rule, 'limit:dns');
    assert.equal(limited(reports).length, 0);
  } finally { c.close(); dns.close(); up.close(); }
});

test('source ports rotate: at most 16 queries per upstream socket, fresh random ports, late answers on a retired socket still used, and no descriptor left behind', async () => {
  const ports: number[] = [];
  const up = await upstream((q, _m, r, sock) => {
    ports.push(r.port);
    // (every answer comes 300 ms late: the first queries' socket has been retired by then)
    setTimeout(() => { try { sock.send(answer(q, ['198.51.100.40']), r.port, r.address); } catch { /* closed */ } }, 300);
  });
  const { dns, port } = await resolver(['127.0.0.1'], up.port);
  const c = await client('127.0.0.1');
  try {
    const before = fds();
    for (let i = 0; i < 60; i++) c.send(port, i, `p${i}.cdn.test`);
    await c.wait(60, 3000);
    assert.equal([...c.got.values()].filter((a) => a.p.rcode === 'NOERROR').length, 60, 'every query answered from its own socket, retired or not');
    const uses = new Map<number, number>();
    for (const p of ports) uses.set(p, (uses.get(p) ?? 0) + 1);
    assert.equal(ports.length, 60);
    assert.ok(uses.size >= 4, `60 queries went out from ${uses.size} source ports`);
    assert.ok([...uses.values()].every((n) => n <= 16), `queries per port: ${[...uses.values()].join(',')}`);
    // (sequential queries too: the port moves on even when only one query waits at a time)
    const seq = ports.length;
    for (let i = 0; i < 40; i++) assert.equal((await c.ask(port, 1000 + i, `s${i}.cdn.test`)).rcode, 'NOERROR');
    assert.ok(new Set(ports.slice(seq)).size >= 3, 'sequential queries rotate ports');
    assert.ok(fds() <= before + 1, `descriptors: ${before} before, ${fds()} after (retired sockets closed)`);
  } finally { c.close(); dns.close(); up.close(); }
});

test('observe mode: a denied name is forwarded and answered, its report says observed; a metadata name is still refused and is not', async () => {
  const up = await upstream((q, _m, r, sock) => sock.send(answer(q, ['198.51.100.30']), r.port, r.address));
  const reports: GatewayReport[] = [];
  const sbs = new Map([...sandboxes(['127.0.0.77'], policyFor(up.port), reports)].map(([ip, sb]) => [ip, { ...sb, observe: true }]));
  const dns = new DnsServer((ip) => sbs.get(ip));
  const port = await dns.listen();
  const c = await client('127.0.0.77');
  try {
    const seen = await c.ask(port, 1, 'pool.evil.test');
    assert.deepEqual(seen.answers?.map((a) => (a as { data?: unknown }).data), ['198.51.100.30']);
    assert.equal((await c.ask(port, 2, 'metadata.google.internal') as { rcode?: string }).rcode, 'NXDOMAIN');
    assert.deepEqual(up.got.map((q) => q.questions?.[0]?.name), ['pool.evil.test'], 'the metadata name never went upstream');
    assert.deepEqual((reports as DnsReport[]).map((r) => [r.name, r.verdict, r.observed]), [['pool.evil.test', 'deny', true], ['metadata.google.internal', 'deny', undefined]]);
    const [pool, meta] = (reports as DnsReport[]).map((r) => alertForDns(r, new MiningNameMatcher([]))!);
    assert.match(pool!.message, /^DNS lookup of mining pool pool\.evil\.test answered \(observe mode: would have been refused\)/);
    assert.match(pool!.reason, /^Observe mode: this name was resolved and recorded; under enforce it is refused\. \S/);
    assert.match(meta!.message, /metadata name metadata\.google\.internal refused$/);
    assert.doesNotMatch(meta!.reason, /Observe mode/);
  } finally { c.close(); dns.close(); up.close(); }
});
