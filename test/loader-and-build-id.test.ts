// Why: the two pure pieces behind recognising a program whatever it is called or padded with:
// the dynamic loader's argument parsing (which program `ld.so [options] PROG` runs) and the ELF
// build-id reader (a copy of bash with bytes appended keeps bash's build-id; a non-ELF or a
// truncated file has none and never throws).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, copyFileSync, appendFileSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isLoader, loaderTarget } from '../src/session/loader-target.js';
import { readBuildId } from '../src/session/elf-build-id.js';

test('loader invocations: the program after the loader\'s own options; listing options run nothing', () => {
  assert.ok(isLoader('/lib64/ld-linux-x86-64.so.2'));
  assert.ok(isLoader('/lib/ld-linux-aarch64.so.1'));
  assert.ok(isLoader('/lib/ld-musl-x86_64.so.1'));
  assert.ok(isLoader('/workspace/x', 'ld-linux-x86-64.so.2'), 'a copy of the loader is the loader');
  assert.ok(!isLoader('/usr/bin/ldd') && !isLoader('/usr/bin/ld') && !isLoader('/usr/lib/libld.so.1'));
  assert.equal(loaderTarget(['ld-linux-x86-64.so.2', '/bin/bash', 'job.sh']), '/bin/bash');
  assert.equal(loaderTarget(['ld.so', '--library-path', '/tmp/lib', '--argv0', 'sshd', './miner', '-o', 'x']), './miner');
  assert.equal(loaderTarget(['ld.so', '--inhibit-cache', '--preload', 'a.so', 'prog']), 'prog');
  assert.equal(loaderTarget(['ld.so', '--', '--weird-name']), '--weird-name');
  assert.equal(loaderTarget(['ld.so', '--list', '/bin/bash']), undefined);
  assert.equal(loaderTarget(['ld.so', '--verify', '/bin/bash']), undefined);
  assert.equal(loaderTarget(['ld.so']), undefined);
  assert.equal(loaderTarget(['ld.so', '--library-path']), undefined);
});

test('build-id: a padded copy keeps the original\'s, other files have none', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-buildid-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const id = (p: string): string | undefined => { const fd = openSync(p, 'r'); try { return readBuildId(fd); } finally { closeSync(fd); } };
  const bash = id('/bin/bash');
  assert.match(bash ?? '', /^[0-9a-f]{16,}$/, 'Debian builds carry a GNU build-id');
  copyFileSync('/bin/bash', join(dir, 'kw'));
  appendFileSync(join(dir, 'kw'), 'x');
  assert.equal(id(join(dir, 'kw')), bash);
  assert.notEqual(id('/bin/ls'), bash);
  writeFileSync(join(dir, 'script'), '#!/bin/sh\necho hi\n');
  assert.equal(id(join(dir, 'script')), undefined);
  writeFileSync(join(dir, 'trunc'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]));
  assert.equal(id(join(dir, 'trunc')), undefined);
  const hostile = Buffer.alloc(64); hostile.writeUInt32BE(0x7f454c46, 0); hostile[4] = 2; hostile[5] = 1;
  hostile.writeBigUInt64LE(0xffffffffffffn, 32); hostile.writeUInt16LE(56, 54); hostile.writeUInt16LE(0xffff, 56);
  writeFileSync(join(dir, 'hostile'), hostile);
  assert.equal(id(join(dir, 'hostile')), undefined, 'program headers past the end: none, no throw');
});
