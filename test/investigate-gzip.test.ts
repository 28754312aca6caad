// Why: rotated logs are gzipped (Zeek's hourly archives, VPC Flow Logs in S3, logrotate), so
// `corral investigate` reads .gz files as they are. These tests prove a gzipped file gives exactly
// what the plain file gives — format detection, records, spans, bad lines with their line
// numbers, notes — for every input format, through the native scanner and the line readers; that
// a truncated .gz keeps what came before and reports the break as a bad record; and that a whole
// investigation over gzipped inputs on several worker threads equals the plain one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { detectNetFormat, detectTraceFormat, netReader, traceReader, type ReadStats } from '../src/investigate/inputs/index.js';
import { investigate } from '../src/investigate/investigate.js';
import { generateFleetFiles } from '../src/investigate/generate/generate.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/investigate/', import.meta.url));

function tmp(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'corral-gz-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** path.gz next to dir, with the plain file's mtime (syslog years come from it). */
function gzipTo(dir: string, path: string, name = `${path.split('/').pop()!}.gz`): string {
  const out = join(dir, name);
  writeFileSync(out, gzipSync(readFileSync(path)));
  const st = statSync(path);
  utimesSync(out, st.atime, st.mtime);
  return out;
}

/** Everything a reader reports, with the file name taken out. */
function view(x: unknown, file: string): string {
  return JSON.stringify(x).split(JSON.stringify(file).slice(1, -1)).join('FILE');
}

/** Each fixture with its format's detector and a reader that collects what it yields. */
type Reader = { detect: (p: string) => Promise<string>; read: (format: string, p: string, out: unknown[]) => Promise<ReadStats> };
const NET: Reader = { detect: detectNetFormat, read: (f, p, out) => netReader(f).read(p, (r) => out.push(r)) };
const TRACE: Reader = { detect: detectTraceFormat, read: (f, p, out) => traceReader(f).read(p, (s) => out.push(s)) };
const FIXTURES: [string, Reader][] = [
  ...['eve.json', 'conn.log', 'conn.json', 'iptables.log', 'vpc-default.log', 'vpc-noheader.log', 'vpc-custom.log', 'firewall.csv', 'firewall.jsonl', 'corral-events.jsonl'].map((f): [string, Reader] => [f, NET]),
  ...['traces.jsonl', 'otlp.json', 'otlp-lines.jsonl', 'openai.jsonl'].map((f): [string, Reader] => [f, TRACE]),
];

test('a gzipped log or trace reads exactly as the plain file (every format)', async (t) => {
  const d = tmp(t);
  for (const [f, r] of FIXTURES) {
    const plain = join(FIX, f), gz = gzipTo(d, plain);
    const format = await r.detect(plain);
    assert.equal(await r.detect(gz), format, f);
    const read = async (p: string): Promise<{ items: unknown[]; st: ReadStats }> => { const items: unknown[] = []; return { st: await r.read(format, p, items), items }; };
    const a = await read(plain), b = await read(gz);
    assert.ok(a.items.length > 0, f);
    assert.equal(view(b, gz), view(a, plain), f);
  }
});

test('zstd, xz and bzip2 files read through their decompressors exactly as the plain file; a missing one is named', async (t) => {
  const d = tmp(t);
  for (const [cmd, ext] of [['zstd', 'zst'], ['xz', 'xz'], ['bzip2', 'bz2']] as const) {
    for (const [f, r] of FIXTURES.filter(([name]) => ['eve.json', 'conn.log', 'traces.jsonl', 'otlp.json'].includes(name))) {
      const plain = join(FIX, f), packed = join(d, `${f}.${ext}`);
      const z = spawnSync(cmd, ['-c', '--', plain]);
      assert.equal(z.status, 0, `${cmd} is installed (scripts/setup.sh): ${String(z.error ?? z.stderr)}`);
      writeFileSync(packed, z.stdout);
      const st = statSync(plain);
      utimesSync(packed, st.atime, st.mtime);
      const format = await r.detect(plain);
      assert.equal(await r.detect(packed), format, `${f}.${ext}`);
      const read = async (p: string): Promise<string> => { const items: unknown[] = []; return view({ st: await r.read(format, p, items), items }, p); };
      assert.equal(await read(packed), await read(plain), `${f}.${ext}`);
    }
  }
  // Without the decompressor on PATH: one bad record that says which package to install.
  const zst = join(d, 'eve.json.zst');
  const child = spawnSync(process.execPath, ['--input-type=module', '-e',
    `const { netReader } = await import(${JSON.stringify(new URL('../src/investigate/inputs/index.js', import.meta.url).href)}); const st = await netReader('suricata-eve').read(${JSON.stringify(zst)}, () => {}); console.log(JSON.stringify(st.issues));`,
  ], { env: { PATH: join(d, 'no-such-dir') }, encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  assert.match(child.stdout, /zstd-compressed and the zstd command is missing \(install the zstd package\)/);
});

test('progress through a zstd file counts its compressed bytes as they are read, not only at the end', async (t) => {
  const d = tmp(t);
  // Random hex keeps the file from compressing to nothing: several MiB of compressed input.
  const rows: string[] = [];
  for (let i = 0; i < 40_000; i++) rows.push(JSON.stringify({ timestamp: `2024-05-01T00:00:${String(i % 60).padStart(2, '0')}.000000+0000`, event_type: 'flow', src_ip: '10.20.1.10', src_port: 40000, dest_ip: '198.51.100.7', dest_port: 443, proto: 'TCP', pad: randomBytes(96).toString('hex') }));
  const plain = join(d, 'eve-big.json'), packed = join(d, 'eve-big.json.zst');
  writeFileSync(plain, rows.join('\n') + '\n');
  const z = spawnSync('zstd', ['-q', '-c', '--', plain], { maxBuffer: 64 << 20 });
  assert.equal(z.status, 0, String(z.error ?? z.stderr));
  writeFileSync(packed, z.stdout);
  const size = statSync(packed).size;
  assert.ok(size > 4 << 20, `compressed size ${size}`);
  const seen: number[] = [];
  let recs = 0;
  const st = await netReader('suricata-eve').read(packed, () => { recs++; }, { onProgress: (b) => seen.push(b) });
  assert.equal(st.records, 40_000);
  assert.equal(recs, 40_000, "every record reached the reader's callback");
  assert.ok(seen.some((b) => b > 0 && b < size), `progress while reading: ${seen.slice(0, 8).join(', ')} of ${size}`);
  assert.equal(Math.max(...seen), size, 'ends at the whole compressed file');
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, 'never goes back');
});

test('concatenated gzip members (cat a.gz b.gz) read as one file', async (t) => {
  const d = tmp(t);
  const text = readFileSync(join(FIX, 'eve.json'), 'utf8');
  const cut = text.indexOf('\n', Math.floor(text.length / 2)) + 1;
  const multi = join(d, 'eve-multi.json.gz');
  writeFileSync(multi, Buffer.concat([gzipSync(text.slice(0, cut)), gzipSync(text.slice(cut))]));
  const read = async (p: string): Promise<string> => { const recs: unknown[] = []; const st = await netReader('suricata-eve').read(p, (r) => recs.push(r)); return view({ recs, st }, p); };
  assert.equal(await read(multi), await read(join(FIX, 'eve.json')));
});

test('a truncated .gz keeps the records before the break and reports it as a bad record', async (t) => {
  const d = tmp(t);
  const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ timestamp: new Date(Date.UTC(2024, 4, 1) + i * 1000).toISOString(), event_type: 'alert', src_ip: `10.0.${i % 9}.1`, dest_ip: '203.0.113.5', dest_port: 22, proto: 'TCP', alert: { signature: `ssh ${i}`, severity: 2 } }));
  const whole = gzipSync(Buffer.from(lines.join('\n') + '\n'));
  for (const [name, format] of [['eve.json.gz', 'suricata-eve'], ['alerts.jsonl.gz', 'jsonl']] as const) {
    const cut = join(d, name);
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    let n = 0;
    const st = await netReader(format).read(cut, () => { n++; });
    assert.ok(n > 1000 && n < 20_000, `${name}: ${n} records before the break`);
    assert.equal(st.records, n);
    assert.equal(st.bad, 1, name);
    assert.match(st.issues[0]!.error, /cannot decompress .*truncated or corrupt gzip; the lines before this point were read/);
    assert.equal(st.issues[0]!.line, n + 1, `${name}: the break is reported at the line after the last one read`);
  }
  const otlp = join(d, 'otlp.json.gz');
  const doc = gzipSync(readFileSync(join(FIX, 'otlp.json')));
  writeFileSync(otlp, doc.subarray(0, doc.length - 20));
  const st = await traceReader('otlp-json').read(otlp, () => {});
  assert.ok(st.issues.some((i) => /cannot decompress/.test(i.error)), JSON.stringify(st.issues));
});

test('an investigation over gzipped logs and traces on worker threads equals the plain one', async (t) => {
  const d = tmp(t);
  const plainDir = join(d, 'plain');
  const gt = await generateFleetFiles({ outDir: plainDir, toolCalls: 20_000, records: 2_000, seed: 11, badLinesPerFile: 2 });
  assert.ok(gt.counts.toolCalls > 0);
  const files = { logs: ['eve.json', 'conn.log', 'vpc-flow.log', 'iptables.log'].map((f) => join(plainDir, 'firewall', f)), trace: join(plainDir, 'traces', 'canonical.jsonl') };
  const gz = { logs: files.logs.map((f) => gzipTo(d, f)), trace: gzipTo(d, files.trace) };
  const run = (logs: string[], trace: string) => investigate({ logs: logs.map((path) => ({ path })), traces: [{ path: trace }], rules: 'off', jobs: 3, parallelMinBytes: 1 });
  const a = await run(files.logs, files.trace), b = await run(gz.logs, gz.trace);
  assert.ok(a.incidents.length > 0);
  // (calls' n is an ordinal that depends on how a trace was cut into ranges, and a .gz is read whole)
  const strip = (r: Awaited<ReturnType<typeof run>>): string => {
    let s = JSON.stringify({ ...r, timings: undefined, notes: undefined }, (k, v: unknown) => (k === 'n' ? undefined : v));
    for (const [p, q] of [...files.logs.map((f, i) => [f, gz.logs[i]!]), [files.trace, gz.trace]]) s = s.split(JSON.stringify(q!).slice(1, -1)).join(JSON.stringify(p!).slice(1, -1));
    return s;
  };
  assert.equal(strip(b), strip(a));
});
