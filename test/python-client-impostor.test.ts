// The Python client (clients/python) talks only to a daemon run by root or by its own user, as the
// Node clients do (test/daemon-impostor.test.ts). Threat: an unprivileged local user listening first
// on a socket path a trainer names (a CORRAL_SOCKET under /tmp, a directory that user can write)
// got every request, with env=True the trainer's whole environment, and answered what it liked.
// Here a fake daemon runs as uid 65534 (setpriv) and records what reaches it; a second fake run by
// this test's own user shows the client still talks to its own user's daemon. Unix sockets only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { runPythonClient } from './helpers/python-client.js';
import { NOBODY, startFakeDaemon } from './helpers/fake-daemon.js';

let dir: string, evilSock: string, evilGot: string, ownSock: string, ownGot: string;
const fakes: ChildProcess[] = [];

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-pyimp-'));
  chmodSync(dir, 0o755);
  const evil = join(dir, 'shared');
  mkdirSync(evil);
  chownSync(evil, NOBODY, NOBODY);
  evilSock = join(evil, 'corral.sock');
  evilGot = join(evil, 'got');
  ownSock = join(dir, 'own.sock');
  ownGot = join(dir, 'own-got');
  fakes.push(await startFakeDaemon(dir, evilSock, evilGot, NOBODY));
  fakes.push(await startFakeDaemon(dir, ownSock, ownGot));
});
after(async () => {
  for (const f of fakes) if (f.exitCode === null && f.signalCode === null) { f.kill('SIGTERM'); await new Promise((r) => f.once('exit', r)); }
  rmSync(dir, { recursive: true, force: true });
});

/** Each call of the client against the socket; prints what each did (refused: the exception). */
const CALLS = `
import os, json
import corral_client
from corral_client import Corral, CorralError
DaemonOwnerError = getattr(corral_client, "DaemonOwnerError", CorralError)
os.environ["AWS_SECRET_ACCESS_KEY"] = "TRAINERS-SECRET-KEY"
c = Corral(timeout=10)
for name, call in (("health", lambda: c.health()),
                   ("run", lambda: c.run(["true"], env=True)),
                   ("session", lambda: c.session(env=True)),
                   ("stream", lambda: list(c.stream("/v1/sessions/x/exec", {"command": "true", "stream": True})))):
    try:
        call()
        print(json.dumps({"call": name, "ok": True}))
    except DaemonOwnerError as e:
        print(json.dumps({"call": name, "refused": str(e), "uid": e.uid, "socket": e.socket_path, "is_corral_error": isinstance(e, CorralError)}))
`;

test('the Python client refuses a socket served by another user, naming it and the uid, and sends it nothing', async () => {
  const r = await runPythonClient(CALLS, evilSock);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { call: string; refused?: string; uid?: number; socket?: string; is_corral_error?: boolean });
  assert.deepEqual(lines.map((l) => l.call), ['health', 'run', 'session', 'stream']);
  for (const l of lines) {
    assert.ok(l.refused, `${l.call} was refused: ${JSON.stringify(l)}`);
    assert.equal(l.uid, NOBODY);
    assert.equal(l.socket, evilSock);
    assert.equal(l.is_corral_error, true);
    assert.ok(l.refused.includes(`${evilSock} is served by a process of uid ${NOBODY}, neither root nor you`), l.refused);
  }
  assert.ok(!existsSync(evilGot) || !readFileSync(evilGot, 'utf8').includes('TRAINERS-SECRET-KEY'), 'the environment never reached it');
  assert.ok(!existsSync(evilGot), 'no request reached it at all');
});

test('a daemon run by the client\'s own user is still talked to', async () => {
  const r = await runPythonClient(CALLS, ownSock);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { call: string; ok?: boolean });
  assert.deepEqual(lines.filter((l) => l.ok).map((l) => l.call), ['health', 'run', 'session', 'stream']);
  assert.match(readFileSync(ownGot, 'utf8'), /POST \/v1\/run .*TRAINERS-SECRET-KEY/, 'env=True sent the environment to its own daemon');
});
