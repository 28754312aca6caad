// Why: connections to the host's own addresses are refused (host_self) even under a rule that opens
// everything. The addresses were read once at start, so one the host gained later was `public` and
// reachable. This adds a real address to an interface (inside the lab's own network namespace: no
// effect outside it) and proves a compiled policy refuses it within a moment — by the netlink monitor,
// not the fallback timer — and allows it again once it is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { HostAddressWatch } from '../src/session/host-address-watch.js';
import { compilePolicy, parsePolicy } from '../src/policy/index.js';
import { assertInLab } from '../src/lab/lab-guard.js';

const ADDR = '203.0.113.201';

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `ip ${args.join(' ')}: ${r.stderr}`);
}

async function until(cond: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) return -1;
    await sleep(10);
  }
  return Date.now() - t0;
}

test('an address the host gains after start is host_self at once, and public again once removed', async (t) => {
  assertInLab();
  const watch = new HostAddressWatch();
  t.after(() => watch.close());
  watch.start(60_000); // (the fallback timer cannot be what sees the change)
  await sleep(200); // (the monitor subscribes)
  const policy = compilePolicy(parsePolicy('name: open\nnetwork:\n  allow:\n    - cidr: 0.0.0.0/0\n      ports: any\n', 'open.yaml'), { hostKeys: watch.keys });
  const decide = () => policy.decideConnect({ ip: ADDR, port: 22 });
  assert.equal(decide().verdict, 'allow', 'not the host\'s yet: allowed by 0.0.0.0/0');

  ip('addr', 'add', `${ADDR}/32`, 'dev', 'lo');
  t.after(() => spawnSync('ip', ['addr', 'del', `${ADDR}/32`, 'dev', 'lo']));
  const seen = await until(() => watch.addresses.has(ADDR), 2000);
  assert.ok(seen >= 0, 'the new address was seen within 2 s');
  const d = decide();
  assert.equal(d.verdict, 'deny');
  assert.equal(d.addressClass, 'host_self');

  ip('addr', 'del', `${ADDR}/32`, 'dev', 'lo');
  assert.ok(await until(() => !watch.addresses.has(ADDR), 2000) >= 0, 'the removal was seen');
  assert.equal(decide().verdict, 'allow');
});

test('a failed read keeps the addresses known: never an empty set by accident', () => {
  let fail = false;
  const watch = new HostAddressWatch(() => { if (fail) throw new Error('EMFILE'); return ['192.0.2.1', '::1']; });
  assert.deepEqual([...watch.addresses].sort(), ['192.0.2.1', '::1']);
  fail = true;
  watch.refresh();
  assert.equal(watch.keys.size, 2);
});
