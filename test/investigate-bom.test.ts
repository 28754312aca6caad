// Why: files written by Windows tools (PowerShell's Out-File, Excel's "CSV UTF-8") start with a
// UTF-8 byte order mark; the first line of such a log or trace was a bad record (JSON readers) or a
// header whose first column was unknown. These tests prove every format reads exactly as without
// the mark — through the native scanners, the line readers, the OTLP document scanner — gzipped
// too, and in a parallel investigation whose first range holds the mark.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { detectNetFormat, detectTraceFormat, netReader, traceReader } from '../src/investigate/inputs/index.js';
import { investigate } from '../src/investigate/investigate.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/investigate/', import.meta.url));
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** What a reader yields and reports, with the file name taken out. */
async function read(kind: 'net' | 'trace', path: string): Promise<string> {
  const items: unknown[] = [];
  const format = kind === 'net' ? await detectNetFormat(path) : await detectTraceFormat(path);
  const st = kind === 'net' ? await netReader(format).read(path, (r) => items.push(r)) : await traceReader(format).read(path, (s) => items.push(s));
  const { bytes: _b, ...rest } = st as unknown as Record<string, unknown>;
  return JSON.stringify({ format, items, st: rest }).split(JSON.stringify(path).slice(1, -1)).join('FILE');
}

test('a UTF-8 byte order mark at the start of any log or trace is not content (plain and gzipped)', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'corral-bom-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const cases: [string, 'net' | 'trace'][] = [
    ['eve.json', 'net'], ['conn.log', 'net'], ['conn.json', 'net'], ['iptables.log', 'net'], ['vpc-default.log', 'net'], ['vpc-custom.log', 'net'],
    ['firewall.csv', 'net'], ['firewall.jsonl', 'net'], ['corral-events.jsonl', 'net'],
    ['traces.jsonl', 'trace'], ['otlp.json', 'trace'], ['otlp-lines.jsonl', 'trace'], ['openai.jsonl', 'trace'],
  ];
  for (const [f, kind] of cases) {
    const text = readFileSync(join(FIX, f));
    const plain = join(d, f), marked = join(d, `bom-${f}`), gz = join(d, `bom-${f}.gz`);
    writeFileSync(plain, text);
    writeFileSync(marked, Buffer.concat([BOM, text]));
    writeFileSync(gz, gzipSync(Buffer.concat([BOM, text])));
    const want = await read(kind, plain);
    assert.equal(await read(kind, marked), want, `${f} with a byte order mark`);
    assert.equal(await read(kind, gz), want, `${f} gzipped with a byte order mark`);
  }
});

test('a parallel investigation of traces and logs that start with a byte order mark equals the unmarked one', async (t) => {
  const d = mkdtempSync(join(tmpdir(), 'corral-bom-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const T0 = Date.UTC(2024, 4, 1, 12);
  const iso = (ms: number): string => new Date(ms).toISOString();
  const calls = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ episode: `ep-${i % 9}`, step: i, tool_call_id: `c${i}`, command: i === 1500 ? 'curl http://169.254.169.254/' : 'make', ts: iso(T0 + i * 1000), end_ts: iso(T0 + i * 1000 + 800), ip: `10.0.${i % 9}.2` }));
  const eve = Array.from({ length: 3000 }, (_, i) => JSON.stringify(i === 7
    ? { timestamp: iso(T0 + 1500 * 1000 + 200), event_type: 'alert', src_ip: '10.0.6.2', src_port: 1, dest_ip: '169.254.169.254', dest_port: 80, proto: 'TCP', alert: { signature: 'metadata', severity: 1 } }
    : { timestamp: iso(T0 + i * 900), event_type: 'flow', src_ip: `10.0.${i % 9}.2`, src_port: 2, dest_ip: '198.51.100.7', dest_port: 443, proto: 'TCP' }));
  const write = (name: string, lines: string[], bom: boolean): string => { const p = join(d, name); writeFileSync(p, Buffer.concat([bom ? BOM : Buffer.alloc(0), Buffer.from(lines.join('\n') + '\n')])); return p; };
  const run = (bom: boolean) => investigate({ logs: [{ path: write(`eve-${bom}.json`, eve, bom) }], traces: [{ path: write(`trace-${bom}.jsonl`, calls, bom) }], rules: 'off', jobs: 3, parallelMinBytes: 1 });
  const [plain, marked] = [await run(false), await run(true)];
  // (the bytes read are the file's: three more with the mark)
  const view = (r: typeof plain, tag: string): string => JSON.stringify({ ...r, timings: undefined, notes: undefined }).split(`-${tag}.`).join('-X.').replace(/"bytes":\d+/g, '');
  assert.equal(view(marked, 'true'), view(plain, 'false'));
  assert.equal(plain.counts.toolCalls, 3000);
  assert.equal(marked.inputs.traces[0]!.bad + marked.inputs.net[0]!.bad, 0);
  assert.ok(plain.incidents.some((i) => i.category === 'metadata_access'));
});
