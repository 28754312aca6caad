// Why: proves that Corral knows a program by its bytes (session/binary-copies.ts): a renamed copy of
// a shell is "bash" or "sh" whatever it is called, also after the file is deleted while it runs, and
// neither the program itself (by any of its names), nor a file of the same size with other bytes, nor
// a longer one, is called a copy; a crowd of same-sized files is bounded by the hash budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BinaryCopies } from '../src/session/binary-copies.js';

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

test('hashing is bounded: a crowd of same-sized files costs at most the budget per second', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-bc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const copies = new BinaryCopies(() => '');
  const size = statSync('/bin/sh').size;
  for (let i = 0; i < 30; i++) writeFileSync(join(dir, `f${i}`), Buffer.alloc(size, i));
  for (let i = 0; i < 30; i++) assert.equal(copies.identify(0, join(dir, `f${i}`)), undefined);
  assert.ok(copies.skipped >= 5, `skipped ${copies.skipped}`);
});
