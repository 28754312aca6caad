// Why: a process an agent left running (a miner) keeps beaconing until its sandbox goes away, and
// the sandbox outlives the episode's last tool call (a final model turn, grading). The lag used
// to stop at the last call's end even when a placement said the address stayed bound to the
// episode for minutes more, so those beacons linked to nothing: recall 0.91 on simulated fleets
// of 5-call episodes with placements. The placement's end now bounds the lag; without a
// placement the last call's end is still all the trace says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { investigateRecords } from '../src/investigate/investigate.js';
import type { NetRecord, Placement, ToolCallSpan } from '../src/investigate/types.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');
const MIN = 60_000;
let line = 0;
function call(step: number, startMin: number, command: string, ips?: string[]): ToolCallSpan {
  const start = T0 + startMin * MIN;
  return { episode: 'ep-1', run: 'run-1', step, tool_call_id: `ep-1:${step}`, tool: 'bash', command, start, end: start + 10_000, endKnown: true, ips, file: 'trace.jsonl', line: ++line };
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

test('without a placement the episode ends with its last call, as before', async () => {
  const spans = [call(0, 0, miner, ['10.0.0.5']), call(1, 1, 'ls', ['10.0.0.5'])];
  assert.equal((await investigateRecords({ records: [...bg, beacon], spans })).counts.linkedAlerts, 0);
});
