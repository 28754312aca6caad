// Why: review findings on `corral investigate`'s attribution, each reproduced here before it was
// fixed: a likely co-culprit on a shared NAT address demoted to "runner-up" (and the incident
// called ambiguous) because it explained fewer alerts than the main culprit; the fleet view
// counting unlikely attributions and dating "first appeared" by the first incident's alert
// instead of the first call that showed the behaviour; episodes of different runs with the same
// name ("0": RL runs restart their numbering) merged into one, in the JavaScript and the native
// readers; a quoted '&' taken as a background operator and `crontab -l` as persistence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { leavesProcessRunning } from '../src/investigate/analysis/command-evidence.js';
import { reportData } from '../src/investigate/report/html-data.js';
import { investigate, investigateRecords, type InvestigationResult } from '../src/investigate/investigate.js';
import type { NetRecord, ToolCallSpan } from '../src/investigate/types.js';
import { T0, MIN, call, alert, background } from './helpers/investigate-records.js';

const id = (r: InvestigationResult, c: number): string => r.calls[c]!.tool_call_id;
/** The command analyser of these tests: only a miner binary matches a rule (mining). */
const minerRule = (c: string): { rule: string; category: string }[] => (/\bxmrig\b/.test(c) ? [{ rule: 'cmd_miner_binary', category: 'mining' }] : []);

// ---------- 1. shared NAT ----------

test('NAT: a second sandbox that clearly mined too is blamed as a co-culprit, not demoted to an "ambiguous" runner-up', async () => {
  // ep-a starts a miner that beacons every 30 s; ep-b, behind the same NAT address, runs one short
  // miner of its own during which one more beacon of another sensor lands; ep-c only trains.
  const records = background();
  for (let m = 0.5; m < 10; m += 0.5) records.push(alert(m, '203.0.113.51', { dport: 14444, category: 'mining' }));
  records.push(alert(5.05, '203.0.113.51', { dport: 14444, category: 'mining', rule: 'other sensor' }));
  const spans = [
    call('ep-a', 0, 0, 20, 'nohup ./xmrig -o stratum+tcp://203.0.113.51:14444 -u x &'),
    call('ep-b', 3, 5, 10, './xmrig -o stratum+tcp://203.0.113.51:14444 -u y --max-time 5'),
    call('ep-c', 1, 4.9, 30, 'python train.py'),
  ];
  const r = await investigateRecords({ records, spans, rules: minerRule, lagMs: 30 * MIN });
  assert.equal(r.incidents.length, 1);
  const inc = r.incidents[0]!;
  assert.equal(id(r, inc.attributed[0]!.call), 'ep-a:0', 'the main culprit first');
  assert.ok(inc.attributed[0]!.confidence > 0.95);
  assert.deepEqual(inc.attributed.map((a) => id(r, a.call)), ['ep-a:0', 'ep-b:3'], 'the co-culprit is named with it');
  assert.ok(inc.attributed[1]!.confidence > 0.9);
  assert.equal(id(r, inc.runnerUp!.call), 'ep-c:1', 'the runner-up is the best call not blamed');
  assert.equal(inc.ambiguous, false, 'two clear culprits are not an ambiguous attribution');
  assert.deepEqual(inc.episodes, ['ep-a', 'ep-b']);
});

test('NAT: when only one sharer\'s command matches a rule, the other is the runner-up with far less blame', async () => {
  // Both commands name the pool's address; only ep-a's matches the analyser's mining rule.
  const records = background();
  for (let m = 0.5; m < 10; m += 1) records.push(alert(m, '203.0.113.51', { dport: 14444, category: 'mining' }));
  const spans = [call('ep-a', 0, 0, 600, 'nohup ./xmrig -o 203.0.113.51:14444 &'), call('ep-b', 0, 0.1, 600, 'curl http://203.0.113.51:14444/')];
  const r = await investigateRecords({ records, spans, rules: minerRule, lagMs: 30 * MIN });
  const inc = r.incidents[0]!;
  assert.deepEqual(inc.attributed.map((a) => id(r, a.call)), ['ep-a:0']);
  assert.equal(id(r, inc.runnerUp!.call), 'ep-b:0');
  assert.ok(inc.runnerUp!.confidence < 0.25 * inc.attributed[0]!.confidence, `${inc.runnerUp!.confidence} vs ${inc.attributed[0]!.confidence}`);
  assert.equal(inc.ambiguous, false);
  // Both matching the rule: both blamed, neither collapsed into the other.
  const both = await investigateRecords({ records, spans: [spans[0]!, { ...spans[1]!, command: './xmrig -o 203.0.113.51:14444' }], rules: minerRule, lagMs: 30 * MIN });
  assert.deepEqual(both.incidents[0]!.attributed.map((a) => id(both, a.call)).sort(), ['ep-a:0', 'ep-b:0']);
});

// ---------- 2. fleet view ----------

test('fleet view: counts only likely attributions, and "first appeared" is the first call that showed the behaviour', async () => {
  const records = background();
  // A tie on a shared address at minute 1 (neither call likely: a "possible" incident) …
  records.push(alert(1, '203.0.113.10', { dport: 22, category: 'tunnel' }));
  // … and a miner started at minute 2 whose first beacon comes at minute 12.
  for (let m = 12; m < 20; m += 1) records.push(alert(m, '203.0.113.51', { src: '10.0.0.7', dport: 14444, category: 'mining' }));
  const spans = [
    call('ep-a', 0, 0.5, 60, 'python a.py'), call('ep-b', 0, 0.6, 60, 'python b.py'),
    call('ep-m', 2, 2, 10, 'nohup ./xmrig -o 203.0.113.51:14444 &', { ips: ['10.0.0.7'] }),
    call('ep-m', 9, 19, 60, 'ls', { ips: ['10.0.0.7'] }),
  ];
  const r = await investigateRecords({ records, spans, rules: minerRule, lagMs: 30 * MIN });
  const possible = r.incidents.find((i) => i.category === 'tunnel')!;
  assert.equal(possible.likely, false, 'the tie is only possible');
  const patterns = r.fleet.patterns.map((p) => p.pattern);
  assert.ok(!patterns.some((p) => p.startsWith('python')), `unlikely attributions are not counted: ${patterns.join(' | ')}`);
  assert.deepEqual(r.fleet.episodes.map((e) => e.episode), ['ep-m']);
  assert.ok(r.fleet.firstAppeared);
  assert.equal(r.fleet.firstAppeared.episode, 'ep-m');
  assert.equal(r.fleet.firstAppeared.ts, T0 + 2 * MIN, 'dated by the call that started it, not by an alert');
  assert.equal(r.fleet.firstAppeared.pattern, 'nohup ./xmrig -o <ip>:<n> &');
  assert.equal(r.fleet.patterns[0]!.firstSeen, T0 + 2 * MIN);
});

// ---------- 3. episode identity: run + episode ----------

/** Two runs that both number their episodes from "0", on two addresses, one alert each. */
function twoRuns(): { spans: ToolCallSpan[]; records: NetRecord[] } {
  const spans = [
    call('0', 1, 0, 30, 'curl -s http://169.254.169.254/latest/meta-data/', { run: 'run-A', ips: ['10.0.0.5'] }),
    call('0', 2, 1, 30, 'ls', { run: 'run-A', ips: ['10.0.0.5'] }),
    call('0', 1, 0, 30, 'curl -s http://169.254.169.254/latest/meta-data/', { run: 'run-B', ips: ['10.0.0.6'] }),
  ];
  const records = [...background(), alert(0.2, '169.254.169.254', { dport: 80 }), alert(0.3, '169.254.169.254', { src: '10.0.0.6', dport: 80 })];
  return { spans, records };
}

test('identity: episode "0" of two runs stays two episodes (records path)', async () => {
  const { spans, records } = twoRuns();
  const r = await investigateRecords({ records, spans });
  assert.equal(r.counts.episodes, 2);
  assert.deepEqual(r.episodes.map((e) => [e.run, e.episode, e.calls]).sort(), [['run-A', '0', 2], ['run-B', '0', 1]]);
  assert.equal(r.fleet.episodes.length, 2);
  assert.equal(r.fleet.patterns[0]!.episodes, 2);
  assert.deepEqual(r.fleet.byRun, [{ run: 'run-A', episodes: 1, incidents: 1 }, { run: 'run-B', episodes: 1, incidents: 1 }]);
});

test('identity: the HTML timeline draws two runs\' episode "0" behind one address as two rows, each named with its run', async () => {
  // (one NAT address: both runs' sandboxes behind 10.0.0.5, each fetching the metadata address in its own call)
  const spans = [
    call('0', 1, 0, 30, 'curl -s http://169.254.169.254/latest/meta-data/', { run: 'run-A' }),
    call('0', 1, 5, 30, 'curl -s http://169.254.169.254/latest/meta-data/', { run: 'run-B' }),
  ];
  const records = [...background(), alert(0.2, '169.254.169.254', { dport: 80 }), alert(5.2, '169.254.169.254', { dport: 80 })];
  const r = await investigateRecords({ records, spans });
  const data = reportData(r);
  const lane = data.lanes.find((l) => l.source.includes('10.0.0.5'));
  assert.ok(lane, JSON.stringify(data.lanes.map((l) => l.source)));
  assert.deepEqual(lane.rows.map((row) => [row.run, row.episode, row.calls.map((c) => data.calls[c]!.run)]).sort(), [['run-A', '0', ['run-A']], ['run-B', '0', ['run-B']]]);
  assert.equal(r.fleet.firstAppeared?.run, 'run-A');
  assert.deepEqual(r.fleet.patterns.map((p) => [p.firstRun, p.firstEpisode]), [['run-A', '0']]);
});

test('identity: episode "0" of two runs stays two episodes when read from files (native and JavaScript readers, one and several threads)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-review-'));
  try {
    const iso = (ms: number): string => new Date(ms).toISOString();
    const lines: string[] = [];
    // Many plain calls (the native reader's share), interleaved runs, the same episode names.
    for (let i = 0; i < 3000; i++) {
      const run = i % 2 ? 'run-B' : 'run-A', ip = i % 2 ? '10.0.0.6' : '10.0.0.5';
      const t = T0 + i * 2000;
      lines.push(JSON.stringify({ run, episode: String(Math.floor(i / 600)), step: i, command: i === 1000 || i === 1001 ? 'curl -s http://169.254.169.254/' : 'ls', ts: iso(t), end_ts: iso(t + 1500), ip }));
    }
    // An episode without a run and one whose run JavaScript must format (a number).
    const TX = T0 + 120 * MIN; // after every call above
    lines.push(JSON.stringify({ episode: '0', command: 'ls', ts: iso(TX + 10), end_ts: iso(TX + 20), ip: '10.0.0.5' }));
    lines.push(JSON.stringify({ run: 7, episode: '0', command: 'ls', ts: iso(TX + 30), end_ts: iso(TX + 40), ip: '10.0.0.5' }));
    lines.push(JSON.stringify({ run: '7', episode: '0', command: 'ls', ts: iso(TX + 50), end_ts: iso(TX + 60), ip: '10.0.0.5' }));
    writeFileSync(join(dir, 'trace.jsonl'), lines.join('\n') + '\n');
    const eve = (t: number, src: string): string => JSON.stringify({ timestamp: iso(t), event_type: 'alert', src_ip: src, dest_ip: '169.254.169.254', dest_port: 80, proto: 'TCP', alert: { signature: 'metadata', severity: 1 } });
    writeFileSync(join(dir, 'eve.json'), [eve(T0 + 1000 * 2000 + 500, '10.0.0.5'), eve(T0 + 1001 * 2000 + 500, '10.0.0.6'), eve(TX + 45, '10.0.0.5')].join('\n') + '\n');
    const base = { logs: [{ path: join(dir, 'eve.json') }], traces: [{ path: join(dir, 'trace.jsonl') }], rules: 'off' as const };
    const one = await investigate({ ...base, jobs: 1 });
    const many = await investigate({ ...base, jobs: 3, parallelMinBytes: 1 });
    for (const r of [one, many]) {
      // run-A and run-B have episodes 0..4 each; plus "0" without a run and "0" of run 7.
      assert.equal(r.counts.episodes, 12);
      assert.equal(r.counts.toolCalls, 3003);
      const eps = r.episodes.map((e) => `${e.run ?? '-'}/${e.episode}:${e.calls}`).sort();
      assert.deepEqual(eps, ['-/0:1', '7/0:2', 'run-A/1:300', 'run-B/1:300'], eps.join(' '));
    }
    assert.ok(one.notes.some((n) => /read from the native scanner/.test(n)), one.notes.join('; '));
    assert.deepEqual(many.episodes, one.episodes);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('identity: a placement may name the run, so episode "0" of one run does not inherit another run\'s address (file and records)', async () => {
  const noIp = { ips: undefined };
  const spans = [call('0', 0, 1, 60, 'nmap 10.30.0.0/24', { ...noIp, run: 'run-A' }), call('0', 0, 1, 60, 'nmap 10.30.0.0/24', { ...noIp, run: 'run-B', tool_call_id: 'B:0' })];
  const dir = mkdtempSync(join(tmpdir(), 'corral-review-'));
  try {
    // one CSV with the run column; the same bindings without it make both runs' "0" hold both addresses
    writeFileSync(join(dir, 'p.csv'), `ip,from,to,episode,run\n10.0.0.5,,,0,run-A\n10.0.0.6,,,0,run-B\n`);
    const { readPlacementsDetailed } = await import('../src/investigate/inputs/placements.js');
    const { placements, stats } = await readPlacementsDetailed(join(dir, 'p.csv'));
    assert.equal(stats.records, 2);
    assert.deepEqual(placements.map((p) => [p.ip, p.episode, p.run]), [['10.0.0.5', '0', 'run-A'], ['10.0.0.6', '0', 'run-B']]);
    const records = [...background(), alert(1.5, '10.30.0.7', { dport: 22, src: '10.0.0.6' }), alert(1.6, '10.30.0.8', { dport: 22, src: '10.0.0.6' })];
    const r = await investigateRecords({ records, spans, placements });
    assert.equal(r.incidents.length, 1);
    assert.deepEqual(r.incidents[0]!.attributed.map((a) => r.calls[a.call]!.tool_call_id), ['B:0'], 'only run-B\'s episode held 10.0.0.6');
    // a run-less binding still applies to every run's episode of that name (as before)
    const loose = await investigateRecords({ records, spans, placements: placements.map(({ run: _run, ...p }) => p) });
    const inc = loose.incidents[0]!;
    const named = [...inc.attributed, ...(inc.runnerUp ? [inc.runnerUp] : [])].map((a) => loose.calls[a.call]!.tool_call_id).sort();
    assert.deepEqual(named, ['0:0', 'B:0'], 'without the run both episodes "0" held the address: both are candidates');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

// ---------- 4. command patterns ----------

test('command evidence: a quoted "&" is no background operator; crontab -l is no persistence', () => {
  for (const c of ['echo "a & b"', "echo 'x & y' > f", 'grep -c "foo & bar" log.txt', 'crontab -l', 'crontab -l | grep backup', 'crontab -u bob -l', 'crontab -r',
    'cat /etc/crontab', 'grep -r backup /etc/cron.d', 'ls -la /etc/cron.daily', 'diff /etc/crontab /tmp/crontab.bak', 'cp /etc/crontab /tmp/c.bak'])
    assert.equal(leavesProcessRunning(c), false, c);
  for (const c of ['echo "a & b" & sleep 1', './beacon &', 'sh -c "./beacon &"', "bash -c './x & disown'", 'crontab mycron', '(crontab -l; echo "* * * * * ./x") | crontab -', 'crontab -e',
    'echo "* * * * * root /tmp/x" >> /etc/crontab', "echo '@reboot root ./m' > \"/etc/cron.d/job\"", 'echo x | sudo tee -a /etc/crontab', 'cp job /etc/cron.d/',
    'install -m 644 job /etc/cron.hourly/job', "sed -i 's/a/b/' /etc/crontab", "python3 -c \"open('/etc/cron.d/x','w').write('* * * * * root ./m')\"",
    'dd if=job of=/etc/cron.d/job'])
    assert.equal(leavesProcessRunning(c), true, c);
});
