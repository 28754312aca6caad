// Why: a review (session 25) listed ways bad records could slip into `corral investigate` as
// wrong data instead of being counted and reported with file and line: CSV rows of another width
// than the header, impossible syslog times, escaped eve event types, odd Zeek separators and
// line ends, placements of the wrong type, unbounded OTLP documents and alerts with thousands of
// candidate calls. Each test here runs the real CLI or reader on such input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpDir } from './support/investigate-files.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

function tmp(t: { after(fn: () => void): void }): string { return tmpDir(t, 'corral-robust-'); }

function corral(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'investigate', '--quiet', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Issue = { file: string; line: number; error: string };
type Json = { counts: { records: number; alerts: number; toolCalls: number }; inputs: { net: { records: number; bad: number; issues: Issue[]; tsNote?: string }[]; traces: { records: number; bad: number; issues: Issue[] }[] } };

/** One tool call at 2024-05-01T12:00:00Z from 10.0.0.5 that reaches 203.0.113.9. */
function oneCall(d: string): string {
  const tr = join(d, 'tr.jsonl');
  writeFileSync(tr, '{"episode":"ep1","step":1,"command":"curl http://203.0.113.9/","ts":"2024-05-01T12:00:00Z","duration_ms":2000,"ip":"10.0.0.5"}\n');
  return tr;
}

function investigateJson(args: string[]): Json {
  const r = corral([...args, '--json']);
  assert.ok(r.status === 0 || r.status === 3 || r.status === 1, `exit ${r.status}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at .*\(/, 'no stack trace');
  return JSON.parse(r.stdout) as Json;
}

test('CSV rows with fewer or more cells than the header are bad records with their line, not read with shifted fields', (t) => {
  const d = tmp(t);
  const csv = join(d, 'fw.csv');
  writeFileSync(csv, [
    'ts,src,dst,dport,proto,action,rule',
    '2024-05-01T12:00:01Z,10.0.0.5,203.0.113.9,443,tcp,deny,r1',
    '2024-05-01T12:00:02Z,10.0.0.5,203.0.113.9,443,tcp',
    '2024-05-01T12:00:03Z,10.0.0.5,203.0.113.9,443,tcp,deny,r1,extra',
    '2024-05-01T12:00:04Z,10.0.0.5',
    '2024-05-01T12:00:05Z,10.0.0.5,203.0.113.9,443,tcp,deny,"r2, quoted"',
  ].join('\n') + '\n');
  const j = investigateJson(['--traces', oneCall(d), csv]);
  const net = j.inputs.net[0]!;
  assert.equal(net.records, 2);
  assert.deepEqual(net.issues.map((i) => [i.file, i.line]), [[csv, 3], [csv, 4], [csv, 5]]);
  assert.match(net.issues[0]!.error, /expected 7 columns \(as the header\), found 5/);
  assert.match(net.issues[1]!.error, /expected 7 columns \(as the header\), found 8/);
  assert.equal(j.counts.alerts, 2);
});
