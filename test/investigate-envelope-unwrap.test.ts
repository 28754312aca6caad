// Why: collectors ship firewall lines inside one-line JSON envelopes (CloudWatch Logs for VPC Flow
// Logs, `journalctl -o json` for kernel firewall lines, Docker's json-file driver for eve.json).
// These tests prove such a file is detected as what it carries and reads exactly as the plain file
// (records, skipped and bad lines at their numbers), gzipped too and across any chunk edges, that a
// kernel line gets the envelope's time and host, and that plain logs are never taken for envelopes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { detectNetFormat, netReader } from '../src/investigate/inputs/index.js';
import { contentWrapper } from '../src/investigate/inputs/source.js';
import { unwrapEnvelopes, unwrapText } from '../src/investigate/inputs/envelope-unwrap.js';
import { investigate } from '../src/investigate/investigate.js';
import { FIX, readNetView, tmpDir } from './support/investigate-files.js';

function tmp(t: { after(fn: () => void): void }): string { return tmpDir(t, 'corral-envelope-'); }

const read = readNetView;

/** Writes text plain and gzipped; both must read as want. */
async function assertReadsAs(d: string, name: string, text: string, format: string, want: string): Promise<void> {
  const p = join(d, name), gz = join(d, `${name}.gz`);
  writeFileSync(p, text);
  writeFileSync(gz, gzipSync(text));
  for (const f of [p, gz]) {
    assert.equal(contentWrapper(f), 'envelope', f);
    assert.equal(await detectNetFormat(f), format, f);
    assert.equal(await read(f), want, `${f} reads as the plain file`);
  }
}

test('CloudWatch Logs events carrying VPC flow records read as the plain flow log, a foreign line reported at its number', async (t) => {
  const d = tmp(t);
  const lines = readFileSync(join(FIX, 'vpc-noheader.log'), 'utf8').trimEnd().split('\n');
  lines.splice(1, 0, 'not a flow record');
  writeFileSync(join(d, 'plain.log'), lines.join('\n') + '\n');
  const want = await read(join(d, 'plain.log'));
  assert.match(want, /"bad":1/, 'the foreign line is a bad line of the plain file too');
  const cw = lines.map((l, i) => (i === 1 ? l : JSON.stringify({ timestamp: 1714564800000 + i, message: l, ingestionTime: 1714564900000 }))).join('\n') + '\n';
  await assertReadsAs(d, 'cloudwatch.jsonl', cw, 'vpc-flow', want);
});

test('journald JSON (journalctl -k -o json) kernel firewall lines get the envelope\'s time and host and read as RFC 3339 lines', async (t) => {
  const d = tmp(t);
  const src = readFileSync(join(FIX, 'iptables.log'), 'utf8').trimEnd().split('\n');
  const base = Date.UTC(2024, 4, 1, 12, 0, 0);
  // The plain reference: the same messages behind an RFC 3339 time and the host.
  const msgs = src.map((l) => l.replace(/^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) \S+ /, ''));
  const plain = msgs.map((m, i) => `${new Date(base + i * 1000).toISOString()} host-1 ${m}`).join('\n') + '\n';
  writeFileSync(join(d, 'plain.log'), plain);
  const want = await read(join(d, 'plain.log'));
  assert.match(want, /"host":"host-1"/);
  // journald's MESSAGE has no "kernel:" tag (it is in SYSLOG_IDENTIFIER) and no time of its own.
  const journal = msgs.map((m, i) => JSON.stringify({
    __REALTIME_TIMESTAMP: String((base + i * 1000) * 1000), _HOSTNAME: 'host-1', SYSLOG_IDENTIFIER: m.startsWith('kernel: ') ? 'kernel' : 'systemd',
    MESSAGE: m.replace(/^kernel: /, '').replace(/^systemd\[1\]: /, ''),
  })).join('\n') + '\n';
  const got = unwrapText(journal).split('\n');
  assert.equal(got[0]!.slice(0, 40), `${new Date(base).toISOString()} host-1 kernel: `.slice(0, 40));
  // (the non-firewall message stays a skipped line, as in the plain file)
  const wantRecords = (JSON.parse(want) as { recs: { src: string; dst: string; ts: number; host?: string }[] }).recs.map((r) => `${r.ts} ${r.host} ${r.src}>${r.dst}`);
  const p = join(d, 'journal.json');
  writeFileSync(p, journal);
  assert.equal(contentWrapper(p), 'envelope');
  assert.equal(await detectNetFormat(p), 'iptables-log');
  const recs: { src: string; dst: string; ts: number; host?: string }[] = [];
  const st = await netReader('iptables-log').read(p, (r) => recs.push(r));
  assert.deepEqual(recs.map((r) => `${r.ts} ${r.host} ${r.src}>${r.dst}`), wantRecords);
  assert.equal(st.bad, (JSON.parse(want) as { st: { bad: number } }).st.bad, 'the broken line is bad in both');
  assert.ok(recs.length >= 2);
});

test('Docker json-file lines carrying eve.json read as eve.json, and a parallel investigation gives the plain file\'s result', async (t) => {
  const d = tmp(t);
  const plainText = readFileSync(join(FIX, 'eve.json'), 'utf8');
  writeFileSync(join(d, 'eve.json'), plainText);
  const want = await read(join(d, 'eve.json'));
  const docker = plainText.split('\n').map((l) => (l === '' ? l : JSON.stringify({ log: `${l}\n`, stream: 'stdout', time: '2024-05-01T12:00:00.123456789Z' }))).join('\n');
  await assertReadsAs(d, 'docker.log', docker, 'suricata-eve', want);
  const traces = [{ path: join(FIX, 'traces.jsonl') }];
  const a = await investigate({ logs: [{ path: join(d, 'eve.json') }], traces, rules: 'off', jobs: 3, parallelMinBytes: 1 });
  const b = await investigate({ logs: [{ path: join(d, 'docker.log') }], traces, rules: 'off', jobs: 3, parallelMinBytes: 1 });
  const view = (r: typeof a, file: string): string => JSON.stringify({ ...r, timings: undefined, notes: undefined, inputs: undefined }).split(file).join('FILE');
  assert.equal(view(b, join(d, 'docker.log')), view(a, join(d, 'eve.json')));
  assert.ok(a.counts.alerts > 0);
});

test('envelopes are taken off across any chunk edges, one line out per line in', async () => {
  const text = [JSON.stringify({ message: '2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1714564800 1714564801 ACCEPT OK' }), 'plain line', '',
    JSON.stringify({ log: '{"a":"x\\ny"}\r\n' }), JSON.stringify({ message: 'last' })].join('\n');
  const want = unwrapText(text);
  assert.equal(want.split('\n').length, text.split('\n').length);
  assert.equal(want.split('\n')[0], '2 1 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 1 1714564800 1714564801 ACCEPT OK');
  assert.equal(want.split('\n')[3], '{"a":"x\\ny"}', 'JSON text inside keeps its escaped newline; the outer newline goes');
  const buf = Buffer.from(text);
  for (let size = 1; size <= buf.length; size += 3) {
    async function* chunks(): AsyncGenerator<Buffer> { for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size); }
    const out: Buffer[] = [];
    for await (const c of unwrapEnvelopes(chunks())) out.push(c);
    assert.equal(Buffer.concat(out).toString(), want, `chunks of ${size}`);
  }
});

test('plain logs, Corral\'s own events and JSON logs with an unrelated message field are not taken for envelopes', (t) => {
  for (const f of ['iptables.log', 'firewall.csv', 'firewall.jsonl', 'conn.log', 'conn.json', 'eve.json', 'corral-events.jsonl', 'vpc-default.log']) {
    assert.equal(contentWrapper(join(FIX, f)), undefined, f);
  }
  const d = tmp(t);
  const p = join(d, 'app.jsonl');
  writeFileSync(p, `${JSON.stringify({ ts: '2024-05-01T12:00:00Z', src: '10.0.0.1', dst: '10.0.0.2', message: 'connection denied by policy' })}\n`);
  assert.equal(contentWrapper(p), undefined);
});

test('a journald MESSAGE written as a byte array (non-printable bytes) is still the kernel line; arrays of anything else are not text', () => {
  const base = Date.UTC(2024, 4, 1, 12, 0, 0);
  const msg = '[UFW BLOCK] IN=eth0\x07 OUT= SRC=10.0.0.5 DST=198.51.100.7 LEN=60 PROTO=TCP SPT=40000 DPT=3333 SYN';
  const asText = unwrapText(JSON.stringify({ __REALTIME_TIMESTAMP: String(base * 1000), _HOSTNAME: 'host-1', MESSAGE: msg }) + '\n');
  const asBytes = unwrapText(JSON.stringify({ __REALTIME_TIMESTAMP: String(base * 1000), _HOSTNAME: 'host-1', MESSAGE: [...Buffer.from(msg)] }) + '\n');
  assert.match(asText, /^2024-05-01T12:00:00\.000Z host-1 kernel: \[UFW BLOCK\] .* DPT=3333/);
  assert.equal(asBytes, asText, 'the byte array reads as the same line');
  for (const bad of [[1, 2, 'x'], [256], [-1], [1.5], []]) {
    const line = JSON.stringify({ __REALTIME_TIMESTAMP: String(base * 1000), MESSAGE: bad });
    assert.equal(unwrapText(line + '\n'), line + '\n', `${JSON.stringify(bad)} is not text: the line passes whole`);
  }
});
