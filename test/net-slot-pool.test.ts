// Why this exists: a network namespace keeps what its sandbox did in it (lo's and eth0's counters,
// the TCP metrics cache), so a slot handed to a second session is a channel between episodes and
// between clients of `corral serve` (a review, session 35, read one session's 123,456 loopback
// bytes back in the next). The pool must destroy every released slot and hand out only fresh ones,
// made ahead of time — as many as a batch of closing sessions gave back, up to `retain`, the surplus
// destroyed once idle. Real namespaces, veths and nft set elements, and real sandboxes, in the lab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { assertInLab } from '../src/lab/lab-guard.js';
import { GatewayRules } from '../src/sandbox/gateway-rules.js';
import { NetSlotPool } from '../src/sandbox/net-slot-pool.js';
import type { NetSlot } from '../src/sandbox/net-slot.js';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';

const netnsList = (): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith('corral-'));
const inSet = (rules: GatewayRules): string => execFileSync('nft', ['list', 'set', 'inet', rules.table, 'ifs'], { encoding: 'utf8' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** lo's MTU in a namespace: a mark a session could leave behind (undefined: no such namespace). */
const loMtu = (ns: string): number | undefined => {
  try { return Number(/ mtu (\d+)/.exec(execFileSync('ip', ['-n', ns, 'link', 'show', 'lo'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))?.[1]); } catch { return undefined; }
};
const readyOf = (pool: NetSlotPool): NetSlot[] => (pool as unknown as { ready: NetSlot[] }).ready;
async function until(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await sleep(50)) if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
}

test('a released slot is destroyed, never handed out again; fresh ones take its place up to `retain`; the surplus goes when idle', async () => {
  assertInLab();
  const rules = await GatewayRules.create(`${process.pid}-slotpool`, { tcpPort: 1, dnsPort: 2 });
  // (size 0: nothing made before the first release, so every slot here is one the test took or one made in place of one)
  const pool = new NetSlotPool(rules, 0, { retain: 4, trimAfterMs: 800, delayMs: 0, parallel: 2 });
  const mark = 40_000 + (process.pid % 20_000);
  const seen = new Set<string>();
  try {
    const first = await Promise.all(Array.from({ length: 5 }, () => pool.acquire()));
    for (const s of first) {
      seen.add(s.lease.netns);
      // what a session leaves in its namespace (here: lo's MTU, which no fresh namespace has)
      execFileSync('ip', ['-n', s.lease.netns, 'link', 'set', 'lo', 'mtu', String(mark)]);
      assert.equal(loMtu(s.lease.netns), mark);
    }
    for (const s of first) pool.release(s);
    // five given back: four fresh ones made in their place (retain 4), in the background
    await until('four fresh slots', () => pool.readyCount === 4);
    await until('the five released namespaces destroyed', () => first.every((s) => loMtu(s.lease.netns) !== mark));
    // (a fresh slot may draw the same lease, and so the same names, again: then it is unmarked and in the set)
    const gone = (s: NetSlot): boolean => netnsList().includes(s.lease.netns) || !inSet(rules).includes(`"${s.lease.hostIf}"`);
    await until('the destroyed slots\' veths out of the set', () => first.every(gone));
    const second: NetSlot[] = [];
    for (let i = 0; i < 4; i++) second.push(await pool.acquire());
    assert.equal(pool.readyCount, 0, 'taken from the ready ones');
    for (const s of second) {
      seen.add(s.lease.netns);
      assert.ok(!first.includes(s), 'not a released slot object');
      assert.notEqual(loMtu(s.lease.netns), mark, `${s.lease.netns} is fresh, not a released one`);
      assert.match(inSet(rules), new RegExp(`"${s.lease.hostIf}"`), 'under the gateway rules');
    }
    // taking them spent the surplus: none is made again until slots are released
    await sleep(300);
    assert.equal(pool.readyCount, 0, 'the surplus is not refilled');
    for (const s of second) pool.release(s);
    await until('four fresh slots again', () => pool.readyCount === 4);
    for (const s of readyOf(pool)) seen.add(s.lease.netns);
    // idle: what is ready beyond the pool's size (0 here) is destroyed
    await until('the idle surplus destroyed', () => pool.readyCount === 0, 5000);
  } finally {
    await pool.close();
    await rules.close();
  }
  const left = [...seen].filter((n) => netnsList().includes(n) && loMtu(n) === mark);
  assert.deepEqual(left, [], 'no marked namespace left');
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

test('the next session in a runtime sees none of the previous one\'s network state (loopback counters, TCP metrics)', async () => {
  const fx: Fixture = await startFixture([], 'labslt', { sensor: false, commandCheck: false, poolSize: 1 });
  try {
    const BYTES = 123_456;
    const loBytes = /^\s*lo:\s*(\d+)/m;
    const a = await fx.rt.createSession({ policy: labPolicy(), episode: 'slot-a' });
    let ra;
    try {
      // episode A "sends" a number as the bytes it moves over its loopback
      ra = await a.exec({ step: 1, command: `python3 -c "
import socket
srv=socket.socket(); srv.bind(('127.0.0.1',0)); srv.listen(1)
c=socket.create_connection(srv.getsockname()); d,_=srv.accept(); c.sendall(b'S'*${BYTES}); n=0
while n<${BYTES}: n+=len(d.recv(65536))
c.close(); d.close()
"; cat /proc/net/dev` });
    } finally { await a.close(); }
    assert.ok(Number(loBytes.exec(ra.stdout)?.[1]) >= BYTES, `A moved its bytes: ${ra.stdout}${ra.stderr}`);
    // (one slot in the pool: before session 35, B got A's namespace back)
    const b = await fx.rt.createSession({ policy: labPolicy(), episode: 'slot-b' });
    try {
      const rb = await b.exec({ step: 1, command: 'cat /proc/net/dev; echo ---; ip tcp_metrics show 2>&1' });
      const [dev, metrics] = rb.stdout.split('---\n');
      assert.ok(Number(loBytes.exec(dev!)?.[1]) < BYTES, `B reads A's loopback counters: ${dev}`);
      assert.doesNotMatch(metrics ?? '', /127\.0\.0\.1/, `B reads A's TCP metrics: ${metrics}`);
    } finally { await b.close(); }
  } finally { await fx.close(); }
});
