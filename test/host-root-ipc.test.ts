// Why: on the host's root a sandbox saw /usr, /etc, /opt, /var and every --mount dataset as read-only
// binds of the host's own trees, so a host process listening on a unix socket there took the
// sandbox's connect() (around the network namespace and the gateway: /var/lib/mysql/mysql.sock,
// SSSD's /var/lib/sss/pipes/nss) and a fifo there joined the sandbox to the host and to every other
// sandbox. Threat it stops: both; corral-enter now shows those trees as the sandbox's own read-only
// overlays (native/mount-template.c show_views, src/sandbox/host-views.ts). Real sandboxes, in the
// lab. Fails on the code before the fix (the host listeners accept, the host reader reads).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, constants, mkdirSync, mkdtempSync, openSync, readSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { withExtraMounts } from '../src/policy/extra-allows.js';
import { hostRootTrees, sandboxViews, viewRefusal } from '../src/sandbox/host-views.js';
import { buildEnterArgv } from '../src/sandbox/launcher.js';

let fx: Fixture;
const dirs: string[] = [];
const servers: Server[] = [];
const accepted: string[] = [];
let fifoFd: number | undefined;
let varDir: string, optDir: string, dataset: string, stacked: string;
const overlays: string[] = [];

/** A host service listening at `path`, reachable by anyone with the path (mode 0777). */
async function listen(path: string): Promise<void> {
  const srv = createServer((c) => { accepted.push(path); c.destroy(); });
  await new Promise<void>((ok) => srv.listen(path, ok));
  chmodSync(path, 0o777);
  servers.push(srv);
}

function tempDir(under: string): string {
  const d = mkdtempSync(join(under, 'corral-hostipc-'));
  chmodSync(d, 0o777);
  dirs.push(d);
  return d;
}

before(async () => {
  fx = await startFixture([], 'labhri');
  mkdirSync('/var/lib', { recursive: true });
  varDir = tempDir('/var/lib');
  optDir = tempDir('/opt');
  const ds = tempDir('/tmp');
  dataset = join(ds, 'data');
  mkdirSync(dataset, { mode: 0o755 });
  writeFileSync(join(dataset, 'readme'), 'dataset file\n', { mode: 0o644 });
  writeFileSync(join(varDir, 'rootonly'), 'root only\n', { mode: 0o600 });
  for (const p of [join(varDir, 's.sock'), join(optDir, 's.sock'), join(dataset, 's.sock')]) await listen(p);
  // a fifo under /var held open for reading by a host process (or another sandbox)
  execFileSync('mkfifo', ['-m', '666', join(varDir, 'fifo')]);
  fifoFd = openSync(join(varDir, 'fifo'), constants.O_RDONLY | constants.O_NONBLOCK);
  // a dataset the kernel will not overlay again (already two overlays deep: the stacking limit)
  stacked = join(ds, 'o2');
  for (const d of ['t', 'e', 'o1', 'o2']) mkdirSync(join(ds, d));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'mode=755', 'corral-test', join(ds, 't')]);
  overlays.push(join(ds, 't'));
  writeFileSync(join(ds, 't', 'readme'), 'stacked file\n', { mode: 0o644 });
  execFileSync('mount', ['-t', 'overlay', 'corral-test', '-o', `ro,lowerdir=${join(ds, 't')}:${join(ds, 'e')}`, join(ds, 'o1')]);
  overlays.push(join(ds, 'o1'));
  execFileSync('mount', ['-t', 'overlay', 'corral-test', '-o', `ro,lowerdir=${join(ds, 'o1')}:${join(ds, 'e')}`, stacked]);
  overlays.push(stacked);
});
after(async () => {
  if (fifoFd !== undefined) closeSync(fifoFd);
  for (const s of servers) await new Promise((ok) => s.close(ok));
  await fx?.close();
  for (const m of overlays.reverse()) { try { execFileSync('umount', [m]); } catch { /* not mounted */ } }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** What the fifo's host reader heard (nothing, or what a sandbox wrote). */
function heard(): string {
  const buf = Buffer.alloc(64);
  let n = 0;
  try { n = readSync(fifoFd!, buf, 0, buf.length, null); } catch (e) { assert.equal((e as NodeJS.ErrnoException).code, 'EAGAIN'); }
  return buf.subarray(0, n).toString();
}

test('on the host root, /var and /opt sockets and fifos and a --mount dataset\'s sockets are the sandbox\'s own; files read as before', async () => {
  const policy = withExtraMounts(labPolicy(), [{ host: dataset, path: '/data' }]);
  const s = await fx.rt.createSession({ policy, episode: 'host-ipc' });
  try {
    const py = [
      'import socket, sys',
      'for p in sys.argv[1:]:',
      '    try:',
      '        s = socket.socket(socket.AF_UNIX); s.connect(p); print("connected", p)',
      '    except OSError as e: print("refused", p, e.errno)',
    ].join('\n');
    const r = await s.exec({ step: 1, command: [
      `python3 -c '${py}' ${varDir}/s.sock ${optDir}/s.sock /data/s.sock`,
      `exec 3<>${varDir}/fifo; echo covert-message >&3; echo wrote`,
      `cat /data/readme; cat ${varDir}/rootonly 2>&1; stat -c '%U %a %F' ${varDir} ${varDir}/s.sock /usr/bin/env`,
      `test -r /etc/os-release && echo etc-ok; touch ${varDir}/new /data/new 2>&1; echo end`,
    ].join('\n') });
    assert.doesNotMatch(r.stdout, /connected/, r.stdout + r.stderr);
    assert.match(r.stdout, /refused .*s\.sock 111\n.*refused .*s\.sock 111\n.*refused \/data\/s\.sock 111/s, r.stdout + r.stderr);
    assert.deepEqual(accepted, [], 'no host listener took a connection');
    assert.equal(heard(), '', 'the host reader of the fifo heard nothing');
    // (the trees read as before: their files, owners and modes, read-only)
    assert.match(r.stdout, /wrote\n/);
    assert.match(r.stdout, /dataset file\n/);
    assert.match(r.stdout, /rootonly: Permission denied/);
    assert.match(r.stdout, /nobody 777 directory\nnobody 777 socket\nnobody 755 regular file\n/);
    assert.match(r.stdout, /etc-ok\n/);
    assert.match(r.stdout, /new.*Read-only file system.*\n.*\/data\/new.*Read-only file system/s);
    assert.match(r.stdout, /end\n$/);
    assert.ok(!fx.rt.warnings.some((w) => /shown as it lies/.test(w)), fx.rt.warnings.join('\n'));
  } finally { await s.close(); }
});

test('a dataset the kernel will not overlay is shown as it lies, with one warning, and the session still runs', async () => {
  const policy = withExtraMounts(labPolicy(), [{ host: stacked, path: '/stacked' }]);
  for (const episode of ['fallback-1', 'fallback-2']) {
    const s = await fx.rt.createSession({ policy, episode });
    try {
      const r = await s.exec({ step: 1, command: `cat /stacked/readme; python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.connect("${varDir}/s.sock")' 2>/dev/null || echo var-refused` });
      assert.match(r.stdout, /stacked file\nvar-refused\n/, r.stdout + r.stderr);
    } finally { await s.close(); }
  }
  const warned = fx.rt.warnings.filter((w) => /shown as it lies on the host/.test(w));
  assert.equal(warned.length, 1, fx.rt.warnings.join('\n'));
  assert.deepEqual(accepted, []);
});

test('views: the host root\'s trees, then datasets outside them (or in the run dir); corral-enter\'s refusal line read back', () => {
  const trees = hostRootTrees();
  assert.ok(trees.includes('/usr') && trees.includes('/etc') && trees.includes('/var'), trees.join(' '));
  assert.ok(!trees.includes('/sys'));
  const run = realpathSync(fx.rt.runDir);
  assert.deepEqual(sandboxViews(false, ['/usr/share', run], run), ['/usr/share', run], 'an image root: its datasets only');
  assert.deepEqual(sandboxViews(true, ['/usr/share'], run), trees, 'a dataset inside a tree is already shown through it');
  assert.deepEqual(viewRefusal('x\ncorral-enter: view /srv/a b: shown as it lies (overlay: Invalid argument)\n'), { path: '/srv/a b', why: 'overlay: Invalid argument' });
  assert.equal(viewRefusal('corral-enter: exec bwrap: No such file'), undefined);
  const argv = buildEnterArgv({ cgroupProcs: [], uid: 1, gid: 1, views: ['/usr', '/var'], viewKeep: ['/run/corral'], viewEmpty: '/run/corral/e' }, ['true']);
  assert.deepEqual(argv.slice(1, 9), ['--view', '/usr', '--view', '/var', '--view-keep', '/run/corral', '--view-empty', '/run/corral/e']);
});
