// Why: `-` lets `corral investigate` read a log or a trace from a pipe (`aws s3 cp … - |`, `zcat … |`).
// These tests run the real CLI: a gzipped eve.json piped in gives exactly the result of the same file named
// on the command line (but for its name, "-"), traces piped in likewise, the spooled copy is removed, `-`
// twice and a terminal as stdin are refused with a usage error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

test('named pipes (a shell\'s <(zcat …)) are read once each, like "-", as the same files named; the spools are removed', async (t) => {
  const eve = `${FIX}eve.json`, traces = `${FIX}traces.jsonl`;
  const d = mkdtempSync(join(tmpdir(), 'corral-fifo-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const before = spools();
  const named = corral([eve, '--traces', traces, '--json', '--quiet']);
  const logPipe = join(d, 'eve.pipe'), tracePipe = join(d, 'traces.pipe');
  for (const p of [logPipe, tracePipe]) assert.equal(spawnSync('mkfifo', [p]).status, 0);
  // Writers: separate processes, as a shell's substitutions are (a gzip stream into one of them).
  const feed = (from: Buffer, to: string): Promise<number | null> => new Promise((resolve) => {
    const w = spawn(process.execPath, ['-e', 'require("fs").writeFileSync(process.argv[1], Buffer.from(process.argv[2], "base64"))', to, from.toString('base64')], { stdio: 'ignore' });
    w.on('exit', resolve);
  });
  const writers = [feed(gzipSync(readFileSync(eve)), logPipe), feed(readFileSync(traces), tracePipe)];
  const r = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
    const c = spawn(process.execPath, [MAIN, 'investigate', logPipe, '--traces', tracePipe, '--json', '--quiet'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    c.on('close', (status) => resolve({ status, stdout: out }));
  });
  assert.deepEqual(await Promise.all(writers), [0, 0]);
  assert.equal(r.status, named.status);
  const rename = (s: string, from: string, to: string): string => s.split(JSON.stringify(from).slice(1, -1)).join(JSON.stringify(to).slice(1, -1));
  assert.deepEqual(result(r.stdout), JSON.parse(rename(rename(JSON.stringify(result(named.stdout)), eve, logPipe), traces, tracePipe)));
  assert.deepEqual(spools(), before, 'no spooled copy is left behind');
});
