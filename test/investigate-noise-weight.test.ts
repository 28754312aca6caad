// Why: a plain coincidence (an alert inside a call whose command shows nothing) is blamed only as
// far as the destination's alerts are enriched inside calls. That enrichment is estimated from a
// handful of alerts, and by chance a daemon's beacon lands inside calls more often than the busy
// fraction says (9 of 12 where 44 % was due: p ≈ 0.04). Taken at face value, that chance made every
// coincident beacon a "likely" incident — on simulated fleets with no incident planted at all
// (seeds 4 and 12: 4 and 9 false incidents, exit 3). These tests pin the fix: the odds use a
// conservative (lower credible) estimate of the enrichment, so a weak chance excess blames
// nobody, while a destination seen only inside calls still makes a coincidence likely.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { investigateRecords, investigate } from '../src/investigate/investigate.js';
import { generateFleet } from '../src/investigate/generate/index.js';
import type { NetRecord, ToolCallSpan } from '../src/investigate/types.js';
import { betaCdf, betaQuantile, logBinomUpper } from '../src/investigate/analysis/stats.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');
const MIN = 60_000, HOUR = 60 * MIN;
let line = 0;

/** Ten episodes an hour apart on one NAT address, 20 calls each: 15 s of every minute (busy 25 %). */
function spans(): ToolCallSpan[] {
  const out: ToolCallSpan[] = [];
  for (let e = 0; e < 10; e++) {
    for (let s = 0; s < 20; s++) {
      const start = T0 + e * HOUR + s * MIN;
      out.push({ episode: `ep-${e}`, run: 'run-1', step: s, tool_call_id: `ep-${e}:${s}`, tool: 'bash', command: 'python step.py', start, end: start + 15_000, endKnown: true, ips: ['10.0.0.1'], file: 'trace.jsonl', line: ++line });
    }
  }
  return out;
}
/** One beacon per episode to dst, inside a call (5 s into minute 10) or in model time (40 s into it). */
function beacons(inside: boolean[], dst = '192.0.2.50'): NetRecord[] {
  const bg: NetRecord[] = Array.from({ length: 40 }, (_, i) => ({ ts: T0 + i * 1000, kind: 'flow' as const, src: `10.1.0.${i + 1}`, dst: '198.51.100.10', dport: 443, file: 'bg', line: i + 1 }));
  return [...bg, ...inside.map((inC, e): NetRecord => ({ ts: T0 + e * HOUR + 10 * MIN + (inC ? 5_000 : 40_000), kind: 'alert', src: '10.0.0.1', dst, dport: 443, proto: 'TCP', severity: 3, rule: 'telemetry beacon', file: 'eve.json', line: ++line }))];
}

test('Beta CDF equals the binomial identity I_x(a, b) = P(Bin(a + b − 1, x) ≥ a); the quantile inverts it', () => {
  for (const [a, b] of [[1, 1], [3, 7], [12, 1], [1, 20], [40, 35], [200, 3]] as const) {
    for (const x of [1e-4, 0.05, 0.3, 0.5, 0.77, 0.99]) {
      const want = Math.exp(logBinomUpper(a, a + b - 1, x));
      assert.ok(Math.abs(betaCdf(x, a, b) - want) < 1e-12 + 1e-9 * want, `I_${x}(${a}, ${b}) = ${betaCdf(x, a, b)}, want ${want}`);
    }
    for (const q of [0.05, 0.5, 0.9]) assert.ok(Math.abs(betaCdf(betaQuantile(q, a, b), a, b) - q) < 1e-9);
  }
  assert.ok(Math.abs(betaCdf(0.3, 0.5, 0.5) - (2 / Math.PI) * Math.asin(Math.sqrt(0.3))) < 1e-12, 'arcsine law for non-integer parameters');
});

test('a chance excess of beacons inside calls (6 of 10 where 2.5 were due, p ≈ 0.02) blames no call', async () => {
  const r = await investigateRecords({ records: beacons([true, true, false, true, true, false, true, false, true, false]), spans: spans(), skewMs: 0 });
  assert.equal(r.incidents.length, 6);
  assert.ok(r.enrichment.fleet.p > 0.01 && r.enrichment.fleet.p < 0.05, `p = ${r.enrichment.fleet.p}`);
  const likely = r.incidents.filter((i) => i.likely);
  assert.deepEqual(likely.map((i) => r.calls[i.attributed[0]!.call]!.tool_call_id), [], 'no likely incident');
});

test('a destination reached only inside calls (10 of 10) still makes a plain coincidence likely', async () => {
  const r = await investigateRecords({ records: beacons(Array<boolean>(10).fill(true), '203.0.113.77'), spans: spans(), skewMs: 0 });
  assert.equal(r.incidents.length, 10);
  assert.ok(r.enrichment.fleet.p < 1e-5, `p = ${r.enrichment.fleet.p}`);
  assert.ok(r.incidents.every((i) => i.likely), r.incidents.map((i) => i.attributed[0]!.confidence.toFixed(3)).join(' '));
});

test('simulated fleets with no planted incident: no likely incident, and the enrichment p-value is not small', async (t) => {
  for (const seed of [4, 12]) {
    const dir = mkdtempSync(join(tmpdir(), 'corral-noise-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const truth = await generateFleet({
      hosts: 4, sandboxesPerHost: 8, episodes: 1500, toolCallsPerEpisode: 20, natShare: 0.25, noiseAlertsPerHour: 2, benignFlowsPerCall: 0.5,
      clockSkewMs: 1500, incidents: { tunnel: 0, minerBeacon: 0, internalScan: 0, metadata: 0 }, seed, otlp: false,
    }, dir);
    const r = await investigate({
      logs: truth.files.network.map((f) => ({ path: join(dir, f.path), format: f.format })),
      traces: [{ path: join(dir, 'traces/canonical.jsonl'), format: 'canonical-jsonl' }], skewMs: 2000, jobs: 1,
    });
    assert.ok(r.enrichment.fleet.p > 0.01, `seed ${seed}: p = ${r.enrichment.fleet.p}`);
    const likely = r.incidents.filter((i) => i.likely).map((i) => `${i.kind} ${i.attributed[0]!.confidence.toFixed(3)}`);
    assert.deepEqual(likely, [], `seed ${seed}: no likely incident`);
  }
});
