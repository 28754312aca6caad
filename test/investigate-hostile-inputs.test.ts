// Why: `corral investigate` must never crash, never drop data it already read and never give a false
// all-clear on damaged or mistaken input. These tests replay what a review found broken (session 9):
// absurd times crashed the summary; a NUL byte in the first lines made a whole file "binary"; a gzip
// file with a bad checksum lost everything zlib had decompressed; swapped or empty inputs exited 0
// ("no incident"); a file named twice counted its alerts twice; a 5 MB first line defeated format
// detection; a copied syslog file silently got today's year, with no --year or --tz to fix it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { detectNetFormat, detectTraceFormat, netReader, traceReader } from '../src/investigate/inputs/index.js';
import { FIX, tmpDir } from './support/investigate-files.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const EVE = join(FIX, 'eve.json'), TRACES = join(FIX, 'traces.jsonl');

function tmp(t: { after(fn: () => void): void }): string { return tmpDir(t, 'corral-hostile-'); }

function corral(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'investigate', '--quiet', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Json = { warnings: string[]; counts: { records: number; alerts: number; toolCalls: number }; notes: string[]; inputs: { net: { bad: number; records: number; issues: { line: number; error: string }[] }[]; traces: { bad: number; records: number; issues: { line: number; error: string }[] }[] } };

test('times beyond any date are bad records, never a crash: a 1e300 ms duration, a 1e29 epoch, an alert at 1e23', (t) => {
  const d = tmp(t);
  const tr = join(d, 'tr.jsonl'), lg = join(d, 'lg.jsonl');
  writeFileSync(tr, [
    '{"episode":"ep1","step":1,"command":"ls","ts":1714564840,"duration_ms":1e300,"ip":"10.0.0.5"}',
    '{"episode":"ep1","step":2,"command":"ls","ts":99999999999999999999999999999,"ip":"10.0.0.5"}',
    '{"episode":"ep1","step":3,"command":"curl http://203.0.113.9/","ts":1714564850,"duration_ms":2000,"ip":"10.0.0.5"}',
  ].join('\n') + '\n');
  writeFileSync(lg, [
    '{"ts":1714564851,"src":"10.0.0.5","dst":"203.0.113.9","action":"blocked","category":"policy_violation"}',
    '{"ts":99999999999999999999999,"src":"10.0.0.5","dst":"203.0.113.9","action":"blocked","category":"policy_violation"}',
  ].join('\n') + '\n');
  for (const extra of [[], ['--json'], ['--html', join(d, 'r.html')]]) {
    const r = corral(['--traces', tr, lg, ...extra]);
    assert.ok(r.status === 0 || r.status === 3, `exit ${r.status}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /RangeError|at \w+ \(/, 'no stack trace');
  }
  const j = JSON.parse(corral(['--traces', tr, lg, '--json']).stdout) as Json;
  assert.deepEqual(j.inputs.traces[0]!.issues.map((i) => i.line), [1, 2]);
  assert.match(j.inputs.traces[0]!.issues[0]!.error, /"duration_ms" must be a number of milliseconds from 0 to 31536000000/);
  assert.match(j.inputs.traces[0]!.issues[1]!.error, /unparseable "ts"/);
  assert.deepEqual(j.inputs.net[0]!.issues.map((i) => i.line), [2]);
  assert.equal(j.counts.toolCalls, 1);
  assert.equal(j.counts.alerts, 1);
});

test('nothing to analyse is exit 1, not an all-clear: inputs swapped, an empty trace file, a log of noise', (t) => {
  const d = tmp(t);
  const swapped = corral(['--traces', EVE, TRACES]);
  assert.equal(swapped.status, 1, swapped.stderr);
  assert.match(swapped.stderr, /nothing to analyse: no network record was read from the logs \(\d+ bad records, listed above\)/);
  assert.match(swapped.stdout, /bad/, 'the summary with the bad records is still printed');
  writeFileSync(join(d, 'empty.jsonl'), '');
  const empty = corral(['--traces', join(d, 'empty.jsonl'), EVE, '--json']);
  assert.equal(empty.status, 1);
  assert.match(empty.stderr, /nothing to analyse: no tool call was read from the traces/);
  assert.equal((JSON.parse(empty.stdout) as Json).counts.toolCalls, 0, '--json still prints the result');
  const ok = corral(['--traces', TRACES, EVE]);
  assert.ok(ok.status === 0 || ok.status === 3, `a real pair is analysed: exit ${ok.status}`);
});

test('a few NUL bytes in the first lines do not make a log or a trace "binary": the format is detected and only those lines are bad', async (t) => {
  const d = tmp(t);
  const eve = readFileSync(EVE, 'utf8').trimEnd().split('\n');
  writeFileSync(join(d, 'plain.json'), eve.join('\n') + '\n');
  const plain = await netReader('suricata-eve').read(join(d, 'plain.json'), () => {});
  eve.splice(1, 0, '\u0000'.repeat(50));
  writeFileSync(join(d, 'eve.json'), eve.join('\n') + '\n');
  assert.equal(await detectNetFormat(join(d, 'eve.json')), 'suricata-eve');
  const st = await netReader('suricata-eve').read(join(d, 'eve.json'), () => {});
  assert.deepEqual(st.issues.map((i) => i.line), [2, ...plain.issues.map((i) => (i.line >= 2 ? i.line + 1 : i.line))]);
  assert.equal(st.records, plain.records);
  const tr = readFileSync(TRACES, 'utf8').trimEnd().split('\n');
  writeFileSync(join(d, 'plain.jsonl'), tr.join('\n') + '\n');
  const tplain = await traceReader('canonical-jsonl').read(join(d, 'plain.jsonl'), () => {});
  tr[0] = tr[0]!.replace('pip install', 'pip\u0000 install'); // (a raw NUL inside a JSON string: invalid JSON)
  writeFileSync(join(d, 'tr.jsonl'), tr.join('\n') + '\n');
  assert.equal(await detectTraceFormat(join(d, 'tr.jsonl')), 'canonical-jsonl');
  const ts = await traceReader('canonical-jsonl').read(join(d, 'tr.jsonl'), () => {});
  assert.deepEqual(ts.issues.map((i) => i.line), [1, ...tplain.issues.map((i) => i.line)]);
  assert.match(ts.issues[0]!.error, /control character/i);
  assert.equal(ts.records, tplain.records - 1);
  // Real binary data is still refused as such.
  const bin = Buffer.alloc(4096, 0);
  writeFileSync(join(d, 'zeros.bin'), bin);
  assert.equal(await detectNetFormat(join(d, 'zeros.bin')), 'unknown');
});

test('a gzip file with a bad checksum or corrupt end keeps every line decompressed before the break, and is still detected', async (t) => {
  const d = tmp(t);
  const text = readFileSync(EVE, 'utf8').trimEnd() + '\n';
  writeFileSync(join(d, 'plain.json'), text);
  const plain = await netReader('suricata-eve').read(join(d, 'plain.json'), () => {});
  const gz = gzipSync(text);
  gz[gz.length - 8]! ^= 0xff; // (the CRC: the data itself is intact)
  writeFileSync(join(d, 'crc.json.gz'), gz);
  assert.equal(await detectNetFormat(join(d, 'crc.json.gz')), 'suricata-eve');
  let n = 0;
  const st = await netReader('suricata-eve').read(join(d, 'crc.json.gz'), () => { n++; });
  assert.equal(st.records, plain.records, 'every line was read');
  assert.equal(n, plain.records);
  assert.equal(st.bad, plain.bad + 1);
  assert.match(st.issues.at(-1)!.error, /cannot decompress .*incorrect data check/);
  // A bigger file (several zlib chunks): nothing lost either.
  const big = Array.from({ length: 40 }, () => text).join('');
  const gz2 = gzipSync(big);
  gz2[gz2.length - 8]! ^= 0xff;
  writeFileSync(join(d, 'big.json.gz'), gz2);
  const st2 = await netReader('suricata-eve').read(join(d, 'big.json.gz'), () => {});
  assert.equal(st2.records, plain.records * 40);
});

test('a file named twice (its directory and itself, or a symlink) is read once, with a note', (t) => {
  const d = tmp(t);
  mkdirSync(join(d, 'logs'));
  copyFileSync(EVE, join(d, 'logs', 'eve.json'));
  symlinkSync(join(d, 'logs', 'eve.json'), join(d, 'link.json'));
  const once = JSON.parse(corral(['--traces', TRACES, join(d, 'logs'), '--json']).stdout) as Json;
  const twice = corral(['--traces', TRACES, join(d, 'logs'), join(d, 'logs', 'eve.json'), join(d, 'link.json'), '--json']);
  const j = JSON.parse(twice.stdout) as Json;
  assert.equal(j.counts.records, once.counts.records);
  assert.equal(j.counts.alerts, once.counts.alerts);
  assert.equal(j.inputs.net.length, 1);
  assert.equal(j.notes.filter((n) => /given (more than once|twice\)): read once/.test(n)).length, 2, j.notes.join('\n'));
});

test('a first line longer than the detection window (an alert with a 5 MB payload) does not hide the format', async (t) => {
  const d = tmp(t);
  const eve = readFileSync(EVE, 'utf8').trimEnd().split('\n');
  writeFileSync(join(d, 'plain.json'), eve.join('\n') + '\n');
  const plain = await netReader('suricata-eve').read(join(d, 'plain.json'), () => {});
  const first = JSON.parse(eve[0]!) as Record<string, unknown>;
  first.payload_printable = 'A'.repeat(5 << 20);
  eve[0] = JSON.stringify(first);
  writeFileSync(join(d, 'eve.json'), eve.join('\n') + '\n');
  assert.equal(await detectNetFormat(join(d, 'eve.json')), 'suricata-eve');
  const st = await netReader('suricata-eve').read(join(d, 'eve.json'), () => {});
  assert.equal(st.records, plain.records);
  assert.equal(st.bad, plain.bad);
});

test('--year and --tz reach every reader; logs and calls with no overlap in time get a note naming them', (t) => {
  const d = tmp(t);
  // The fixture's syslog lines have no year: a copy made now gets this year from its mtime.
  const ipt = join(d, 'ipt.log');
  writeFileSync(ipt, readFileSync(join(FIX, 'iptables.log'), 'utf8').split('\n').filter((l) => /^[A-Z][a-z]{2} /.test(l)).join('\n') + '\n');
  const now = JSON.parse(corral(['--traces', TRACES, ipt, '--json']).stdout) as Json;
  const apart = now.warnings.find((n) => /days apart: nothing could link; check the clocks .*--year.*--tz/.test(n));
  assert.ok(apart, now.warnings.join('\n'));
  assert.match(corral(['--traces', TRACES, ipt]).stdout, /^WARNING: the alerts .* days apart/m, 'the summary shows it as a warning');
  const fixed = JSON.parse(corral(['--traces', TRACES, ipt, '--json', '--year', '2024']).stdout) as Json & { incidents: unknown[] };
  assert.deepEqual(fixed.warnings, []);
  assert.ok(fixed.incidents.length > 0, 'with the right year the alerts link');
  // A zone: the fixture's zone-less trace time "2024-05-01 12:01:00" moves by two hours.
  const utc = JSON.parse(corral(['--traces', TRACES, EVE, '--json']).stdout) as Json & { calls: { start: number; step?: number }[] };
  const berlin = JSON.parse(corral(['--traces', TRACES, EVE, '--json', '--tz', '+02:00']).stdout) as Json;
  assert.ok(JSON.stringify(berlin.inputs.traces[0]).includes('+02:00') || JSON.stringify(berlin).includes('+02:00'), 'the zone used is stated');
  assert.notDeepEqual(berlin, utc);
  // --trace-tz moves the traces alone, as --tz does here (the eve log's times carry their zone); --log-tz leaves them
  const traceSide = JSON.parse(corral(['--traces', TRACES, EVE, '--json', '--trace-tz', '+02:00']).stdout) as Json & { calls: { start: number }[] };
  const logSide = JSON.parse(corral(['--traces', TRACES, EVE, '--json', '--log-tz', '+02:00']).stdout) as Json & { calls: { start: number }[] };
  assert.deepEqual(traceSide.calls.map((c) => c.start), (berlin as unknown as { calls: { start: number }[] }).calls.map((c) => c.start));
  assert.deepEqual(logSide.calls.map((c) => c.start), utc.calls.map((c) => c.start));
  for (const bad of [['--tz', 'Mars/Base'], ['--log-tz', 'Mars/Base'], ['--trace-tz', '+25:00'], ['--year', '24'], ['--year', 'abc']]) {
    const r = corral(['--traces', TRACES, EVE, ...bad]);
    assert.equal(r.status, 2, bad.join(' '));
    assert.match(r.stderr, bad[0]!.endsWith('tz') ? new RegExp(`${bad[0]}: `) : /--year must be a year 1970\.\.9999/);
  }
});

test('--skew past 1d and --lag or --gap past 30d are usage errors naming the flag and the limit; the limits themselves are taken', () => {
  for (const [flag, v, max] of [['--skew', '2d', '1d'], ['--skew', '99999999999999999999h', '1d'], ['--lag', '31d', '30d'], ['--gap', '1000000h', '30d']] as const) {
    const r = corral(['--traces', TRACES, EVE, flag, v]);
    assert.equal(r.status, 2, `${flag} ${v}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^corral investigate: ${flag}: at most ${max}, got '${v}'`));
  }
  for (const [flag, v] of [['--skew', '1d'], ['--lag', '30d'], ['--gap', '720h']] as const) {
    const r = corral(['--traces', TRACES, EVE, flag, v, '--json']);
    assert.ok(r.status === 0 || r.status === 3, `${flag} ${v}: exit ${r.status} ${r.stderr}`);
  }
});

test('values that cannot be used are said, not silently dropped: bad ports, broken tool-call arguments, odd OTLP shapes, impossible dates', async (t) => {
  const d = tmp(t);
  const ports = join(d, 'ports.jsonl');
  writeFileSync(ports, [
    '{"ts":"2024-05-01T12:00:00Z","src":"10.0.0.1","dst":"10.0.0.2","dport":99999,"action":"blocked"}',
    '{"ts":"2024-05-01T12:00:01Z","src":"10.0.0.1","dst":"10.0.0.2","dport":"abc","sport":-1,"action":"blocked"}',
    '{"ts":"2024-05-01T12:00:02Z","src":"10.0.0.1","dst":"10.0.0.2","dport":22,"action":"blocked"}',
    '{"ts":"2024-02-30T12:00:02Z","src":"10.0.0.1","dst":"10.0.0.2","dport":22,"action":"blocked"}',
  ].join('\n') + '\n');
  const p = await netReader('jsonl').read(ports, () => {});
  assert.equal(p.records, 3);
  assert.match(p.tsNote ?? '', /2 destination ports not 0\.\.65535 dropped, the records kept \(first at line 1\)/);
  assert.match(p.tsNote ?? '', /1 source ports not 0\.\.65535 dropped, the records kept \(first at line 2\)/);
  assert.deepEqual(p.issues.map((i) => i.line), [4], '2024-02-30 is no date (not March 1)');
  // OpenAI messages: broken arguments are taken raw, and said; junk messages are counted.
  const oa = join(d, 'oa.jsonl');
  writeFileSync(oa, `${JSON.stringify({ episode: 'e1', messages: [
    null,
    { role: 'assistant', created_at: '2024-05-01T12:00:00Z', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'bash', arguments: '{"command": "curl http://203.0.113.9/x' } }, 'junk'] },
    { role: 'tool', tool_call_id: 'c1', created_at: '2024-05-01T12:00:02Z', content: 'ok' },
    { role: 'assistant', created_at: '2024-05-01T12:00:03Z', tool_calls: 'notalist' },
  ] })}\n`);
  const spans: { command?: string }[] = [];
  const o = await traceReader('openai-messages').read(oa, (s) => spans.push(s));
  assert.equal(spans.length, 1);
  assert.equal(spans[0]!.command, '{"command": "curl http://203.0.113.9/x', 'the raw text keeps the destination evidence');
  for (const want of [/1 tool calls whose arguments are not JSON: their raw text is the command/, /1 messages that are not objects skipped/, /1 tool calls that are not objects skipped/, /1 "tool_calls" that are not lists skipped/]) assert.match(o.tsNote ?? '', want);
  const otlp = join(d, 'otlp.json');
  writeFileSync(otlp, '{"resourceSpans":[{"scopeSpans":"x"}, 7]}\n');
  const ot = await traceReader('otlp-json').read(otlp, () => {});
  assert.match(ot.tsNote ?? '', /1 "scopeSpans" that are not lists skipped/);
  assert.match(ot.tsNote ?? '', /1 resourceSpans elements that are not objects skipped/);
});

test('--map: a key given twice is a usage error; a mapped field that no line has is named as such', (t) => {
  const d = tmp(t);
  const lg = join(d, 'lg.jsonl');
  writeFileSync(lg, '{"ts":"2024-05-01T12:00:00Z","src":"10.0.0.1","dst":"10.0.0.2","action":"blocked"}\n');
  const twice = corral(['--traces', TRACES, '--map', 'ts=ts,ts=src', lg]);
  assert.equal(twice.status, 2);
  assert.match(twice.stderr, /--map: field map key "ts" is given twice \(ts=ts and ts=src\)/);
  const missing = corral(['--traces', TRACES, '--map', 'src=nosuch', lg, '--json']);
  const j = JSON.parse(missing.stdout) as Json;
  assert.match(j.inputs.net[0]!.issues[0]!.error, /^--map src=nosuch: no such field \(keys: ts, src, dst, action\)$/);
});

test('the head of a gzip file is read from as little of it as it takes: a 256 MiB first line packed small, random bytes that do not shrink, and a stream cut short', async (t) => {
  const { headBytes } = await import('../src/investigate/inputs/source.js');
  const { randomBytes } = await import('node:crypto');
  const d = tmp(t);
  // (a megabyte-sized gzip whose one line is 256 MiB: its head is its first bytes, and the format is still seen)
  const bomb = join(d, 'bomb.json.gz');
  writeFileSync(bomb, gzipSync(Buffer.concat([Buffer.from('{"ts":"2024-05-01T00:00:00Z","pad":"'), Buffer.alloc(256 << 20, 0x61), Buffer.from('"}\n')]), { level: 9 }));
  const head = headBytes(bomb, 4096);
  assert.equal(head.length, 4096);
  assert.equal(head.subarray(0, 12).toString(), '{"ts":"2024-');
  assert.equal(head.subarray(4000).toString(), 'a'.repeat(96));
  // (content that does not shrink: the prefix is grown until n bytes came out)
  const noise = randomBytes(3 << 20).toString('base64');
  const dense = join(d, 'dense.log.gz');
  writeFileSync(dense, gzipSync(noise));
  assert.equal(headBytes(dense, 1 << 20).toString(), noise.slice(0, 1 << 20));
  assert.equal(headBytes(dense, 4096).toString(), noise.slice(0, 4096));
  // (shorter than asked, and cut mid-stream: what it holds)
  const cut = join(d, 'cut.log.gz');
  const whole = gzipSync('line one\nline two\n'.repeat(1000));
  writeFileSync(cut, whole.subarray(0, whole.length - 20));
  const h = headBytes(cut, 1 << 20).toString();
  assert.ok(h.length > 1000 && 'line one\nline two\n'.repeat(1000).startsWith(h), `${h.length} bytes`);
});
