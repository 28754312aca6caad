// Why: `-` lets `corral investigate` read a log or a trace from a pipe (`aws s3 cp … - |`, `zcat … |`).
// These tests run the real CLI: a gzipped eve.json piped in gives exactly the result of the same file named
// on the command line (but for its name, "-"), traces piped in likewise, the spooled copy is removed, `-`
// twice and a terminal as stdin are refused with a usage error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { stdinWanted } from '../src/cli/stdin-input.js';
import { UsageError } from '../src/cli/io.js';

const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const FIX = fileURLToPath(new URL('../../test/fixtures/investigate/', import.meta.url));

function corral(args: string[], input?: Buffer): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'investigate', ...args], { input, encoding: 'utf8', maxBuffer: 1 << 26 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const spools = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('corral-stdin-'));

/** --json without what differs by design between runs. */
function result(stdout: string): Record<string, unknown> {
  const r = JSON.parse(stdout) as Record<string, unknown>;
  delete r.timings;
  return r;
}

test('a log or a trace piped in as "-" reads exactly as the same file named, reported as "-"; the spooled copy is removed', () => {
  const eve = `${FIX}eve.json`, traces = `${FIX}traces.jsonl`;
  const before = spools();
  const named = corral([eve, '--traces', traces, '--json', '--quiet']);
  assert.ok(named.status === 0 || named.status === 3, named.stderr);
  const piped = corral(['-', '--traces', traces, '--json', '--quiet'], gzipSync(readFileSync(eve)));
  assert.equal(piped.status, named.status, piped.stderr);
  const want = JSON.parse(JSON.stringify(result(named.stdout)).split(JSON.stringify(eve).slice(1, -1)).join('-')) as Record<string, unknown>;
  assert.deepEqual(result(piped.stdout), want);
  assert.ok(JSON.stringify(result(piped.stdout)).includes('"file":"-"'), 'records name standard input "-"');
  // Traces from the pipe too (the log named).
  const tracesPiped = corral([eve, '--traces', '-', '--json', '--quiet'], readFileSync(traces));
  assert.equal(tracesPiped.status, named.status, tracesPiped.stderr);
  assert.deepEqual(result(tracesPiped.stdout), JSON.parse(JSON.stringify(result(named.stdout)).split(JSON.stringify(traces).slice(1, -1)).join('-')));
  assert.deepEqual(spools(), before, 'no spooled copy is left behind');
});

test('"-" twice, or a terminal as standard input, is a usage error', () => {
  const twice = corral(['-', '--traces', '-'], Buffer.alloc(0));
  assert.equal(twice.status, 2);
  assert.match(twice.stderr, /"-" \(standard input\) may be given only once/);
  assert.throws(() => stdinWanted(['-'], { isTTY: true }), (e: unknown) => e instanceof UsageError && /terminal/.test(e.message));
  assert.equal(stdinWanted(['a.log'], { isTTY: true }), false);
  assert.equal(stdinWanted(['a.log', '-'], { isTTY: false }), true);
});
