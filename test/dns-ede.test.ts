// Why: a blocked name gets NXDOMAIN, which tells an agent nothing about why. For a client that
// speaks EDNS, Corral's resolver adds an Extended DNS Error (RFC 8914, code 15 "Blocked") whose
// text names the rule; a client without EDNS gets no OPT record (RFC 6891). These tests send real
// queries over UDP to the real resolver with a compiled policy behind it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import { DnsServer } from '../src/gateway/dns-server.js';
import { compilePolicy, parsePolicy } from '../src/policy/index.js';
import type { GatewayReport } from '../src/gateway/types.js';

async function ask(port: number, name: string, edns: boolean): Promise<dnsPacket.DecodedPacket & { rcode?: string }> {
  const sock = dgram.createSocket('udp4');
  try {
    const q = dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name }],
      additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [] } as unknown as dnsPacket.Answer] : [] });
    const answer = new Promise<Buffer>((resolve, reject) => { sock.once('message', resolve); setTimeout(() => reject(new Error('no answer')), 3000); });
    sock.send(q, port, '127.0.0.1');
    return dnsPacket.decode(await answer);
  } finally { sock.close(); }
}

test('a blocked name: NXDOMAIN, with an Extended DNS Error "Blocked" naming the rule for an EDNS client and no OPT for a plain one', async () => {
  const policy = compilePolicy(parsePolicy('name: t\nextends: default\nnetwork:\n  hosts:\n    registry.test: 198.51.100.20\n  allow:\n    - domain: registry.test\n', 't.yaml'));
  const reports: GatewayReport[] = [];
  const dns = new DnsServer((ip) => (ip === '127.0.0.1' ? { id: 's', ip, policy, observe: false, names: new Map(), report: (r) => reports.push(r) } : undefined));
  const port = await dns.listen();
  try {
    const blocked = await ask(port, 'pool.evil.test', true);
    assert.equal(blocked.rcode, 'NXDOMAIN');
    const opt = (blocked.additionals ?? []).find((a) => a.type === 'OPT') as unknown as { options: { code: number; data: Buffer }[] } | undefined;
    assert.ok(opt, 'an OPT record answers an EDNS query');
    const ede = opt.options.find((o) => o.code === 15);
    assert.ok(ede, 'with an Extended DNS Error');
    assert.equal(ede.data.readUInt16BE(0), 15, 'info code 15: Blocked');
    assert.match(ede.data.subarray(2).toString('utf8'), /\[corral rule [^\]]+\]/);
    const plain = await ask(port, 'pool.evil.test', false);
    assert.equal(plain.rcode, 'NXDOMAIN');
    assert.deepEqual((plain.additionals ?? []).filter((a) => a.type === 'OPT'), [], 'no OPT for a client without EDNS');
    const ok = await ask(port, 'registry.test', true);
    assert.equal(ok.rcode, 'NOERROR');
    assert.deepEqual(ok.answers?.map((a) => (a as { data?: unknown }).data), ['198.51.100.20']);
    assert.deepEqual((ok.additionals ?? []).filter((a) => a.type === 'OPT'), [], 'an allowed answer carries no error');
    assert.deepEqual(reports.map((r) => (r as { verdict?: string }).verdict), ['deny', 'deny', 'allow']);
  } finally { dns.close(); }
});
