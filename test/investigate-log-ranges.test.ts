// Why: big Zeek TSV and VPC flow logs are cut into line ranges read by worker threads, and a
// range in the middle of a file does not see the header lines that say how its rows are read
// (Zeek's #separator/#fields/#path, several logs concatenated; VPC's field list). Each range
// carries the header lines before it. These tests prove a parallel read finds exactly what a
// serial read finds (records, alerts, bad lines with their true line numbers, skipped kinds),
// on files whose headers change in the middle, and that header problems are reported once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { investigate } from '../src/investigate/investigate.js';
import { headerLinesBefore, splitLineRanges } from '../src/investigate/inputs/lines.js';

const T0 = Date.UTC(2024, 4, 1, 12) / 1000;

/** Zeek conn.log: two concatenated logs with different column orders, a dns log between them, bad rows. */
function zeekLog(): string {
  const out: string[] = [];
  const header = (fields: string[], path = 'conn'): void => {
    out.push('#separator \\x09', '#set_separator\t,', '#empty_field\t(empty)', '#unset_field\t-', `#path\t${path}`, `#fields\t${fields.join('\t')}`, `#types\t${fields.map(() => 'string').join('\t')}`);
  };
  const f1 = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'orig_bytes', 'resp_bytes'];
  header(f1);
  for (let i = 0; i < 400; i++) {
    const row = [String(T0 + i), `C${i}`, `10.1.${i % 7}.5`, String(40000 + i), i % 50 === 0 ? '169.254.169.254' : '198.51.100.7', i % 50 === 0 ? '80' : '443', 'tcp', '10', '20'];
    out.push(i === 123 ? row.slice(0, 5).join('\t') : row.join('\t')); // one short row
  }
  header(['ts', 'uid', 'query'], 'dns');
  for (let i = 0; i < 100; i++) out.push(`${T0 + 400 + i}\tD${i}\texample.test`);
  // Second conn log: other column order, a comma as separator.
  const f2 = ['id.resp_p', 'id.resp_h', 'id.orig_h', 'ts', 'proto'];
  out.push('#separator ,', '#path,conn', `#fields,${f2.join(',')}`);
  for (let i = 0; i < 400; i++) out.push([i % 40 === 0 ? '22' : '443', i % 40 === 0 ? '10.30.0.9' : '203.0.113.4', `10.2.${i % 5}.9`, String(T0 + 600 + i), 'tcp'].join(','));
  return out.join('\n') + '\n';
}

/** VPC flow log with a custom field list, and a second field list half way. */
function vpcLog(): string {
  const out = ['version srcaddr dstaddr srcport dstport protocol bytes start end action log-status'];
  for (let i = 0; i < 500; i++) out.push(`5 10.3.${i % 9}.1 ${i % 25 === 0 ? '10.40.0.2' : '198.51.100.9'} ${30000 + i} ${i % 25 === 0 ? '6379' : '443'} 6 100 ${T0 + i} ${T0 + i + 5} ${i % 25 === 0 ? 'REJECT' : 'ACCEPT'} OK`);
  out.push('${start} ${end} ${srcaddr} ${dstaddr} ${dstport} ${action} ${log-status}');
  for (let i = 0; i < 500; i++) out.push(i === 77 ? 'x y' : `${T0 + 700 + i} ${T0 + 705 + i} 10.4.${i % 3}.1 ${i % 20 === 0 ? '10.50.0.3' : '203.0.113.9'} ${i % 20 === 0 ? '5432' : '443'} ${i % 20 === 0 ? 'REJECT' : 'ACCEPT'} OK`);
  return out.join('\n') + '\n';
}

test('Zeek TSV and VPC logs read in parallel line ranges give what a serial read gives', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-ranges-'));
  try {
    const conn = join(dir, 'conn.log'), vpc = join(dir, 'vpc-flow.log'), trace = join(dir, 'trace.jsonl');
    writeFileSync(conn, zeekLog());
    writeFileSync(vpc, vpcLog());
    writeFileSync(trace, JSON.stringify({ episode: 'e1', command: 'ls', ts: new Date(T0 * 1000).toISOString(), end_ts: new Date(T0 * 1000 + 999_000).toISOString(), ip: '10.1.0.5' }) + '\n');
    const base = { logs: [{ path: conn, format: 'zeek-conn-tsv' }, { path: vpc, format: 'vpc-flow' }], traces: [{ path: trace }], rules: 'off' as const };
    const serial = await investigate({ ...base, jobs: 1 });
    const parallel = await investigate({ ...base, jobs: 4, parallelMinBytes: 1 });
    assert.ok(parallel.notes.some((n) => /logs read by \d+ worker threads/.test(n)), parallel.notes.join('; '));
    const view = (r: typeof serial): unknown => ({
      net: r.inputs.net.map((s) => ({ records: s.records, bad: s.bad, issues: s.issues, tsNote: s.tsNote, skipped: (s as { skipped?: number }).skipped, kinds: (s as { skippedKinds?: unknown }).skippedKinds })),
      counts: r.counts, alerts: r.alerts.map((a) => [a.ts, a.src, a.dst, a.dport, a.file, a.line]),
    });
    assert.deepEqual(view(parallel), view(serial));
    // The fixture exercises what the ranges must get right.
    const [z, v] = serial.inputs.net;
    assert.equal(z!.records, 799, 'both conn logs read, the short row is bad');
    assert.deepEqual(z!.issues.map((i) => i.line), [7 + 124]);
    assert.equal((z as { skippedKinds?: Record<string, number> }).skippedKinds?.['zeek-dns'], 100);
    assert.equal(v!.records, 999);
    assert.deepEqual(v!.issues.map((i) => i.line), [502 + 78]);
    // Rows after a header change only parse (right column count) when read with the new header.
    // Alert-like rows: 8 metadata flows (conn), 20 + 25 REJECTs (VPC, before and after its second field list).
    assert.equal(serial.counts.alerts, 53);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('headerLinesBefore: the header lines before each cut, with line numbers, in file order, and the line each cut starts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-ranges-'));
  try {
    const p = join(dir, 'conn.log');
    writeFileSync(p, zeekLog());
    const ranges = splitLineRanges(p, 5);
    const h = headerLinesBefore(p, ranges.map((r) => r.start), ['#'], (l) => l.startsWith('#'))!;
    const got = h.preludes;
    // The line numbers found on the way equal those a counting pass gives (splitLineRanges counts them).
    assert.deepEqual(h.firstLines, ranges.map((r) => r.firstLine));
    assert.ok(new Set(h.firstLines).size === ranges.length && ranges.length >= 4, h.firstLines.join());
    const lines = zeekLog().split('\n');
    let at = 0;
    ranges.forEach((r, i) => {
      const want: { text: string; line: number }[] = [];
      lines.forEach((text, k) => { const start = lines.slice(0, k).reduce((n, l) => n + Buffer.byteLength(l) + 1, 0); if (start < r.start && text.startsWith('#')) want.push({ text, line: k + 1 }); });
      assert.deepEqual(got[i], want, `cut ${i} at byte ${r.start}`);
      at = r.start;
    });
    assert.ok(at > 0 && got[got.length - 1]!.length === 7 + 7 + 3, 'the last cut sees all three headers');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('eve.json and iptables ranges, numbered without a counting pass, report the true lines of alerts and bad lines', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-ranges-'));
  try {
    const iso = (s: number): string => new Date(s * 1000).toISOString();
    const eve: string[] = [], ipt: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const alert = i % 97 === 0;
      eve.push(i === 2222 ? '{"timestamp": "torn' : JSON.stringify(alert
        ? { timestamp: iso(T0 + i), event_type: 'alert', src_ip: `10.1.${i % 7}.5`, src_port: 1, dest_ip: '169.254.169.254', dest_port: 80, proto: 'TCP', alert: { signature: `sig ${i}`, severity: 2 } }
        : { timestamp: iso(T0 + i), event_type: 'flow', src_ip: `10.1.${i % 7}.5`, src_port: 1, dest_ip: '198.51.100.7', dest_port: 443, proto: 'TCP' }));
      ipt.push(i === 1777 ? 'Mai 99 12:00:00 host kernel: [corral-drop] IN=eth0 OUT= SRC=10.2.0.9 DST=10.40.0.1 PROTO=TCP SPT=1 DPT=22' : `May  1 12:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')} host kernel: [corral-drop] IN=eth0 OUT= SRC=10.2.${i % 5}.9 DST=10.40.0.${i % 3} LEN=60 PROTO=TCP SPT=4000 DPT=${i % 2 ? 22 : 6379}`);
    }
    const evePath = join(dir, 'eve.json'), iptPath = join(dir, 'iptables.log'), trace = join(dir, 'trace.jsonl');
    writeFileSync(evePath, eve.join('\n') + '\n');
    writeFileSync(iptPath, ipt.join('\n') + '\n');
    utimesSync(iptPath, T0, T0); // (syslog lines take their year from the file's time)
    // One long call on every source address, so every alert of both logs is linked and listed.
    const ips = [...Array.from({ length: 7 }, (_, k) => `10.1.${k}.5`), ...Array.from({ length: 5 }, (_, k) => `10.2.${k}.9`)];
    writeFileSync(trace, ips.map((ip, k) => JSON.stringify({ episode: `e${k}`, command: 'python job.py', ts: iso(T0 - 10), end_ts: iso(T0 + 4000), ip })).join('\n') + '\n');
    const base = { logs: [{ path: evePath, format: 'suricata-eve' }, { path: iptPath, format: 'iptables-log' }], traces: [{ path: trace }], rules: 'off' as const };
    const serial = await investigate({ ...base, jobs: 1 });
    const parallel = await investigate({ ...base, jobs: 4, parallelMinBytes: 1 });
    assert.ok(parallel.notes.some((n) => /logs read by \d+ worker threads/.test(n)), parallel.notes.join('; '));
    const view = (r: typeof serial): unknown => ({
      net: r.inputs.net.map((s) => ({ records: s.records, bad: s.bad, issues: s.issues })),
      alerts: r.alerts.map((a) => [a.ts, a.src, a.dst, a.dport, a.file, a.line]),
    });
    assert.deepEqual(view(parallel), view(serial));
    const [e, p] = serial.inputs.net;
    assert.deepEqual(e!.issues.map((i) => i.line), [2223]);
    assert.deepEqual(p!.issues.map((i) => i.line), [1778]);
    // alerts late in each file name their own lines
    assert.equal(serial.alerts.filter((a) => a.file === evePath).length, 31, 'every eve alert is listed');
    assert.ok(serial.alerts.some((a) => a.file === evePath && a.line === 2911), 'eve alert (i = 2910) at line 2911');
    assert.ok(serial.alerts.some((a) => a.file === iptPath && a.line === 3000), 'iptables record on the last line');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
