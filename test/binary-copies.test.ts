// Why: proves that Corral knows a program by its bytes (session/binary-copies.ts): a renamed copy of
// a shell is "bash" or "sh" whatever it is called, also after the file is deleted while it runs, and
// neither the program itself (by any of its names, also as the first file a checker sees), nor a file of
// the same size with other bytes, nor a longer one, is called a copy; a symbolic link with another name
// to a watched program is that program, while the program's own names, the system's aliases and a
// virtualenv's `python` are not; a crowd of same-sized files is bounded by the hash budget, which never
// stops the build-id check and marks what it left uncompared.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, renameSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinaryCopies } from '../src/session/binary-copies.js';

/** A file's `dev:inode` as the kernel sensor prints it (internal dev_t: major << 20 | minor). */
function kernelId(path: string): string {
  const st = statSync(path);
  const major = Number((BigInt(st.dev) >> 8n) & 0xfffn), minor = Number((BigInt(st.dev) & 0xffn) | ((BigInt(st.dev) >> 12n) & ~0xffn));
  return `${major * 2 ** 20 + minor}:${st.ino}`;
}

test('a renamed copy of a shell is recognised by its bytes or its build-id; the program itself, other bytes of the same size and another program are not copies', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-bc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const copies = new BinaryCopies(() => '');
  const kw = join(dir, '.kw');
  copyFileSync('/bin/bash', kw);
  assert.equal(copies.identify(0, kw), 'bash');
  assert.equal(copies.identify(0, '/bin/bash'), undefined, 'bash itself');
  assert.equal(copies.identify(0, '/usr/bin/bash'), undefined, 'bash by another path to the same file');
  const sh = join(dir, 'x');
  copyFileSync('/bin/sh', sh);
  assert.equal(copies.identify(0, sh), 'sh', '/bin/sh is dash: its copy is named by the watched name');
  const same = readFileSync('/bin/bash');
  same[same.length >> 1] = same[same.length >> 1]! ^ 0xff;
  writeFileSync(join(dir, 'flipped'), same);
  assert.equal(statSync(join(dir, 'flipped')).size, statSync('/bin/bash').size);
  // one byte changed or one appended: still bash's code, by its build-id (whole-file hashing alone was evaded so)
  assert.equal(copies.identify(0, join(dir, 'flipped')), 'bash', 'same size, one byte changed');
  writeFileSync(join(dir, 'longer'), Buffer.concat([readFileSync('/bin/bash'), Buffer.from([0])]));
  assert.equal(copies.identify(0, join(dir, 'longer')), 'bash', 'one byte appended');
  writeFileSync(join(dir, 'other'), Buffer.alloc(statSync('/bin/bash').size, 1));
  assert.equal(copies.identify(0, join(dir, 'other')), undefined, 'same size, other bytes');
  assert.equal(copies.identify(0, '/bin/ls'), undefined, 'another program');
  assert.equal(copies.identify(0, join(dir, 'absent')), undefined);
});

test('a copy deleted while it runs is still recognised through the running process', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-bc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const x = join(dir, 'x');
  copyFileSync('/bin/sh', x);
  chmodSync(x, 0o755);
  const child = spawn(x, ['-c', 'sleep 5; :'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((r) => child.once('spawn', r));
  unlinkSync(x);
  assert.equal(new BinaryCopies(() => '').identify(child.pid!, './x'), 'sh');
});

test('a copy whose path is given another file after it ran is judged by the file the kernel ran; a script keeps its interpreter', async (t) => {
  // (the path is read when the exec record arrives: `./k` a copy of sh, then a harmless file renamed over it)
  const dir = mkdtempSync(join(tmpdir(), 'corral-bc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const k = join(dir, 'k');
  copyFileSync('/bin/sh', k);
  chmodSync(k, 0o755);
  const exe = kernelId(k);
  const child = spawn(k, ['-c', 'sleep 5; :'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((r) => child.once('spawn', r));
  writeFileSync(join(dir, 'harmless'), 'just text\n');
  renameSync(join(dir, 'harmless'), k);
  assert.equal(new BinaryCopies(() => '').identify(child.pid!, k), undefined, 'by the path alone: the harmless file');
  assert.equal(new BinaryCopies(() => '').identify(child.pid!, k, { exe }), 'sh', 'by the file the kernel ran');
  // a script: the kernel ran its interpreter (`exe` is dash's file), which is not the script and not a copy
  const script = join(dir, 'job.sh');
  writeFileSync(script, '#!/bin/sh\nsleep 5\n');
  chmodSync(script, 0o755);
  const run = spawn(script, [], { stdio: 'ignore' });
  t.after(() => run.kill('SIGKILL'));
  await new Promise((r) => run.once('spawn', r));
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(new BinaryCopies(() => '').examine(run.pid!, script, { exe: kernelId('/bin/sh') }), { interpreter: '/bin/sh' });
});

test('hashing is bounded: a crowd of same-sized files costs at most the budget per second; the build-id is read past it, and what was not compared says so', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-bc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const copies = new BinaryCopies(() => '');
  const size = statSync('/bin/sh').size;
  for (let i = 0; i < 30; i++) writeFileSync(join(dir, `f${i}`), Buffer.alloc(size, i));
  const verdicts = Array.from({ length: 30 }, (_, i) => copies.examine(0, join(dir, `f${i}`)));
  assert.ok(verdicts.every((v) => v.copy === undefined));
  assert.ok(copies.skipped >= 5, `skipped ${copies.skipped}`);
  assert.equal(verdicts.filter((v) => v.unchecked).length, copies.skipped, 'each exec left uncompared is marked');
  // the budget is spent: a plain copy is still named, by its build-id (it was not: a review, session 35)
  copyFileSync('/bin/bash', join(dir, 'k'));
  assert.deepEqual(copies.examine(0, join(dir, 'k')), { copy: 'bash' });
});

test('the program itself is no copy, also as the very first file a checker judges (the originals are known first)', () => {
  // (session 35 review: the first exec of a session, /bin/bash -c, was "Renamed copy of bash run as /bin/bash")
  assert.deepEqual(new BinaryCopies(() => '').examine(0, '/bin/bash'), {});
  assert.deepEqual(new BinaryCopies(() => '').examine(0, '/usr/bin/bash'), {});
  assert.deepEqual(new BinaryCopies(() => '').examine(0, '/bin/sh'), {});
});

test('a symbolic link to a watched program under another name is that program; its own names, the system\'s aliases and a virtualenv\'s python are not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-bc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const copies = new BinaryCopies(() => '');
  const link = (to: string, name: string): string => { symlinkSync(to, join(dir, name)); return join(dir, name); };
  assert.equal(copies.identify(0, link('/bin/bash', 'k')), 'bash', 'ln -s /bin/bash k');
  assert.equal(copies.identify(0, link('k', 'k2')), 'bash', 'a relative link to that link');
  assert.equal(copies.identify(0, link('/bin/sh', 'x')), 'sh', 'a link to /bin/sh (dash) is named by the watched name');
  assert.equal(copies.identify(0, link('/bin/bash', 'bash')), undefined, 'a link named as the program');
  assert.equal(copies.identify(0, link('/bin/dash', 'sh')), undefined, 'sh is one of dash\'s names');
  assert.equal(copies.identify(0, '/bin/sh'), undefined);
  if (existsSync('/usr/bin/rbash')) assert.equal(copies.identify(0, '/usr/bin/rbash'), undefined, 'the system\'s own alias');
  if (existsSync('/usr/bin/socat')) assert.equal(copies.identify(0, link('/usr/bin/socat', 'cat2')), 'socat');
  if (existsSync('/usr/bin/python3')) {
    mkdirSync(join(dir, 'venv'));
    assert.equal(copies.identify(0, link('/usr/bin/python3', 'venv/python')), undefined, 'a virtualenv\'s python');
    assert.equal(copies.identify(0, link('python', 'venv/python3')), undefined);
  }
  assert.equal(copies.identify(0, link('/absent', 'dangling')), undefined);
  // a link into procfs names the reader's process from the host (/proc/self/exe is Corral's node): never followed,
  // the running program's file is read instead (here a sleep, no watched program)
  const sleep = spawn('sleep', ['5'], { stdio: 'ignore' });
  t.after(() => sleep.kill('SIGKILL'));
  await new Promise((r) => sleep.once('spawn', r));
  assert.equal(copies.identify(sleep.pid!, link('/proc/self/exe', 'self'), { argv: ['self'] }), undefined, 'a link to /proc/self/exe');
  assert.equal(copies.identify(0, link('loop', 'loop')), undefined, 'a link to itself');
});

test('a link removed while its program runs: still that program (the running file is read), unless the kernel\'s argv says a script was run', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-bc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  symlinkSync('/bin/bash', join(dir, 'k'));
  const child = spawn('./k', ['-c', 'sleep 5; :'], { cwd: dir, stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  await new Promise((r) => child.once('spawn', r));
  unlinkSync(join(dir, 'k'));
  const copies = new BinaryCopies(() => '');
  assert.equal(copies.identify(0, '/bin/bash'), undefined);
  assert.equal(copies.identify(child.pid!, './k', { argv: ['./k', '-c', 'sleep 5; :'] }), 'bash');
  assert.equal(copies.identify(child.pid!, './k', { argv: ['/bin/bash', './k'] }), undefined, 'a deleted script whose #! named bash');
  assert.equal(copies.identify(child.pid!, './k'), undefined, 'no argv: not judged by name');
});
