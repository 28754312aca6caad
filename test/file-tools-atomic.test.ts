// Why: the file tools (write, str_replace, multi_edit, insert) replace a file whole, and a call can be
// killed part-way: its time limit, a session close, a client that went away (the daemon kills the
// call's cgroup). They used to truncate the file and write it again in place, so such a kill left the
// agent's file half-written, its old content gone (a 30 MiB write cancelled after ~120 ms left an
// 18 MiB file). native/file-replace.c writes a temporary file in the same directory and renames it
// over the target. This proves, in real sandboxes as the agent: a write or an edit killed while it
// writes leaves the old file whole and no temporary file; a completed one keeps the file's mode and
// the agent's ownership, and a link to the file still leads to it; an append stays an append; where
// a rename would change what the name means or cannot be done — a file with several hard links, a
// file in a directory the agent cannot create files in, another user's file, a file bind-mounted
// into the sandbox — the
// file is written in place, as before; the call still reports the file it really wrote.
// Inside the lab (no traffic: file tools only).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { buildTestImage } from './helpers/test-image.js';
import { openedPaths } from '../src/session/file-tools.js';
import type { Session } from '../src/session/session.js';

let fx: Fixture;
let scratch: string;
before(async () => {
  fx = await startFixture([], 'labfta');
  scratch = mkdtempSync(join(tmpdir(), 'corral-atomic-'));
  chmodSync(scratch, 0o755);
});
after(async () => {
  await fx?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const MiB = 1 << 20;

/** Every process of the session's calls (the call cgroups under the session's). */
function callPids(s: Session): number[] {
  const pids: number[] = [];
  const walk = (dir: string): void => {
    let names: string[] = [];
    try { names = readdirSync(dir); } catch { return; }
    for (const n of names) {
      if (n === 'cgroup.procs') {
        try { pids.push(...readFileSync(join(dir, n), 'utf8').split('\n').filter(Boolean).map(Number)); } catch { /* gone */ }
      } else if (n.startsWith('call-')) walk(join(dir, n));
    }
  };
  walk(s.cgroup.unifiedDir);
  return pids;
}

/** The sizes of the regular files the call's file-tool program has open (the target, its temporary file). */
function openFileSizes(s: Session): number[] {
  const sizes: number[] = [];
  for (const pid of callPids(s)) {
    let cmd = '';
    try { cmd = readFileSync(`/proc/${pid}/cmdline`, 'latin1'); } catch { continue; }
    if (!cmd.startsWith('/run/corral-file\0')) continue;
    let fds: string[] = [];
    try { fds = readdirSync(`/proc/${pid}/fd`); } catch { continue; }
    for (const fd of fds) {
      try { const st = statSync(`/proc/${pid}/fd/${fd}`); if (st.isFile()) sizes.push(st.size); } catch { /* closed */ }
    }
  }
  return sizes;
}

/**
 * Runs a file call and kills it — as the daemon does when its client goes away — as soon as its
 * program holds a file of between 1 MiB and `newSize` bytes other than the old one (`oldSize`): the
 * new content is being written. Returns whether the kill came while it was writing.
 */
async function killWhileWriting(s: Session, call: Parameters<Session['file']>[0], oldSize: number, newSize: number): Promise<{ killed: boolean; ok: boolean; problem?: string }> {
  const running = s.file(call);
  let done = false;
  let killed = false;
  void running.finally(() => { done = true; });
  const end = Date.now() + 60_000;
  while (!done && Date.now() < end) {
    if (openFileSizes(s).some((n) => n >= MiB && n !== oldSize && n < newSize)) {
      s.cancelRunning('the test killed it while it wrote');
      killed = true;
      break;
    }
    await new Promise((r) => setImmediate(r));
  }
  const r = await running;
  return { killed: killed && !r.ok, ok: r.ok, problem: r.problem };
}

/** The workspace directory's entries, as the agent's own ls sees them (hidden ones too). */
async function entries(s: Session, dir = '.'): Promise<string[]> {
  const r = await s.exec({ command: `ls -A ${dir}` });
  return r.stdout.split('\n').filter(Boolean).sort();
}

test('a write or an edit killed while it writes (its client went away) leaves the old file whole, and no temporary file', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'fta-kill' });
  try {
    const old = Buffer.from('the old content, line after line\n'.repeat(4000));
    const big = Buffer.alloc(32 * MiB - 4096, 'n');
    // (killed while it writes: the old file; a kill that came after the rename, on a loaded machine, may
    // find the whole new one; never a part. Enough kills must find the old file for this to prove anything.)
    let midWrite = 0;
    for (let i = 0; i < 10 && midWrite < 3; i++) {
      assert.ok((await s.file({ op: 'write', path: 'big.txt', content: old })).ok);
      assert.deepEqual(await entries(s), ['big.txt'], 'no temporary file is left (one a kill left named, in the instant before its rename, is gone after the next write here)');
      const r = await killWhileWriting(s, { op: 'write', path: 'big.txt', content: big }, old.length, big.length);
      const now = (await s.file({ op: 'read', path: 'big.txt', maxBytes: 64 * MiB })).content!;
      assert.ok(now.equals(old) || now.equals(big), `a write ${r.killed ? 'killed part-way' : 'not killed'} left ${now.length} bytes (${now.subarray(0, 12).toString()}…), neither the old ${old.length} nor the new ${big.length}: ${r.problem}`);
      if (r.killed && now.equals(old)) {
        midWrite++;
        assert.equal(r.problem, 'the file operation on /workspace/big.txt was stopped before it finished (the test killed it while it wrote)', 'the result says why it stopped');
      }
    }
    assert.ok((await s.file({ op: 'write', path: 'big.txt', content: old })).ok);
    assert.deepEqual(await entries(s), ['big.txt'], 'no temporary file is left (one a kill left named, in the instant before its rename, is gone after the next write here)');
    assert.ok(midWrite > 0, 'some write was killed while it wrote (else this test proves nothing)');

    // an edit (replace_all growing an 8 MiB file to 19 MiB, written once) killed while it writes
    const text = Buffer.from('ab\n'.repeat((8 * MiB) / 3));
    const edited = Buffer.from('abcdef\n'.repeat((8 * MiB) / 3));
    let midEdit = 0;
    for (let i = 0; i < 10 && midEdit < 2; i++) {
      assert.ok((await s.file({ op: 'write', path: 'edit.txt', content: text })).ok);
      assert.deepEqual(await entries(s), ['big.txt', 'edit.txt'], 'no temporary file is left (one a kill left named, in the instant before its rename, is gone after the next write here)');
      const r = await killWhileWriting(s, { op: 'str_replace', path: 'edit.txt', old: 'ab', new: 'abcdef', replaceAll: true }, text.length, edited.length);
      const now = (await s.file({ op: 'read', path: 'edit.txt', maxBytes: 64 * MiB })).content!;
      assert.ok(now.equals(text) || now.equals(edited), `an edit ${r.killed ? 'killed part-way' : 'not killed'} left ${now.length} bytes, neither the old ${text.length} nor the edited ${edited.length}: ${r.problem}`);
      if (r.killed && now.equals(text)) midEdit++;
    }
    assert.ok((await s.file({ op: 'write', path: 'edit.txt', content: text })).ok);
    assert.deepEqual(await entries(s), ['big.txt', 'edit.txt'], 'no temporary file is left (one a kill left named, in the instant before its rename, is gone after the next write here)');
    assert.ok(midEdit > 0, 'some edit was killed while it wrote');
  } finally { await s.close(); }
});

test('a write cut off by its time limit leaves the old file or the whole new one, never a part, and no temporary file', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'fta-timeout' });
  try {
    const old = Buffer.from('old\n'.repeat(1000));
    const big = Buffer.alloc(32 * MiB, 'n');
    // (limits spread over how long a whole write takes here, so some fall while it writes)
    const whole: number[] = [];
    for (let i = 0; i < 3; i++) whole.push((await s.file({ op: 'write', path: 'big.txt', content: big })).durationMs);
    const took = whole.sort((a, b) => a - b)[1]!;
    let timedOut = 0;
    for (let k = 0.3; k <= 1.1; k += 0.05) {
      const ms = Math.max(1, Math.round(took * k));
      assert.ok((await s.file({ op: 'write', path: 'big.txt', content: old })).ok);
      assert.deepEqual(await entries(s), ['big.txt'], 'no temporary file is left (one a kill left named, in the instant before its rename, is gone after the next write here)');
      const r = await s.file({ op: 'write', path: 'big.txt', content: big, timeoutMs: ms });
      if (r.timedOut) timedOut++;
      const now = (await s.file({ op: 'read', path: 'big.txt', maxBytes: 64 * MiB })).content!;
      assert.ok(now.equals(old) || now.equals(big), `after a ${ms} ms limit (${r.timedOut ? 'timed out' : 'finished'}): ${now.length} bytes, neither the old ${old.length} nor the new ${big.length}`);
    }
    assert.ok((await s.file({ op: 'write', path: 'big.txt', content: old })).ok);
    assert.deepEqual(await entries(s), ['big.txt'], 'no temporary file is left (one a kill left named, in the instant before its rename, is gone after the next write here)');
    assert.ok(timedOut > 0, 'some write was cut off by its time limit');
  } finally { await s.close(); }
});

test('a completed write or edit replaces the file with one of the same mode and owner; a link to it still leads to it; an append stays an append', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'fta-mode' });
  try {
    const stat = async (p: string): Promise<string> => (await s.exec({ command: `stat -c '%i %a %u %g %h' ${p}` })).stdout.trim();
    await s.exec({ command: 'printf "#!/bin/sh\\necho old\\n" > run.sh && chmod 750 run.sh && printf "k=v\\n" > conf && chmod 604 conf && ln -s run.sh link.sh' });
    const [ino0, mode0, uid0, gid0] = (await stat('run.sh')).split(' ');
    assert.equal(mode0, '750');
    const w = await s.file({ op: 'write', path: 'run.sh', content: '#!/bin/sh\necho new\n' });
    assert.ok(w.ok, w.problem);
    assert.equal(w.size, 19);
    const [ino1, mode1, uid1, gid1] = (await stat('run.sh')).split(' ');
    assert.notEqual(ino1, ino0, 'the file was replaced (a new file renamed over it), not rewritten in place');
    assert.deepEqual([mode1, uid1, gid1], [mode0, uid0, gid0], 'mode and owner carried over');
    assert.equal((await s.exec({ command: './run.sh && ./link.sh' })).stdout, 'new\nnew\n', 'still executable, and the link leads to the new file');
    // an edit through the link: the link stays a link, the file it names is replaced, mode kept
    const e = await s.file({ op: 'str_replace', path: 'link.sh', old: 'new', new: 'edited' });
    assert.ok(e.ok, e.problem);
    assert.deepEqual(openedPaths(e.stderr), ['/workspace/run.sh'], 'the call names the file it really wrote, not a temporary one');
    assert.equal((await s.exec({ command: 'readlink link.sh; ./link.sh' })).stdout, 'run.sh\nedited\n');
    assert.equal((await stat('run.sh')).split(' ')[1], '750');
    const edits: [string, Parameters<Session['file']>[0]][] = [['multi_edit', { op: 'multi_edit', path: 'conf', edits: [{ old: 'k', new: 'key' }, { old: 'v', new: 'value' }] }], ['insert', { op: 'insert', path: 'conf', line: 0, text: '# c' }]];
    for (const [op, call] of edits) {
      const r = await s.file(call);
      assert.ok(r.ok, `${op}: ${r.problem}`);
      assert.equal((await stat('conf')).split(' ')[1], '604', `${op} keeps the mode`);
    }
    assert.equal((await s.exec({ command: 'cat conf' })).stdout, '# c\nkey=value\n');
    // set-user-ID cannot be set at all (the seccomp filter: on a host workspace it would be the owner's on the
    // host), and a write after the refused chmod keeps the mode as it was
    assert.match((await s.exec({ command: 'chmod 4755 run.sh; echo rc=$?' })).stdout, /rc=1\n$/);
    assert.ok((await s.file({ op: 'write', path: 'run.sh', content: '#!/bin/sh\necho x\n' })).ok);
    assert.equal((await stat('run.sh')).split(' ')[1], '750');
    // an append writes at the end of the same file
    const [ino2] = (await stat('conf')).split(' ');
    const a = await s.file({ op: 'write', path: 'conf', content: 'more=1\n', append: true });
    assert.ok(a.ok, a.problem);
    assert.equal((await stat('conf')).split(' ')[0], ino2, 'an append is not a replacement');
    assert.equal((await s.exec({ command: 'cat conf' })).stdout, '# c\nkey=value\nmore=1\n');
    // a new file, in a new directory
    assert.ok((await s.file({ op: 'write', path: 'new/dir/f.txt', content: 'hi' })).ok);
    assert.deepEqual(await entries(s), ['conf', 'link.sh', 'new', 'run.sh']);
    assert.deepEqual(await entries(s, 'new/dir'), ['f.txt']);
  } finally { await s.close(); }
});

test('where a rename would change what the name means, the file is written in place: hard links, a directory the agent cannot create in, another user\'s file', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'fta-inplace' });
  try {
    const ino = async (p: string): Promise<string> => (await s.exec({ command: `stat -c %i ${p}` })).stdout.trim();
    // two names of one file: both show the new content (a rename would leave `twin` with the old)
    await s.exec({ command: 'printf "old\\n" > orig && ln orig twin' });
    const before0 = await ino('orig');
    const w = await s.file({ op: 'write', path: 'orig', content: 'new\n' });
    assert.ok(w.ok, w.problem);
    assert.equal((await s.exec({ command: 'cat orig twin' })).stdout, 'new\nnew\n');
    assert.deepEqual([await ino('orig'), await ino('twin')], [before0, before0]);
    const e = await s.file({ op: 'str_replace', path: 'twin', old: 'new', new: 'edited' });
    assert.ok(e.ok, e.problem);
    assert.equal((await s.exec({ command: 'cat orig twin' })).stdout, 'edited\nedited\n');
    // a directory the agent may not create files in, holding a file it may write
    await s.exec({ command: 'mkdir locked && printf "old\\n" > locked/f && chmod 555 locked' });
    assert.match((await s.exec({ command: 'touch locked/g 2>&1; true' })).stdout, /Permission denied/);
    const l = await s.file({ op: 'write', path: 'locked/f', content: 'new\n' });
    assert.ok(l.ok, l.problem);
    const m = await s.file({ op: 'multi_edit', path: 'locked/f', edits: [{ old: 'new', new: 'newer' }] });
    assert.ok(m.ok, m.problem);
    assert.equal((await s.exec({ command: 'cat locked/f' })).stdout, 'newer\n');
    assert.deepEqual(await entries(s, 'locked'), ['f']);
    // another host user's file, writable by all: the sandbox shows it with the agent's own uid (the
    // overflow id), but a replacement would make it the agent's
    writeFileSync(join(s.workspaceDir, 'shared.txt'), 'old\n');
    chownSync(join(s.workspaceDir, 'shared.txt'), 4242, 4242);
    chmodSync(join(s.workspaceDir, 'shared.txt'), 0o666);
    assert.equal((await s.exec({ command: 'stat -c %u shared.txt; id -u' })).stdout, '65534\n65534\n');
    const shared = await s.file({ op: 'write', path: 'shared.txt', content: 'new\n' });
    assert.ok(shared.ok, shared.problem);
    const hst = statSync(join(s.workspaceDir, 'shared.txt'));
    assert.deepEqual([hst.uid, hst.gid, readFileSync(join(s.workspaceDir, 'shared.txt'), 'utf8')], [4242, 4242, 'new\n'], 'still the other user\'s file, written in place');
    assert.deepEqual(await entries(s), ['locked', 'orig', 'shared.txt', 'twin'], 'no temporary file is left');
  } finally { await s.close(); }
});

test('a file bind-mounted into the sandbox (a writable image root\'s top-level file) is written in place: the mount stays the file', async () => {
  const img = join(scratch, 'image');
  buildTestImage(img);
  writeFileSync(join(img, 'task.txt'), 'old task\n');
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'fta-bind', root: img, rootWritable: true });
  try {
    const seen = await s.exec({ command: 'stat -c "%u %h" /task.txt; cat /proc/self/mountinfo' });
    assert.equal(seen.stdout.split('\n')[0], '65534 1', `the agent's own file: ${seen.stderr}`);
    assert.ok(seen.stdout.split('\n').some((l) => l.split(' ')[4] === '/task.txt'), 'a mount point of its own');
    const w = await s.file({ op: 'write', path: '/task.txt', content: 'new task\n' });
    assert.ok(w.ok, w.problem);
    const e = await s.file({ op: 'str_replace', path: '/task.txt', old: 'new', new: 'edited' });
    assert.ok(e.ok, e.problem);
    assert.equal((await s.exec({ command: 'cat /task.txt' })).stdout, 'edited task\n');
    assert.deepEqual((await entries(s, '/')).filter((n) => n.includes('corral-tmp')), [], 'no temporary file is left');
  } finally { await s.close(); }
  assert.equal(readFileSync(join(img, 'task.txt'), 'utf8'), 'old task\n', 'the image is untouched');
});
