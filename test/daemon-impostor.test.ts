// Clients of `corral serve` talk only to a daemon run by root or by their own user. Threat: an
// unprivileged local user listening first on a socket path root's `corral run` names (a
// CORRAL_SOCKET under /tmp, a directory that user can write) got root's whole environment (the run
// request carries it) and made `corral run` exit 0 with a clean verdict for a command that never
// ran. Here a fake daemon runs as uid 65534 (setpriv) and records what reaches it. Unix sockets only.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { daemonRequest } from '../src/server/daemon-client.js';
import { NOBODY, startFakeDaemon } from './helpers/fake-daemon.js';

const MAIN = join(process.cwd(), 'dist', 'src', 'cli', 'main.js');
let dir: string, evil: string, sock: string, got: string;
let fake: ChildProcess;

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-dimp-'));
  chmodSync(dir, 0o755);
  evil = join(dir, 'shared');
  mkdirSync(evil);
  chownSync(evil, NOBODY, NOBODY);
  sock = join(evil, 'corral.sock');
  got = join(evil, 'got');
  fake = await startFakeDaemon(dir, sock, got, NOBODY);
});
after(async () => {
  if (fake.exitCode === null) { fake.kill('SIGTERM'); await new Promise((r) => fake.once('exit', r)); }
  rmSync(dir, { recursive: true, force: true });
});

test('corral run refuses a daemon socket served by another user (125), and sends it nothing', () => {
  const r = spawnSync(process.execPath, [MAIN, 'run', '--socket', sock, '--json', '--', 'true'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, AWS_SECRET_ACCESS_KEY: 'ROOTS-SECRET-KEY' } });
  assert.equal(r.status, 125, r.stderr);
  const e = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { error: { kind: string; message: string } };
  assert.equal(e.error.kind, 'daemon');
  assert.match(e.error.message, new RegExp(`served by a process of uid ${NOBODY}, neither root nor you`));
  assert.ok(!existsSync(got) || !readFileSync(got, 'utf8').includes('ROOTS-SECRET-KEY'), 'the environment never reached it');
  assert.ok(!existsSync(got), 'no request reached it at all');
});

test('every client request (health, the event stream) is refused the same way', async () => {
  await assert.rejects(daemonRequest(sock, 'GET', '/v1/health'), /neither root nor you/);
  const f = spawnSync(process.execPath, [MAIN, 'events', '--follow', '--socket', sock], { encoding: 'utf8', timeout: 30_000 });
  assert.notEqual(f.status, 0);
  assert.match(f.stderr, /neither root nor you/);
  assert.ok(!existsSync(got), 'no request reached it');
});
