// Why: the log pass takes plain flows natively (native/flow-digest.c for Zeek conn TSV and VPC
// lines, a typed-array check for eve.json flows) without building a record, so the digest it
// sends (record count, distinct sources per destination, the alert-like records, the stats with
// bad lines and timestamp notes) must be exactly what reading every record in JavaScript gives.
// These tests feed both paths seeded logs made to break the fast path's assumptions: header
// changes mid-file, unset and empty fields, alert-like ports and destinations, bad and
// implausible times, other epoch units, long decimals, non-ASCII, CRLF, blank and torn lines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestLog, type LogDigest } from '../src/investigate/analysis/log-worker.js';
import { SourceSet, type SourcesExport } from '../src/investigate/analysis/source-set.js';
import { isAlertLike } from '../src/investigate/analysis/alert-table.js';
import { netReader } from '../src/investigate/inputs/index.js';
import { FlowPairs } from '../src/investigate/inputs/flow-pairs.js';
import type { NetRecord } from '../src/investigate/types.js';
import { Rng } from '../src/investigate/generate/rng.js';
import { METADATA_ADDRESSES } from '../src/policy/address-class.js';

const T0 = Date.UTC(2024, 4, 1, 12) / 1000;

/** The simulator's seeded generator, as a function. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

/** Values a field may take: mostly plain, sometimes one that must go to the JavaScript reader. */
function picker(r: () => number) {
  const one = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  return {
    one,
    src: (): string => (r() < 0.03 ? one(['-', '(empty)', '', '10.0.0.ü', '10.0.0.1\u0001']) : `10.${Math.floor(r() * 4)}.${Math.floor(r() * 6)}.${Math.floor(r() * 3)}`),
    // (every metadata endpoint the sandbox policy names: the native list must match it — session 44 added four)
    dst: (): string => (r() < 0.06 ? one([...METADATA_ADDRESSES, '169.254.169.253', '-', '10.9.9.9', '192.168.1.1']) : `198.51.100.${Math.floor(r() * 40)}`),
    port: (): string => (r() < 0.08 ? one(['22', '3333', '4444', '14444', '45700', '-', '70000', '0443', 'http', '', '65535', '0']) : String(1 + Math.floor(r() * 9000))),
    ts: (i: number): string => (r() < 0.04
      ? one(['abc', '-', '', `${(T0 + i) * 1000}`, '946684700', '99999999999', `${T0 + i}.1234567890123`, `${T0 + i}.`, `.${T0}`, '1e9', '0', `${T0 + i}.000000000000000000001`])
      : `${T0 + i}.${String(Math.floor(r() * 1e6)).padStart(6, '0')}`),
  };
}

function zeekLog(seed: number): string {
  const r = rng(seed), p = picker(r);
  const out: string[] = [];
  let fields = ['ts', 'uid', 'id.orig_h', 'id.orig_p', 'id.resp_h', 'id.resp_p', 'proto', 'orig_bytes', 'resp_bytes'];
  let sep = '\t';
  const header = (path = 'conn'): void => {
    out.push(`#separator ${sep === '\t' ? '\\x09' : sep}`, `#empty_field${sep}(empty)`, `#unset_field${sep}${r() < 0.2 ? 'NA' : '-'}`, `#path${sep}${path}`, `#fields${sep}${fields.join(sep)}`);
  };
  header();
  for (let i = 0; i < 3000; i++) {
    const x = r();
    if (i === 1500) { fields = ['id.orig_h', ...fields.filter((f) => f !== 'id.orig_h')]; header(); continue; }
    if (x < 0.004) { fields = [...fields].sort(() => r() - 0.5); header(); continue; }
    if (x < 0.006) { header('dns'); for (let k = 0; k < 5; k++) out.push(`${T0}${sep}D${k}${sep}q.test`); header(); continue; }
    if (x < 0.007) { sep = sep === '\t' ? ',' : '\t'; header(); continue; }
    if (x < 0.008) { fields = [...fields, 'id.resp_h']; header(); continue; } // a duplicated column: the last one counts
    if (x < 0.012) { out.push(p.one(['', '   ', '\t', '\r'])); continue; }
    const v: Record<string, string> = {
      ts: p.ts(i), uid: `C${i}`, 'id.orig_h': p.src(), 'id.orig_p': String(40000 + i), 'id.resp_h': p.dst(), 'id.resp_p': p.port(), proto: 'tcp', orig_bytes: '10', resp_bytes: '20',
    };
    let row = fields.map((f) => v[f] ?? '-');
    if (r() < 0.01) row = row.slice(0, -1);
    let line = row.join(sep);
    if (r() < 0.02) line += '\r';
    if (r() < 0.02) line = '#' + line; // a comment line shaped like a row
    out.push(line);
  }
  return out.join('\n') + '\n1714000000.5\t10.0.0.1'; // a torn last line
}

function vpcLog(seed: number): string {
  const r = rng(seed), p = picker(r);
  const out: string[] = [];
  let fields = ['version', 'account-id', 'interface-id', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', 'packets', 'bytes', 'start', 'end', 'action', 'log-status'];
  // No header at first: the default v2 list, stated in a note.
  for (let i = 0; i < 3000; i++) {
    const x = r();
    if (x < 0.003) { fields = [...fields].sort(() => r() - 0.5); out.push(fields.map((f) => (r() < 0.5 ? `\${${f}}` : f)).join(' ')); continue; }
    if (x < 0.004) { fields = fields.filter((f) => f !== 'start'); out.push(fields.join(' ')); continue; }
    if (x < 0.008) { out.push(p.one(['', '  ', '\t'])); continue; }
    const v: Record<string, string> = {
      version: '2', 'account-id': '1234', 'interface-id': r() < 0.002 ? 'eni-${x}' : 'eni-1', srcaddr: p.src() || '-', dstaddr: p.dst() || '-', srcport: '5000', dstport: p.port() || '-',
      protocol: '6', packets: '3', bytes: '300', start: p.ts(i) || '-', end: r() < 0.1 ? '-' : String(T0 + i + 5),
      action: r() < 0.05 ? p.one(['REJECT', 'accept', '-', 'DROP']) : 'ACCEPT', 'log-status': r() < 0.03 ? p.one(['NODATA', 'SKIPDATA', 'weird']) : 'OK',
    };
    let row = fields.map((f) => v[f] ?? '-');
    if (r() < 0.01) row = row.slice(1);
    if (r() < 0.003) row[Math.floor(r() * row.length)] = p.one(['srcaddr', 'x-srcaddr-y', '${a}']); // a row of the right width that reads as a field list
    let line = row.join(r() < 0.05 ? '  ' : ' ');
    if (r() < 0.02) line = ' ' + line + ' ';
    if (r() < 0.01) line = line.replace(' ', '\t');
    if (r() < 0.002) line += ' srcaddr'; // a data line that reads as a field list (the rows after it are bad)
    out.push(line);
  }
  return out.join('\r\n') + '\n';
}

function eveLog(seed: number): string {
  const r = rng(seed), p = picker(r);
  const out: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const t = new Date((T0 + i) * 1000 + Math.floor(r() * 999)).toISOString().replace('Z', '+0000');
    const port = p.port();
    const o: Record<string, unknown> = {
      timestamp: r() < 0.02 ? p.one(['garbage', 1714521613, null]) : t, flow_id: i, event_type: r() < 0.1 ? p.one(['alert', 'dns', 'drop', 'http']) : 'flow',
      src_ip: p.src(), src_port: 40000 + i, dest_ip: p.dst(), dest_port: r() < 0.03 ? p.one(['443', 1.5, null, -1]) : Number(port) || port, proto: 'TCP',
    };
    if (r() < 0.03) o.direction = p.one(['to_client', 'to_server']);
    if (r() < 0.9) {
      const flow: Record<string, unknown> = { bytes_toserver: 10, bytes_toclient: 20, src_ip: '10.7.7.7', dest_ip: '198.51.100.77', start: r() < 0.05 ? p.one([null, 'x', '2024-05-01 12:00:00']) : t };
      if (r() < 0.05) flow.action = p.one(['allowed', 'blocked', 'drop']);
      if (r() < 0.05) delete flow.start;
      o.flow = flow;
    }
    if (o.event_type === 'alert') o.alert = { signature: p.one(['ET POLICY SSH', 'Stratum mining', 'benign']), severity: 2, category: 'Misc' };
    if (r() < 0.02) o.src_ip = `10.1.1.\\u0031`;
    let line = JSON.stringify(o);
    if (r() < 0.01) line = line.replace('"src_ip":"', '"src_ip":"\\u0031');
    if (r() < 0.01) line = line.slice(0, Math.floor(r() * line.length));
    out.push(line);
  }
  return out.join('\n') + '\n';
}

/** What reading every record in JavaScript gives: the digest, and the sources per destination. */
async function reference(path: string, format: string): Promise<{ digest: LogDigest; sources: Map<string, string[]> }> {
  const bySrc = new Map<string, Set<string>>();
  const alerts: NetRecord[] = [];
  let records = 0, lines = 0;
  const stats = await netReader(format).read(path, (rec) => {
    records++;
    const s = bySrc.get(rec.dst) ?? new Set<string>();
    s.add(rec.src);
    bySrc.set(rec.dst, s);
    if (isAlertLike(rec)) alerts.push(rec);
  }, { onLines: (n) => { lines = n; } });
  return { digest: { records, alerts, stats, lines }, sources: new Map([...bySrc].map(([d, s]) => [d, [...s].sort()])) };
}

/** An export as destination → sorted distinct sources. */
function decode(e: SourcesExport): Map<string, string[]> {
  const m = new Map<string, Set<string>>();
  for (let i = 0; i < e.pairs.length; i += 2) {
    const d = e.ips[e.pairs[i]!]!, s = e.ips[e.pairs[i + 1]!]!;
    m.set(d, (m.get(d) ?? new Set()).add(s));
  }
  return new Map([...m].map(([d, s]) => [d, [...s].sort()]));
}

const byKey = (m: Map<string, string[]>): [string, string[]][] => [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

const CASES = [
  { format: 'zeek-conn-tsv', make: zeekLog },
  { format: 'vpc-flow', make: vpcLog },
  { format: 'suricata-eve', make: eveLog },
];

test('the native flow digest equals reading every record in JavaScript (seeded hostile logs)', { skip: FlowPairs.create() ? false : 'native addon not built' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-flowdigest-'));
  try {
    for (const { format, make } of CASES) {
      for (const seed of [1, 2, 3, 4]) {
        const path = join(dir, `${format}-${seed}.log`);
        writeFileSync(path, make(seed));
        const { digest: want, sources: wantSources } = await reference(path, format);
        const set = new SourceSet();
        const got = await digestLog({ path, format }, undefined, () => {}, set);
        const where = `${format} seed ${seed}`;
        assert.equal(got.records, want.records, `${where}: records`);
        assert.deepEqual(got.stats, want.stats, `${where}: stats`);
        assert.deepEqual(got.alerts, want.alerts, `${where}: alerts`);
        assert.deepEqual(byKey(decode(set.export())), byKey(wantSources), `${where}: sources per destination`);
        // The fast path really ran, and the JavaScript reader really saw the lines it left.
        const pairs = FlowPairs.create()!;
        let passed = 0;
        const st = await netReader(format).read(path, () => { passed++; }, { pairs });
        assert.ok(pairs.taken > want.records * 0.3, `${where}: only ${pairs.taken} of ${want.records} taken natively`);
        assert.ok(passed > 0 && st.bad > 0, `${where}: the JavaScript reader saw ${passed} records and ${st.bad} bad lines`);
        assert.equal(pairs.taken + passed, want.records, `${where}: every record counted once`);
      }
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('the flow addon refuses wrong arguments with a TypeError', { skip: FlowPairs.create() ? false : 'native addon not built' }, () => {
  const pairs = FlowPairs.create()!;
  const a = pairs.addon;
  const buf = Buffer.from('10.0.0.1 10.0.0.2\n');
  assert.throws(() => a.pairsAdd({}, buf, new Int32Array(4), 1), TypeError);
  assert.throws(() => a.pairsAdd(pairs.set, buf, Int32Array.of(0, 99, 0, 1), 1), /outside the buffer/);
  assert.throws(() => a.pairsAdd(pairs.set, buf, new Int32Array(4), 2), TypeError);
  assert.throws(() => a.delimScan(pairs.set, buf, 0, 99, new Int32Array(76), new Float64Array(2), new Float64Array(3)), /outside the buffer/);
  assert.throws(() => a.delimScan(pairs.set, buf, 0, buf.length, new Int32Array(5), new Float64Array(2), new Float64Array(3)), TypeError);
  assert.throws(() => a.delimScan(pairs.set, buf, 0, buf.length, new Int32Array(76), new Float64Array(2), new Float64Array(3)), /bad cfg/);
  a.pairsAdd(pairs.set, buf, Int32Array.of(9, 8, 0, 8), 1);
  a.pairsAdd(pairs.set, buf, Int32Array.of(9, 8, 0, 8), 1);
  assert.deepEqual(pairs.take(), { ips: ['10.0.0.2', '10.0.0.1'], pairs: Int32Array.of(0, 1) });
});
