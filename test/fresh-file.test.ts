// Unit test of src/sandbox/fresh-file.ts: the files Corral (root) makes in an image-derived tree
// (a writable root's /etc/resolv.conf and /etc/hosts) are made fresh, never written through a link the
// image holds, and never below a directory that is a link. test/image-root-hardening.test.ts proves it
// in real sandboxes. No sandbox, no network.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnsafeTreeError, writeFreshFile } from '../src/sandbox/fresh-file.js';

test('writeFreshFile: replaces a link (also a dangling one) with a new file, never writes through it, and refuses a link on the way', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-fresh-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const host = join(dir, 'host');
  mkdirSync(host);
  writeFileSync(join(host, 'hosts'), 'host file\n');
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'etc'), { recursive: true });
  symlinkSync(join(host, 'hosts'), join(tree, 'etc', 'hosts'));
  symlinkSync(join(host, 'resolv.conf'), join(tree, 'etc', 'resolv.conf'));
  writeFreshFile(tree, 'etc/hosts', '127.0.0.1 localhost\n');
  writeFreshFile(tree, 'etc/resolv.conf', '');
  assert.equal(readFileSync(join(host, 'hosts'), 'utf8'), 'host file\n');
  assert.deepEqual(readdirSync(host), ['hosts'], 'the dangling link made nothing on the host');
  for (const f of ['hosts', 'resolv.conf']) assert.ok(lstatSync(join(tree, 'etc', f)).isFile(), f);
  assert.equal(readFileSync(join(tree, 'etc', 'hosts'), 'utf8'), '127.0.0.1 localhost\n');
  // a directory on the way that is a link (etc -> the host's directory), or the base itself
  const linked = join(dir, 'linked');
  mkdirSync(linked);
  symlinkSync(host, join(linked, 'etc'));
  assert.throws(() => writeFreshFile(linked, 'etc/hosts', 'x'), (e: Error) => e instanceof UnsafeTreeError && /etc is a symbolic link, not a real directory/.test(e.message));
  assert.throws(() => writeFreshFile(join(linked, 'etc'), 'hosts', 'x'), UnsafeTreeError);
  assert.throws(() => writeFreshFile(tree, '../host/hosts', 'x'), UnsafeTreeError);
  assert.equal(readFileSync(join(host, 'hosts'), 'utf8'), 'host file\n');
});
