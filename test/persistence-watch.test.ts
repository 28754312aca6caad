// The persistence watch on a real directory: what it sees, what it must not follow, what it must not miss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { persistenceChanges, snapshotPersistence } from '../src/session/persistence-watch.js';

test('persistence watch: never follows a symlink out of the workspace; a rewrite with its mtime put back is still a change', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pw-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ws = join(dir, 'ws'), host = join(dir, 'host');
  mkdirSync(ws);
  mkdirSync(join(host, 'lib', 'python3.11', 'site-packages'), { recursive: true });
  writeFileSync(join(host, 'authorized_keys'), 'ssh-ed25519 AAAA host');
  writeFileSync(join(host, 'lib', 'python3.11', 'site-packages', 'sitecustomize.py'), '');
  // `ln -s /root/.ssh .ssh`: Corral runs as root and must not report on the host's files
  symlinkSync(host, join(ws, '.ssh'));
  symlinkSync(host, join(ws, '.local'));
  assert.deepEqual([...snapshotPersistence(ws).keys()], []);

  mkdirSync(join(ws, 'repo', '.git', 'hooks'), { recursive: true });
  writeFileSync(join(ws, 'repo', '.git', 'hooks', 'pre-commit.sample'), '');
  writeFileSync(join(ws, '.bashrc'), 'aaaa');
  const before = snapshotPersistence(ws);
  assert.deepEqual([...before.keys()], ['.bashrc'], 'hook samples are not hooks');
  const st = statSync(join(ws, '.bashrc'));
  writeFileSync(join(ws, '.bashrc'), 'bbbb');
  utimesSync(join(ws, '.bashrc'), st.atime, st.mtime);
  writeFileSync(join(ws, 'repo', '.git', 'hooks', 'post-checkout'), '#!/bin/sh\n');
  assert.deepEqual(persistenceChanges(before, snapshotPersistence(ws)).map((c) => [c.path, c.created]), [['.bashrc', false], ['repo/.git/hooks/post-checkout', true]]);
});
