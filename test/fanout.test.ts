// Why: a scan's probes must come out as one alert with the count. A probe whose attribution waits
// for a late kernel record (up to ≈ 2 s) arrived after its group had gone quiet and became an alert
// of its own (seen in `corral demo`: "11 blocked attempts" plus a lone "Connection to internal
// address"). These tests drive the aggregator with real timers: a busy owner holds a quiet group
// (bounded), an idle one does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FanoutAggregator, type Probe } from '../src/alerts/fanout.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const probe = (target: string): Probe => ({ target, evidence: target, message: target });

function collector(busy?: () => boolean, maxHoldMs?: number) {
  const out: { at: number; targets: string[] }[] = [];
  const t0 = Date.now();
  const agg = new FanoutAggregator<string>(100, (_k, ps) => out.push({ at: Date.now() - t0, targets: ps.map((p) => p.target) }), { busy, maxHoldMs });
  return { agg, out };
}

test('probes within the quiet window are one group, emitted only once the group has been quiet for the window', async () => {
  const { agg, out } = collector();
  for (let i = 0; i < 5; i++) { agg.add('call-1', 'k', probe(`10.0.0.${i}:22`)); await sleep(40); }
  assert.equal(out.length, 0, 'still collecting 40 ms after the last probe');
  await sleep(120);
  assert.deepEqual(out.map((o) => o.targets.length), [5]);
  assert.ok(out[0]!.at >= 160 + 100 - 5, `emitted ${out[0]!.at} ms after the first probe, before the group was quiet`);
});

test('a late probe joins its group while the owner is busy attributing; without the hold it becomes a second alert', async () => {
  for (const held of [true, false]) {
    let busy = true;
    const { agg, out } = collector(held ? () => busy : undefined, 1000);
    agg.add('call-1', 'k', probe('10.0.0.5:22'));
    agg.add('call-1', 'k', probe('10.0.0.5:80'));
    await sleep(400); // well past the 100 ms window: the third probe's attribution was slow
    agg.add('call-1', 'k', probe('10.0.0.6:6379'));
    busy = false;
    await sleep(250);
    assert.deepEqual(out.map((o) => o.targets.length), held ? [3] : [2, 1], held ? 'held: one group of three' : 'not held: split');
  }
});

test('a busy owner holds a quiet group at most maxHoldMs past the window; an idle owner is not waited for', async () => {
  const { agg, out } = collector(() => true, 300);
  agg.add('g', 'k', probe('a:1'));
  await sleep(250);
  assert.equal(out.length, 0, 'held while busy');
  await sleep(300);
  assert.equal(out.length, 1, 'emitted once the hold ran out, though still busy');
  assert.ok(out[0]!.at >= 390 && out[0]!.at < 520, `emitted at ${out[0]!.at} ms (window 100 + hold 300)`);
  // flushing (a call's end) never waits
  agg.add('h', 'k', probe('b:1'));
  agg.flushPrefix('h');
  assert.equal(out.length, 2);
});
