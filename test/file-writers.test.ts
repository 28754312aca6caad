// Why: persistence is blamed on the call whose process wrote the file (file-writers.ts, fanotify
// through native/corral-fwatch, one watcher for all sessions). These tests watch two real
// loop-mounted ext4 filesystems and write them from real processes: each write goes to the session of
// its filesystem only, with the writer's pid (and cgroup), names with tabs and newlines survive the
// helper's escaping, and a directory that is not a filesystem of its own is never watched (a mark on
// the host's filesystem would see every write on the host).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileWatch } from '../src/session/file-writers.js';
import { openForWriting } from '../src/session/open-writers.js';
import { fwatchBinary } from '../src/sandbox/launcher.js';
import { mountDiskWorkspace } from '../src/sandbox/workspace-disk.js';
import { unmountUnder } from '../src/sandbox/workspace-quota.js';

test('each file written on a watched filesystem names its writer to that filesystem\'s session only; a directory on its parent\'s filesystem is not watched', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'corral-fwatch-'));
  const dirs = [join(base, 'ws1'), join(base, 'ws2')];
  for (const d of dirs) { mkdirSync(d); await mountDiskWorkspace(`${d}.img`, d, 16 << 20); }
  t.after(async () => { await unmountUnder(base); rmSync(base, { recursive: true, force: true }); });
  const errors: string[] = [];
  const watch = await FileWatch.start(fwatchBinary(), (e) => errors.push(e.message));
  assert.ok(watch, `watching: ${errors.join('; ')}`);
  try {
    const [w1, w2] = await Promise.all(dirs.map((d) => watch.watch(d, '/workspace')));
    assert.ok(w1 && w2, errors.join('; '));
    const odd = 'a\tb\nc';
    // A writer that stays alive a moment (its cgroup is read while it exists), and one that exits at once.
    const slow = spawnSync('sh', ['-c', 'echo x >> "$1/.bashrc"; echo $$; sleep 0.3', 'sh', dirs[0]!], { encoding: 'utf8' });
    const quick = spawnSync('sh', ['-c', 'printf y > "$1/$2"; echo $$', 'sh', dirs[1]!, odd], { encoding: 'utf8' });
    await new Promise((r) => setTimeout(r, 300));
    const bashrc = w1.take('.bashrc');
    assert.equal(bashrc?.pid, Number(slow.stdout.trim()));
    assert.equal(w2.take('.bashrc'), undefined, 'the other session\'s filesystem');
    const own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => /^\d+:(\w+,)*pids(,\w+)*:/.test(l))?.split(':')[2];
    // (read while alive: the writer's cgroup, the test's own — unless that is the root, "/", which is dropped as an exiting writer's)
    assert.equal(bashrc?.cgroup, own === '/' ? undefined : own);
    assert.equal(w2.take(odd)?.pid, Number(quick.stdout.trim()), 'a name with a tab and a newline');
    assert.equal(w1.take(odd), undefined);
    assert.equal(w1.take('.bashrc'), undefined, 'taken once');
    // sync(): a write closed just before is handed over before it resolves, with no wait.
    for (let i = 0; i < 20; i++) {
      const now = spawnSync('sh', ['-c', 'echo $i >> "$1/.zshrc"; echo $$', 'sh', dirs[1]!], { encoding: 'utf8' });
      await w2.sync();
      assert.equal(w2.take('.zshrc')?.pid, Number(now.stdout.trim()), `round ${i}: known once sync() resolved`);
    }
    // A writer that exited before its cgroup was read is unresolved until its pid is known otherwise.
    w2.wrote(4242, '-', `${dirs[1]!}/.profile`);
    assert.equal(w2.unresolved(['.profile'], () => false), true);
    assert.equal(w2.unresolved(['.profile'], (pid) => pid === 4242), false);
    assert.equal(w2.unresolved(['.bashrc'], () => false), false, 'only the files asked about');
    // Names put in place without a write to them: a file renamed there, a symbolic link, a hard link,
    // a mode change, and a directory moved in with a hook inside (its files arrive with it).
    // (one process does it all — mv, ln and chmod would each be a process of their own)
    const mover = spawnSync('python3', ['-c', [
      'import os, sys', 'os.chdir(sys.argv[1])', 'open("staged", "w").write("x")', 'os.rename("staged", ".zlogin")',
      'os.symlink("/tmp/elsewhere", ".zshenv")', 'open("plain", "w").write("y")', 'os.link("plain", ".bash_login")',
      'os.makedirs("hooks-staged"); os.makedirs(".git")', 'open("hooks-staged/pre-commit", "w").write("#!/bin/sh")',
      'os.rename("hooks-staged", ".git/hooks")', 'print(os.getpid())',
    ].join('\n'), dirs[1]!], { encoding: 'utf8' });
    const chmod = spawnSync('python3', ['-c', 'import os, sys; os.chmod(sys.argv[1] + "/.git/hooks/pre-commit", 0o755); print(os.getpid())', dirs[1]!], { encoding: 'utf8' });
    await w2.sync();
    const moverPid = Number(mover.stdout.trim());
    for (const f of ['.zlogin', '.zshenv', '.bash_login']) assert.equal(w2.take(f)?.pid, moverPid, f);
    assert.equal(w2.take('.git/hooks/pre-commit')?.pid, Number(chmod.stdout.trim()), 'the mode change is the newest');
    assert.equal(w2.take('.git/hooks/pre-commit')?.pid, moverPid, 'then the directory it came in');
    // A closed session's filesystem is no longer followed.
    w1.close();
    spawnSync('sh', ['-c', 'echo z >> "$1/.profile"', 'sh', dirs[0]!]);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(w1.take('.profile'), undefined);
    // base is on the filesystem of its parent (tmpdir): never marked.
    assert.equal(await watch.watch(base, '/workspace'), undefined);
  } finally { watch.close(); }
  assert.equal(errors.join('; '), '');
});

test('the process holding a file open for writing is found by the file\'s identity; readers, other files and exited processes are not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-open-writers-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hook = join(dir, 'pre-commit');
  const other = join(dir, 'other');
  writeFileSync(hook, '#!/bin/sh\n');
  writeFileSync(other, '');
  const hold = (script: string) => {
    const p = spawn('sh', ['-c', script, 'sh', hook, other], { stdio: ['ignore', 'pipe', 'ignore'] });
    t.after(() => { p.kill('SIGKILL'); });
    return new Promise<number>((resolve) => p.stdout!.once('data', () => resolve(p.pid!)));
  };
  const reader = await hold('exec 3<"$1"; echo up; exec sleep 30');
  const otherWriter = await hold('exec 3>>"$2"; echo up; exec sleep 30');
  assert.equal(openForWriting(hook, [reader, otherWriter, process.pid]), undefined, 'a reader and a writer of another file');
  const writer = await hold('exec 3>>"$1"; echo up; exec sleep 30');
  const rw = await hold('exec 3<>"$1"; echo up; exec sleep 30');
  assert.equal(openForWriting(hook, [reader, writer, rw]), writer, 'the first writer given');
  assert.equal(openForWriting(hook, [rw]), rw, 'read-write counts');
  // (a hard link is the same file; a copy is not)
  const { linkSync, copyFileSync } = await import('node:fs');
  linkSync(hook, join(dir, 'linked'));
  copyFileSync(hook, join(dir, 'copied'));
  assert.equal(openForWriting(join(dir, 'linked'), [writer]), writer);
  assert.equal(openForWriting(join(dir, 'copied'), [writer]), undefined);
  assert.equal(openForWriting(join(dir, 'missing'), [writer]), undefined, 'no such file');
  assert.equal(openForWriting(hook, [2 ** 22 + 1]), undefined, 'no such process');
});

test('without names from the kernel (the older mode, asked for by CORRAL_FWATCH_FDS=1), a close after writing still names its writer', async (t) => {
  const base = mkdtempSync(join(tmpdir(), 'corral-fwatch-fds-'));
  const dir = join(base, 'ws');
  mkdirSync(dir);
  await mountDiskWorkspace(`${dir}.img`, dir, 16 << 20);
  t.after(async () => { await unmountUnder(base); rmSync(base, { recursive: true, force: true }); });
  const errors: string[] = [];
  process.env.CORRAL_FWATCH_FDS = '1';
  const watch = await FileWatch.start(fwatchBinary(), (e) => errors.push(e.message)).finally(() => { delete process.env.CORRAL_FWATCH_FDS; });
  assert.ok(watch, errors.join('; '));
  try {
    const w = await watch.watch(dir, '/workspace');
    assert.ok(w, errors.join('; '));
    const wr = spawnSync('sh', ['-c', 'echo x >> "$1/.bashrc"; ln -s /tmp/x "$1/.profile"; echo $$', 'sh', dir], { encoding: 'utf8' });
    await w.sync();
    assert.equal(w.take('.bashrc')?.pid, Number(wr.stdout.trim()));
    assert.equal(w.take('.profile'), undefined, 'a link made is not a close after writing: not seen in this mode');
  } finally { watch.close(); }
  assert.equal(errors.join('; '), '');
});
