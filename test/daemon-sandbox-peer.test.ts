// The daemon refuses clients that run inside a Corral sandbox. Threat: an agent given a path to the
// daemon's socket (here: `corral serve --socket` inside the directory shown to it as its host
// workspace, whose idmapped view makes the root-owned 0600 socket the agent's own) opened a run
// with a root-only host directory as its workspace and read a 0600 file of root's (review). Real
// `corral serve` and `corral run` in the lab, no sensor. Proves: from inside the sandbox every
// request gets 403 `forbidden` and nothing runs; the same requests from the host still work.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { daemonRequest } from '../src/server/daemon-client.js';
import { MAIN } from './helpers/cli.js';
import { startServe, type Served } from './helpers/serve.js';

let dir: string, ws: string, secretDir: string, sock: string;
let serve: Served;

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-dsp-'));
  ws = join(dir, 'project');
  mkdirSync(ws);
  secretDir = join(dir, 'secret');
  mkdirSync(secretDir, { mode: 0o700 });
  writeFileSync(join(secretDir, 'key'), 'ROOT-ONLY-SECRET\n', { mode: 0o600 });
  sock = join(ws, 'corral.sock');
  serve = await startServe(sock, join(dir, 'home'));
});
after(async () => {
  await serve?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a process inside a sandbox that can reach the socket gets 403 for every request, and runs nothing', () => {
  const runBody = JSON.stringify({ argv: ['cat', '/workspace/key'], workspace: secretDir });
  const script = [
    'curl -sS --unix-socket /workspace/corral.sock http://corral/v1/health; echo',
    `curl -sS --unix-socket /workspace/corral.sock -d '${runBody}' http://corral/v1/run; echo`,
    `curl -sS --unix-socket /workspace/corral.sock -d '{}' http://corral/v1/sessions; echo`,
  ].join('; ');
  const r = spawnSync(process.execPath, [MAIN, 'run', '--socket', sock, '--workspace', ws, '--', 'bash', '-c', script], { encoding: 'utf8', timeout: 90_000 });
  assert.equal(r.status, 0, r.stderr);
  const answers = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { error?: { kind: string; message: string } });
  assert.equal(answers.length, 3, r.stdout);
  for (const a of answers) {
    assert.equal(a.error?.kind, 'forbidden', r.stdout);
    assert.match(a.error.message, /inside a Corral sandbox/);
  }
  assert.doesNotMatch(r.stdout, /ROOT-ONLY-SECRET/);
});

test('a sandboxed process is refused as it connects, before it sends a byte: a flood of silent connections holds nothing', () => {
  // (session 32 review: 20 000 half-sent requests from a sandbox each held a daemon descriptor until
  // their headers were complete, and the next spawn failed with EMFILE)
  const py = `import socket, time
socks = []
for i in range(300):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect("/workspace/corral.sock")
    socks.append(s)
answered = 0
for s in socks:
    try:
        if s.recv(64).startswith(b"HTTP/1.1 403"): answered += 1
    except Exception:
        pass
print("answered", answered)`;
  const r = spawnSync(process.execPath, [MAIN, 'run', '--socket', sock, '--workspace', ws, '--', 'python3', '-c', py], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^answered 300$/m, 'every silent connection got its 403 without sending a request');
});

test('the same requests from the host are answered', async () => {
  const h = await daemonRequest(sock, 'GET', '/v1/health');
  assert.equal(h.status, 200);
  const run = await daemonRequest(sock, 'POST', '/v1/run', { argv: ['cat', '/workspace/key'], workspace: secretDir });
  assert.equal(run.status, 200, JSON.stringify(run.json));
  assert.equal(run.json.stdout, 'ROOT-ONLY-SECRET\n');
  const s = await daemonRequest(sock, 'GET', '/v1/sessions');
  assert.equal((s.json.sessions as unknown[]).length, 0, 'the refused session open left no session');
});
