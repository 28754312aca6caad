// Why this exists: Corral's nft rules live in the host's ruleset, which other tools rewrite — a host
// firewall reload (`nft flush ruleset`, nftables.service, firewalld) removes them without asking.
// A sandbox must not then route straight out through a host that forwards for others (Docker does,
// and so does the lab): its veth never forwards, so without the redirect its packets fail. Real
// sandbox, in the lab; the far host counts connections (it must see none).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';

let fx: Fixture;
before(async () => { fx = await startFixture([{ name: 'far.test', ip: '203.0.113.10', services: [{ kind: 'http', port: 80 }] }], 'labfl'); });
after(async () => { await fx?.close(); });

test('with the gateway rules gone (a host firewall reload), a sandbox still cannot reach the outside', async () => {
  assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), '1', 'the lab forwards (as a Docker host does)');
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'flushed' });
  try {
    assert.equal(readFileSync(`/proc/sys/net/ipv4/conf/crl${s.leaseId}h/forwarding`, 'utf8').trim(), '0');
    const table = (fx.rt as unknown as { gatewayRules: { table: string } }).gatewayRules.table;
    execFileSync('nft', ['delete', 'table', 'inet', table]);
    const before = await fx.far.accepted('203.0.113.10', 80);
    const r = await s.exec({ command: 'timeout 3 bash -c "exec 3<>/dev/tcp/203.0.113.10/80 && echo connected"; echo rc=$?' });
    assert.doesNotMatch(r.stdout, /connected/, r.stdout + r.stderr);
    assert.equal(await fx.far.accepted('203.0.113.10', 80), before, 'the far host saw no connection');
  } finally {
    await s.close();
  }
});
