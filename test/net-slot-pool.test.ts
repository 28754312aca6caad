// Why this exists: a batch of rollouts ends together and the next batch starts at once. The
// network slot pool keeps the slots the ended sessions hand back (up to `retain`) so the next
// batch reuses them instead of queueing namespace deletions and creations, and gives back what it
// keeps beyond its size once idle. Real namespaces, veths and nft set elements, in the lab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { assertInLab } from '../src/lab/lab-guard.js';
import { GatewayRules } from '../src/sandbox/gateway-rules.js';
import { NetSlotPool } from '../src/sandbox/net-slot-pool.js';
import type { NetSlot } from '../src/sandbox/net-slot.js';

const netns = (): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('corral-'));
const inSet = (rules: GatewayRules): string => execFileSync('nft', ['list', 'set', 'inet', rules.table, 'ifs'], { encoding: 'utf8' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('released slots are kept for reuse up to `retain`, the rest destroyed; the surplus goes when idle', async () => {
  assertInLab();
  const startNs = netns().length;
  const rules = await GatewayRules.create(`${process.pid}-slotpool`, { tcpPort: 1, dnsPort: 2 });
  // (size 0: no background refill, so every slot here is one the test took or gave back)
  const pool = new NetSlotPool(rules, 0, { retain: 4, trimAfterMs: 600 });
  try {
    const first = await Promise.all(Array.from({ length: 5 }, () => pool.acquire()));
    const names = first.map((s) => s.lease.netns);
    for (const s of first) pool.release(s, true);
    assert.equal(pool.readyCount, 4, 'four kept, the fifth destroyed');
    await sleep(300);
    const kept = names.filter((n) => netns().includes(n));
    assert.equal(kept.length, 4, `namespaces left: ${kept.join(', ')}`);
    // the next batch takes the kept ones: no namespace made
    const before = netns().length;
    const second: NetSlot[] = [];
    for (let i = 0; i < 4; i++) second.push(await pool.acquire());
    assert.deepEqual(second.map((s) => s.lease.netns).sort(), [...kept].sort(), 'the same four namespaces');
    for (const s of second) assert.match(inSet(rules), new RegExp(`"${s.lease.hostIf}"`), 'still under the gateway rules');
    await sleep(300);
    assert.equal(netns().length, before, 'no namespace made');
    // a doubtful slot is never kept
    const doubtful = second.pop()!;
    pool.release(doubtful, false);
    for (const s of second) pool.release(s, true);
    await sleep(300);
    assert.ok(!netns().includes(doubtful.lease.netns), 'a slot released as not reusable is destroyed');
    assert.doesNotMatch(inSet(rules), new RegExp(`"${doubtful.lease.hostIf}"`), 'and its veth leaves the set');
    assert.equal(pool.readyCount, 3, 'the three others kept');
    // idle: what is kept beyond the pool's size (0 here) is destroyed
    await sleep(1200);
    assert.equal(pool.readyCount, 0);
    for (const l of second.map((x) => x.lease)) {
      assert.ok(!netns().includes(l.netns), `${l.netns} destroyed when idle`);
      assert.doesNotMatch(inSet(rules), new RegExp(`"${l.hostIf}"`));
    }
  } finally {
    await pool.close();
    await rules.close();
  }
  assert.equal(netns().length, startNs, 'no namespace of ours left after close');
  assert.doesNotMatch(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }), new RegExp(rules.table));
});

test('a repair in flight never brings back a table that was closed', async () => {
  assertInLab();
  for (let round = 0; round < 5; round++) {
    const rules = await GatewayRules.create(`${process.pid}-closerace${round}`, { tcpPort: 1, dnsPort: 2 });
    // someone else deleted it: the repair that follows will want to load it again …
    execFileSync('nft', ['delete', 'table', 'inet', rules.table]);
    const repair = rules.repair();
    // … while the runtime is closing
    await rules.close();
    await repair;
    assert.doesNotMatch(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }), new RegExp(`\\b${rules.table}\\b`), `round ${round}: the closed table stays gone`);
  }
});
