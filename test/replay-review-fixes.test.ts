// Why: a review of `corral replay` reproduced six defects, each proven fixed here. A `run` of the
// wrong type (a list, an object, a number) was dropped and its call joined another episode's
// sandbox; a line that was not UTF-8 was replayed with U+FFFD in place of its bytes; a policy the
// host cannot apply failed every episode (N failed episodes, exit 1) instead of one setup error,
// exit 2; --parallel took '', '0x10' and '1e2'; --json on an empty input ended without its
// {"error":…} line; an episode with no tool call to replay still got a sandbox. Parser and CLI cases
// that start no sandbox run anywhere (a stand-in runtime counts sessions); real replays run in the lab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeLines, parseReplayInput, type Episode } from '../src/trace/replay-input.js';
import { replayCommand, replayEpisodes } from '../src/cli/replay-command.js';
import { UsageError } from '../src/cli/io.js';
import { SessionSetupError } from '../src/session/session.js';
import type { Runtime } from '../src/session/runtime.js';
import type { Policy } from '../src/policy/index.js';
import { assertInLab } from '../src/lab/lab-guard.js';
import { Collect } from './helpers/collect.js';

const MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const jsonl = (rows: unknown[]): string => rows.map((o) => JSON.stringify(o)).join('\n') + '\n';
const io = () => ({ stdout: new Collect(), stderr: new Collect(), env: { NO_COLOR: '1' } });

/** A runtime that counts the sessions asked for and refuses each with `refusal` (no sandbox is ever made). */
function countingRuntime(refusal: () => Error): { rt: Runtime; asked: () => number } {
  let n = 0;
  const rt = { createSession: async () => { n++; throw refusal(); } } as unknown as Runtime;
  return { rt, asked: () => n };
}

const oneCall = (episode: string): Episode => ({ episode, calls: [{ episode, step: 1, tool: 'bash', command: 'true' }] });

async function withDir(fn: (dir: string) => unknown): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-replay-review-'));
  try { await fn(dir); } finally { rmSync(dir, { recursive: true, force: true }); }
}

test('(a) a `run` that is not a string or a whole number is a bad line with file:line and the field, never a call of another episode; a whole number is its text (session 40)', () => {
  const r = parseReplayInput(jsonl([
    { episode: 'e', step: 1, command: 'echo none' },
    { run: ['r'], episode: 'e', step: 2, command: 'echo list' },
    { run: { r: 1 }, episode: 'e', step: 3, command: 'echo object' },
    { run: 7, episode: 'e', step: 4, command: 'echo number' },
    { run: 7, episode: 'c', messages: [{ role: 'assistant', tool_calls: [{ id: 'k', type: 'function', function: { name: 'bash', arguments: '{"command":"id"}' } }] }] },
    { run: null, episode: 'e', step: 5, command: 'echo null-is-absent' },
  ]), 'runs.jsonl');
  assert.deepEqual(r.problems.map((p) => [p.file, p.line, p.error, p.call ?? false]), [
    ['runs.jsonl', 2, 'field "run" must be a string or a whole number, got a list', false],
    ['runs.jsonl', 3, 'field "run" must be a string or a whole number, got a JSON object', false],
  ]);
  assert.deepEqual(r.episodes.map((e) => [e.run ?? null, e.episode, e.calls.map((c) => c.command)]), [[null, 'e', ['echo none', 'echo null-is-absent']], ['7', 'e', ['echo number']], ['7', 'c', ['id']]]);
});

test('(b) a line that is not UTF-8 is a bad line (file:line, "invalid UTF-8"); the lines around it are read with their numbers', () => {
  const bytes = Buffer.concat([
    Buffer.from('{"episode":"u","step":1,"command":"echo ok"}\n'),
    Buffer.from('{"episode":"u","step":2,"command":"echo '), Buffer.from([0xff, 0xfe]), Buffer.from('"}\n'),
    Buffer.from('{"episode":"u","step":3,"command":"echo caf\u00e9"}\r\n'),
  ]);
  const d = decodeLines(bytes, 'u.jsonl');
  assert.deepEqual(d.problems, [{ file: 'u.jsonl', line: 2, error: 'invalid UTF-8' }]);
  const r = parseReplayInput(d.text, 'u.jsonl');
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.episodes[0]!.calls.map((c) => [c.step, c.command]), [[1, 'echo ok'], [3, 'echo caf\u00e9']]);
  assert.ok(!d.text.includes('\ufffd'), 'no byte is replaced by U+FFFD');
  assert.equal(decodeLines(Buffer.from('a\nb\n'), 'f').text, 'a\nb\n', 'valid input is its text, unchanged');
});

test('(b) corral replay names the line that is not UTF-8 on stderr', async () => {
  await withDir(async (dir) => {
    const f = join(dir, 'bad.jsonl');
    // (read leniently this line was U+FFFD text missing its "command": a bad line, but for the wrong reason)
    writeFileSync(f, Buffer.concat([Buffer.from('{"episode":"'), Buffer.from([0xc3, 0x28]), Buffer.from('","step":1}\n')]));
    const c = io();
    await assert.rejects(replayCommand([f], c), (e: Error) => e instanceof UsageError && /no tool call could be read .*\(1 bad lines\)/.test(e.message));
    assert.match(c.stderr.text, /bad\.jsonl:1: invalid UTF-8 \(line skipped\)/);
  });
});

test('(c) a policy the first session cannot apply is one setup error before any other episode starts', async () => {
  const { rt, asked } = countingRuntime(() => new SessionSetupError('filesystem.mounts /nope: no such file or directory on this host'));
  await assert.rejects(replayEpisodes(rt, [oneCall('a'), oneCall('b'), oneCall('c')], {} as Policy, { parallel: 3 }), { name: 'SessionSetupError' });
  assert.equal(asked(), 1, 'one session tried, not one per episode');
});

test('(c) any other session failure is still that episode\'s (the others run)', async () => {
  const { rt, asked } = countingRuntime(() => new Error('no slot'));
  const r = await replayEpisodes(rt, [oneCall('a'), oneCall('b')], {} as Policy, { parallel: 2 });
  assert.equal(asked(), 2);
  assert.deepEqual(r.failedEpisodes.map((f) => f.episode), ['a', 'b']);
});

test('(d) --parallel takes only plain decimal digits 1..256; anything else is a usage error naming the flag', async () => {
  for (const v of ['', '0x10', '1e2', ' 4', '4.0', '+4', '0', '257']) {
    await assert.rejects(replayCommand(['--parallel', v, '/nonexistent/x.jsonl'], io()), (e: Error) => e instanceof UsageError && /^--parallel must be an integer 1\.\.256/.test(e.message), `--parallel "${v}"`);
  }
});

test('(e) --json with an empty input ends stderr with a JSON error line, exit 2', async () => {
  await withDir((dir) => {
    for (const [name, text] of [['empty.jsonl', ''], ['junk.jsonl', 'junk\n']] as const) {
      const f = join(dir, name);
      writeFileSync(f, text);
      const r = spawnSync(process.execPath, [MAIN, 'replay', '--json', '--home', join(dir, 'home'), f], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stdout, '');
      const last = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { error: { kind: string; message: string } };
      assert.equal(last.error.kind, 'usage');
      assert.match(last.error.message, /^no tool call could be read from .*\.jsonl/);
    }
  });
});

test('(f) an episode with no tool call to replay gets no sandbox, and is counted', async () => {
  const { rt, asked } = countingRuntime(() => new Error('no session was to be asked for'));
  const r = await replayEpisodes(rt, [{ episode: 'submit-only', calls: [] }], {} as Policy);
  assert.equal(asked(), 0);
  assert.equal(r.emptyEpisodes, 1);
  assert.deepEqual(r.failedEpisodes, []);
});

test('corral replay end to end: a policy whose mount does not exist is exit 2 with one setup error; an empty episode is counted, not run', async () => {
  assertInLab();
  await withDir((dir) => {
    const run = (args: string[]) => spawnSync(process.execPath, [MAIN, 'replay', '--home', join(dir, 'home'), '--json', '--linger', '0', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 180_000 });
    const input = join(dir, 'ep.jsonl');
    writeFileSync(input, jsonl([
      { episode: 'a', step: 1, command: 'echo a' },
      { episode: 'b', step: 1, command: 'echo b' },
      { episode: 'sub', messages: [{ role: 'assistant', tool_calls: [{ id: 's', type: 'function', function: { name: 'submit', arguments: '{"answer":"42"}' } }] }] },
    ]));
    const policy = join(dir, 'mount.yaml');
    writeFileSync(policy, `name: bad-mount\nextends: default\nfilesystem:\n  mounts: [{host: ${join(dir, 'no-such-dir')}, path: /data}]\n`);
    const bad = run(['--policy', policy, '--parallel', '2', input]);
    assert.equal(bad.status, 2, bad.stderr);
    assert.equal(bad.stdout, '', 'no episode reported');
    assert.equal((bad.stderr.match(/no such file or directory on this host/g) ?? []).length, 2, `one message and its JSON line: ${bad.stderr}`);
    assert.equal((JSON.parse(bad.stderr.trim().split('\n').at(-1)!) as { error: { kind: string } }).error.kind, 'setup');
    const ok = run([input]);
    assert.equal(ok.status, 0, ok.stderr);
    const summary = (JSON.parse(ok.stdout.trim().split('\n').at(-1)!) as { summary: { episodes: number; episodes_without_calls: number; tool_calls: number; failed_episodes: unknown[] } }).summary;
    assert.deepEqual([summary.episodes, summary.episodes_without_calls, summary.tool_calls, summary.failed_episodes], [3, 1, 2, []]);
  });
});
