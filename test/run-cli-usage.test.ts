// Why: a review of `corral run` found bad input that ended as an internal error (exit 125 and a
// stack trace) after a sandbox had started, a label that vanished without a word, and error lines
// that put a policy's escape sequences raw on the operator's terminal. Defects it stops: an empty
// or too-long --label value, a --workspace that is a file, `--label __proto__=x` (dropped: it set
// the labels' prototype) and Corral's own client_uid/client_pid labels; threat it stops: terminal
// escape injection through a policy file's name, keys or values, or a path, in a failure's text.
// Also: an `extends:` naming a missing file points at its file:line:col like other policy errors.
// Runs the built CLI as users do; nothing here starts a sandbox (every case fails before one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { corral } from './helpers/cli.js';
import { parsePolicy, PolicyError } from '../src/policy/index.js';
import { RunRequest } from '../src/server/api-schema.js';

const ESC = '\u001b';
/** A socket nobody listens on: a run that got as far as the daemon would fail there (exit 125), not as a usage error. */
const NO_SOCKET = join(tmpdir(), 'corral-run-usage-no-such.sock');

function tempDir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'corral-run-usage-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** One usage error: exit 2, one line naming `names`, no stack trace. */
function assertUsage(r: { code: number | null; stderr: string }, names: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.match(r.stderr, names);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test('--label: an empty or over-long value, __proto__ and Corral\'s own names are usage errors naming the label', async () => {
  const cases: [string, RegExp][] = [
    ['tool_call=', /--label tool_call=…: tool_call must not be empty/],
    ['run=', /--label run=…: run must not be empty/],
    [`tool_call=${'a'.repeat(257)}`, /--label tool_call=…: a label value must be at most 256 characters \(got 257\)/],
    [`note=${'a'.repeat(300)}`, /--label note=…: .*at most 256/],
    [`${'k'.repeat(65)}=v`, /a label name must be 1 to 64 characters/],
    ['__proto__=x', /--label __proto__=…: a label cannot be named __proto__/],
    ['client_uid=0', /--label client_uid=…: client_uid is set by Corral/],
  ];
  for (const [label, msg] of cases) assertUsage(await corral(['run', '--socket', NO_SOCKET, '--label', label, '--', 'true']), msg);
  const many = Array.from({ length: 33 }, (_, i) => ['--label', `k${i}=v`]).flat();
  assertUsage(await corral(['run', '--socket', NO_SOCKET, ...many, '--', 'true']), /at most 32 labels/);
});

test('--label: refused before anything starts, also without a daemon (the home is never made)', async (t) => {
  const home = join(tempDir(t), 'home');
  assertUsage(await corral(['run', '--no-daemon', '--home', home, '--label', 'tool_call=', '--', 'true']), /tool_call must not be empty/);
  assert.equal(existsSync(home), false, 'no runtime was started');
});

test('--workspace naming a regular file is a usage error naming the path', async (t) => {
  const file = join(tempDir(t), `file${ESC}[2J`);
  writeFileSync(file, 'x');
  const r = await corral(['run', '--socket', NO_SOCKET, '--workspace', file, '--', 'true']);
  assertUsage(r, /--workspace .*file\\x1b\[2J is not a directory/);
  assert.ok(!r.stderr.includes(ESC), 'the path is shown escaped');
});

test('the daemon\'s API refuses the same labels (400), never drops __proto__ or fails later on an empty tool_call', () => {
  for (const labels of ['{"__proto__":"x"}', '{"tool_call":""}', `{"a":"${'a'.repeat(257)}"}`]) {
    const r = RunRequest.safeParse(JSON.parse(`{"argv":["true"],"labels":${labels}}`));
    assert.equal(r.success, false, labels);
  }
  assert.equal(RunRequest.safeParse({ argv: ['true'], labels: { note: '', run: 'r' } }).success, true, 'an empty value of any other label stays allowed');
});

test('a policy\'s escape sequences (file name, key) never reach the terminal raw', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, `p${ESC}[2J.yaml`);
  writeFileSync(file, `name: x\n"a${ESC}[2Jb": 1\nnetwork: {allow: [{domain: "${ESC}]0;pwned${ESC}\\\\"}]}\n`);
  for (const json of [[], ['--json']]) {
    const r = await corral(['run', '--no-daemon', '--home', join(dir, 'home'), ...json, '--policy', file, '--', 'true']);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(!r.stderr.includes(ESC), `no raw ESC: ${JSON.stringify(r.stderr)}`);
    assert.match(r.stderr, /p\\x1b\[2J\.yaml:2:1: .*unknown key/);
  }
  const e = (() => { try { parsePolicy(`name: x\n"a${ESC}[2Jb": 1\n`, `q${ESC}[2J.yaml`); } catch (x) { return x; } return undefined; })();
  assert.ok(e instanceof PolicyError);
  assert.ok(!e.message.includes(ESC), `the library's message is safe too: ${JSON.stringify(e.message)}`);
  assert.equal(e.file, `q${ESC}[2J.yaml`, 'the file stays as given, for programs');
});

test('extends: a missing file is an error at the extends line (file:line:col)', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'child.yaml');
  writeFileSync(file, 'name: child\n# its parent:\nextends: ./missing.yaml\n');
  const r = await corral(['run', '--no-daemon', '--home', join(dir, 'home'), '--policy', file, '--', 'true']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /child\.yaml:3:10: extends: cannot read policy file .*missing\.yaml/);
});
