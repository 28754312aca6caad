// Why: the relayed reverse shell is found by joining two records by process lineage (fed-shells.ts), and
// the sensor's stdio bits say which fds are pipes or pseudo-terminals. These pin the rules that decide it
// without a sandbox: which shells read their commands from stdin, both orders of exec and connect, each
// shell reported once, pids forgotten when they end, and the X line's bits decoded per kind. The lab
// scenarios (scenario-redteam-runtime) prove the same end to end through the kernel sensor. A relay beside the
// shell (pipe-relays.ts) is found by the ends of its pipes, read from /proc.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FedShells, isFedShell, shellReadsStdin } from '../src/session/fed-shells.js';
import { grandparents, stdioFds } from '../src/sensors/bpftrace-records.js';
import { ProcessParents } from '../src/session/process-parents.js';
import { pipeEnds, shellRelays, type PipeEnd } from '../src/session/pipe-relays.js';
import { closeSync, constants, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

test('a shell reads its commands from stdin unless -c or a script operand says otherwise', () => {
  for (const argv of [['sh'], ['/bin/bash', '-i'], ['bash', '--norc', '-i'], ['sh', '-s', 'a', 'b'], ['bash', '-l', '-'], ['zsh', '-o', 'vi'], ['bash', '--rcfile', 'x.rc'], ['bash', '-eux'], ['dash', '+o', 'emacs']]) {
    assert.equal(shellReadsStdin(argv), true, argv.join(' '));
  }
  for (const argv of [['sh', '/dev/stdin'], ['bash', '/proc/self/fd/0'], ['bash', '--', '/dev/fd/0'], ['sh', '//dev//stdin']]) {
    assert.equal(shellReadsStdin(argv), true, `stdin under another name: ${argv.join(' ')}`);
  }
  for (const argv of [['sh', '-c', 'id'], ['bash', '-ec', 'id'], ['bash', 'script.sh'], ['sh', '-e', 'x.sh'], ['bash', '--', 'x.sh'], ['zsh', '-o', 'vi', 'x.zsh'], ['bash', '--rcfile', 'x.rc', 'run.sh']]) {
    assert.equal(shellReadsStdin(argv), false, argv.join(' '));
  }
});

test('a fed shell reads a pipe or pty and answers into one (or a socket); other programs and stdio are not', () => {
  assert.equal(isFedShell('sh', ['sh'], { pipe: [0, 1, 2] }), true);
  assert.equal(isFedShell('bash', ['bash', '-i'], { pty: [0, 1, 2] }), true);
  assert.equal(isFedShell('sh', ['sh'], { pipe: [0], socket: [1] }), true);
  assert.equal(isFedShell('sh', ['sh'], { pipe: [0] }), false, 'output to a terminal or file: a script piped in, not a relay');
  assert.equal(isFedShell('sh', ['sh'], { pipe: [1, 2] }), false, 'stdin not a pipe');
  assert.equal(isFedShell('sh', ['sh', '-c', 'make'], { pipe: [0, 1, 2] }), false);
  assert.equal(isFedShell('python3', ['python3'], { pipe: [0, 1, 2] }), false);
});

test('shell first or connection first, the relay is found once, with the feeder and where it connected', () => {
  const pipes = { pipe: [0, 1, 2] };
  const a = new FedShells();
  assert.equal(a.connect(10, '198.51.100.10:80'), undefined, 'a connection alone is nothing');
  assert.deepEqual(a.exec(11, 10, 'sh', ['sh'], pipes), { shell: 11, feeder: 10, remote: '198.51.100.10:80' });
  assert.equal(a.exec(12, 99, 'sh', ['sh'], pipes), undefined, 'a parent that never connected');

  const b = new FedShells();
  assert.equal(b.exec(21, 20, 'sh', ['sh'], pipes), undefined);
  assert.deepEqual(b.connect(20, '198.51.100.10:80'), { shell: 21, feeder: 20, remote: '198.51.100.10:80' });
  assert.equal(b.connect(20, '198.51.100.10:81'), undefined, 'reported once');

  // (any ancestor counts: the connecting process forked first, or `sh -c 'sh'` stood between)
  const d = new FedShells();
  d.connect(40, '198.51.100.10:80');
  assert.deepEqual(d.exec(43, 42, 'sh', ['sh'], pipes, () => [41, 40]), { shell: 43, feeder: 40, remote: '198.51.100.10:80' });
  const e = new FedShells();
  assert.equal(e.exec(53, 52, 'sh', ['sh'], pipes, () => [51, 50]), undefined);
  assert.deepEqual(e.connect(50, '198.51.100.10:80'), { shell: 53, feeder: 50, remote: '198.51.100.10:80' });
  assert.equal(e.connect(52, '198.51.100.10:80'), undefined, 'reported once, under whichever ancestor');

  const c = new FedShells();
  c.exec(31, 30, 'sh', ['sh'], pipes);
  c.exit(31);
  assert.equal(c.connect(30, '198.51.100.10:80'), undefined, 'the shell had ended');
  c.exit(30);
  assert.equal(c.exec(32, 30, 'sh', ['sh'], pipes), undefined, 'a reused pid is not the process that connected');
});

test('a waiting shell\'s relay found later is reported once, and only if it connected out', () => {
  const pipes = { pipe: [0, 1] };
  const f = new FedShells();
  assert.equal(f.exec(61, 60, 'sh', ['sh'], pipes), undefined);
  assert.equal(f.waits(61), true);
  f.connect(70, '198.51.100.10:80'); // (the relay beside it connected before it opened the shell's FIFOs)
  assert.equal(f.relayedBy(61, [71]), undefined, 'a relay that never connected');
  assert.deepEqual(f.relayedBy(61, [71, 70]), { shell: 61, feeder: 70, remote: '198.51.100.10:80' });
  assert.equal(f.waits(61), false);
  assert.equal(f.relayedBy(61, [70]), undefined, 'reported once');
  assert.equal(f.connect(60, '198.51.100.10:80'), undefined, 'nor again by its parent');
  // not a fed shell, or ended: nothing waits
  assert.equal(f.exec(81, 80, 'sh', ['sh', '-c', 'ls'], pipes), undefined);
  assert.equal(f.waits(81), false);
  f.exec(91, 90, 'sh', ['sh'], pipes);
  f.exit(91);
  assert.equal(f.relayedBy(91, [70]), undefined);
});

test('the X line\'s stdio bits name TCP sockets, pipes and ptys per fd; a damaged field names none', () => {
  assert.deepEqual(stdioFds('0'), {});
  assert.deepEqual(stdioFds('7'), { stdioSocket: [0, 1, 2] });
  assert.deepEqual(stdioFds(String(1 | (1 << 4) | (1 << 5))), { stdioSocket: [0], stdioPipe: [1, 2] });
  assert.deepEqual(stdioFds(String((1 << 6) | (1 << 7) | (1 << 8))), { stdioPty: [0, 1, 2] });
  for (const bad of ['', '512', '-1', '1e2', 'x', '07a']) assert.deepEqual(stdioFds(bad), {}, bad);
});

test('process parents: the exec records name parents past their end, the walk stops below the holder, a unix peer and its parents are feeders too', () => {
  const p = new ProcessParents();
  // (pids far above any live one, so /proc never answers for them)
  p.exec(4_000_002, 4_000_001); p.exec(4_000_003, 4_000_002); p.exec(4_000_001, 4_000_000);
  assert.deepEqual(p.ancestors(4_000_003, 4_000_000), [4_000_002, 4_000_001]);
  assert.deepEqual(p.ancestors(4_000_003, 0), [4_000_002, 4_000_001, 4_000_000]);
  p.exec(4_000_010, 4_000_009);
  assert.deepEqual(p.feeders(4_000_020, 4_000_003, 4_000_010, 4_000_000), [4_000_003, 4_000_002, 4_000_001, 4_000_010, 4_000_009]);
  assert.deepEqual(p.feeders(4_000_020, 4_000_003, 4_000_020, 4_000_000), [4_000_003, 4_000_002, 4_000_001], 'its own socketpair is no other feeder');
  // a live process never exec'd under a recorded parent: the kernel names it
  assert.deepEqual(p.ancestors(process.pid, process.ppid).slice(0, 1), []);
  assert.equal(new ProcessParents().ancestors(process.pid, -1)[0], process.ppid);
});

test('process parents: the parents the kernel names at a child exec name a forked parent that is gone; a reaper in their place keeps the exec record', () => {
  const p = new ProcessParents();
  // a connecting program (4_000_101) forked 4_000_102, which never exec'd and has exited; its child shell 4_000_103 exec'd
  p.exec(4_000_101, 4_000_100);
  p.exec(4_000_103, 4_000_102, [4_000_101, 4_000_100], 4_000_000);
  assert.deepEqual(p.ancestors(4_000_103, 4_000_000), [4_000_102, 4_000_101, 4_000_100]);
  // a wrapper whose parent died was adopted by the holder: its exec record still names the connecting program
  p.exec(4_000_104, 4_000_101);
  p.exec(4_000_105, 4_000_104, [4_000_000], 4_000_000);
  assert.deepEqual(p.ancestors(4_000_105, 4_000_000), [4_000_104, 4_000_101, 4_000_100]);
  p.exec(4_000_106, 4_000_104, [1, 4_000_101], 0);
  assert.deepEqual(p.ancestors(4_000_106, 0), [4_000_104, 4_000_101, 4_000_100], 'pid 1 ends the list the kernel gave');
});

test('exec trailer: the grandparents field is a chain that ends at the first non-pid', () => {
  assert.deepEqual(grandparents('12', '7'), { grandparents: [12, 7] });
  assert.deepEqual(grandparents('12', '0'), { grandparents: [12] });
  assert.deepEqual(grandparents('0', '7'), {});
  for (const bad of ['', '-3', '1e3', '99999999999', '4294967295', 'x']) assert.deepEqual(grandparents(bad, '5'), {}, bad);
});

test('pipe relays: a process holding both ends of a shell\'s pipes, or its output and what a feeder of its input reads; never a feeder alone', () => {
  const end = (pid: number, ino: number, read: boolean): PipeEnd => ({ pid, ino, read, write: !read });
  // shell 10 reads pipe 100, writes pipe 200
  const shellEnds = [end(10, 100, true), end(10, 200, false)];
  assert.deepEqual(shellRelays(10, 100, 200, [...shellEnds, end(20, 100, false), end(20, 200, true)]), [20], 'both ends');
  // `cat in | sh >out`: cat (30) writes 100 and reads the FIFO 300, which the relay (20) writes
  // (every process on the loop through the shell relays it: the caller asks which of them connected out)
  assert.deepEqual(shellRelays(10, 100, 200, [...shellEnds, end(30, 100, false), end(30, 300, true), end(20, 300, false), end(20, 200, true)]), [20, 30], 'one process between');
  // session 44: `relay | cat | tr a a | sh | cat | relay` — two processes before the shell, one after
  const chain = [...shellEnds, end(20, 300, false), end(31, 300, true), end(31, 301, false), end(32, 301, true), end(32, 100, false),
    end(33, 200, true), end(33, 302, false), end(20, 302, true)];
  assert.deepEqual(shellRelays(10, 100, 200, chain), [20, 31, 32, 33], 'a longer loop');
  // the same chain cut open (the last cat writes a file, not the relay's pipe): nobody reads the shell's answers back
  assert.deepEqual(shellRelays(10, 100, 200, chain.filter((e) => !(e.pid === 20 && e.ino === 302))), []);
  // more than MAX_HOPS processes before the shell: the relay is not reached (a bound on the walk; the processes on
  // the loop it did reach hold no connection of their own)
  const long = [...shellEnds, end(20, 200, true), end(20, 400, false), ...[0, 1, 2, 3, 4, 5].flatMap((k) => [end(40 + k, 400 + k, true), end(40 + k, k === 5 ? 100 : 401 + k, false)])];
  assert.ok(!shellRelays(10, 100, 200, long).includes(20));
  assert.deepEqual(shellRelays(10, 100, 200, long.filter((e) => e.pid < 44 || e.pid > 45).map((e) => (e.pid === 43 ? { ...e, ino: e.read ? e.ino : 100 } : e))), [20, 40, 41, 42, 43], 'four between');
  // `fetch | sh`: the fetcher feeds the shell; the shell's output goes elsewhere
  assert.deepEqual(shellRelays(10, 100, 200, [...shellEnds, end(20, 100, false)]), []);
  // a reader of the output that feeds nothing is a pager, not a relay
  assert.deepEqual(shellRelays(10, 100, 200, [...shellEnds, end(20, 200, true), end(30, 100, false)]), []);
  // a parent holding copies is skipped (the lineage check judges it)
  assert.deepEqual(shellRelays(10, 100, 200, [...shellEnds, end(20, 100, false), end(20, 200, true)], new Set([20])), []);
  // a FIFO opened read-write is both ends
  assert.deepEqual(shellRelays(10, 100, 200, [...shellEnds, { pid: 40, ino: 100, read: true, write: true }, end(40, 200, true)]), [40]);
});

test('pipe ends are read from /proc by inode and access mode', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-fifo-'));
  const fifo = join(dir, 'f');
  try {
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const r = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const w = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    try {
      const ino = statSync(fifo).ino;
      const mine = pipeEnds([process.pid]).filter((e) => e.ino === ino);
      assert.deepEqual(mine.map((e) => [e.read, e.write]).sort(), [[false, true], [true, false]]);
      assert.deepEqual(pipeEnds([4_000_999]), [], 'a process that is not there has none');
    } finally { closeSync(r); closeSync(w); }
  } finally { rmSync(dir, { recursive: true, force: true }); }
});
