// Why: native/corral-file.c is the program every session file tool runs inside the sandbox, and the
// screen trusts what it prints: the file it really opened (stderr) and the lines an edit left
// (stdout). A red-team pass found the printout could lie about both. Threats it stops: a file whose
// directory name holds a newline, reached through a planted link, judged by the half of its name
// before the newline (`/workspace/a` for `/workspace/a\nb/.bashrc`); an edit whose read and write
// opened two different files (a link a background process swaps between them: the screen judged
// the file read, the edit landed in ~/.bashrc); a directory listed by its path again after the
// checked open (a swapped link lists another directory than the one reported). multi_edit and
// str_replace all (MultiEdit, Edit replace_all) keep those properties and apply all their edits or none.
// A whole-file write replaces the file atomically (native/file-replace.c): the cases a sandbox cannot
// set up are proved here — the named temporary file of a filesystem without O_TMPFILE (removed on a
// catchable signal, swept after a SIGKILL but never while its call lives), a bind-mounted file in a
// writable directory and another user's file (written in place), the group carried over.
// Runs the built dist/native/corral-file directly on a temporary directory: no sandbox needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileToolBinary } from '../src/sandbox/launcher.js';
import { openedPath, openedPaths, screenOpenedFile } from '../src/session/file-tools.js';
import { CommandChecker } from '../src/detect/check.js';
import { loadBuiltinRules } from '../src/detect/engine/api.js';

const checker = CommandChecker.create({ rules: loadBuiltinRules() });

function run(op: string, arg: string[], path: string, data: string | Buffer, env?: NodeJS.ProcessEnv): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(fileToolBinary(), [op, ...arg], { input: Buffer.concat([Buffer.from(`${path}\0`), Buffer.from(data)]), maxBuffer: 64 << 20, env });
  return { code: r.status, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = mkdtempSync(join(tmpdir(), 'corral-file-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('a file reached through a link is named whole on one line, whatever its name holds: the screen judges the real file', (t) => {
  const ws = tmp(t);
  mkdirSync(join(ws, 'a\nb'));
  mkdirSync(join(ws, 'a\ncorral-file-tool-opened: '), { recursive: true });
  symlinkSync('a\nb/.bashrc', join(ws, 'notes.txt'));
  const r = run('write', [], join(ws, 'notes.txt'), 'echo hi\n');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(ws, 'a\nb/.bashrc'), 'utf8'), 'echo hi\n');
  // one line of stderr, decoded back to the real name (before: "…/a", then a stray line "b/.bashrc")
  assert.equal(r.stderr.split('\n').filter((l) => l !== '').length, 1, JSON.stringify(r.stderr));
  assert.deepEqual(openedPaths(r.stderr), [join(ws, 'a\nb/.bashrc')]);
  // a name made to look like a second "opened" line stays inside the first
  symlinkSync('a\ncorral-file-tool-opened: /x', join(ws, 'n2'));
  const r2 = run('write', [], join(ws, 'n2'), 'x');
  assert.equal(r2.code, 0, r2.stderr);
  assert.deepEqual(openedPaths(r2.stderr), [join(ws, 'a\ncorral-file-tool-opened: /x')]);
  // a failure's message names the path on one line too (the agent's `problem` is not split or forged)
  const r3 = run('read', [], join(ws, 'missing\ncorral-file-tool-opened: /etc/shadow'), '');
  assert.equal(r3.code, 3);
  assert.deepEqual(openedPaths(r3.stderr), []);
  assert.ok(r3.stderr.split('\n').filter((l) => l !== '').every((l) => l.startsWith('corral-file-tool: ')), r3.stderr);
});

test('every file a call says it opened is judged, not only the first', () => {
  const ws = '/workspace';
  const stderr = 'corral-file-tool-opened: /workspace/harmless.txt\ncorral-file-tool-opened: /workspace/.bashrc\n';
  assert.deepEqual(openedPaths(stderr), ['/workspace/harmless.txt', '/workspace/.bashrc']);
  assert.equal(openedPath(stderr), '/workspace/.bashrc');
  const res = screenOpenedFile({ op: 'write', path: 'notes.txt', content: 'echo hi\n' }, '/workspace/notes.txt', stderr, checker, undefined, ws);
  assert.ok(res?.findings.some((f) => f.message.includes('.bashrc')), JSON.stringify(res?.findings.map((f) => f.message)));
});

/**
 * `ws/link` flipped between a.txt and b.txt by a background process (as an agent's `… &` of an
 * earlier call would; bounded: it stops by itself) while `edit` runs `rounds` times on fresh files;
 * returns how many times b.txt's content was changed (`changed` judges it).
 */
function underLinkFlipper(t: { after: (fn: () => void) => void }, ws: string, rounds: number, edit: () => unknown, changed: (b: string) => boolean): number {
  writeFileSync(join(ws, 'a.txt'), 'AAA old\n');
  writeFileSync(join(ws, 'b.txt'), 'BBB untouched\n');
  symlinkSync('a.txt', join(ws, 'link'));
  const flip = spawn(process.execPath, ['-e', `
    const fs = require('node:fs'); const d = ${JSON.stringify(ws)}; const end = Date.now() + 20000;
    for (let i = 0; Date.now() < end; i++) { const tmp = d + '/l' + (i % 2); try { fs.unlinkSync(tmp); } catch {} fs.symlinkSync(i % 2 ? 'a.txt' : 'b.txt', tmp); fs.renameSync(tmp, d + '/link'); }
  `], { stdio: 'ignore' });
  t.after(() => { flip.kill('SIGKILL'); });
  let landed = 0;
  try {
    for (let i = 0; i < rounds; i++) {
      writeFileSync(join(ws, 'a.txt'), 'AAA old\n');
      writeFileSync(join(ws, 'b.txt'), 'BBB untouched\n');
      edit();
      if (changed(readFileSync(join(ws, 'b.txt'), 'utf8'))) landed++;
    }
  } finally { flip.kill('SIGKILL'); }
  return landed;
}

test('an edit writes the very file it read: a link swapped between the read and the write fails the call, it never lands in the other file', async (t) => {
  const ws = tmp(t);
  const landed = underLinkFlipper(t, ws, 400, () => run('str_replace', [], join(ws, 'link'), '3\noldnew'), (b) => b.includes('AAA'));
  assert.equal(landed, 0, `a's edited text landed in b.txt ${landed} times`);
  // (the flipper left; a plain edit still works)
  renameSync(join(ws, 'a.txt'), join(ws, 'c.txt'));
  writeFileSync(join(ws, 'c.txt'), 'x old y\n');
  const ok = run('str_replace', [], join(ws, 'c.txt'), '3\noldnew');
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(readFileSync(join(ws, 'c.txt'), 'utf8'), 'x new y\n');
});

test('edits, appends and reads still frame their output as before (sizes, context lines, F/D heads)', (t) => {
  const ws = tmp(t);
  const f = join(ws, 'x.txt');
  assert.deepEqual(run('write', [], f, 'one\ntwo\n'), { code: 0, stdout: '8\n', stderr: '' });
  assert.deepEqual(run('append', [], f, 'three'), { code: 0, stdout: '13\none\ntwo\nthree', stderr: '' });
  assert.deepEqual(run('insert', ['1'], f, 'ins'), { code: 0, stdout: '17\none\nins\ntwo\n', stderr: '' });
  assert.deepEqual(run('str_replace', [], f, '3\ntwoTWO'), { code: 0, stdout: '17\none\nins\nTWO\nthree', stderr: '' });
  assert.deepEqual(run('read', ['5'], f, ''), { code: 0, stdout: 'F 5 1 17\none\ni', stderr: '' });
  mkdirSync(join(ws, 'd/sub'), { recursive: true });
  writeFileSync(join(ws, 'd/f'), '');
  assert.deepEqual(run('read', [], join(ws, 'd'), ''), { code: 0, stdout: 'D 2\nf\0sub/\0', stderr: '' });
  assert.deepEqual(run('read', [], join(ws, 'd/sub'), ''), { code: 0, stdout: 'D 0\n', stderr: '' });
});

/** multi_edit's input: per edit "<old bytes> <new bytes> <0|1>\n", the old text and the new text. */
function edits(...list: [string, string, boolean?][]): Buffer {
  return Buffer.concat(list.map(([o, n, all]) => Buffer.from(`${Buffer.byteLength(o)} ${Buffer.byteLength(n)} ${all ? 1 : 0}\n${o}${n}`)));
}

test('multi_edit and str_replace all edit as MultiEdit and Edit replace_all do: in order, all or nothing, the failing edit named', (t) => {
  const ws = tmp(t);
  const f = join(ws, 'cfg.py');
  writeFileSync(f, 'a = 1\nb = 1\nc = 2\n');
  // every occurrence; then several edits, the second applied to what the first left
  assert.deepEqual(run('str_replace', ['all'], f, '3\n= 1= 10'), { code: 0, stdout: '20\na = 10\nb = 10\nc = 2\n', stderr: '' });
  const ok = run('multi_edit', [], f, edits(['a = 10', 'a = 11 # QQ'], [' # QQ', ''], ['= 10', '= 12', true], ['c = 2', 'c = 3']));
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(readFileSync(f, 'utf8'), 'a = 11\nb = 12\nc = 3\n');
  // (the lines around every change, as the file now is: what the screen judges after the call)
  assert.equal(ok.stdout, '20\na = 11\nb = 12\nc = 3\n');
  // one edit that does not apply: nothing is written, and the message says which (counted from 1) and why
  const before = readFileSync(f, 'utf8');
  const absent = run('multi_edit', [], f, edits(['a = 11', 'a = 0'], ['nowhere', 'x'], ['c = 3', 'c = 0']));
  assert.equal(absent.code, 5);
  assert.equal(absent.stdout, '');
  assert.equal(absent.stderr, `corral-file-tool: no edit was made (edit 2 of 3 failed): the old text does not appear verbatim in ${f}\n`);
  const twice = run('multi_edit', [], f, edits(['c = 3', 'c = 0'], ['= 1', '= 9']));
  assert.equal(twice.code, 5);
  assert.match(twice.stderr, /no edit was made \(edit 2 of 2 failed\): the old text appears 2 times in .*cfg\.py \(lines 1, 2\); it must be unique/);
  // (an old text an earlier edit of the same call made unique no more counts as it is then)
  const made = run('multi_edit', [], f, edits(['c = 3', 'b = 12'], ['b = 12', 'x']));
  assert.match(made.stderr, /edit 2 of 2 failed\): the old text appears 2 times .*\(lines 2, 3\)/);
  assert.equal(run('str_replace', ['all'], f, '7\nnowherex').code, 5);
  assert.equal(run('multi_edit', [], f, edits(['', 'x'])).code, 5);
  assert.equal(readFileSync(f, 'utf8'), before, 'a refused call changes nothing');
  // a replace_all that would grow the file past what one call may add (32 MiB) is refused before it builds the text
  writeFileSync(f, 'x'.repeat(400));
  const huge = run('str_replace', ['all'], f, Buffer.concat([Buffer.from('1\nx'), Buffer.alloc(100_000, 'y')]));
  assert.equal(huge.code, 5);
  assert.match(huge.stderr, /would grow by more than 33554432 bytes/);
  assert.equal(readFileSync(f, 'utf8'), 'x'.repeat(400));
  // malformed input is bad use, naming the edit
  assert.match(run('multi_edit', [], f, '3 1\nabcd').stderr, /multi_edit: edit 1: expected "<old length> <new length> <0\|1>"/);
  assert.match(run('multi_edit', [], f, Buffer.concat([edits(['x', 'y']), Buffer.from('9 9 0\nab')])).stderr, /multi_edit: edit 2: the input is shorter than its lengths/);
  assert.equal(run('multi_edit', [], f, '').code, 2);
  assert.match(run('str_replace', ['every'], f, '1\nxy').stderr, /the only option is "all"/);
  assert.equal(readFileSync(f, 'utf8'), 'x'.repeat(400));
});

test('a multi_edit writes the very file it read too: a link swapped between the read and the write fails it', async (t) => {
  const ws = tmp(t);
  const landed = underLinkFlipper(t, ws, 300, () => run('multi_edit', [], join(ws, 'link'), edits(['old', 'new'], ['AAA', 'A', true])), (b) => b !== 'BBB untouched\n');
  assert.equal(landed, 0, `a's edited text landed in b.txt ${landed} times`);
});

const MiB = 1 << 20;
const tempsIn = (dir: string): string[] => readdirSync(dir).filter((n) => n.startsWith('.corral-tmp-')).sort();

/** Starts a 32 MiB write of `path` and resolves once its named temporary file holds 1 MiB (it is writing). */
async function writing(path: string, env: NodeJS.ProcessEnv): Promise<ReturnType<typeof spawn>> {
  const dir = join(path, '..');
  const had = new Set(tempsIn(dir));
  const child = spawn(fileToolBinary(), ['write'], { env, stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin!.end(Buffer.concat([Buffer.from(`${path}\0`), Buffer.alloc(32 * MiB, 'n')]));
  const end = Date.now() + 20_000;
  for (;;) {
    const mine = tempsIn(dir).filter((n) => !had.has(n));
    if (mine.some((n) => { try { return statSync(join(dir, n)).size >= MiB; } catch { return false; } })) return child;
    if (Date.now() > end || child.exitCode !== null) { child.kill('SIGKILL'); throw new Error('the write never got under way'); }
    await new Promise((r) => setImmediate(r));
  }
}
const exited = (c: ReturnType<typeof spawn>): Promise<unknown> => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)));

test('without O_TMPFILE the temporary file is named: gone after a catchable signal, swept after a SIGKILL by the next write, never while its call lives', async (t) => {
  const ws = tmp(t);
  const f = join(ws, 'big.txt');
  const named = { ...process.env, CORRAL_FILE_TEMP: 'named' };
  writeFileSync(f, 'old\n');
  chmodSync(f, 0o640);
  const ino = statSync(f).ino;
  assert.deepEqual(run('write', [], f, 'new\n', named), { code: 0, stdout: '4\n', stderr: '' });
  assert.equal(readFileSync(f, 'utf8'), 'new\n');
  assert.notEqual(statSync(f).ino, ino, 'replaced through the named temporary file');
  assert.equal(statSync(f).mode & 0o7777, 0o640);
  assert.deepEqual(readdirSync(ws), ['big.txt']);
  // SIGTERM while it writes: the handler removes the temporary name; the old file is whole
  writeFileSync(f, 'old\n');
  const term = await writing(f, named);
  term.kill('SIGTERM');
  await exited(term);
  assert.equal(term.signalCode, 'SIGTERM');
  assert.equal(readFileSync(f, 'utf8'), 'old\n');
  assert.deepEqual(tempsIn(ws), []);
  // SIGKILL cannot be caught: its temporary file stays (the old file whole) …
  const kill = await writing(f, named);
  kill.kill('SIGKILL');
  await exited(kill);
  assert.equal(readFileSync(f, 'utf8'), 'old\n');
  const stale = tempsIn(ws);
  assert.equal(stale.length, 1);
  // … until the next replacing write there; a call still writing (stopped here) keeps its own
  const other = join(ws, 'other.txt');
  const live = await writing(other, named);
  t.after(() => { live.kill('SIGKILL'); });
  live.kill('SIGSTOP');
  const mine = tempsIn(ws).filter((n) => !stale.includes(n));
  assert.equal(mine.length, 1);
  assert.equal(run('write', [], f, 'newer\n', named).code, 0);
  assert.equal(readFileSync(f, 'utf8'), 'newer\n');
  assert.deepEqual(tempsIn(ws), mine, 'the killed call\'s temporary file is swept, the live call\'s kept');
  live.kill('SIGCONT');
  await exited(live);
  assert.equal(live.exitCode, 0);
  assert.equal(statSync(other).size, 32 * MiB);
  assert.deepEqual(readdirSync(ws).sort(), ['big.txt', 'other.txt']);
});

test('a replacement keeps the group; another user\'s file and a bind-mounted file are written in place', { skip: process.getuid?.() !== 0 ? 'needs root (chown, mount)' : false }, (t) => {
  const ws = tmp(t);
  // (the program runs as root here: a file of root's with another group, one of another user's)
  const mine = join(ws, 'mine.txt');
  writeFileSync(mine, 'old\n');
  chownSync(mine, 0, 4242);
  chmodSync(mine, 0o2750);
  const ino = statSync(mine).ino;
  assert.equal(run('write', [], mine, 'new\n').code, 0);
  const st = statSync(mine);
  assert.notEqual(st.ino, ino);
  assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [0, 4242, 0o750], 'the group kept; set-group-ID on a group-executable file cleared, as a write clears it');
  const theirs = join(ws, 'theirs.txt');
  writeFileSync(theirs, 'old\n');
  chownSync(theirs, 4343, 4343);
  chmodSync(theirs, 0o666);
  const tino = statSync(theirs).ino;
  assert.equal(run('str_replace', [], theirs, '3\noldnew').code, 0);
  assert.deepEqual([statSync(theirs).ino, statSync(theirs).uid, readFileSync(theirs, 'utf8')], [tino, 4343, 'new\n'], 'in place: a replacement would be the writer\'s own file');
  // a file bind-mounted over another, in a directory the writer may create files in (a private mount namespace)
  const src = join(ws, 'src.txt'), over = join(ws, 'over.txt'), input = join(ws, 'input');
  writeFileSync(src, 'old\n');
  writeFileSync(over, 'hidden\n');
  writeFileSync(input, Buffer.concat([Buffer.from(`${over}\0`), Buffer.from('new\n')]));
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount --bind "$1" "$2" && "$3" write < "$4" && cat "$2"', 'sh', src, over, fileToolBinary(), input], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, '4\nnew\n');
  assert.equal(readFileSync(src, 'utf8'), 'new\n', 'the mounted file itself was written');
  assert.equal(readFileSync(over, 'utf8'), 'hidden\n', 'the file under the mount untouched');
  assert.deepEqual(tempsIn(ws), []);
});
