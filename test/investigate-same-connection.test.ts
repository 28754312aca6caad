// Why: one connection logged by several sensors (Suricata's alert and flow, Zeek, a VPC flow log)
// was counted as that many independent observations: an incident's confidence and the
// enrichment test's significance grew with the number of log sources instead of with the
// evidence. Records of one connection (same source, destination and port within 2 s) now count
// once in both; every record is still listed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { investigateRecords } from '../src/investigate/investigate.js';
import type { NetRecord, ToolCallSpan } from '../src/investigate/types.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');
const S = 1000;
let line = 0;
function call(episode: string, step: number, startS: number, durS: number, command: string, ip: string): ToolCallSpan {
  const start = T0 + startS * S;
  return { episode, run: 'run-1', step, tool_call_id: `${episode}:${step}`, tool: 'bash', command, start, end: start + durS * S, endKnown: true, ips: [ip], file: 'trace.jsonl', line: ++line };
}
function rec(atS: number, src: string, dst: string, dport: number, file = 'eve.json', extra: Partial<NetRecord> = {}): NetRecord {
  return { ts: T0 + atS * S, kind: 'alert', src, dst, dport, proto: 'TCP', severity: 2, rule: 'test rule', file, line: ++line, ...extra };
}
/** The same connections as other sensors log them: a flow record 0.3 s later and a VPC record 1.2 s later. */
function seenThrice(rs: NetRecord[]): NetRecord[] {
  return rs.flatMap((r) => [r, { ...r, ts: r.ts + 300, file: 'conn.log', line: ++line }, { ...r, ts: r.ts + 1200, file: 'vpc.log', line: ++line }]);
}
const background = Array.from({ length: 40 }, (_, i): NetRecord => ({ ts: T0 + i * S, kind: 'flow', src: `10.1.0.${i + 1}`, dst: '198.51.100.10', dport: 443, file: 'bg', line: i + 1 }));

test('the enrichment test counts connections: every alert logged by three sensors gives the same p-value as logged once', async () => {
  // Ten episodes on ten addresses, calls busy a quarter of the time; a telemetry daemon's alerts
  // fall inside calls somewhat more often than that.
  const spans: ToolCallSpan[] = [], alerts: NetRecord[] = [];
  for (let e = 0; e < 10; e++) {
    const ip = `10.0.0.${e + 1}`;
    for (let k = 0; k < 4; k++) spans.push(call(`ep-${e}`, k, e * 1000 + k * 200, 50, 'ls -la', ip));
    alerts.push(rec(e * 1000 + 20, ip, '192.0.2.50', 443), rec(e * 1000 + 420, ip, '192.0.2.50', 443), rec(e * 1000 + 100, ip, '192.0.2.50', 443));
  }
  const once = await investigateRecords({ records: [...background, ...alerts], spans });
  const thrice = await investigateRecords({ records: [...background, ...seenThrice(alerts)], spans });
  assert.equal(thrice.counts.alerts, 3 * once.counts.alerts, 'every record is still an alert of the result');
  assert.ok(once.enrichment.fleet.p < 0.5, `the coincidence is visible at all: p ${once.enrichment.fleet.p}`);
  assert.equal(thrice.enrichment.fleet.log10p, once.enrichment.fleet.log10p, 'three records of one connection are one coincidence');
  assert.equal(thrice.enrichment.pooled.total, once.enrichment.pooled.total);
});

test('an incident\'s confidence counts connections: one beacon logged three times is as strong as one record', async () => {
  const spans = [call('ep-1', 0, 0, 5, 'ls', '10.0.0.5'), call('ep-1', 1, 60, 5, 'pwd', '10.0.0.5'), call('ep-1', 2, 200, 5, 'cat notes.txt', '10.0.0.5')];
  // One alert during the second call: nothing in any command explains it.
  const alert = [rec(62, '10.0.0.5', '203.0.113.77', 8443)];
  const once = await investigateRecords({ records: [...background, ...alert], spans });
  const thrice = await investigateRecords({ records: [...background, ...seenThrice(alert)], spans });
  assert.equal(once.incidents.length, 1);
  assert.equal(thrice.incidents.length, 1);
  assert.equal(thrice.incidents[0]!.alertCount, 3);
  const c1 = once.incidents[0]!.attributed[0]!.confidence, c3 = thrice.incidents[0]!.attributed[0]!.confidence;
  assert.ok(Math.abs(c3 - c1) < 1e-9, `confidence ${c1} once, ${c3} logged three times`);
  // Three separate connections are three observations: more confidence than one.
  const three = [rec(60.5, '10.0.0.5', '203.0.113.77', 8443), rec(62.8, '10.0.0.5', '203.0.113.77', 8443), rec(64.9, '10.0.0.5', '203.0.113.77', 8443)];
  const separate = await investigateRecords({ records: [...background, ...three], spans });
  assert.ok(separate.incidents[0]!.attributed[0]!.confidence > c1 + 0.01, 'connections seconds apart still add up');
});
