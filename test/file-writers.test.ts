// Why: persistence is blamed on the call whose process wrote the file (file-writers.ts, fanotify
// through native/corral-fwatch, one watcher for all sessions). These tests watch two real
// loop-mounted ext4 filesystems and write them from real processes: each write goes to the session of
// its filesystem only, with the writer's pid (and cgroup), names with tabs and newlines survive the
// helper's escaping, and a directory that is not a filesystem of its own is never watched (a mark on
// the host's filesystem would see every write on the host).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileWatch } from '../src/session/file-writers.js';
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
