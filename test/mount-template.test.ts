// Why this exists: every sandbox adds mounts to the host (its /run/netns entry, its workspace
// filesystem), and each sandbox start used to copy and read through all of them — a start took
// twice as long beside 250 idle sessions. Sandboxes now start from the runtime's template mount
// namespace with only their own mounts cloned in (src/sandbox/mount-template.ts). This proves it
// on real sandboxes: a holder's namespace holds neither another session's workspace nor any
// network namespace's entry, its own workspace is the host's (files cross both ways), a policy mount
// made after the runtime started and a host mount under /opt made after it are both shown, and a
// runtime without the template still starts from the host's namespace. In the lab; no traffic.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { atOrUnder, hostMountsSignature, keepRoots } from '../src/sandbox/mount-template.js';
import { buildEnterArgv, enterBinary } from '../src/sandbox/launcher.js';
import type { Session } from '../src/session/session.js';

let fx: Fixture;
before(async () => { fx = await startFixture([], 'labmt'); });
after(async () => { await fx?.close(); });

const holderPid = (s: Session): number => (s as unknown as { holder: { pid: number } }).holder.pid;
const mountPoints = (pid: number): string[] => readFileSync(`/proc/${pid}/mountinfo`, 'utf8').trim().split('\n').map((l) => l.split(' ')[4]!);
const workspaceOf = (s: Session): string => (s as unknown as { files: { workspace: string } }).files.workspace;
const mount = (...argv: string[]): void => { const r = spawnSync('mount', argv, { encoding: 'utf8' }); assert.equal(r.status, 0, r.stderr); };

test('path helpers: atOrUnder by whole components, keepRoots drops what another covers, the signature ignores Corral\'s own mounts', () => {
  assert.ok(atOrUnder('/run/corral/x', '/run/corral'));
  assert.ok(atOrUnder('/run/corral', '/run/corral/'));
  assert.ok(!atOrUnder('/run/corral2/x', '/run/corral'));
  assert.ok(atOrUnder('/anything', '/'));
  assert.deepEqual(keepRoots(['/run/c/s/disk/workspace', '/run/c/s', '/srv/data', '/srv/data2', '/run/c/s']), ['/run/c/s', '/srv/data', '/srv/data2']);
  const info = (points: string[]): string => points.map((p, i) => `${i + 20} 1 0:1 / ${p} rw - tmpfs none rw`).join('\n');
  const base = ['/', '/proc', '/run/corral'];
  const sig = hostMountsSignature(info(base), '/run/corral');
  // the run dir's own sessions and any network namespace entry: the same template
  assert.equal(hostMountsSignature(info([...base, '/run/netns', '/run/netns/corral-1']), '/run/corral'), sig);
  assert.equal(hostMountsSignature(info([...base, '/run/corral/sess-1/disk/workspace']), '/run/corral'), sig);
  // anything else of the host's: a new one
  assert.notEqual(hostMountsSignature(info([...base, '/opt/data']), '/run/corral'), sig);
  assert.notEqual(hostMountsSignature(info([...base, '/run/corral2']), '/run/corral'), sig);
  // mountinfo's escapes: a space in a mount point below the run dir is still below it
  assert.equal(hostMountsSignature(`${info(base)}\n99 1 0:1 / /run/corral/a\\040b rw - tmpfs none rw`, '/run/corral'), sig);
});

test('corral-enter argv: the template and the mounts kept, only with a template', () => {
  const argv = buildEnterArgv({ cgroupProcs: [], netns: '/run/netns/x', mountTemplate: '/proc/1/fd/9', keepMounts: ['/run/c/s', '/srv/d'], uid: 1, gid: 1 }, ['bwrap']);
  assert.deepEqual(argv.slice(1, 9), ['--netns', '/run/netns/x', '--mount-template', '/proc/1/fd/9', '--keep-mounts', '/run/c/s', '--keep-mounts', '/srv/d']);
  const plain = buildEnterArgv({ cgroupProcs: [], keepMounts: ['/run/c/s'], uid: 1, gid: 1 }, ['bwrap']);
  assert.ok(!plain.includes('--keep-mounts'), 'keep paths mean nothing without a template');
});

test('a sandbox starts without other sandboxes\' mounts; its own workspace is the host\'s', async () => {
  const a = await fx.rt.createSession({ policy: labPolicy(), episode: 'mt-a' });
  const b = await fx.rt.createSession({ policy: labPolicy(), episode: 'mt-b' });
  try {
    const host = mountPoints(process.pid);
    const wsA = workspaceOf(a), wsB = workspaceOf(b);
    assert.ok(host.includes(wsA) && host.includes(wsB), 'both workspaces are filesystems of their own on the host');
    assert.ok(host.some((p) => p.startsWith('/run/netns/')), 'the host has network namespace entries');
    const seen = mountPoints(holderPid(b));
    assert.ok(!seen.includes(wsA), 'session b\'s holder namespace holds session a\'s workspace');
    assert.ok(!seen.some((p) => atOrUnder(p, '/run/netns')), `session b's holder namespace holds /run/netns entries: ${seen.filter((p) => p.startsWith('/run/netns'))}`);
    assert.ok(seen.includes(wsB), 'session b\'s own workspace is in its holder namespace');
    // (the read-only views of /usr, /etc, /opt and /var are the sandbox's own overlays, one per mount there: left out on both sides)
    const VIEWS = ['/usr', '/etc', '/opt', '/var'];
    const outsideViews = (l: string[]): string[] => l.filter((p) => !VIEWS.some((v) => atOrUnder(p, v)));
    assert.ok(outsideViews(seen).length < outsideViews(host).length, `${outsideViews(seen).length} mounts in the holder namespace, ${outsideViews(host).length} on the host (outside the views)`);
    // the same filesystem both ways
    writeFileSync(join(wsB, 'in2'), 'from-host\n');
    const r2 = await b.exec({ command: 'cat /workspace/in2; echo made > /workspace/out2' });
    assert.equal(r2.stdout, 'from-host\n');
    assert.equal(readFileSync(join(wsB, 'out2'), 'utf8'), 'made\n');
  } finally {
    await b.close();
    await a.close();
  }
});

test('mounts made after the runtime started: a policy mount and one under /opt are shown', async () => {
  const data = mkdtempSync(join(tmpdir(), 'corral-mt-data-'));
  const opt = mkdtempSync('/opt/corral-mt-');
  let mounted: string[] = [];
  try {
    mount('-t', 'tmpfs', '-o', 'size=1m', 'corral-mt', data);
    mounted.push(data);
    writeFileSync(join(data, 'dataset.txt'), 'policy-mount\n');
    mount('-t', 'tmpfs', '-o', 'size=1m', 'corral-mt', opt);
    mounted.push(opt);
    mkdirSync(join(opt, 'bin'));
    writeFileSync(join(opt, 'bin', 'tool.txt'), 'opt-mount\n');
    const s = await fx.rt.createSession({ policy: labPolicy(`filesystem:\n  mounts: [{host: ${data}, path: /data}]\n`), episode: 'mt-late' });
    try {
      const r = await s.exec({ command: `cat /data/dataset.txt ${opt}/bin/tool.txt` });
      assert.equal(r.stdout, 'policy-mount\nopt-mount\n', r.stderr);
    } finally {
      await s.close();
    }
  } finally {
    for (const m of mounted.reverse()) spawnSync('umount', [m]);
    mounted = [];
    rmSync(data, { recursive: true, force: true });
    rmSync(opt, { recursive: true, force: true });
  }
});

test('without the template a sandbox starts from the host\'s namespace (what the first test tells apart)', async () => {
  const other = await startFixture([], 'labmu', { mountTemplate: false });
  try {
    const a = await other.rt.createSession({ policy: labPolicy(), episode: 'mu-a' });
    const b = await other.rt.createSession({ policy: labPolicy(), episode: 'mu-b' });
    try {
      assert.equal(other.rt.mountTemplate, undefined);
      const seen = mountPoints(holderPid(b));
      assert.ok(seen.includes(workspaceOf(a)), 'the host namespace\'s copy holds the other session\'s workspace');
      assert.equal((await b.exec({ command: 'echo ok' })).stdout, 'ok\n');
    } finally {
      await b.close();
      await a.close();
    }
  } finally {
    await other.close();
  }
});

test('corral-enter: a template it cannot use leaves the start in the host\'s namespace, never in a half-made one', async () => {
  const enter = enterBinary();
  const count = (extra: string[]): { status: number | null; mounts: string[]; err: string } => {
    const r = spawnSync(enter, [...extra, '--uid', '0', '--gid', '0', '--', 'cat', '/proc/self/mountinfo'], { encoding: 'utf8' });
    return { status: r.status, mounts: r.stdout.trim().split('\n').map((l) => l.split(' ')[4]!), err: r.stderr };
  };
  // (the test before changed the host's mounts: the first ask starts a new template)
  fx.rt.mountTemplate?.path();
  await fx.rt.mountTemplate?.settled();
  const template = fx.rt.mountTemplate?.path();
  assert.ok(template, 'the runtime has its template');
  // (the host's table moves while the pools fill: told apart by what only the host's has, a network namespace's entry)
  const hostOnly = (m: string[]): boolean => m.some((p) => p.startsWith('/run/netns/'));
  assert.ok(hostOnly(mountPoints(process.pid)), 'the host has network namespace entries (the runtime\'s ready slot)');
  // usable: the template's view, smaller than the host's
  const used = count(['--mount-template', template, '--keep-mounts', fx.rt.runDir]);
  assert.equal(used.status, 0, used.err);
  assert.ok(!hostOnly(used.mounts) && used.mounts.includes('/'), 'the template was joined');
  // no such template, or a path to keep that does not exist: the host's namespace, the program still runs
  // a path to keep that exists on the host but not in the template (inside a mount below the run dir):
  // the clone is taken, the template joined, attaching fails — and it goes back to the host's namespace
  const late = mkdtempSync(join(fx.rt.runDir, 'mt-test-'));
  mount('-t', 'tmpfs', '-o', 'size=1m', 'corral-mt', late);
  try {
    mkdirSync(join(late, 'sub'));
    for (const extra of [['--mount-template', '/nonexistent/ns'], ['--mount-template', template, '--keep-mounts', '/nonexistent/dir'], ['--mount-template', template, '--keep-mounts', join(late, 'sub')]]) {
      const r = count(extra);
      assert.equal(r.status, 0, r.err);
      assert.ok(hostOnly(r.mounts), `${extra.join(' ')}: not the host's namespace (${r.mounts.length} mounts)`);
    }
  } finally {
    spawnSync('umount', [late]);
    rmSync(late, { recursive: true, force: true });
  }
});
