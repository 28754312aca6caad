// Why: each tool call's launcher is started by posix_spawn (native/fast-spawn.c, session/tool-spawn.ts)
// rather than by Node's fork of the runtime process. These tests start real processes both ways and
// require the same child: the same signal state (nothing ignored or blocked, though Node ignores
// SIGPIPE), only descriptors 0-2, exactly the given environment; output, input, exit codes and
// signals delivered as a ChildProcess delivers them, `close` only once the output pipes are closed
// (a background process holding them), a start failure thrown with its code, and nothing leaked
// (descriptors, zombies) over many starts. `corral run` (this process's terminal) and a daemon
// client's borrowed descriptors give the child the caller's own descriptors, in any order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toolSpawner, type ToolChild, type ToolSpawner } from '../src/session/tool-spawn.js';

const nativeFile = join(dirname(fileURLToPath(import.meta.url)), '..', 'native', 'fast-spawn.node');

function spawner(fork: boolean): ToolSpawner {
  const old = process.env.CORRAL_FORK_SPAWN;
  if (fork) process.env.CORRAL_FORK_SPAWN = '1'; else delete process.env.CORRAL_FORK_SPAWN;
  try { return toolSpawner(); } finally { if (old === undefined) delete process.env.CORRAL_FORK_SPAWN; else process.env.CORRAL_FORK_SPAWN = old; }
}

interface Ran { out: string; err: string; code: number | null; signal: string | null; exitAt: number; closeAt: number }

function run(child: ToolChild, input?: string): Promise<Ran> {
  const t0 = Date.now();
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  if (input !== undefined) child.stdin!.end(input);
  return new Promise((resolve, reject) => {
    let exit: [number | null, string | null, number] | undefined;
    child.on('error', reject);
    child.on('exit', (code, signal) => { exit = [code, signal, Date.now() - t0]; });
    child.once('close', () => resolve({ out, err, code: exit![0], signal: exit![1], exitAt: exit![2], closeAt: Date.now() - t0 }));
  });
}

const env = { PATH: '/usr/bin:/bin', CORRAL_PROBE: 'a b=c' };

test('the posix_spawn launcher is built', () => {
  assert.ok(existsSync(nativeFile), `${nativeFile} (scripts/build-native.mjs)`);
});

test('a child started by posix_spawn is the one Node\'s spawn starts: signals, descriptors, environment', async () => {
  const probe = 'grep -E "^Sig(Ign|Blk)" /proc/self/status; ls /proc/self/fd | tr "\\n" " "; echo; env | sort';
  const fast = await run(spawner(false)('/bin/sh', ['-c', probe], { env, stdin: false }));
  const fork = await run(spawner(true)('/bin/sh', ['-c', probe], { env, stdin: false }));
  // (the descriptor line aside: Node's child also gets any descriptor of this process not marked close-on-exec —
  // under the test runner, one — where posix_spawn closes every one past 2)
  const fdLine = (s: string) => s.split('\n')[2];
  assert.equal(fast.out.replace(fdLine(fast.out)!, ''), fork.out.replace(fdLine(fork.out)!, ''));
  assert.match(fast.out, /^SigBlk:\t0+\nSigIgn:\t0+\n0 1 2 3 \n/, 'nothing blocked or ignored (Node ignores SIGPIPE), descriptors 0-2 only (3: ls\'s own)');
  assert.match(fast.out, /^CORRAL_PROBE=a b=c$/m);
  assert.doesNotMatch(fast.out, /^HOME=/m, 'only the given environment');
});

test('output, input, exit codes and signals arrive as from a ChildProcess; close waits for a background holder of the pipes', async () => {
  for (const fork of [false, true]) {
    const spawn = spawner(fork);
    const a = await run(spawn('/bin/sh', ['-c', 'echo out; echo err >&2; exit 7'], { env, stdin: false }));
    assert.deepEqual([a.out, a.err, a.code, a.signal], ['out\n', 'err\n', 7, null]);
    const b = await run(spawn('/bin/sh', ['-c', 'wc -c; cat'], { env, stdin: true }), 'x'.repeat(200_000));
    assert.equal(b.out.trim(), '200000');
    const c = await run(spawn('/bin/cat', [], { env, stdin: false }));
    assert.deepEqual([c.out, c.code], ['', 0], 'no input: /dev/null');
    const d = await run(spawn('/bin/sh', ['-c', 'kill -TERM $$; sleep 5'], { env, stdin: false }));
    assert.deepEqual([d.code, d.signal], [null, 'SIGTERM']);
    const e = await run(spawn('/bin/sh', ['-c', 'sleep 0.4 & echo started'], { env, stdin: false }));
    assert.equal(e.out, 'started\n');
    assert.ok(e.exitAt < 300 && e.closeAt >= 350, `${fork ? 'fork' : 'posix_spawn'}: exit at ${e.exitAt} ms, close at ${e.closeAt} ms (the sleep held the pipes)`);
  }
});

test('a start that fails throws with its code and leaves no descriptor; many starts leave no descriptor or zombie behind', async () => {
  const spawn = spawner(false);
  const fds = () => readdirSync('/proc/self/fd').length;
  const before = fds();
  assert.throws(() => spawn('/nonexistent/corral-enter', [], { env, stdin: true }), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  assert.equal(fds(), before);
  const pids: number[] = [];
  for (let i = 0; i < 200; i++) {
    const child = spawn('/bin/true', [], { env, stdin: i % 2 === 0 });
    pids.push(child.pid!);
    await run(child, i % 2 === 0 ? '' : undefined);
  }
  assert.ok(fds() <= before + 2, `${fds() - before} descriptors more after 200 starts`);
  // (each exited child was reaped by the waiting thread: no /proc entry, not even a zombie)
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(pids.filter((p) => existsSync(`/proc/${p}/status`)).length, 0, 'every child reaped');
});

test('the caller\'s own descriptors: files as 1 and 2, /dev/null as 0, and this process\'s 0-2 in any order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-spawn-'));
  try {
    for (const fork of [false, true]) {
      const out = openSync(join(dir, 'out'), 'w');
      const err = openSync(join(dir, 'err'), 'w');
      const child = spawner(fork)('/bin/sh', ['-c', 'cat; echo out; echo err >&2; ls /proc/self/fd | tr "\\n" " " >&2; exit 3'], { env, stdin: false, fds: [-1, out, err] });
      assert.equal(child.stdout, null);
      const done = await new Promise<[number | null, boolean]>((resolve) => {
        let code: number | null = null;
        child.on('exit', (c) => { code = c; });
        child.once('close', () => resolve([code, true]));
      });
      closeSync(out); closeSync(err);
      assert.deepEqual(done, [3, true]);
      assert.equal(readFileSync(join(dir, 'out'), 'utf8'), 'out\n', 'stdin was /dev/null, stdout the file');
      assert.match(readFileSync(join(dir, 'err'), 'utf8'), fork ? /^err\n/ : /^err\n0 1 2 3 $/, 'stderr the file (posix_spawn: nothing past 2)');
    }
    // (a child process whose stdout and stderr are this test's pipes gives its own 1 and 2 to a tool child swapped:
    // a dup2 of 2 onto 1 run first would make both the original 2)
    const url = new URL('../src/session/tool-spawn.js', import.meta.url).href;
    for (const fork of [false, true]) {
      const script = `import { toolSpawner } from ${JSON.stringify(url)};
        toolSpawner()('/bin/sh', ['-c', 'echo to-1; echo to-2 >&2; read l; echo "in:$l"'], { env: { PATH: '/usr/bin:/bin' }, stdin: false, fds: [0, 2, 1] })
          .on('exit', (c) => { process.exitCode = c; });`;
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { input: 'line\n', encoding: 'utf8', env: { ...process.env, CORRAL_FORK_SPAWN: fork ? '1' : '' }, timeout: 10_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual([r.stdout, r.stderr], ['to-2\n', 'to-1\nin:line\n'], `${fork ? 'fork' : 'posix_spawn'}: swapped, stdin passed through`);
    }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
