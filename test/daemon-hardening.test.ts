// `corral serve` and `corral run` through it, hardened against operators' mistakes and interrupted
// clients, through the real CLI and a real daemon inside the lab (no sensor: nothing here needs it).
// Proves: a --socket that names a regular file or a directory is refused (exit 2) and never deleted;
// a path the kernel would cut short is refused by serve and client; a second serve on a live socket
// fails at once (before a runtime starts) with one line; a bad webhook URL is a usage error; SIGHUP
// tears the daemon down like SIGTERM; through the daemon `--policy NAME` is the preset even with a
// file NAME here; the caller's env_allow variables reach the command; an argv as large as execve
// takes runs, a larger one gets the same clear error both ways; SIGINT gives a JSON summary with 130;
// the JSON summary is on its own line after stderr without a newline; dead-daemon and policy errors
// are one line with the same kind as locally.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { daemonRequest } from '../src/server/daemon-client.js';
import { argvProblem } from '../src/server/argv-limits.js';
import { startServe } from './helpers/serve.js';

const MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
let dir: string;
let sock: string;
let serve: ChildProcess;

/** `corral ARGS` run to its end (env: CORRAL_SOCKET aimed at the test daemon, plus extra). */
function corral(args: string[], extra: Record<string, string> = {}, cwd?: string) {
  return spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', cwd, env: { ...process.env, CORRAL_SOCKET: sock, NO_COLOR: '1', ...extra }, timeout: 60_000 });
}

const lastLine = (s: string): string => s.trimEnd().split('\n').at(-1)!;

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-dh-'));
  sock = join(dir, 'run', 'corral.sock');
  serve = (await startServe(sock, join(dir, 'home'))).child;
});
after(async () => {
  if (serve.exitCode === null) { serve.kill('SIGTERM'); await new Promise((r) => serve.once('exit', r)); }
  rmSync(dir, { recursive: true, force: true });
});

test('serve refuses a --socket that is a regular file or a directory (exit 2, one line) and leaves it as it was', () => {
  const file = join(dir, 'precious');
  writeFileSync(file, 'keep me\n');
  const r = corral(['serve', '--socket', file, '--no-sensor', '--json']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /exists and is a regular file, not a socket; refusing to replace it/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(JSON.parse(lastLine(r.stderr)).error.kind, 'socket');
  assert.equal(readFileSync(file, 'utf8'), 'keep me\n', 'the file is untouched');
  const d = join(dir, 'adir');
  mkdirSync(d);
  const r2 = corral(['serve', '--socket', d, '--no-sensor']);
  assert.equal(r2.status, 2, r2.stderr);
  assert.match(r2.stderr, /is a directory, not a socket/);
  assert.ok(existsSync(d));
});

test('a socket path longer than the kernel keeps is refused by serve and by the client (exit 2), nothing created', () => {
  const long = join(dir, 'x'.repeat(120), 's.sock');
  const r = corral(['serve', '--socket', long, '--no-sensor']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /at most 107/);
  assert.ok(!existsSync(join(dir, 'x'.repeat(120))));
  const c = corral(['run', '--socket', long, '--', 'true']);
  assert.equal(c.status, 2, c.stderr);
  assert.match(c.stderr, /at most 107/);
});

test('a second serve on a live socket fails at once with one line; the first keeps serving', () => {
  const t0 = Date.now();
  const r = corral(['serve', '--socket', sock, '--no-sensor']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^corral serve: another corral daemon is listening on /);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.ok(Date.now() - t0 < 5000, `refused before a runtime started (${Date.now() - t0} ms)`);
  const ok = corral(['run', '--', 'true']);
  assert.equal(ok.status, 0, ok.stderr);
});

test('a bad --alert-webhook is a usage error (exit 2), no stack', () => {
  for (const url of ['ftp://x.test/', 'not a url']) {
    const r = corral(['serve', '--socket', join(dir, 'w.sock'), '--no-sensor', '--alert-webhook', url]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--alert-webhook: (http or https only|not a URL)/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

test('through the daemon --policy NAME is the preset even with a file NAME here; ./NAME is the file', () => {
  const cwd = join(dir, 'cwd');
  mkdirSync(cwd, { recursive: true });
  writeFileSync(join(cwd, 'default'), 'this: is: not a policy\n');
  const r = corral(['run', '--json', '--policy', 'default', '--', 'true'], {}, cwd);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(JSON.parse(lastLine(r.stderr)).via, 'daemon');
  const f = corral(['run', '--json', '--policy', './default', '--', 'true'], {}, cwd);
  assert.equal(f.status, 2, f.stderr);
  const e = JSON.parse(lastLine(f.stderr)).error;
  assert.equal(e.kind, 'policy', 'the same kind as a local run');
  assert.match(f.stderr, /^corral: invalid policy: /m);
  const local = corral(['run', '--json', '--no-daemon', '--policy', './default', '--', 'true'], {}, cwd);
  assert.equal(JSON.parse(lastLine(local.stderr)).error.kind, 'policy');
});

test('through the daemon the env_allow variables are the caller\'s, not the daemon\'s', () => {
  const r = corral(['run', '--', 'env'], { LC_ALL: 'C.UTF-8', TERM: 'vt52', SECRET_TOKEN: 'nope' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^TERM=vt52$/m);
  assert.match(r.stdout, /^LC_ALL=C\.UTF-8$/m);
  assert.doesNotMatch(r.stdout, /SECRET_TOKEN/, 'only env_allow variables pass');
});

test('the --json summary is on a line of its own after stderr that did not end with a newline (daemon and local)', () => {
  for (const extra of [[], ['--no-daemon']]) {
    const r = corral(['run', '--json', ...extra, '--', 'sh', '-c', 'printf partial >&2']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.at(-2), 'partial');
    assert.ok(JSON.parse(lines.at(-1)!).session);
  }
});

test('an argv of 5000 words and one of 200 KiB args runs through the daemon; one argument over 128 KiB is refused with the kernel\'s reason', async () => {
  const many = corral(['run', '--', 'sh', '-c', 'echo $#', 'sh', ...Array.from({ length: 5000 }, (_, i) => `a${i}`)]);
  assert.equal(many.status, 0, many.stderr);
  assert.equal(many.stdout, '5000\n');
  const big = Array.from({ length: 20 }, () => 'b'.repeat(10_000));
  const wide = corral(['run', '--', 'sh', '-c', 'echo $#', 'sh', ...big]);
  assert.equal(wide.status, 0, wide.stderr);
  assert.equal(wide.stdout, '20\n');
  // (no CLI can be handed such an argument — the kernel refuses it to corral itself — but an API client can send it)
  const api = await daemonRequest(sock, 'POST', '/v1/run', { argv: ['echo', 'c'.repeat(200_000)] });
  assert.equal(api.status, 400, JSON.stringify(api.json).slice(0, 300));
  assert.match(JSON.stringify(api.json), /argument 1 is 200000 bytes long; the kernel takes at most 131071/);
  assert.equal(argvProblem(['echo', 'c'.repeat(200_000)]), 'argument 1 is 200000 bytes long; the kernel takes at most 131071 bytes per argument (execve: E2BIG)', 'the CLI checks with the same function, local or not');
});

test('SIGINT during a call through the daemon: the call is stopped, exit 130 and a JSON summary', async () => {
  const child = spawn(process.execPath, [MAIN, 'run', '--json', '--', 'sh', '-c', 'echo started; sleep 30'], { env: { ...process.env, CORRAL_SOCKET: sock, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  child.stderr!.on('data', (c: Buffer) => { err += c; });
  await new Promise<void>((resolve) => child.stdout!.on('data', (c: Buffer) => { out += c; if (out.includes('started')) resolve(); }));
  const t0 = Date.now();
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  assert.equal(code, 130, err);
  assert.ok(Date.now() - t0 < 10_000);
  const s = JSON.parse(lastLine(err));
  assert.equal(s.exit_code, 130);
  assert.equal(s.via, 'daemon');
  assert.ok(s.session);
});

test('--socket at a dead daemon is one line, kind daemon, exit 125', () => {
  const dead = join(dir, 'dead.sock');
  const r = corral(['run', '--json', '--socket', dead, '--', 'true']);
  assert.equal(r.status, 125, r.stderr);
  assert.match(r.stderr, /no corral daemon at /);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.equal(JSON.parse(lastLine(r.stderr)).error.kind, 'daemon');
});

test('SIGHUP stops serve like SIGTERM: teardown, socket removed, exit 0', async () => {
  const s2 = join(dir, 'hup', 'c.sock');
  const { child } = await startServe(s2, join(dir, 'home2'));
  child.kill('SIGHUP');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 0);
  assert.ok(!existsSync(s2), 'the socket is removed');
});
