// Why: a unix socket file in a host directory the sandbox sees — its host workspace — is the host process's
// listener: a connect() to it goes around the sandbox's network namespace and the gateway, to whatever that
// process does for its clients (a dev server, an agent's control socket, docker's). The kernel sensor now says
// when a sandbox process connects a unix socket whose listener is outside its sandbox, and Corral raises a
// sandbox_escape alert on the tool call; a socket the sandbox made for itself is nothing to report. No traffic
// leaves: unix sockets only, inside the lab (SAFETY.md).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';

let fx: Fixture;
before(async () => { fx = await startFixture([], 'labux'); });
after(async () => { await fx?.close(); });

test('a connect to a host process\'s unix socket in the host workspace is a sandbox_escape alert of the call; the sandbox\'s own sockets are not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-ux-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // a host service listening in the workspace (stream), and a host datagram socket beside it
  let served = 0;
  const server = net.createServer((c) => { served++; c.end('HOST-SERVICE\n'); });
  await new Promise<void>((r) => server.listen(join(dir, 'host.sock'), r));
  t.after(() => server.close());
  chmodSync(join(dir, 'host.sock'), 0o777);
  const dgram = spawn('python3', ['-c', 'import socket, os, sys, time\ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nos.chmod(sys.argv[1], 0o777)\nprint("ready", flush=True)\ntime.sleep(60)', join(dir, 'dg.sock')], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => dgram.kill('SIGKILL'));
  await new Promise<void>((r) => dgram.stdout!.once('data', () => r()));
  assert.ok(existsSync(join(dir, 'dg.sock')));

  const s = await fx.rt.createSession({ policy: labPolicy(), episode: 'unix-outside', workspace: dir });
  try {
    const py = [
      'import socket, os',
      'own = socket.socket(socket.AF_UNIX); own.bind("/tmp/own.sock"); own.listen(1)',
      'c = socket.socket(socket.AF_UNIX); c.connect("/tmp/own.sock"); print("own ok")',
      'h = socket.socket(socket.AF_UNIX); h.connect("host.sock"); print(h.recv(100).decode().strip())',
      'd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d.connect("dg.sock"); print("dgram ok")',
    ].join('\n');
    const r = await s.exec({ command: py, tool: 'python', step: 1, toolCallId: 'call-1', timeoutMs: 20_000, skipScreen: true, syncSensor: true });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /own ok\nHOST-SERVICE\ndgram ok/);
    assert.equal(served, 1);
    await s.close();
    const hits = s.alertEvents.filter((a) => a.payload.rule === 'sandbox.unix_socket_outside');
    assert.deepEqual(hits.map((a) => [a.tool_call, a.payload.category, a.payload.severity]).sort(), [['call-1', 'sandbox_escape', 'critical'], ['call-1', 'sandbox_escape', 'critical']]);
    assert.ok(hits.some((a) => /"host\.sock".*\(stream\)/.test(a.payload.message)), hits.map((a) => a.payload.message).join(' | '));
    assert.ok(hits.some((a) => /"dg\.sock".*\(datagram\)/.test(a.payload.message)), hits.map((a) => a.payload.message).join(' | '));
    const evs = s.events.filter((e) => e.kind === 'socket' && e.payload.unix_outside === true);
    assert.deepEqual(evs.map((e) => e.payload.path).sort(), ['dg.sock', 'host.sock'], 'the sandbox\'s own /tmp/own.sock is not reported');
  } finally { await s.close(); }
});
