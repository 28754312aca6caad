// Why: a session can record millions of events (a long build: tens of thousands of processes per
// call), and `corral report` must still report it. It used to load the whole session into memory
// before building the report; it now streams the store's events in time order (SessionReportBuilder,
// EventReader.iterate). This records a 300 000-event session in a real store and reports it, and
// lists it with `corral events --json` and as `corral events`' table, from a 64 MB V8 heap, which holding
// the events alone would overflow. (The table used to load every row, and its width pass spread the
// rows as arguments: past ≈ 150 000 rows it died of a stack overflow.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventStore } from '../src/store/index.js';
import type { SessionReport } from '../src/report/session-report.js';

const MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const T = 1714564800000000000n;
const CALLS = 20, EXECS = 15_000;

test('a 300 000-event session is reported from a 64 MB heap: every call, process count, byte count and alert', (t) => {
  const home = mkdtempSync(join(tmpdir(), 'corral-big-report-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const store = EventStore.open({ home });
  let n = 0;
  const ev = (kind: string, payload: Record<string, unknown>, extra: Record<string, unknown> = {}): void => store.append({ id: `b${(++n).toString(36)}`, ts: String(T + BigInt(n) * 1_000_000n), kind, session: 'big', run: 'r', episode: 'e', payload, ...extra } as never);
  ev('session.start', { policy: 'default' });
  const argv = ['cc', '-O2', '-c', 'src/module_with_a_long_name.c', '-o', 'build/module_with_a_long_name.o', '-Iinclude', '-DNDEBUG', '-Wall', '-Wextra'];
  for (let c = 1; c <= CALLS; c++) {
    const call = { step: c, tool_call: `c${c}` };
    ev('toolcall.start', { command: `make -j2 part${c}` }, call);
    for (let i = 0; i < EXECS; i++) ev('exec', { argv, exe: '/usr/bin/cc', result: 'ok' }, { ...call, pid: 1000 + i, ppid: 999 });
    ev('flow', { flow_id: `f${c}`, bytes_up: 100, bytes_down: 5000 }, call);
    if (c === 7) ev('alert', { rule: 'gateway.ssh_tunnel', category: 'tunnel', severity: 'high', action: 'blocked', message: 'SSH blocked', evidence: [], attack: ['T1572'], reason: 'r' }, call);
    ev('toolcall.end', { exit_code: 0, duration_ms: 1000 }, call);
  }
  ev('session.end', {});
  store.close();
  assert.ok(n > CALLS * EXECS);
  const r = spawnSync(process.execPath, ['--max-old-space-size=64', MAIN, 'report', '--home', home, '--session', 'big', '--json'], { encoding: 'utf8', maxBuffer: 16 << 20, env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.status, 3, `exit ${r.status} (signal ${r.signal}): ${r.stderr.slice(-300)}`);
  const rep = JSON.parse(r.stdout) as SessionReport;
  assert.equal(rep.closed, true);
  assert.equal(rep.verdict, 'blocked');
  assert.deepEqual(rep.calls.map((c) => [c.tool_call, c.processes, c.bytes.down, c.alerts.length]), Array.from({ length: CALLS }, (_, i) => [`c${i + 1}`, EXECS, 5000, i === 6 ? 1 : 0]));
  assert.deepEqual(rep.counts, { calls: CALLS, alerts: 1, by_category: { tunnel: 1 }, by_action: { blocked: 1 } });
  // `corral events --json` streams the same session from the same heap, in the store's order.
  const e = spawnSync(process.execPath, ['--max-old-space-size=64', MAIN, 'events', '--home', home, '--session', 'big', '--json'], { encoding: 'utf8', maxBuffer: 512 << 20, env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(e.status, 0, `exit ${e.status} (signal ${e.signal}): ${e.stderr.slice(-300)}`);
  const lines = e.stdout.trimEnd().split('\n');
  assert.equal(lines.length, n);
  assert.deepEqual([JSON.parse(lines[0]!).kind, JSON.parse(lines.at(-1)!).kind], ['session.start', 'session.end']);
  // The readable table: a header and a row per event, streamed from the same heap, aligned.
  const tb = spawnSync(process.execPath, ['--max-old-space-size=64', MAIN, 'events', '--home', home, '--session', 'big'], { encoding: 'utf8', maxBuffer: 512 << 20, env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(tb.status, 0, `exit ${tb.status} (signal ${tb.signal}): ${tb.stderr.slice(-300)}`);
  const rows = tb.stdout.trimEnd().split('\n');
  assert.equal(rows.length, n + 1);
  assert.match(rows[0]!, /^TIME \(UTC\) +SESSION +EPISODE +STEP +TOOL CALL +KIND +PID +SUMMARY$/);
  const kindAt = rows[0]!.indexOf('KIND');
  assert.deepEqual([rows[1]!.slice(kindAt).split(' ')[0], rows.at(-1)!.slice(kindAt).split(' ')[0], rows[150_000]!.slice(kindAt).split(' ')[0]], ['session.start', 'session.end', 'exec']);
  assert.match(rows[150_000]!, / c10 +exec +\d+ +/);
});
