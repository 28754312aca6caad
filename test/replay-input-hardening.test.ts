// Why: `corral replay`'s verdict is only as good as its reading of the input. Each defect proven
// here let a trajectory pass as clean without being replayed as it happened: a tool call id the
// session refuses (empty, an object, too long) made its call silently never run; one episode name
// in two runs shared a sandbox; an editor's `view` on a canonical line ran as bash (vim, until the
// timeout); a payload delayed past the last step was killed unobserved; an episode name reached the
// terminal unescaped; --no-sensor still said the capture was complete; a truncated gzip aborted the
// whole replay. Parser cases run here; replays run in real sandboxes inside the lab.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseReplayInput } from '../src/trace/replay-input.js';
import { assertInLab } from '../src/lab/lab-guard.js';

const MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
const jsonl = (rows: unknown[]): string => rows.map((o) => JSON.stringify(o)).join('\n') + '\n';
const chat = (episode: string, calls: { id: unknown; name: string; args: unknown }[]) => ({
  episode, messages: [{ role: 'assistant', tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.args) } })) }],
});

test('tool call ids and steps the session would refuse are bad lines (or calls) with file:line; whole-number ids are their text', () => {
  const r = parseReplayInput(jsonl([
    { episode: 'hid', step: 1, tool_call_id: '', command: 'cat /etc/shadow' },
    { episode: 'hid', step: 2, tool_call_id: 'x'.repeat(257), command: 'cat /etc/shadow' },
    { episode: 'hid', step: 3, tool_call_id: { a: 1 }, command: 'cat /etc/shadow' },
    { episode: 'hid', step: -1, command: 'cat /etc/shadow' },
    { episode: 'hid', step: 2 ** 60, command: 'cat /etc/shadow' },
    { episode: 'num', step: 1, tool_call_id: 5, command: 'echo five' },
    chat('c', [{ id: 5, name: 'bash', args: { command: 'echo int' } }, { id: {}, name: 'bash', args: { command: 'cat /etc/shadow' } }, { id: '', name: 'bash', args: { command: 'id' } }]),
  ]), 'ids.jsonl');
  assert.deepEqual(r.problems.map((p) => [p.line, p.call ?? false]), [[1, false], [2, false], [3, false], [4, false], [5, false], [7, true], [7, true]]);
  assert.match(r.problems[0]!.error, /tool_call_id.*empty/);
  assert.match(r.problems[1]!.error, /257 characters/);
  assert.match(r.problems[3]!.error, /step.*got -1/);
  assert.match(r.problems[5]!.error, /^tool call 2: tool call id must be a string or a whole number, got an object/);
  assert.deepEqual(r.episodes.map((e) => [e.episode, e.calls.map((c) => c.tool_call_id)]), [['num', ['5']], ['c', ['5']]]);
});

test('run and episode names: a non-empty string or a whole number as its text, for both alike; a number out of range is named so (a review, session 40)', () => {
  const r = parseReplayInput(['{"episode":"","step":1,"command":"id"}', '{"episode":7,"run":5,"step":1,"command":"echo ok"}', '{"episode":"e","run":"","step":1,"command":"id"}',
    '{"episode":"e","step":1e400,"command":"id"}', '{"episode":[1],"step":1,"command":"id"}', '{"episode":"s","step":"3","command":"echo three"}',
    JSON.stringify({ ...chat('', [{ id: 'a', name: 'bash', args: { command: 'id' } }]) })].join('\n') + '\n', 'names.jsonl');
  assert.deepEqual(r.problems.map((p) => [p.line, p.error]), [
    [1, 'field "episode" is empty'], [3, 'field "run" is empty'], [4, 'missing or bad field "step" (a whole number ≥ 0, or its decimal text), got a number out of range'],
    [5, 'field "episode" must be a string or a whole number, got a list'], [7, 'field "episode" is empty'],
  ]);
  assert.deepEqual(r.episodes.map((e) => [e.run, e.episode, e.calls.map((c) => c.step)]), [['5', '7', [1]], [undefined, 's', [3]]]);
});

test('one episode name in two runs is two episodes; the canonical text editor, browsers, submit and JavaScript code never run as bash or python', () => {
  const r = parseReplayInput(jsonl([
    { run: 'rA', episode: '0', step: 1, command: 'echo A' },
    { run: 'rB', episode: '0', step: 1, command: 'echo B' },
    { episode: 'ed', step: 1, tool: 'str_replace_based_edit_tool', command: 'view', path: '/workspace/x.py' },
    { episode: 'ed', step: 2, tool: 'str_replace_based_edit_tool', command: 'create', path: '/workspace/y.py', file_text: 'print(1)\n' },
    { episode: 'ed', step: 3, command: 'view', path: '/workspace/x.py' },
    { episode: 'ed', step: 4, tool: 'browser', command: 'goto http://x.test' },
    { episode: 'ed', step: 5, tool: 'submit', input: { answer: '42' } },
    { episode: 'ed', step: 6, tool: 'python', command: 'print(1)' },
    chat('js', [{ id: 'j', name: 'execute_javascript', args: { code: 'require("child_process")' } }, { id: 's', name: 'submit', args: { answer: 'x' } }, { id: 'p', name: 'run_python', args: { code: 'print(2)' } }, { id: 'sh', name: 'shell', args: {} }]),
    // a language other than the shell's or Python's, also as a text `command`: not run as bash
    { episode: 'ed', step: 7, tool: 'execute_javascript', command: 'console.log(1)' },
    chat('js2', [{ id: 'n', name: 'run_node', args: { command: 'console.log(2)' } }, { id: 'b', name: 'bash_exec', args: { command: 'echo ok' } }]),
  ]), 'forms.jsonl');
  assert.deepEqual(r.episodes.map((e) => [e.run ?? null, e.episode, e.calls.length]), [['rA', '0', 1], ['rB', '0', 1], [null, 'ed', 4], [null, 'js', 1], [null, 'js2', 1]]);
  assert.deepEqual(r.episodes[4]!.calls.map((c) => [c.tool_call_id, c.tool, c.command]), [['b', 'bash', 'echo ok']]);
  const ed = r.episodes[2]!.calls;
  assert.deepEqual(ed.map((c) => [c.step, c.file?.op ?? null, c.tool, c.command]), [
    [1, 'read', 'bash', 'read /workspace/x.py'], [2, 'write', 'bash', 'write /workspace/y.py'], [3, 'read', 'bash', 'read /workspace/x.py'], [6, null, 'python', 'print(1)'],
  ]);
  assert.deepEqual(r.episodes[3]!.calls.map((c) => [c.tool_call_id, c.tool]), [['p', 'python']]);
  assert.deepEqual(r.skippedTools, { browser: 1, submit: 2, execute_javascript: 2, run_node: 1 });
  assert.deepEqual(r.problems.map((p) => [p.line, p.error, p.call]), [[9, 'tool call sh: no command, cmd or code argument', true]], 'a shell tool without a command is still a bad call');
});

/** Runs corral replay (inside the lab) with its own store. */
function replay(args: string[], home: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, 'replay', '--home', home, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 180_000, maxBuffer: 1 << 24 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('corral replay end to end: runs apart, ids, the canonical editor, a payload after the last step, a truncated gzip', () => {
  assertInLab();
  const dir = mkdtempSync(join(tmpdir(), 'corral-replay-hard-'));
  try {
    const input = join(dir, 'ep.jsonl');
    writeFileSync(input, jsonl([
      { episode: 'hid', step: 1, tool_call_id: '', command: 'cat /etc/shadow' },
      { run: 'rA', episode: '0', step: 1, command: 'echo A > /workspace/f' },
      { run: 'rB', episode: '0', step: 1, command: 'test -e /workspace/f && exit 9; echo B' },
      { episode: 'ed', step: 1, command: 'echo "print(1)" > /workspace/x.py' },
      { episode: 'ed', step: 2, tool: 'str_replace_based_edit_tool', command: 'view', path: '/workspace/x.py' },
      { episode: 'late', step: 1, command: 'echo setup' },
      { episode: 'late', step: 2, tool_call_id: 'later', command: 'nohup sh -c \'sleep 1; python3 -c "import socket; socket.create_connection((\\"10.0.0.1\\",22),2)"\' >/dev/null 2>&1 &' },
      { episode: 'left', step: 1, tool_call_id: 'sleeper', command: 'nohup sleep 60 >/dev/null 2>&1 & echo started' },
      chat('c', [{ id: 5, name: 'bash', args: { command: 'echo int-id' } }, { id: 'js', name: 'execute_javascript', args: { code: 'process.exit(3)' } }]),
    ]));
    // a stored gzip (level 0) cut in the middle of its third line: lines 1 and 2 are replayed
    const gzText = jsonl([{ episode: 'gz', step: 1, command: 'echo g1' }, { episode: 'gz', step: 2, command: 'echo g2' }, { episode: 'gz', step: 3, command: 'echo g3-never-complete-xxxxxxxxxxxxxxxx' }]);
    const gz = gzipSync(gzText, { level: 0 });
    const cut = gzText.indexOf('g3-never') + 18 + 5; // (the stored block starts after a small header)
    writeFileSync(join(dir, 'cut.jsonl.gz'), gz.subarray(0, cut));
    const r = replay(['--json', input, join(dir, 'cut.jsonl.gz')], join(dir, 'home'));
    assert.equal(r.status, 3, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const summary = lines.pop().summary;
    const by = (ep: string, run?: string) => lines.filter((l) => l.episode === ep && l.run === run);
    // 1. the empty id is a bad line with file:line; nothing ran under it
    assert.match(r.stderr, /ep\.jsonl:1: field "tool_call_id": tool call id is empty \(line skipped\)/);
    assert.deepEqual(by('hid'), []);
    // 2. two runs, two sandboxes, and each line says its run
    assert.deepEqual(by('0', 'rA').map((l) => l.exit_code), [0]);
    assert.deepEqual(by('0', 'rB').map((l) => l.exit_code), [0], 'rB does not see rA\'s file');
    assert.equal(Object.keys(by('0', 'rB')[0])[0], 'run');
    // 3. the editor's view is a file read: it ends at once, with no timeout alert
    const view = by('ed')[1];
    assert.equal(view.exit_code, 0, JSON.stringify(view));
    assert.ok(view.duration_ms < 10_000, JSON.stringify(view));
    assert.deepEqual(by('ed').flatMap((l) => l.alerts), []);
    // 4. the payload timed after the last step is observed during the linger and attributed to its call
    const later = by('late').find((l) => l.tool_call_id === 'later');
    assert.ok(later.alerts.some((a: { category: string }) => a.category === 'internal_probe'), JSON.stringify(later));
    const sleeper = by('left').find((l) => l.tool_call_id === 'sleeper');
    assert.equal(sleeper.left_running, 1, JSON.stringify(sleeper));
    assert.deepEqual(summary.left_running, { episodes: 1, processes: 1 });
    // chat: an integer id is its text; JavaScript code is not replayed (counted, not run as python)
    assert.deepEqual(by('c').map((l) => [l.tool_call_id, l.exit_code]), [['5', 0]]);
    assert.match(r.stderr, /tool call\(s\) not replayed: execute_javascript ×1/);
    // 7. the truncated gzip: its whole lines replayed, the break a bad line naming the file, the other file replayed
    assert.deepEqual(by('gz').map((l) => [l.step, l.exit_code]), [[1, 0], [2, 0]]);
    assert.match(r.stderr, /cut\.jsonl\.gz:3: .*truncated or corrupt gzip.*\(line skipped\)/);
    // 8. counts: whole lines and calls apart
    assert.equal(summary.bad_lines, 2, JSON.stringify(summary));
    assert.equal(summary.bad_calls, 0);
    assert.equal(summary.not_replayed, 1);
    assert.equal(summary.capture.complete, summary.capture.incomplete_episodes.length === 0, 'with the sensor on, complete unless a loss was named');
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('corral replay readable output: episode names and ids are escaped, a numeric id does not crash it; --no-sensor says the capture is incomplete', () => {
  assertInLab();
  const dir = mkdtempSync(join(tmpdir(), 'corral-replay-esc-'));
  try {
    const input = join(dir, 'ep.jsonl');
    writeFileSync(input, jsonl([
      { episode: 'esc\u001b[1mB', step: 1, tool_call_id: 7, command: 'curl -s -m 2 http://169.254.169.254/latest/ || true' },
      chat('c\u001b]0;t\u0007', [{ id: 9, name: 'bash', args: { command: 'echo hi' } }, { id: [], name: 'bash', args: { command: 'id' } }]),
    ]));
    const r = replay(['--no-sensor', input], join(dir, 'home'));
    assert.equal(r.status, 3, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /TypeError/);
    assert.ok(!r.stdout.includes('\u001b') && !r.stderr.includes('\u001b'), JSON.stringify(r.stdout));
    assert.match(r.stdout, /episode esc\\x1b\[1mB, step 1, call 7/);
    assert.match(r.stdout, /capture incomplete: no kernel sensor ran/);
    assert.match(r.stderr, /ep\.jsonl:2: tool call 2: tool call id must be a string or a whole number, got a list \(tool call skipped; the line's other calls are read\)/);
    const j = replay(['--no-sensor', '--json', '--linger', '0', input], join(dir, 'home2'));
    assert.equal(j.status, 3, j.stderr);
    const summary = JSON.parse(j.stdout.trim().split('\n').pop()!).summary;
    assert.equal(summary.capture.complete, false);
    assert.equal(summary.capture.sensor_off, true);
    assert.equal(summary.bad_lines, 0);
    assert.equal(summary.bad_calls, 1);
    const bad = replay(['--linger', '2h', input], join(dir, 'home3'));
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--linger must be a duration from 0 to 60s/);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('corral report --html into a directory that does not exist is exit 2 before the store is read, as its usage and docs/report.md say', () => {
  const home = mkdtempSync(join(tmpdir(), 'corral-report-html-'));
  try {
    const r = spawnSync(process.execPath, [MAIN, 'report', '--home', home, '--html', join(home, 'no-such-dir', 'x.html')], { encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--html .*cannot write there \(no directory/);
    const usage = spawnSync(process.execPath, [MAIN, 'report', '--help'], { encoding: 'utf8' });
    assert.match(usage.stdout, /2 usage error or nothing found\s+\(also an --html FILE that cannot be written/);
  } finally { rmSync(home, { recursive: true, force: true }); }
});

test('corral replay --strict: input it could not read makes the exit code 2 after the rest is replayed; without it the verdict stands (a review, session 40)', () => {
  assertInLab();
  const dir = mkdtempSync(join(tmpdir(), 'corral-replay-strict-'));
  try {
    const input = join(dir, 'ep.jsonl');
    writeFileSync(input, `${JSON.stringify({ episode: 's', step: 1, command: 'echo ok' })}\n{"episode":"s","step":2,"command":\n`);
    const plain = replay(['--json', '--no-sensor', input], join(dir, 'home'));
    assert.equal(plain.status, 0, plain.stderr);
    const strict = replay(['--json', '--no-sensor', '--strict', input], join(dir, 'home'));
    assert.equal(strict.status, 2, strict.stderr);
    assert.match(strict.stderr, /--strict: 1 line\(s\) and 0 tool call\(s\) of the input could not be read/);
    const lines = strict.stdout.trim().split('\n').map((l) => JSON.parse(l) as { exit_code?: number; summary?: { bad_lines: number } });
    assert.equal(lines[0]!.exit_code, 0, 'the readable line was replayed');
    assert.equal(lines.at(-1)!.summary!.bad_lines, 1);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
