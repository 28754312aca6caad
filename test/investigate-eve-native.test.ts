// Why: eve.json is read through the native JSON Lines scanner (fields indexed in C) or, without
// it, with JSON.parse; both paths run the same field logic but get their values differently.
// This test reads an eve file built to break the fast path's assumptions — an "event_type"
// nested before the real one, an escaped event_type, duplicate keys, reply-direction alerts,
// flow.start, alerts without an alert object, bad timestamps, skipped types, invalid and torn
// lines, CRLF, blank lines, Python-style spacing, UTF-8 and escapes in signatures — both ways
// (a child process with CORRAL_NO_NATIVE_SCANNER=1 for the JSON.parse path) and demands the
// same records, counts and bad-line reports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const reader = new URL('../src/investigate/inputs/suricata.js', import.meta.url).href;

function read(path: string, env: Record<string, string>): { records: unknown[]; stats: unknown; fast: boolean } {
  const script = `import { suricataEveReader } from ${JSON.stringify(reader)};
import { jsonLinesAddon } from ${JSON.stringify(new URL('../src/investigate/inputs/json-lines.js', import.meta.url).href)};
const records = [];
const stats = await suricataEveReader.read(${JSON.stringify(path)}, (r) => records.push(r));
process.stdout.write(JSON.stringify({ records, stats, fast: !!jsonLinesAddon() }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { records: unknown[]; stats: unknown; fast: boolean };
}

function eveFixture(): string {
  const ts = (s: number): string => `2024-05-01T12:00:${String(s % 60).padStart(2, '0')}.${String(s * 7919 % 1_000_000).padStart(6, '0')}+0000`;
  const alert = (i: number): Record<string, unknown> => ({
    timestamp: ts(i), flow_id: i, in_iface: 'eth0', event_type: 'alert', src_ip: `10.0.${i % 5}.2`, src_port: 40000 + i, dest_ip: '203.0.113.9', dest_port: 3333, proto: 'TCP',
    alert: { action: i % 2 ? 'allowed' : 'blocked', gid: 1, signature_id: 2000 + i, rev: 1, signature: `ET POLICY crypto miner ✓ "pool" ${i}`, category: 'Crypto Currency Mining Activity Detected', severity: 1 + (i % 3) },
    host: `host-${i % 3}`,
  });
  const flow = (i: number): Record<string, unknown> => ({
    timestamp: ts(i), flow_id: 90000 + i, event_type: 'flow', src_ip: `10.0.${i % 5}.2`, src_port: 50000 + i, dest_ip: '198.51.100.7', dest_port: 443, proto: 'TCP',
    flow: { pkts_toserver: 5, pkts_toclient: 4, bytes_toserver: 500 + i, bytes_toclient: 900, start: ts(i + 1), end: ts(i + 2), state: 'closed', action: i % 7 === 0 ? 'drop' : undefined },
  });
  const lines: string[] = [];
  for (let i = 0; i < 300; i++) {
    let l = JSON.stringify(i % 3 === 0 ? alert(i) : flow(i));
    switch (i) {
      case 5: l = JSON.stringify({ meta: { event_type: 'dns' }, ...alert(i) }); break; // nested event_type first
      case 8: l = l.replace('"event_type":"flow"', '"event_type":"fl\\u006fw"'); break; // escaped: the text search reads it raw
      case 11: l = l.replace('"src_ip":', '"src_ip":"10.9.9.9","src_ip":'); break; // duplicate: the last wins
      case 14: l = l.slice(0, 70); break; // torn
      case 17: l = JSON.stringify({ ...alert(i), direction: 'to_client', flow: { src_ip: '10.7.7.7', dest_ip: '203.0.113.50', src_port: 1, dest_port: 2 } }); break;
      case 20: l = JSON.stringify({ ...flow(i), timestamp: 'yesterday', flow: { start: 'nope' } }); break;
      case 23: l = JSON.stringify({ ...alert(i), alert: 'not an object' }); break;
      case 26: l = JSON.stringify({ timestamp: ts(i), event_type: 'dns', dns: { rrname: 'x.test' } }); break;
      case 29: l = JSON.stringify({ timestamp: ts(i), event_type: 'stats' }) + '\r'; break;
      case 32: l = l.replace(/,"/g, ', "').replace(/":/g, '": '); break; // Python spacing
      case 35: l = ''; break;
      case 38: l = l.replace('"TCP"', '"T\\tCP"'); break;
      case 41: l = l.replace('"dest_ip"', '"dest_ip\\u0000"'); break; // a key the fast path cannot name: full parse
      case 44: l = '[1,2,3]'; break;
      case 47: l = JSON.stringify({ ...alert(i), timestamp: 1714564800.25 }); break; // epoch seconds
      case 50: l = l.replace('"dest_port":3333', '"dest_port":"3333"'); break;
      case 54: l = l.replace('ET POLICY', 'ET\tPOLICY'); break; // raw tab inside a string: invalid
      default: break;
    }
    if (i === 60) l += '\r';
    lines.push(l);
  }
  return lines.join('\n') + '\n{"timestamp":"2024-05-01T12:00:00Z","event_type":"alert","src_ip"'; // torn last line
}

test('eve.json: the native scanner path and the JSON.parse path read the same records and report the same bad lines', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-eve-'));
  try {
    const path = join(dir, 'eve.json');
    writeFileSync(path, eveFixture());
    const native = read(path, { CORRAL_NO_NATIVE_SCANNER: '0' });
    const plain = read(path, { CORRAL_NO_NATIVE_SCANNER: '1' });
    assert.equal(native.fast, true, 'the native scanner was used');
    assert.equal(plain.fast, false, 'the fallback path was used');
    assert.deepEqual(native.records, plain.records);
    assert.deepEqual(native.stats, plain.stats);
    const st = plain.stats as { records: number; bad: number; issues: { line: number; error: string }[]; skippedKinds: Record<string, number> };
    assert.ok(st.records > 250 && st.bad >= 6, `records ${st.records}, bad ${st.bad}`);
    // (line 27 is the one dns event; line 6 is an alert whose "meta" object names dns before its own event_type)
    assert.ok(st.skippedKinds.dns === 1 && st.skippedKinds.stats === 1, JSON.stringify(st.skippedKinds));
    assert.ok((plain.records as { line: number; kind: string }[]).some((r) => r.line === 6 && r.kind === 'alert'), 'the alert with a nested event_type first is read');
    assert.ok(st.issues.some((i) => i.line === 15 && /invalid JSON/.test(i.error)), 'the torn line is named');
    assert.ok(st.issues.some((i) => i.line === 55 && /invalid JSON/.test(i.error)), 'a raw tab inside a signature is named');
    assert.ok(st.issues.some((i) => i.line === 301 && /truncated last line/.test(i.error)));
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
