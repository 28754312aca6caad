// Why: trace workers boot ahead, while the log pass's last work and the alert table run
// (analysis/trace-worker-pool.ts), and wait for their input. A booted worker keeps its process
// alive, so every way out of an investigation must end the ones nobody took: this runs real
// investigations in child processes (nothing else in them) and requires each to exit on its own —
// after a parallel read, after a read the trace pass did on one thread, and after a failure past
// the log pass — with the same answer as a run without the early workers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LIB = join(process.cwd(), 'dist', 'src', 'investigate', 'investigate.js');
const T0 = Date.parse('2024-05-01T00:00:00Z');

/** Runs investigate(opts) in a fresh Node process; its stdout is the result's counts, or "rejected: …". */
function inChild(dir: string, opts: Record<string, unknown>): { status: number | null; stdout: string; stderr: string; ms: number } {
  const script = join(dir, 'run.mjs'); // (a file, not --eval: workers inherit the process's flags)
  writeFileSync(script, `import(${JSON.stringify(LIB)}).then((m) => m.investigate(${JSON.stringify(opts)}))
    .then((r) => console.log(JSON.stringify({ counts: r.counts, notes: r.notes.filter((n) => /worker threads/.test(n)) })), (e) => console.log('rejected: ' + e.message));\n`);
  const t = Date.now();
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout.trim(), stderr: r.stderr, ms: Date.now() - t };
}

test('early trace workers: the process ends on its own after a parallel read, a one-thread read and a failure, with the same answer', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pool-'));
  try {
    const iso = (ms: number): string => new Date(ms).toISOString();
    const eve = Array.from({ length: 400 }, (_, i) => JSON.stringify({ timestamp: iso(T0 + i * 1000 + 500), event_type: 'alert', src_ip: `10.9.0.${1 + (i % 20)}`, src_port: 40000 + i, dest_ip: '203.0.113.7', dest_port: 3333, proto: 'TCP', alert: { signature: 'ET POLICY Stratum', category: 'Crypto Currency Mining Activity', severity: 1 } }));
    const calls = Array.from({ length: 4000 }, (_, i) => JSON.stringify({ episode: `ep-${i % 20}`, step: i, command: i % 97 ? 'ls -la' : 'nohup ./miner &', ts: iso(T0 + i * 100), end_ts: iso(T0 + i * 100 + 80), ip: `10.9.0.${1 + (i % 20)}` }));
    const log = join(dir, 'eve.json'), traces = join(dir, 'traces.jsonl'), junk = join(dir, 'junk.jsonl');
    writeFileSync(log, eve.join('\n') + '\n');
    writeFileSync(traces, calls.join('\n') + '\n');
    writeFileSync(junk, Array.from({ length: 2000 }, (_, i) => JSON.stringify({ unrelated: i })).join('\n') + '\n');
    const base = { logs: [{ path: log }], traces: [{ path: traces }], rules: 'off' };

    const parallel = inChild(dir, { ...base, jobs: 2, parallelMinBytes: 1 });
    assert.equal(parallel.status, 0, parallel.stderr);
    assert.match(parallel.stdout, /traces read by 2 worker threads/, 'the trace pass took the early workers');
    const serial = inChild(dir, { ...base, jobs: 1 });
    assert.equal(serial.status, 0, serial.stderr);
    assert.deepEqual(JSON.parse(parallel.stdout).counts, JSON.parse(serial.stdout).counts);
    assert.ok(JSON.parse(serial.stdout).counts.linkedAlerts > 0, 'alerts were linked: the answer is about something');

    // Workers booted, then the trace pass reads on one thread (a format it cannot split, reported as unknown): they are ended.
    const unused = inChild(dir, { ...base, traces: [{ path: junk }], jobs: 2, parallelMinBytes: 1 });
    assert.equal(unused.status, 0, unused.stderr);
    assert.match(unused.stdout, /"toolCalls":0/);
    // Workers booted, then the trace pass fails (a file gone): the promise rejects and the process still ends.
    const failed = inChild(dir, { ...base, traces: [{ path: traces }, { path: join(dir, 'gone.jsonl'), format: 'canonical-jsonl' }], jobs: 2, parallelMinBytes: 1 });
    assert.equal(failed.status, 0, failed.stderr);
    assert.match(failed.stdout, /^rejected: .*ENOENT/, failed.stdout);
    for (const r of [parallel, serial, unused, failed]) assert.ok(r.ms < 30_000, `ended on its own (${r.ms} ms)`);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
