// A Corral that dies hard (SIGKILL) leaves its sandbox behind: namespace, veth, nft table,
// lease and cgroups. The next Corral start must find and remove all of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { cleanupOrphans, Runtime } from '../src/session/runtime.js';
import { detectCgroupLayout } from '../src/sandbox/cgroups.js';
import { cleanupOrphanSessionDirs, LEGACY_DIR_MAX_AGE_MS, mountsUnder } from '../src/sandbox/workspace-quota.js';

test('sandboxes orphaned by a crashed Corral are cleaned up at the next start', async () => {
  assertInLab();
  const home = mkdtempSync(join(tmpdir(), 'corral-orphan-'));
  const script = join(home, 'crashy.mjs');
  const dist = join(process.cwd(), 'dist', 'src');
  writeFileSync(script, `
    import { Runtime } from ${JSON.stringify(join(dist, 'session', 'runtime.js'))};
    import { parsePolicy } from ${JSON.stringify(join(dist, 'policy', 'index.js'))};
    import { readdirSync } from 'node:fs';
    const rt = await Runtime.start({ home: ${JSON.stringify(join(home, 'store'))}, sensor: false, poolSize: 1, commandCheck: false });
    const s = await rt.createSession({ policy: parsePolicy('name: capped\\nextends: default\\nresources:\\n  workspace_size: 4MiB\\n', 'capped.yaml'), episode: 'doomed' });
    await s.exec({ command: 'nohup sleep 300 >/dev/null 2>&1 & echo started' });
    // a second session on a host workspace (an idmapped view under its session dir; beside the store, never inside it)
    const h = await rt.createSession({ policy: parsePolicy('name: host\\nextends: default\\n', 'host.yaml'), episode: 'doomed-host', workspace: ${JSON.stringify(join(home, 'project'))} });
    await h.exec({ command: 'echo from-agent > made-by-agent.txt' });
    // a third on the default disk-backed workspace, and a ready one left in the runtime's pool
    const d = await rt.createSession({ policy: parsePolicy('name: disk\\nextends: default\\n', 'disk.yaml'), episode: 'doomed-disk' });
    await d.exec({ command: 'echo data > /workspace/f' });
    for (let i = 0; i < 200 && rt.diskPool.readyCount() === 0; i++) await new Promise((r) => setTimeout(r, 50));
    const pool = readdirSync(${JSON.stringify('/run/corral')}).filter((n) => n.startsWith('wspool-' + process.pid + '-')).map((n) => '/run/corral/' + n + '/workspace');
    console.log(JSON.stringify({ diskWs: d.workspaceDir, pool, hostView: h['files'].dir, seccomp: rt.seccompFile, holder: rt.holderFile, fileTool: rt.fileToolFile, netns: s['slot'].lease.netns, table: rt['gatewayRules'].table, index: s['slot'].lease.index, cgroup: s.cgroup.unifiedDir, workspace: s.workspaceDir }));
    setInterval(() => {}, 1000);
  `);
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
  mkdirSync(join(home, 'project'));
  writeFileSync(join(home, 'project', 'precious.txt'), 'the user\'s work\n');
  const info = await new Promise<{ diskWs: string; pool: string[]; hostView: string; seccomp: string; holder: string; fileTool: string; netns: string; table: string; index: number; cgroup: string; workspace: string }>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => { out += d; if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!)); });
    child.on('exit', (c) => reject(new Error(`crashy Corral exited early (${c})`)));
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  try {
    assert.match(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), new RegExp(info.netns), 'the crash left a namespace');
    assert.match(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }), new RegExp(`^table inet ${info.table}$`, 'm'), 'the crash left its nft table');
    assert.ok(existsSync(info.cgroup), 'the crash left a cgroup');
    assert.ok(existsSync(info.seccomp), 'the crash left its seccomp file');
    assert.ok(existsSync(info.holder) && existsSync(info.fileTool), 'the crash left its holder and file-tool copies');
    assert.deepEqual(mountsUnder(info.workspace), [info.workspace], 'the crash left the size-capped workspace mounted');
    assert.deepEqual(mountsUnder(info.diskWs), [info.diskWs], 'the crash left the disk-backed workspace mounted');
    assert.equal(info.pool.length, 1, 'and a ready one in its pool');
    assert.deepEqual(mountsUnder(info.pool[0]!), [info.pool[0]], 'mounted');
    const rt = await Runtime.start({ home: join(home, 'store'), sensor: false, poolSize: 0, commandCheck: false });
    await rt.close();
    assert.doesNotMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), new RegExp(info.netns));
    assert.doesNotMatch(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }), new RegExp(`\\b${info.table}\\b`));
    assert.ok(!existsSync(info.cgroup), 'cgroup removed');
    assert.ok(!existsSync(`/run/corral/leases/${info.index}.json`), 'lease released');
    assert.deepEqual(mountsUnder(info.workspace), [], 'workspace unmounted');
    assert.ok(!existsSync(info.workspace), 'session dir removed');
    for (const ws of [info.diskWs, info.pool[0]!]) {
      assert.deepEqual(mountsUnder(ws), [], `${ws} unmounted`);
      assert.ok(!existsSync(dirname(ws)), `${dirname(ws)} removed`);
    }
    assert.ok(!existsSync(info.seccomp), 'seccomp file removed');
    assert.ok(!existsSync(info.holder), 'holder copy removed');
    assert.ok(!existsSync(info.fileTool), 'file-tool copy removed');
    // (the crash script reads private fields: a field that moved would be undefined and these checks empty)
    for (const [k, v] of Object.entries(info)) assert.ok(v !== undefined && v !== '', `the crashed process reported ${k}`);
    assert.match(info.hostView, /^\/run\/corral\//);
    assert.deepEqual(mountsUnder(info.hostView), [], 'the idmapped view of the host workspace is detached');
    assert.ok(!existsSync(info.hostView), 'its session dir removed');
    assert.equal(readFileSync(join(home, 'project', 'precious.txt'), 'utf8'), 'the user\'s work\n', 'the host workspace itself is untouched');
    assert.equal(readFileSync(join(home, 'project', 'made-by-agent.txt'), 'utf8'), 'from-agent\n', 'and keeps what the agent wrote');
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('two runtimes in one process: closing one leaves the other working (its own seccomp file and waiter cgroup)', async () => {
  assertInLab();
  const home = mkdtempSync(join(tmpdir(), 'corral-two-rt-'));
  const a = await Runtime.start({ home: join(home, 'a'), sensor: false, poolSize: 0, commandCheck: false });
  const b = await Runtime.start({ home: join(home, 'b'), sensor: false, poolSize: 0, commandCheck: false });
  try {
    assert.notEqual(a.seccompFile, b.seccompFile);
    await a.close();
    const s = await b.createSession({ policy: (await import('../src/policy/index.js')).loadPreset('default') });
    const r = await s.exec({ command: 'echo still-here' });
    await s.close();
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, 'still-here\n');
  } finally {
    await b.close();
    rmSync(home, { recursive: true, force: true });
  }
});

test('session dirs: a dead owner pid\'s are removed, a live one\'s kept; old-format dirs (no pid) once untouched for an hour', async () => {
  const run = mkdtempSync(join(tmpdir(), 'corral-rundir-'));
  try {
    const names = {
      dead: 'sess-2147480000-0123456789ab-AbC123', live: `sess-${process.pid}-0123456789ab-DeF456`,
      legacyOld: 'sess-001bc10db49b-1SU2bP', legacyNew: 'sess-37c5f3da4301-K3JNkJ', other: 'leases',
    };
    for (const n of Object.values(names)) mkdirSync(join(run, n, 'workspace'), { recursive: true });
    const old = (Date.now() - LEGACY_DIR_MAX_AGE_MS - 60_000) / 1000;
    utimesSync(join(run, names.legacyOld), old, old);
    assert.equal(await cleanupOrphanSessionDirs(run), 2);
    assert.deepEqual(readdirSync(run).sort(), [names.legacyNew, names.live, names.other].sort());
  } finally { rmSync(run, { recursive: true, force: true }); }
});

test('a dead runtime\'s cgroups are removed from every hierarchy, also where only a v1 controller\'s directory is left', async () => {
  assertInLab();
  const layout = detectCgroupLayout();
  const root = `corral-orphan-test-${process.pid}`;
  const dead = '2147480001-0123456789ab';
  const hierarchies = [layout.unified, ...Object.values(layout.v1)].filter((h): h is string => !!h);
  // v1 directories only (the unified one already gone), each with a call's child left in it.
  const made = (Object.values(layout.v1).length ? Object.values(layout.v1) : [layout.unified]).filter((h): h is string => !!h).map((h) => join(h, root, dead, 'call-3'));
  for (const d of made) mkdirSync(d, { recursive: true });
  const live = join(layout.unified, root, `${process.pid}-fedcba987654`);
  mkdirSync(live, { recursive: true });
  try {
    assert.ok(await cleanupOrphans(layout, root) >= 1);
    for (const d of made) assert.ok(!existsSync(join(d, '..')), `${d} removed`);
    assert.ok(existsSync(live), 'a live runtime\'s cgroup is kept');
  } finally {
    for (const h of hierarchies) { for (const d of [join(h, root, dead, 'call-3'), join(h, root, dead), live, join(h, root)]) try { rmdirSync(d); } catch { /* gone */ } }
  }
});
