// Why: proves sandboxes do not share a host uid. With one shared uid, the kernel's per-user
// counters were shared too: a sandbox holding every inotify instance its uid may have (128 here)
// left the next sandbox unable to create one. Each sandbox now runs as its own host uid and gid
// (sandbox/sandbox-ids.ts) while seeing itself as 65534 inside, and a tool call entering the
// sandbox later runs as that same host uid. Real sandboxes, real processes, inside the lab.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { HOST_ID_BASE } from '../src/sandbox/sandbox-ids.js';

let fx: Fixture;
before(async () => { fx = await startFixture([], 'labid'); });
after(async () => { await fx?.close(); });

/** Host uid and gid of the host processes whose command line is exactly `argv`. */
function hostIdsOf(argv: string[]): { uid: number; gid: number }[] {
  const want = argv.join('\0') + '\0';
  const out: { uid: number; gid: number }[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== want) continue;
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const id = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)![1]);
      out.push({ uid: id('Uid'), gid: id('Gid') });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

test('each sandbox runs as its own host uid (65534 inside): one exhausting its inotify instances leaves the next one able to create them', async () => {
  const a = await fx.rt.createSession({ policy: labPolicy(), episode: 'ids-a' });
  const b = await fx.rt.createSession({ policy: labPolicy(), episode: 'ids-b' });
  try {
    const hog = [
      'import ctypes, os, sys, time',
      'libc = ctypes.CDLL(None)',
      'fds = []',
      'while len(fds) < 100000:',
      '    fd = libc.inotify_init()',
      '    if fd < 0: break',
      '    fds.append(fd)',
      'print(len(fds), os.getuid(), os.getgid(), flush=True)',
      'if os.fork() == 0:',
      '    os.closerange(0, 3)',
      '    os.execv("/bin/sleep", ["sleep", "41.5"])',
    ].join('\n');
    const ra = await a.exec({ command: hog, tool: 'python', step: 1, toolCallId: 'a-1', timeoutMs: 20_000 });
    const [held, uidIn, gidIn] = ra.stdout.trim().split(' ').map(Number);
    assert.ok(held! > 0 && held! < 100000, `a per-user limit stopped sandbox A (${ra.stdout} ${ra.stderr})`);
    assert.deepEqual([uidIn, gidIn], [65534, 65534], 'inside, the agent is still nobody');
    // (the exec'd sleep inherits the inotify descriptors: A keeps holding them)
    const probe = 'import ctypes, os\nlibc = ctypes.CDLL(None)\nfd = libc.inotify_init()\nprint("ok" if fd >= 0 else "refused", os.getuid())\nos.execv("/bin/sleep", ["sleep", "42.5"]) if os.fork() == 0 else None';
    const rb = await b.exec({ command: probe, tool: 'python', step: 1, toolCallId: 'b-1', timeoutMs: 20_000 });
    assert.equal(rb.stdout.trim(), 'ok 65534', `sandbox B could not create an inotify instance while A held ${held}: ${rb.stderr}`);
    // On the host the two sandboxes are two distinct uids of Corral's range, uid = gid.
    const idsA = hostIdsOf(['sleep', '41.5']);
    const idsB = hostIdsOf(['sleep', '42.5']);
    assert.equal(idsA.length, 1, JSON.stringify(idsA));
    assert.equal(idsB.length, 1, JSON.stringify(idsB));
    for (const id of [idsA[0]!, idsB[0]!]) {
      assert.ok(id.uid >= HOST_ID_BASE, `host uid ${id.uid} is in Corral's sandbox range`);
      assert.equal(id.gid, id.uid);
    }
    assert.notEqual(idsA[0]!.uid, idsB[0]!.uid, 'two sandboxes, two host uids');
    // a later call of A (entering A's namespaces) runs as A's host uid too
    await a.exec({ command: 'exec sleep 43.5 & echo started', step: 2, toolCallId: 'a-2', timeoutMs: 20_000 });
    assert.deepEqual(hostIdsOf(['sleep', '43.5']), idsA);
  } finally {
    await a.close();
    await b.close();
  }
});

test('without an idmapped mount a host workspace is used as the shared uid 65534, so the next session can change what the last one wrote', async () => {
  const ws = mkdtempSync(join(tmpdir(), 'corral-noidmap-'));
  chmodSync(ws, 0o755);
  process.env.CORRAL_NO_IDMAP = '1';
  try {
    for (const [n, cmd] of [[1, 'echo one > notes.txt'], [2, 'echo two >> notes.txt && cat notes.txt']] as const) {
      const s = await fx.rt.createSession({ policy: labPolicy(), episode: `noidmap-${n}`, workspace: ws });
      try {
        const r = await s.exec({ command: cmd, step: 1, toolCallId: `n-${n}`, timeoutMs: 20_000 });
        assert.equal(r.exitCode, 0, r.stderr);
        if (n === 2) assert.equal(r.stdout, 'one\ntwo\n');
      } finally { await s.close(); }
    }
    assert.equal(statSync(join(ws, 'notes.txt')).uid, 65534);
  } finally {
    delete process.env.CORRAL_NO_IDMAP;
    rmSync(ws, { recursive: true, force: true });
  }
});
