// Why: an IPv6 fleet's alerts and calls must meet whatever spelling each source uses — Suricata
// writes IPv6 fully expanded ("fd00:0000:…:0009"), traces and Zeek compressed ("fd00::9"), some
// tools uppercase or IPv4-mapped (::ffff:10.0.0.9). These tests prove one spelling (RFC 5952) for
// every address that enters `corral investigate` — logs through the record path and the native
// fast paths (eve flows, Zeek/VPC digests), traces through the native linker and the full parser,
// placements — so the alerts link to the calls that caused them, with one thread or several.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalIp } from '../src/investigate/inputs/normalise.js';
import { investigate } from '../src/investigate/investigate.js';

test('canonicalIp: RFC 5952 for IPv6, IPv4-mapped to IPv4, everything else unchanged', () => {
  const cases: [string, string][] = [
    ['fd00:0000:0000:0000:0000:0000:0000:0009', 'fd00::9'], ['FD00::9', 'fd00::9'], ['fd00::9', 'fd00::9'],
    ['2001:0db8:0000:0000:0000:ff00:0042:8329', '2001:db8::ff00:42:8329'], ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], ['::1', '::1'], ['::', '::'], ['1:0:0:0:0:0:0:0', '1::'],
    ['::ffff:10.0.0.9', '10.0.0.9'], ['::ffff:a00:9', '10.0.0.9'], ['0:0:0:0:0:ffff:0a00:0009', '10.0.0.9'],
    ['fe80::0001%eth0', 'fe80::1%eth0'], ['::10.0.0.1', '::a00:1'],
    ['10.0.0.1', '10.0.0.1'], ['host-1', 'host-1'], ['1::2::3', '1::2::3'], ['12345::1', '12345::1'], ['1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7:8:9'], ['', ''],
  ];
  for (const [input, want] of cases) assert.equal(canonicalIp(input), want, input);
});

test('IPv6 alerts link to the calls on the same address however each log and trace spells it (one thread and three)', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'corral-ipv6-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const T0 = Date.UTC(2024, 4, 1, 12);
  const iso = (ms: number): string => new Date(ms).toISOString();
  const expanded = (k: number): string => `fd00:0000:0000:0000:0000:0000:0000:${String(k).padStart(4, '0')}`;
  const eve: string[] = [], calls: string[] = [], zeek = ['#separator \\x09', '#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto'];
  for (let k = 1; k <= 6; k++) {
    const start = T0 + k * 60_000;
    // Each sandbox k runs a call on fd00::k (written four ways across the traces).
    const ip = [`fd00::${k}`, `FD00::${k}`, expanded(k), `fd00:0:0:0:0:0:0:${k}`][k % 4]!;
    calls.push(JSON.stringify({ episode: `ep-${k}`, step: 1, tool_call_id: `c${k}`, command: k === 3 ? 'nohup ./xmrig -o pool.test:3333 &' : 'curl http://169.254.169.254/latest/meta-data/', ts: iso(start), end_ts: iso(start + 20_000), ip }));
    // Suricata: the alert (expanded) inside the call, and plain flows.
    eve.push(JSON.stringify({ timestamp: iso(start + 5_000).replace('Z', '+0000'), event_type: 'alert', src_ip: expanded(k), src_port: 40000, dest_ip: k === 3 ? '2001:0db8:0000:0000:0000:0000:0000:0007' : '169.254.169.254', dest_port: k === 3 ? 3333 : 80, proto: 'TCP', alert: { signature: k === 3 ? 'ET POLICY stratum' : 'metadata', severity: 1 } }));
    for (let f = 0; f < 50; f++) eve.push(JSON.stringify({ timestamp: iso(start + f * 100).replace('Z', '+0000'), event_type: 'flow', src_ip: expanded(k), src_port: 40001 + f, dest_ip: '2001:0db8:0000:0000:0000:0000:0000:0100', dest_port: 443, proto: 'TCP', flow: { start: iso(start + f * 100).replace('Z', '+0000') } }));
    for (let f = 0; f < 50; f++) zeek.push([((start + f * 100) / 1000).toFixed(6), `C${k}${f}`, `fd00::${k}`, String(50000 + f), '2001:db8::100', '443', 'tcp'].join('\t'));
  }
  // Many IPv4 calls too, so the traces are read by the native scanner and linker as usual.
  for (let i = 0; i < 2000; i++) calls.push(JSON.stringify({ episode: `v4-${i % 50}`, step: i, tool_call_id: `v${i}`, command: 'python train.py', ts: iso(T0 + i * 1000), end_ts: iso(T0 + i * 1000 + 500), ip: `10.1.${i % 50}.2` }));
  writeFileSync(join(d, 'eve.json'), eve.join('\n') + '\n');
  writeFileSync(join(d, 'conn.log'), zeek.join('\n') + '\n');
  writeFileSync(join(d, 'trace.jsonl'), calls.join('\n') + '\n');
  const base = { logs: [{ path: join(d, 'eve.json') }, { path: join(d, 'conn.log') }], traces: [{ path: join(d, 'trace.jsonl') }], rules: 'off' as const };
  for (const jobs of [1, 3]) {
    const r = await investigate({ ...base, jobs, parallelMinBytes: 1 });
    const blamed = new Map(r.incidents.map((i) => [i.category, r.calls[i.attributed[0]!.call]!.tool_call_id]));
    assert.equal(r.counts.linkedAlerts, 6, `jobs ${jobs}: every IPv6 alert is linked (${JSON.stringify(r.counts)})`);
    assert.equal(blamed.get('mining'), 'c3', `jobs ${jobs}`);
    assert.equal(r.incidents.filter((i) => i.category === 'metadata_access').length, 5, `jobs ${jobs}`);
    // The alerts name the address in its one spelling.
    assert.ok(r.alerts.every((a) => /^fd00::[1-6]$/.test(a.src)), r.alerts.map((a) => a.src).join());
    // Every IPv6 flow is read (the native fast paths hand them to the record path, which spells them canonically).
    assert.equal(r.counts.records, 6 + 300 + 300);
  }
});
