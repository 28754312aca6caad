// Why: a review of `corral investigate` found inputs silently misread or destroyed: --html naming
// an input overwrote the evidence; Date.parse rolled `4/31/2024` into May and read `01/05` as US
// month/day; `--tz=+99:99` shifted every zone-less time; iptables prefixes DISALLOWED/BYPASS were
// allowed flows (substring match); a Corral alert without its session.start got source ""; a torn
// quoted kv value emptied the rest of the line; `0xD05` was port 3333; `__proto__`/`constructor`
// hit Object.prototype; eve ports -1/70000 vanished without a word. Each is replayed here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { linkSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkTz, netReader, TsParser } from '../src/investigate/inputs/index.js';
import { actionOfPrefix } from '../src/investigate/inputs/iptables.js';
import { parseKv } from '../src/investigate/inputs/kv.js';
import { normaliseAction, normaliseProto, normaliseSeverity, toCount, toPort } from '../src/investigate/inputs/normalise.js';
import { investigate, investigateRecords } from '../src/investigate/investigate.js';
import { nothingToAnalyse } from '../src/cli/investigate-command.js';
import type { NetRecord, ToolCallSpan } from '../src/investigate/types.js';
import { FIX, tmpDir } from './support/investigate-files.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const EVE = join(FIX, 'eve.json'), TRACES = join(FIX, 'traces.jsonl');

function corral(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'investigate', '--quiet', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function read(format: string, path: string): Promise<{ recs: NetRecord[]; st: Awaited<ReturnType<ReturnType<typeof netReader>['read']>> }> {
  const recs: NetRecord[] = [];
  const st = await netReader(format).read(path, (r) => recs.push(r));
  return { recs, st };
}

test('--html naming an input (a LOGFILE, a --traces file through a symlink, a hard link of a --placements file) is a usage error and the input is untouched', (t) => {
  const d = tmpDir(t, 'corral-review-');
  const log = join(d, 'eve.json'), tr = join(d, 'tr.jsonl'), pl = join(d, 'pl.csv');
  writeFileSync(log, readFileSync(EVE));
  writeFileSync(tr, readFileSync(TRACES));
  writeFileSync(pl, 'ip,from,to,host,sandbox,episode\n10.0.0.5,,,h1,sb1,ep1\n');
  symlinkSync(tr, join(d, 'tr-link.jsonl'));
  linkSync(pl, join(d, 'pl-hard.csv'));
  const before = [log, tr, pl].map((f) => readFileSync(f, 'utf8'));
  for (const out of [log, join(d, 'tr-link.jsonl'), join(d, 'pl-hard.csv'), join(d, '.', 'eve.json')]) {
    const r = corral(['--traces', tr, '--placements', pl, log, '--html', out]);
    assert.equal(r.status, 2, `${out}: ${r.stderr}`);
    assert.match(r.stderr, /--html .* is the input .*: the report would overwrite it/);
  }
  assert.deepEqual([log, tr, pl].map((f) => readFileSync(f, 'utf8')), before, 'no input was written');
  const ok = corral(['--traces', tr, log, '--html', join(d, 'report.html')]);
  assert.ok(ok.status === 0 || ok.status === 3, ok.stderr);
  assert.match(readFileSync(join(d, 'report.html'), 'utf8'), /^<!doctype html>/);
});

test('dates outside the explicit grammars are bad records: all-numeric a/b/yyyy, 31 April, "build 7 UTC"; named-month forms are read exactly', async (t) => {
  const p = new TsParser();
  for (const bad of ['4/31/2024 00:00:11 Z', '2/30/2024 00:00:11 GMT', 'build 7 UTC', '01/05/2024 00:00:11 +0000', '5/1/2024 12:00 UTC', '31 Apr 2024 12:00:00 GMT',
    'Foo, 01 May 2024 12:00:00 GMT', '01 Mai 2024 12:00:00 GMT', 'May 1 2024 25:00:00 UTC', 'May 1 2024 12:00:00 +2400', 'May 1 2024 12:00:00 EST', 'Wed, 01 May 2024 12:00:00']) {
    assert.ok(Number.isNaN(p.parse(bad)), bad);
  }
  const at = Date.UTC(2024, 4, 1, 12, 0, 0);
  for (const [s, ms] of [
    ['Wed, 01 May 2024 12:00:00 GMT', at], ['Wed, 1 May 2024 14:00:00 +0200', at], ['01-May-2024 12:00:00 UTC', at], ['1 May 2024 12:00 Z', at],
    ['May 1, 2024 12:00:00 UTC', at], ['Wednesday, May 1, 2024 12:00:00 UTC', at], ['Wed May 01 2024 14:00:00 GMT+0200', at], ['September 3 2024 12:00:00.250 UTC', Date.UTC(2024, 8, 3, 12, 0, 0, 250)],
    ['Wed May  1 12:00:00 UTC 2024', at], ['Wed May  1 07:00:00 2024 -05:00', at], ['Thu, 29 Feb 2024 12:00:00 GMT', Date.UTC(2024, 1, 29, 12)],
  ] as const) assert.equal(p.parse(s), ms, s);
  // Through a reader: each bad date is named with its line, nothing is read in the wrong month.
  const d = tmpDir(t, 'corral-review-');
  const f = join(d, 'dates.csv');
  writeFileSync(f, 'time,src,dst,dport,rule\n4/31/2024 00:00:11 Z,10.0.0.5,169.254.169.254,80,meta\nbuild 7 UTC,10.0.0.5,169.254.169.254,80,meta\n01/05/2024 00:00:11 +0000,10.0.0.5,169.254.169.254,80,meta\n"Wed, 01 May 2024 00:00:11 GMT",10.0.0.5,169.254.169.254,80,meta\n');
  const { recs, st } = await read('csv', f);
  assert.deepEqual(st.issues.map((i) => i.line), [2, 3, 4]);
  assert.match(st.issues[0]!.error, /unparseable ts "4\/31\/2024 00:00:11 Z"/);
  assert.deepEqual(recs.map((r) => r.ts), [Date.UTC(2024, 4, 1, 0, 0, 11)]);
});

test('--tz offsets beyond ±23:59 are refused (a usage error), as ISO offsets are', () => {
  for (const bad of ['+99:99', '+2400', '+00:60', '-24', 'UTC+25:00']) assert.throws(() => checkTz(bad), /out of range/, bad);
  for (const ok of ['+23:59', '-05', '+0530', 'UTC+02:00', 'UTC', 'Europe/Berlin']) assert.doesNotThrow(() => checkTz(ok), ok);
  const r = corral(['--traces', TRACES, EVE, '--tz=+99:99']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--tz: offset "\+99:99" out of range/);
});

test('iptables prefixes are classified by whole words; negated allow words block; BYPASS is no allow', async (t) => {
  for (const p of ['EGRESS-DISALLOWED', 'NOT-ALLOWED', 'NOT-ACCEPTED', 'UNPERMITTED', 'NO ALLOW', '[FW NOTALLOWED]']) assert.equal(actionOfPrefix(p), 'blocked', p);
  for (const p of ['BYPASS', 'PASSWD-WATCH', 'ALLOWLISTMISS', 'fwaccept', '[UFW AUDIT]']) assert.equal(actionOfPrefix(p), undefined, p);
  for (const p of ['ACCEPT', '[UFW ALLOW]', 'IPT_PASS:', 'FW-ACCEPTED-IN', 'permit out']) assert.equal(actionOfPrefix(p), 'allowed', p);
  assert.equal(actionOfPrefix('[UFW BLOCK]'), 'blocked');
  const d = tmpDir(t, 'corral-review-');
  const f = join(d, 'fw.log');
  const line = (prefix: string, sport: number): string => `2024-05-01T00:00:11+00:00 h1 kernel: ${prefix} IN=veth2 OUT=eth0 SRC=10.0.0.5 DST=203.0.113.9 PROTO=TCP SPT=${sport} DPT=8080`;
  writeFileSync(f, [line('[EGRESS-DISALLOWED]', 1), line('NOT-ALLOWED:', 2), line('BYPASS:', 3), line('NOT-ACCEPTED:', 4), line('[UFW ALLOW]', 5)].join('\n') + '\n');
  const { recs } = await read('iptables-log', f);
  assert.deepEqual(recs.map((r) => [r.kind, r.action ?? null]), [['alert', 'blocked'], ['alert', 'blocked'], ['alert', null], ['alert', 'blocked'], ['flow', 'allowed']]);
});

test('a Corral alert whose session.start is not in the file is a bad line, not an alert from ""; a range after the session.start still has its source', async (t) => {
  const d = tmpDir(t, 'corral-review-');
  const ev = (id: number, kind: string, payload: object): string => JSON.stringify({ id: `s1-${id}`, ts: String(1714521600000000000 + id * 1e9), kind, session: 's1', episode: 'e1', payload });
  const alert = (id: number): string => ev(id, 'alert', { rule: 'gateway.metadata', category: 'metadata_access', severity: 'critical', action: 'blocked', message: 'connect to 169.254.169.254:80 blocked' });
  const f = join(d, 'rotated.jsonl');
  writeFileSync(f, alert(2) + '\n');
  const { recs, st } = await read('corral-events', f);
  assert.equal(recs.length, 0);
  assert.deepEqual(st.issues.map((i) => i.line), [1]);
  assert.match(st.issues[0]!.error, /alert of session "s1" without a source: its session\.start \(sandbox_ip\) is not earlier in this file/);
  writeFileSync(f, ev(1, 'session.start', {}) + '\n' + alert(2) + '\n');
  const noIp = await read('corral-events', f);
  assert.deepEqual(noIp.st.issues.map((i) => [i.line, i.error]), [[2, 'alert of session "s1" without a source: its session.start names no sandbox_ip']]);
  // A big log read by workers in ranges: every range gets the session.start lines before it.
  const big = join(d, 'big.jsonl');
  const n = 400;
  writeFileSync(big, [ev(1, 'session.start', { sandbox_ip: '10.0.0.5' }), ...Array.from({ length: n }, (_, i) => alert(i + 2))].join('\n') + '\n');
  const tr = join(d, 'tr.jsonl');
  writeFileSync(tr, JSON.stringify({ episode: 'e1', step: 1, command: 'curl http://169.254.169.254/', ts: '2024-05-01T00:00:00Z', end_ts: '2024-05-01T00:10:00Z', ip: '10.0.0.5' }) + '\n');
  const r = await investigate({ logs: [{ path: big, format: 'corral-events' }], traces: [{ path: tr }], rules: 'off', jobs: 2, parallelMinBytes: 1 });
  assert.equal(r.inputs.net[0]!.bad, 0, JSON.stringify(r.inputs.net[0]!.issues.slice(0, 3)));
  assert.equal(r.counts.records, n);
  assert.equal(r.incidents.reduce((a, i) => a + i.alertCount, 0), n, 'every alert has its source and links');
});

test('a torn quoted key=value line is a bad line, not a record with an empty value and the rest dropped', async (t) => {
  assert.match(String(parseKv('date=2024-05-01 time=00:00:12 srcip=10.0.0.5 dstip=203.0.113.9 action=deny policyname="egress block')), /^unterminated quoted value of policyname at column \d+$/);
  assert.match(String(parseKv('a=1 b=2 msg="x \\" y')), /unterminated quoted value of msg/);
  assert.deepEqual(parseKv('a=1 b="" c=3'), { a: '1', b: '', c: '3' });
  const d = tmpDir(t, 'corral-review-');
  const f = join(d, 'forti.log');
  writeFileSync(f, 'date=2024-05-01 time=00:00:11 devname="fw1" srcip=10.0.0.5 dstip=203.0.113.9 dstport=8080 action=deny policyname="egress block"\n'
    + 'date=2024-05-01 time=00:00:12 devname="fw1" srcip=10.0.0.5 dstip=203.0.113.9 dstport=8080 action=deny policyname="egress block\n');
  const { recs, st } = await read('kv', f);
  assert.equal(recs.length, 1);
  assert.deepEqual(st.issues.map((i) => [i.line, /unterminated quoted value of policyname/.test(i.error)]), [[2, true]]);
});

test('ports, counts, protocols and severities take decimal digits only: 0xD05, 3.333e3 and 0b110100000101 are not port 3333', () => {
  for (const s of ['0xD05', '3.333e3', '0b110100000101', '0o6405', '3333.0', '+3333', 'Infinity', ' ', '']) assert.equal(toPort(s), undefined, s);
  assert.equal(toPort(' 3333 '), 3333);
  assert.equal(toPort(3333), 3333);
  assert.equal(toCount('1e3'), undefined);
  assert.equal(toCount('0x10'), undefined);
  assert.equal(toCount('1500'), 1500);
  assert.equal(normaliseProto('0x6'), '0x6');
  assert.equal(normaliseProto('6'), 'tcp');
  assert.equal(normaliseSeverity('0x2'), undefined);
  assert.equal(normaliseSeverity('2'), 2);
});

test('__proto__ and constructor are words, not Object.prototype: actions, severities, a Corral category, an incident\'s score', async (t) => {
  assert.equal(normaliseAction('__proto__'), '__proto__');
  assert.equal(normaliseAction('constructor'), 'constructor');
  assert.equal(normaliseSeverity('constructor'), undefined);
  assert.equal(normaliseSeverity('__proto__'), undefined);
  const d = tmpDir(t, 'corral-review-');
  const f = join(d, 'events.jsonl');
  writeFileSync(f, [
    '{"id":"s1-1","ts":"1714521600000000000","kind":"session.start","session":"s1","episode":"e1","payload":{"sandbox_ip":"10.0.0.5"}}',
    '{"id":"s1-3","ts":"1714521671000000000","kind":"alert","session":"s1","episode":"e1","payload":{"rule":"gateway.other","category":"constructor","severity":"low","action":"__proto__","message":"connect to 203.0.113.9:4444"}}',
  ].join('\n') + '\n');
  const { recs } = await read('corral-events', f);
  assert.notEqual(recs[0]!.category, 'constructor');
  assert.equal(recs[0]!.action, '__proto__');
  assert.equal(JSON.parse(JSON.stringify(recs[0])).action, '__proto__', 'a string in --json, not {}');
  const t0 = Date.UTC(2024, 4, 1, 12);
  const rec = (i: number, category: string): NetRecord => ({ ts: t0 + 1000 + i, kind: 'alert', src: `10.0.0.${i + 1}`, dst: '203.0.113.9', dport: 4444, category, severity: 2, file: 'x', line: i + 1 });
  const span = (i: number): ToolCallSpan => ({ episode: `e${i}`, tool_call_id: `c${i}`, command: 'nc 203.0.113.9 4444', start: t0, end: t0 + 5000, endKnown: true, ips: [`10.0.0.${i + 1}`], file: 't', line: i + 1 });
  const r = await investigateRecords({ records: ['constructor', 'toString', 'mining'].map((c, i) => rec(i, c)), spans: [0, 1, 2].map(span), rules: 'off' });
  assert.equal(r.incidents.length, 3);
  for (const i of r.incidents) assert.ok(Number.isFinite(i.score), `${i.category}: ${i.score}`);
  assert.deepEqual(r.incidents.map((i) => i.category), ['mining', 'constructor', 'toString'], 'ranked by score: the weighted category first');
});

test('eve ports that are no port (-1, 70000, 80.5, "0xD05") are dropped with a note counting them; the records are kept', async (t) => {
  const d = tmpDir(t, 'corral-review-');
  const f = join(d, 'eve.json');
  const ev = (sport: unknown, dport: unknown): string => JSON.stringify({ timestamp: '2024-05-01T00:00:11.000000+0000', event_type: 'alert', src_ip: '10.0.0.5', src_port: sport, dest_ip: '169.254.169.254', dest_port: dport, proto: 'TCP', alert: { action: 'allowed', signature_id: 1, signature: 'ET POLICY Cloud Metadata', category: 'Potentially Bad Traffic', severity: 2 } });
  writeFileSync(f, [ev(35904, 80), ev(35904, -1), ev(-5, 70000), ev(35904, 80.5), ev(35904, '0xD05')].join('\n') + '\n');
  const { recs, st } = await read('suricata-eve', f);
  assert.equal(recs.length, 5);
  assert.deepEqual(recs.map((r) => r.dport ?? null), [80, null, null, null, null]);
  assert.match(st.tsNote ?? '', /4 destination ports not 0\.\.65535 dropped, the records kept \(first at line 2\)/);
  assert.match(st.tsNote ?? '', /1 source ports not 0\.\.65535 dropped, the records kept \(first at line 3\)/);
});

test('nothing to analyse in --json mode does not say "listed above"', () => {
  const r = { counts: { records: 0, toolCalls: 3 }, inputs: { net: [{ bad: 2 }], traces: [] } };
  assert.match(nothingToAnalyse(r)!, /2 bad records, listed above/);
  assert.match(nothingToAnalyse(r, true)!, /2 bad records, under "inputs" in the JSON/);
});
