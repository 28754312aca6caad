// Why: a review (session 25) listed ways bad records could slip into `corral investigate` as
// wrong data instead of being counted and reported with file and line: CSV rows of another width
// than the header, impossible syslog times, escaped eve event types, odd Zeek separators and
// line ends, placements of the wrong type, unbounded OTLP documents and alerts with thousands of
// candidate calls. Each test here runs the real CLI or reader on such input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TsParser } from '../src/investigate/inputs/timestamps.js';
import { tmpDir } from './support/investigate-files.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function tmp(t: { after(fn: () => void): void }): string { return tmpDir(t, 'corral-robust-'); }

function corral(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'investigate', '--quiet', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Issue = { file: string; line: number; error: string };
type Json = { counts: { records: number; alerts: number; toolCalls: number }; inputs: { net: { records: number; bad: number; issues: Issue[]; tsNote?: string }[]; traces: { records: number; bad: number; issues: Issue[] }[] } };

/** One tool call at 2024-05-01T12:00:00Z from 10.0.0.5 that reaches 203.0.113.9. */
function oneCall(d: string): string {
  const tr = join(d, 'tr.jsonl');
  writeFileSync(tr, '{"episode":"ep1","step":1,"command":"curl http://203.0.113.9/","ts":"2024-05-01T12:00:00Z","duration_ms":2000,"ip":"10.0.0.5"}\n');
  return tr;
}

function investigateJson(args: string[]): Json {
  const r = corral([...args, '--json']);
  assert.ok(r.status === 0 || r.status === 3 || r.status === 1, `exit ${r.status}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at .*\(/, 'no stack trace');
  return JSON.parse(r.stdout) as Json;
}

test('CSV rows with fewer or more cells than the header are bad records with their line, not read with shifted fields', (t) => {
  const d = tmp(t);
  const csv = join(d, 'fw.csv');
  writeFileSync(csv, [
    'ts,src,dst,dport,proto,action,rule',
    '2024-05-01T12:00:01Z,10.0.0.5,203.0.113.9,443,tcp,deny,r1',
    '2024-05-01T12:00:02Z,10.0.0.5,203.0.113.9,443,tcp',
    '2024-05-01T12:00:03Z,10.0.0.5,203.0.113.9,443,tcp,deny,r1,extra',
    '2024-05-01T12:00:04Z,10.0.0.5',
    '2024-05-01T12:00:05Z,10.0.0.5,203.0.113.9,443,tcp,deny,"r2, quoted"',
  ].join('\n') + '\n');
  const j = investigateJson(['--traces', oneCall(d), csv]);
  const net = j.inputs.net[0]!;
  assert.equal(net.records, 2);
  assert.deepEqual(net.issues.map((i) => [i.file, i.line]), [[csv, 3], [csv, 4], [csv, 5]]);
  assert.match(net.issues[0]!.error, /expected 7 columns \(as the header\), found 5/);
  assert.match(net.issues[1]!.error, /expected 7 columns \(as the header\), found 8/);
  assert.equal(j.counts.alerts, 2);
});

test('syslog and ISO times that are no time (hour 24+, minute 60, second 61, Feb 30, offset +99:00) are bad records with their line, not rolled into another hour or day', (t) => {
  const d = tmp(t);
  const log = join(d, 'fw.log');
  const kernel = 'h kernel: DROP IN=eth0 OUT= SRC=10.0.0.5 DST=203.0.113.9 LEN=60 PROTO=TCP SPT=1 DPT=443';
  writeFileSync(log, [
    `May  1 12:00:01 ${kernel}`,
    `May  1 24:00:01 ${kernel}`,
    `May  1 12:60:01 ${kernel}`,
    `May  1 12:00:61 ${kernel}`,
    `Feb 30 12:00:01 ${kernel}`,
    `May  1 99:99:99 ${kernel}`,
    `2024-05-01T14:00:02+02:00 ${kernel}`,
    `2024-05-01T24:30:01Z ${kernel}`,
    `2024-05-01T12:00:01+99:00 ${kernel}`,
    `2024-05-01T07:00:03.5-05:00 ${kernel}`,
  ].join('\n') + '\n');
  const j = investigateJson(['--traces', oneCall(d), '--year', '2024', log]) as Json & { alerts: { line: number; ts: number }[] };
  const net = j.inputs.net[0]!;
  assert.deepEqual(net.issues.map((i) => i.line), [2, 3, 4, 5, 6, 8, 9]);
  for (const i of net.issues) assert.match(i.error, /unparseable timestamp at the start of the line/);
  assert.equal(net.records, 3);
  // The zones written are applied, not ignored: all three are 12:00:0x UTC.
  assert.deepEqual(j.alerts.map((a) => [a.line, new Date(a.ts).toISOString()]).sort(), [
    [1, '2024-05-01T12:00:01.000Z'], [10, '2024-05-01T12:00:03.500Z'], [7, '2024-05-01T12:00:02.000Z'],
  ].sort());
  // Trace times too (the native scanner's zoned-ISO fast path and TsParser agree).
  const tr = join(d, 'tr.jsonl');
  writeFileSync(tr, [
    '{"episode":"ep1","step":1,"command":"curl http://203.0.113.9/","ts":"2024-05-01T12:00:00Z","duration_ms":2000,"ip":"10.0.0.5"}',
    '{"episode":"ep1","step":2,"command":"ls","ts":"2024-05-01T12:00:00+99:00","duration_ms":2000,"ip":"10.0.0.5"}',
    '{"episode":"ep1","step":3,"command":"ls","ts":"2024-05-01T24:10:00Z","duration_ms":2000,"ip":"10.0.0.5"}',
  ].join('\n') + '\n');
  const tj = investigateJson(['--traces', tr, '--year', '2024', log]);
  assert.deepEqual(tj.inputs.traces[0]!.issues.map((i) => i.line), [2, 3]);
  assert.equal(tj.counts.toolCalls, 1);
  // The same rules for every reader's times (TsParser), Date.parse's free forms included.
  const p = new TsParser();
  for (const bad of ['2024-05-01T24:00:01Z', '2024-05-01T24:01:00Z', '2024-05-01 12:00:00 +24:00', '2024-05-01T12:00:00+0160', 'Wed, 31 Feb 2024 12:00:00 GMT', 'Feb 30, 2024 12:00:00 UTC']) assert.ok(Number.isNaN(p.parse(bad)), bad);
  assert.equal(p.parse('2024-05-01T24:00:00Z'), Date.UTC(2024, 4, 2), '24:00 is the end of the day (ISO 8601)');
  assert.equal(p.parse('Thu, 29 Feb 2024 12:00:00 GMT'), Date.UTC(2024, 1, 29, 12));
  assert.equal(p.parse('2024-05-01T12:00:00-14:00'), Date.UTC(2024, 4, 2, 2));
});

test('iptables lines behind a syslog priority (<4>May  1 …, RFC 5424 <4>1 2024-… with structured data) are read with their host and rule; a bad priority is a bad line', (t) => {
  // (before session 26 every such line was a bad record, "unparseable timestamp": a raw syslog capture lost all its records)
  const d = tmp(t);
  const log = join(d, 'fw.log');
  const tail = 'IN=eth0 OUT= SRC=10.0.0.5 DST=203.0.113.9 LEN=60 PROTO=TCP SPT=1 DPT=443';
  writeFileSync(log, [
    `<4>May  1 12:00:01 fw1 kernel: [UFW BLOCK] ${tail}`,
    `<4>1 2024-05-01T12:00:02Z fw2 kernel - - - [12.5] DROP-OUT ${tail}`,
    `<12>1 2024-05-01T12:00:03.5Z fw3 kernel - - [meta sequenceId="7" note="a \\] b"] DROP-SD ${tail}`,
    `<999>May  1 12:00:04 fw4 kernel: DROP ${tail}`,
  ].join('\n') + '\n');
  const j = investigateJson(['--traces', oneCall(d), '--year', '2024', log]) as Json & { alerts: { line: number; ts: number; host?: string; rule?: string }[] };
  const net = j.inputs.net[0]!;
  assert.deepEqual(net.issues.map((i) => i.line), [4], JSON.stringify(net.issues));
  assert.equal(net.records, 3);
  assert.deepEqual(j.alerts.map((a) => [a.line, new Date(a.ts).toISOString(), a.host, a.rule]).sort(), [
    [1, '2024-05-01T12:00:01.000Z', 'fw1', '[UFW BLOCK]'],
    [2, '2024-05-01T12:00:02.000Z', 'fw2', 'DROP-OUT'],
    [3, '2024-05-01T12:00:03.500Z', 'fw3', 'DROP-SD'],
  ].sort());
  // Cisco ASA lines forwarded the same way
  const asa = join(d, 'asa.log');
  writeFileSync(asa, [
    '<164>May  1 12:00:01 fw-1 %ASA-4-106023: Deny tcp src inside:10.0.0.5/40000 dst outside:203.0.113.9/22 by access-group "INSIDE_OUT" [0x0, 0x0]',
    '<164>May 01 2024 12:00:02: %ASA-4-106100: access-list INSIDE_OUT denied tcp inside/10.0.0.5(41001) -> outside/203.0.113.9(3333) hit-cnt 1 first hit [0x0, 0x0]',
  ].join('\n') + '\n');
  const a = investigateJson(['--traces', oneCall(d), '--year', '2024', '--format', 'cisco-asa', asa]) as Json & { alerts: { line: number; ts: number; host?: string }[] };
  assert.deepEqual(a.inputs.net[0]!.issues, []);
  assert.equal(a.inputs.net[0]!.records, 2);
  assert.deepEqual(a.alerts.map((x) => [x.line, new Date(x.ts).toISOString(), x.host ?? null]).sort(), [
    [1, '2024-05-01T12:00:01.000Z', 'fw-1'], [2, '2024-05-01T12:00:02.000Z', null],
  ].sort());
});

test('eve: an escaped event_type ("\\u0061lert") or one nested before the event\'s own is read as JSON reads it, not skipped by the text search', (t) => {
  const d = tmp(t);
  const eve = join(d, 'eve.json');
  const alert = (n: number, before = '', et = 'alert'): string => `{"timestamp":"2024-05-01T12:00:0${n}.000000+0000",${before}"event_type":"${et}","src_ip":"10.0.0.5","src_port":1,"dest_ip":"203.0.113.9","dest_port":443,"proto":"TCP","alert":{"action":"blocked","signature_id":${n},"signature":"ET POLICY rule ${n}","category":"x","severity":1}}`;
  writeFileSync(eve, [
    alert(1),
    alert(2, '', '\\u0061lert'),
    alert(3, '"tls":{"event_type":"dns"},'),
    alert(4, '"x":[{"event_type":"stats"}],'),
    '{"timestamp":"2024-05-01T12:00:05.000000+0000","tls":{"event_type":"dns"},"src_ip":"10.0.0.5","dest_ip":"203.0.113.9"}',
    '{"timestamp":"2024-05-01T12:00:06.000000+0000","event_type":"d\\u006es","src_ip":"10.0.0.5","dest_ip":"203.0.113.9"}',
    // AWS Network Firewall's envelope: the event inside is still read (and a dns event inside skipped).
    `{"firewall_name":"fw1","event_timestamp":"1714564807","event":${alert(7)}}`,
    '{"firewall_name":"fw1","event_timestamp":"1714564808","event":{"timestamp":"2024-05-01T12:00:08.000000+0000","event_type":"dns","src_ip":"10.0.0.5","dest_ip":"203.0.113.9"}}',
  ].join('\n') + '\n');
  const j = investigateJson(['--traces', oneCall(d), eve]) as Json & { alerts: { line: number; rule: string }[] };
  const net = j.inputs.net[0]! as Json['inputs']['net'][0] & { skippedKinds: Record<string, number> };
  assert.equal(net.records, 5);
  assert.equal(j.counts.alerts, 5);
  assert.deepEqual(j.alerts.map((a) => a.line).sort(), [1, 2, 3, 4], 'the alerts in the call\'s window are linked to it');
  assert.deepEqual(net.issues.map((i) => [i.line, i.error]), [[5, 'missing field "event_type" (string)']]);
  assert.deepEqual(net.skippedKinds, { dns: 2 });
});

test('Zeek TSV (and CSV) with CR-only line ends is read line by line, bad rows named by their line; other #separator values are honoured', (t) => {
  const d = tmp(t);
  const lines = [
    '#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', '#path\tconn', '#open\t2024-05-01-12-00-00',
    '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes',
    '#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\tcount',
    '1714564801.000000\tC1\t10.0.0.5\t40000\t203.0.113.9\t22\ttcp\t-\t1.0\t100\t200',
    '1714564802.000000\tC2\t10.0.0.5\t40001\t203.0.113.9\t3333\ttcp\t-\t1.0\t100\t200',
    '1714564802.500000\tC2b\t10.0.0.5',
    '1714564803.000000\tC3\t10.0.0.5\t40002\t198.51.100.7\t443\ttcp\t-\t1.0\t100\t200',
    '#close\t2024-05-01-13-00-00',
  ];
  const tr = oneCall(d);
  const variants: [string, string][] = [
    ['cr.log', lines.join('\r') + '\r'],
    ['lf.log', lines.join('\n') + '\n'],
    ['comma.log', ['#separator \\x2c', ...lines.slice(1).map((l) => l.replaceAll('\t', ','))].join('\n') + '\n'],
    ['bars.log', ['#separator \\x7c\\x7c', ...lines.slice(1).map((l) => l.replaceAll('\t', '||'))].join('\r') + '\r'],
  ];
  for (const [name, text] of variants) {
    const f = join(d, name);
    writeFileSync(f, text);
    const j = investigateJson(['--traces', tr, f]);
    const net = j.inputs.net[0]! as Json['inputs']['net'][0] & { format: string };
    assert.equal(net.format, 'zeek-conn-tsv', name);
    assert.equal(net.records, 3, name);
    assert.deepEqual(net.issues.map((i) => [i.line, i.error]), [[11, 'expected 11 fields, found 3']], name);
    assert.equal(j.counts.alerts, 2, `${name}: the flows to ports 22 and 3333 are alert-like`);
  }
  const csv = join(d, 'cr.csv');
  writeFileSync(csv, ['ts,src,dst,dport,action,rule', '2024-05-01T12:00:01Z,10.0.0.5,203.0.113.9,22,deny,r1', 'x', '2024-05-01T12:00:02Z,10.0.0.5,203.0.113.9,22,deny,r2'].join('\r') + '\r');
  const c = investigateJson(['--traces', tr, csv]);
  assert.equal(c.inputs.net[0]!.records, 2);
  assert.deepEqual(c.inputs.net[0]!.issues.map((i) => i.line), [3]);
});

test('placements with a wrong-typed or non-address ip, a host/sandbox/episode that is not text, or an interval under another name are bad records, not placements', (t) => {
  const d = tmp(t);
  const pl = join(d, 'pl.jsonl');
  writeFileSync(pl, [
    '{"ip":"10.0.0.5","from":"2024-05-01T11:00:00Z","to":"2024-05-01T13:00:00Z","host":"h1","episode":"ep1"}',
    '{"ip":5,"from":"2024-05-01T11:00:00Z","episode":"ep2"}',
    '{"ip":"10.0.0.6","host":null,"episode":"ep3"}',
    '{"ip":"10.0.0.7","host":{"name":"h"},"episode":"ep4"}',
    '{"ip":"10.0.0.8","since":{"t":1},"until":"2024-05-01T13:00:00Z","episode":"ep5"}',
    '{"ip":"10.0.0.9","from":{"t":1},"episode":"ep6"}',
    '{"ip":"ep7","episode":"10.0.0.10"}',
    '{"ip":"10.0.0.11","episode":["ep8"]}',
    '{"ip":"fd00::0009","from":1714561200,"episode":9}',
    'null',
  ].join('\n') + '\n');
  const tr = join(d, 'tr.jsonl');
  writeFileSync(tr, '{"episode":"ep1","step":1,"command":"curl http://203.0.113.9/","ts":"2024-05-01T12:00:00Z","duration_ms":2000}\n');
  const lg = join(d, 'lg.jsonl');
  writeFileSync(lg, '{"ts":"2024-05-01T12:00:01Z","src":"10.0.0.5","dst":"203.0.113.9","action":"blocked","category":"policy_violation"}\n');
  const r = corral(['--traces', tr, '--placements', pl, lg, '--json']);
  assert.equal(r.status, 3, r.stderr);
  const j = JSON.parse(r.stdout) as { inputs: { placements: number; placementFiles: { records: number; bad: number; issues: Issue[] }[] } };
  const st = j.inputs.placementFiles[0]!;
  assert.equal(j.inputs.placements, 3);
  assert.deepEqual(st.issues.map((i) => [i.line, i.error]), [
    [2, '"ip" must be an IP address as text, not 5'],
    [4, '"host" must be text, not an object'],
    [5, '"since", "until" are not read: a placement\'s interval is "from" and "to" (without one of them it would be open on that side)'],
    [6, 'unparseable from/to [{"t":1},null]'],
    [7, 'ip "ep7" is not an IP address'],
    [8, '"episode" must be text, not a list'],
    [10, 'ip "null" is not an IP address'],
  ]);
  // A CSV header naming the interval otherwise: every row says so.
  const csv = join(d, 'pl.csv');
  writeFileSync(csv, 'ip,start,end,episode\n10.0.0.5,2024-05-01T11:00:00Z,2024-05-01T13:00:00Z,ep1\n');
  const c = JSON.parse(corral(['--traces', tr, '--placements', csv, lg, '--json']).stdout) as typeof j;
  assert.equal(c.inputs.placements, 0);
  assert.match(c.inputs.placementFiles[0]!.issues[0]!.error, /^"start", "end" are not read: a placement's interval is "from" and "to"/);
});

test('--tz holds for zone-less placement times too (it was stated as "assumed UTC (--tz to override)" while --tz was given)', (t) => {
  const d = tmp(t);
  const pl = join(d, 'pl.csv'), tr = join(d, 'tr.jsonl'), lg = join(d, 'lg.jsonl');
  writeFileSync(pl, 'ip,from,to,episode\n10.0.0.5,2024-05-01 13:59:00,2024-05-01 14:01:00,ep1\n');
  writeFileSync(tr, '{"episode":"ep1","step":1,"command":"curl http://203.0.113.9/","ts":"2024-05-01T14:00:00+02:00","duration_ms":2000}\n');
  writeFileSync(lg, '{"ts":"2024-05-01T12:00:01Z","src":"10.0.0.5","dst":"203.0.113.9","action":"blocked","category":"policy_violation"}\n');
  const r = corral(['--tz', '+02:00', '--traces', tr, '--placements', pl, lg, '--json']);
  assert.equal(r.status, 3, 'the placement (12:59-13:01 UTC) puts ep1 on 10.0.0.5 when the alert fired');
  const j = JSON.parse(r.stdout) as { inputs: { placementFiles: { tsNote?: string }[] } };
  assert.match(j.inputs.placementFiles[0]!.tsNote ?? '', /2 timestamps had no timezone: assumed \+02:00/);
});

test('an OTLP document cut before its resource came keeps its complete tool spans (they were held for the resource and lost), and says so', (t) => {
  const d = tmp(t);
  const span = (i: number, tool = true): string => JSON.stringify({
    traceId: `t${i}`, spanId: `s${i}`, name: tool ? 'execute_tool bash' : 'chat', startTimeUnixNano: String(1714564800000000000n + BigInt(i) * 1000000n), endTimeUnixNano: String(1714564800000000000n + BigInt(i) * 1000000n + 500000n),
    attributes: [{ key: 'gen_ai.operation.name', value: { stringValue: tool ? 'execute_tool' : 'chat' } }, { key: 'gen_ai.tool.call.arguments', value: { stringValue: '{"command":"curl http://203.0.113.9/"}' } }],
  });
  const f = join(d, 'cut.json');
  // The spans list never closes and no resource comes: the file ends.
  writeFileSync(f, `{"resourceSpans":[{"scopeSpans":[{"spans":[${[span(0), span(1, false), span(2), span(3)].join(',')},{"traceId":"t4","na`);
  const lg = join(d, 'lg.jsonl');
  writeFileSync(lg, '{"ts":"2024-05-01T12:00:00.001Z","src":"10.0.0.5","dst":"203.0.113.9","action":"blocked","category":"policy_violation"}\n');
  const j = investigateJson(['--traces', f, lg]) as Json & { inputs: { traces: { records: number; tsNote?: string; issues: Issue[]; skippedKinds: Record<string, number> }[] } };
  const tr = j.inputs.traces[0]!;
  assert.equal(tr.records, 3);
  assert.deepEqual(tr.skippedKinds, { 'span:not execute_tool': 1 });
  assert.match(tr.tsNote ?? '', /3 tool spans \(from line 1\) whose resource never came \(the document ends first\): read without its attributes/);
  assert.match(tr.issues[0]!.error, /document starting at line 1 is truncated/);
});

/** A shared NAT address 10.0.0.5: `calls` calls of `episodes` episodes running for the hour (command(i) each), and `alerts` alerts a second apart from a minute in (dst(j) each). */
function natFleet(d: string, calls: number, episodes: number, command: (i: number) => string, alerts: number, dst: (j: number) => string): { tr: string; lg: string } {
  const t0 = Date.parse('2024-05-01T12:00:00Z');
  const tr = join(d, 'tr.jsonl'), lg = join(d, 'lg.jsonl');
  writeFileSync(tr, Array.from({ length: calls }, (_, i) => JSON.stringify({ episode: `ep${i % episodes}`, step: i, command: command(i), ts: new Date(t0 + i).toISOString(), duration_ms: 3_600_000, ip: '10.0.0.5' })).join('\n') + '\n');
  writeFileSync(lg, Array.from({ length: alerts }, (_, j) => JSON.stringify({ ts: new Date(t0 + 60_000 + j * 1000).toISOString(), src: '10.0.0.5', dst: dst(j), dport: 443, action: 'blocked', category: 'policy_violation' })).join('\n') + '\n');
  return { tr, lg };
}

type NatAlert = { dst: string; candidates: { call: number; p: number; mention?: string }[]; omitted?: { candidates: number; p: number }; pNoise: number };

/** Each alert lists `listed` candidates and states `omitted` more; the listed, the omitted and noise add up to 1. */
function assertCapped(a: NatAlert, listed: number, omitted: number): void {
  assert.equal(a.candidates.length, listed);
  assert.equal(a.omitted?.candidates, omitted);
  const sum = a.candidates.reduce((s, c) => s + c.p, 0) + a.omitted!.p + a.pNoise;
  assert.ok(Math.abs(sum - 1) < 1e-9, `p of the listed, the omitted and noise add up to 1 (${sum})`);
}

test('an alert on a shared NAT address with hundreds of candidate calls lists the best 50 and states the rest; the incident confidence still counts them', (t) => {
  // 200 calls of 40 episodes, all running for the hour on one NAT address; 5 alerts in it: a perfect tie.
  const { tr, lg } = natFleet(tmp(t), 200, 40, (i) => `python train.py --seed ${i}`, 5, (j) => `203.0.113.${j}`);
  const r = corral(['--traces', tr, lg, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { alerts: NatAlert[]; incidents: { ambiguous: boolean; attributed: { confidence: number }[] }[] };
  assert.equal(j.alerts.length, 5);
  for (const a of j.alerts) assertCapped(a, 50, 150);
  // 200 equal calls, 5 alerts: about 1 - (1 - 1/201)^5 ≈ 2.5% each (not the ≈ 9% of 50 calls alone).
  const conf = j.incidents[0]!.attributed[0]!.confidence;
  assert.ok(conf > 0.01 && conf < 0.05, `confidence ${conf}`);
  assert.equal(j.incidents[0]!.ambiguous, true);
});

test('600 alerts on one NAT address, each inside 6 000 calls, are scored in bounded memory: the best 50 kept as they come, not all 3.6 M pairs first', (t) => {
  // Every seventh call backgrounds a curl to one of 50 addresses: an alert to one of those has 17 or 18 calls naming it.
  const { tr, lg } = natFleet(tmp(t), 6000, 400, (i) => (i % 7 ? `python train.py --seed ${i}` : `nohup curl http://203.0.113.${i % 50}/ &`), 600, (j) => `203.0.113.${j % 60}`);
  // A 96 MB heap: keeping every pair until its alert was scored needed ≈ 800 MB and aborted here.
  const r = spawnSync(process.execPath, ['--max-old-space-size=96', MAIN, 'investigate', '--quiet', '--traces', tr, lg, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, NO_COLOR: '1' } });
  assert.ok(r.status === 0 || r.status === 3, `exit ${r.status} (signal ${r.signal}): ${r.stderr.slice(-400)}`);
  const j = JSON.parse(r.stdout) as { alerts: NatAlert[]; calls: { command: string }[] };
  assert.equal(j.alerts.length, 600);
  for (const a of j.alerts) {
    assertCapped(a, 50, 5950);
    for (let k = 1; k < a.candidates.length; k++) assert.ok(a.candidates[k - 1]!.p >= a.candidates[k]!.p, 'listed best first');
    const last = Number(a.dst.split('.')[3]);
    // Listed first: every call that names the address (17 or 18 of them when it is one of the 50 curled), then plain ones.
    const naming = Array.from({ length: 6000 }, (_, i) => i).filter((i) => i % 7 === 0 && i % 50 === last).length;
    a.candidates.forEach((c, k) => {
      assert.equal(j.calls[c.call]!.command.includes(`http://${a.dst}/`), k < naming, `${a.dst} #${k}: ${j.calls[c.call]!.command}`);
      assert.equal(c.mention, k < naming ? 'address' : undefined);
    });
  }
});

test('a result that cannot be rendered (too large for one string) is one line on stderr and exit 1, never a stack trace', (t) => {
  const d = tmp(t);
  // Fault injection: JSON.stringify of the result fails as V8 fails a string over its limit.
  const inject = join(d, 'break-json.mjs');
  writeFileSync(inject, "const s = JSON.stringify; JSON.stringify = function (v, ...r) { if (v && typeof v === 'object' && 'incidents' in v && 'counts' in v) throw new RangeError('Invalid string length'); return s.call(this, v, ...r); };\n");
  const lg = join(d, 'lg.jsonl');
  writeFileSync(lg, '{"ts":"2024-05-01T12:00:01Z","src":"10.0.0.5","dst":"203.0.113.9","action":"blocked","category":"policy_violation"}\n');
  const r = spawnSync(process.execPath, ['--import', inject, MAIN, 'investigate', '--quiet', '--traces', oneCall(d), lg, '--json'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^corral investigate: cannot render the result: RangeError: Invalid string length \(the result is too large to print/m);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
