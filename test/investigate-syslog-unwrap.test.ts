// Why: JSON logs shipped through syslog (Suricata's eve-log with filetype syslog, rsyslog) carry a
// `May  1 12:00:00 host tag[pid]: ` prefix on every line. These tests prove such a file is detected
// as what it carries and reads exactly as the plain file (records, bad lines and their numbers),
// with BSD and RFC 3339 prefixes, gzipped, with prefixes split across chunk edges, and inside a
// parallel investigation; and that a plain CSV or iptables log is not mistaken for one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { detectNetFormat } from '../src/investigate/inputs/index.js';
import { contentWrapper } from '../src/investigate/inputs/source.js';
import { SyslogUnwrap } from '../src/investigate/inputs/syslog-unwrap.js';
import { investigate } from '../src/investigate/investigate.js';
import { FIX, readNetView, tmpDir } from './support/investigate-files.js';

function tmp(t: { after(fn: () => void): void }): string { return tmpDir(t, 'corral-syslog-'); }

const read = readNetView;

test('syslog-wrapped JSON lines read exactly as the plain file: BSD and RFC 3339 prefixes, gzipped, bad lines at their numbers', async (t) => {
  const d = tmp(t);
  const plainText = readFileSync(join(FIX, 'eve.json'), 'utf8');
  const lines = plainText.split('\n');
  const bsd = lines.map((l, i) => (l === '' ? l : `May  ${1 + (i % 9)} 12:00:0${i % 10} sensor-${i % 3} suricata[812]: ${l}`)).join('\n');
  const rfc = lines.map((l) => (l === '' ? l : `<134>2024-05-01T12:00:00.123456+02:00 sensor-1 suricata: ${l}`)).join('\n');
  const plain = join(d, 'eve.json');
  writeFileSync(plain, plainText);
  const want = await read(plain);
  for (const [name, text] of [['bsd.log', bsd], ['rfc.log', rfc]] as const) {
    const p = join(d, name), gz = join(d, `${name}.gz`);
    writeFileSync(p, text);
    writeFileSync(gz, gzipSync(text));
    for (const f of [p, gz]) {
      assert.equal(contentWrapper(f), 'syslog', f);
      assert.equal(await detectNetFormat(f), 'suricata-eve', f);
      assert.equal(await read(f), want, `${f} reads as the plain file`);
    }
  }
  // Plain logs whose lines start with a syslog time are not unwrapped.
  for (const f of ['iptables.log', 'firewall.csv', 'conn.log', 'eve.json']) assert.equal(contentWrapper(join(FIX, f)), undefined, f);
});

test('the unwrapper drops each prefix across any chunk edges and keeps lines without a brace whole', () => {
  const text = 'May  1 12:00:00 h app[1]: {"a":1}\nno json here\n{"b":2}\nMay  1 12:00:01 h app: {"c":{"d":3}}\nlast line no newline';
  const want = '{"a":1}\nno json here\n{"b":2}\n{"c":{"d":3}}\nlast line no newline';
  const buf = Buffer.from(text);
  for (let size = 1; size <= buf.length; size++) {
    const u = new SyslogUnwrap();
    const out: Buffer[] = [];
    for (let i = 0; i < buf.length; i += size) out.push(u.push(buf.subarray(i, i + size)));
    out.push(u.end());
    assert.equal(Buffer.concat(out).toString(), want, `chunks of ${size}`);
  }
});

test('a syslog-wrapped eve.json in a parallel investigation is read whole and gives the plain file\'s result', async (t) => {
  const d = tmp(t);
  const plainText = readFileSync(join(FIX, 'eve.json'), 'utf8');
  writeFileSync(join(d, 'eve.json'), plainText);
  writeFileSync(join(d, 'eve-syslog.log'), plainText.split('\n').map((l) => (l === '' ? l : `May  1 12:00:00 sensor suricata[9]: ${l}`)).join('\n'));
  const traces = [{ path: join(FIX, 'traces.jsonl') }];
  const plain = await investigate({ logs: [{ path: join(d, 'eve.json') }], traces, rules: 'off', jobs: 3, parallelMinBytes: 1 });
  const wrapped = await investigate({ logs: [{ path: join(d, 'eve-syslog.log') }], traces, rules: 'off', jobs: 3, parallelMinBytes: 1 });
  const view = (r: typeof plain, file: string): string => JSON.stringify({ ...r, timings: undefined, notes: undefined, inputs: undefined }).split(file).join('FILE');
  assert.equal(view(wrapped, join(d, 'eve-syslog.log')), view(plain, join(d, 'eve.json')));
  assert.ok(plain.counts.alerts > 0);
});
