// Why: a process an agent left running (a miner) keeps beaconing until its sandbox goes away, and
// the sandbox outlives the episode's last tool call (a final model turn, grading). The lag used
// to stop at the last call's end even when a placement said the address stayed bound to the
// episode for minutes more, so those beacons linked to nothing: recall 0.91 on simulated fleets
// of 5-call episodes with placements. The placement's end now bounds the lag. Without a
// placement (recall 0.91 too), the address is the episode's alone until another episode runs
// under it (key-tenancy.ts); an episode that shared it at the same time (NAT) still stops at its
// last call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { investigateRecords } from '../src/investigate/investigate.js';
import type { NetRecord, Placement, ToolCallSpan } from '../src/investigate/types.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');
const MIN = 60_000;
let line = 0;
function call(step: number, startMin: number, command: string, ips?: string[], episode = 'ep-1'): ToolCallSpan {
  const start = T0 + startMin * MIN;
  return { episode, run: 'run-1', step, tool_call_id: `${episode}:${step}`, tool: 'bash', command, start, end: start + 10_000, endKnown: true, ips, file: 'trace.jsonl', line: ++line };
}
const bg: NetRecord[] = Array.from({ length: 40 }, (_, i) => ({ ts: T0 + i * 1000, kind: 'flow', src: `10.1.0.${i + 1}`, dst: '198.51.100.10', dport: 443, file: 'bg', line: i + 1 }));
const beacon: NetRecord = { ts: T0 + 5 * MIN, kind: 'alert', src: '10.0.0.5', dst: '203.0.113.50', dport: 3333, proto: 'TCP', category: 'mining', severity: 1, rule: 'stratum login', file: 'eve.json', line: 1 };
const miner = 'nohup ./xmrig -o 203.0.113.50:3333 >/dev/null 2>&1 &';

test('a beacon after the last call but while the placement still binds the address is blamed on the call that started it', async () => {
  const spans = [call(0, 0, miner), call(1, 1, 'ls')]; // the last call ends at 1 min 10 s
  const placements = (toMin: number): Placement[] => [{ ip: '10.0.0.5', from: T0 - MIN, to: T0 + toMin * MIN, episode: 'ep-1' }];
  const r = await investigateRecords({ records: [...bg, beacon], spans, placements: placements(20) });
  assert.equal(r.incidents.length, 1);
  assert.deepEqual(r.incidents[0]!.attributed.map((a) => r.calls[a.call]!.tool_call_id), ['ep-1:0']);
  assert.equal(r.alerts[0]!.candidates[0]!.timing, 'after');
  // The placement ended before the beacon: the sandbox was gone, nothing links.
  assert.equal((await investigateRecords({ records: [...bg, beacon], spans, placements: placements(3) })).counts.linkedAlerts, 0);
  // The lag still bounds it.
  assert.equal((await investigateRecords({ records: [...bg, beacon], spans, placements: placements(20), lagMs: 2 * MIN })).counts.linkedAlerts, 0);
});

test('without a placement the address is the episode\'s alone until another episode uses it: the beacon is blamed on the call that started it', async () => {
  const ip = ['10.0.0.5'];
  const own = [call(0, 0, miner, ip), call(1, 1, 'ls', ip)]; // the last call ends at 1 min 10 s; the beacon is at 5 min
  const r = await investigateRecords({ records: [...bg, beacon], spans: own });
  assert.equal(r.incidents.length, 1);
  assert.deepEqual(r.incidents[0]!.attributed.map((a) => r.calls[a.call]!.tool_call_id), ['ep-1:0']);
  assert.equal(r.alerts[0]!.candidates[0]!.timing, 'after');
  // The lag still bounds it.
  assert.equal((await investigateRecords({ records: [...bg, beacon], spans: own, lagMs: 2 * MIN })).counts.linkedAlerts, 0);
  // Another episode ran under the address at the same time (shared NAT): its traffic could be anyone's,
  // so the first episode stops at its last call, as before.
  const shared = [...own, call(0, 0.5, 'pwd', ip, 'ep-2')];
  assert.equal((await investigateRecords({ records: [...bg, beacon], spans: shared })).counts.linkedAlerts, 0);
  // The address was handed to a later episode at 3 min: the first one's sandbox was gone by then.
  const reused = [...own, call(0, 3, 'pwd', ip, 'ep-2')];
  assert.equal((await investigateRecords({ records: [...bg, beacon], spans: reused })).counts.linkedAlerts, 0);
  // A call that left nothing running is not linked that late.
  const plain = [call(0, 0, 'curl -s http://203.0.113.50:3333/', ip), call(1, 1, 'ls', ip)];
  assert.equal((await investigateRecords({ records: [...bg, beacon], spans: plain })).counts.linkedAlerts, 0);
});
