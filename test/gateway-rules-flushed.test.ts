// Why this exists: Corral's nft rules live in the host's ruleset, which other tools rewrite — a host
// firewall reload (`nft flush ruleset`, nftables.service, firewalld) removes them without asking, and
// a sandbox could then route straight out through a host that forwards for others (Docker does, and
// so does the lab). The runtime must notice at once, put its rules back with every sandbox in them,
// and say so in each open session's record. Real sandbox, in the lab; the far host counts connections.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';

let fx: Fixture;
before(async () => { fx = await startFixture([{ name: 'far.test', ip: '203.0.113.10', services: [{ kind: 'http', port: 80 }] }], 'labfl'); });
after(async () => { await fx?.close(); });

test('a flush of the host\'s ruleset is noticed at once: the table is put back with every sandbox in it, each open session records the gap', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'reloaded' });
  try {
    const table = (fx.rt as unknown as { gatewayRules: { table: string } }).gatewayRules.table;
    const warned = fx.rt.warnings.length;
    const t0 = Date.now();
    execFileSync('nft', ['flush', 'ruleset']);
    let back = false;
    for (let i = 0; i < 100 && !back; i++) {
      await new Promise((r) => setTimeout(r, 20));
      back = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).includes(table);
    }
    assert.ok(back, 'the table is back');
    console.log(`# table back after ≈ ${Date.now() - t0} ms`);
    assert.match(execFileSync('nft', ['list', 'set', 'inet', table, 'ifs'], { encoding: 'utf8' }), new RegExp(`"crl${s.leaseId}h"`), 'with the open sandbox in it');
    // and it works: the sandbox's HTTP is judged by the gateway again (refused with its 403), the far host sees nothing
    const seen = await fx.far.accepted('203.0.113.10', 80);
    const r = await s.exec({ command: 'curl -sS -m 3 -o /dev/null -w "%{http_code}" http://203.0.113.10/' });
    assert.equal(r.stdout.trim(), '403', `the gateway answers for the outside host: ${r.stdout}`);
    assert.equal(await fx.far.accepted('203.0.113.10', 80), seen);
    for (let i = 0; i < 50 && fx.rt.warnings.length === warned; i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(fx.rt.warnings.slice(warned).join('\n'), /gateway rules: the table was deleted by another program on the host/);
  } finally {
    await s.close();
  }
  const gap = s.events.filter((e) => e.kind === 'sensor' && e.payload.state === 'gateway_rules_restored');
  assert.equal(gap.length, 1, JSON.stringify(s.events.filter((e) => e.kind === 'sensor').map((e) => e.payload)));
  assert.equal(gap[0]!.payload.what, 'the table was deleted');
  const { buildSessionReport } = await import('../src/report/session-report.js');
  const rep = buildSessionReport(fx.rt.store.query({ session: s.id }));
  assert.equal(rep.rules_restored.length, 1);
  assert.deepEqual(rep.sensor_gaps, [], 'not a sensor gap');
});
