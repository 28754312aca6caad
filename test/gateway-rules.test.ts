// Why this exists: one rollout machine holds hundreds of sandboxes. Their nft rules must not grow
// with them: a table per sandbox made every packet on the host walk every sandbox's base chains
// and every sandbox start rewrite a ruleset the size of all of them. These tests hold the design
// (one table per runtime, sandboxes as set elements) against the real kernel, and check that what
// the set-based rules must still do per sandbox — attribute each dropped packet to its own
// sandbox, limit each sandbox's drop log on its own — holds with two sandboxes side by side.
// Real sandboxes, in the lab; traffic only to the lab's fake far host.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { gatewayTableOwner } from '../src/sandbox/nft-ruleset.js';
import type { Session } from '../src/session/session.js';

let fx: Fixture;
before(async () => { fx = await startFixture([{ name: 'far.test', ip: '203.0.113.10', services: [{ kind: 'http', port: 80 }] }], 'labgr'); });
after(async () => { await fx?.close(); });

function tables(): string[] {
  return execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).split('\n').map((l) => l.trim().replace(/^table inet /, '')).filter((t) => t.startsWith('corral_'));
}

function chainsOf(table: string): number {
  return (execFileSync('nft', ['list', 'table', 'inet', table], { encoding: 'utf8' }).match(/^\s*chain /gm) ?? []).length;
}

test('one nft table per runtime: more sandboxes add set elements, not tables or chains', async () => {
  const mine = tables().filter((t) => gatewayTableOwner(t) === process.pid);
  assert.equal(mine.length, 1, `this runtime's tables: ${mine.join(', ')}`);
  const table = mine[0]!;
  const chains = chainsOf(table);
  const sessions: Session[] = [];
  try {
    for (let i = 0; i < 6; i++) sessions.push(await fx.rt.createSession({ policy: labPolicy(), episode: `many-${i}` }));
    assert.deepEqual(tables().filter((t) => gatewayTableOwner(t) === process.pid), [table], 'still one table');
    assert.deepEqual(tables().filter((t) => sessions.some((s) => t === `corral_${s.leaseId}`)), [], 'no table of its own for any sandbox');
    assert.equal(chainsOf(table), chains, 'no chain per sandbox');
    const set = execFileSync('nft', ['list', 'set', 'inet', table, 'ifs'], { encoding: 'utf8' });
    for (const s of sessions) assert.match(set, new RegExp(`"crl${s.leaseId}h"`), `sandbox ${s.leaseId}'s veth is in the set`);
    // and each of them is really behind the gateway: its UDP is dropped and recorded as its own
    await Promise.all(sessions.map((s) => s.exec({ command: 'echo x > /dev/udp/203.0.113.10/9999; sleep 0.3' })));
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
  }
  for (const s of sessions) {
    const drops = s.events.filter((e) => e.kind === 'drop' && e.payload['network.peer.port'] === 9999);
    assert.equal(drops.length, 1, `${s.leaseId}: ${JSON.stringify(s.events.filter((e) => e.kind === 'drop').map((e) => e.payload))}`);
  }
});

test("a flooding sandbox uses up only its own drop-log budget: another sandbox's dropped packet is still recorded", async () => {
  const flooder = await fx.rt.createSession({ policy: labPolicy(), episode: 'flooder' });
  const quiet = await fx.rt.createSession({ policy: labPolicy(), episode: 'quiet' });
  try {
    // ~2 s of datagrams, far past the 50/s + 100 burst the kernel logs per sandbox
    const flood = flooder.exec({ command: `import socket, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.time() + 2
n = 0
while time.time() < end:
    u.sendto(b"x", ("203.0.113.10", 9998)); n += 1
print(n)`, tool: 'python' });
    await new Promise((r) => setTimeout(r, 800));
    const one = await quiet.exec({ command: 'echo x > /dev/udp/203.0.113.10/9999; sleep 0.3' });
    assert.equal(one.exitCode, 0);
    const f = await flood;
    assert.ok(Number(f.stdout.trim()) > 2000, `the flood sent ${f.stdout.trim()} datagrams`);
  } finally {
    await Promise.all([flooder.close(), quiet.close()]);
  }
  const quietDrops = quiet.events.filter((e) => e.kind === 'drop');
  assert.deepEqual(quietDrops.map((e) => e.payload['network.peer.port']), [9999], 'the quiet sandbox\'s one datagram, and nothing of the flood');
  const flooded = flooder.events.filter((e) => e.kind === 'drop' && e.payload['network.peer.port'] === 9998).length;
  assert.ok(flooded >= 100 && flooded <= 300, `the flood's logged drops are throttled, not absent: ${flooded}`);
});

test('a drop the kernel logged before a session took its (reused) slot is not that session\'s; drop times are on the monotonic clock', async () => {
  const kmsg = fx.rt['kmsg'] as import('../src/sensors/kmsg-drops.js').KmsgDropReader;
  for (let i = 0; i < 40 && kmsg.offsetUs === undefined; i++) await new Promise((r) => setTimeout(r, 50));
  assert.notEqual(kmsg.offsetUs, undefined, 'the reader aligned the kernel log\'s clock');
  // a drop line for a veth no lease can have (index 65534), written with a known monotonic time
  const seen: { tsUs?: number }[] = [];
  const on = (d: { sandbox: string; tsUs?: number }): void => { if (d.sandbox === 'fffe') seen.push(d); };
  kmsg.on('drop', on);
  const t = Number(process.hrtime.bigint() / 1000n);
  writeFileSync('/dev/kmsg', '<7>corral-drop IN=crlfffeh OUT= SRC=10.231.0.2 DST=192.0.2.1 LEN=29 PROTO=UDP SPT=1 DPT=2 LEN=9\n');
  for (let i = 0; i < 40 && !seen.length; i++) await new Promise((r) => setTimeout(r, 25));
  kmsg.off('drop', on);
  assert.equal(seen.length, 1);
  assert.ok(Math.abs(seen[0]!.tsUs! - t) < 5000, `stamped ${seen[0]!.tsUs! - t} µs from when it was written`);

  // a session that takes a slot sees only what its veth did after that
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'late-lines' });
  try {
    assert.equal(s.ownsDropAt(t), false, 'logged before the slot was taken');
    assert.equal(s.ownsDropAt(Number(process.hrtime.bigint() / 1000n)), true);
    assert.equal(s.ownsDropAt(undefined), true, 'no time: kept');
  } finally {
    await s.close();
  }
});
