// Who a daemon client is, and which run a cancel_token names, come from the daemon, never from a
// request. Threats: a request forging the recorded client (`labels: {client_uid: "4242"}` on a
// run whose output came back in the answer was kept as sent, with no kernel identity recorded, so
// anyone could also cancel it), and a second run reusing a live cancel_token taking over the
// first's cancel (its cancel then stopped the second run; the first could no longer be stopped).
// Real `corral serve` in the lab, no sensor.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { daemonRequest } from '../src/server/daemon-client.js';
import { MAIN } from './helpers/cli.js';
import { startServe, type Served } from './helpers/serve.js';

let dir: string, sock: string, home: string;
let serve: Served;

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-dci-'));
  sock = join(dir, 'corral.sock');
  home = join(dir, 'home');
  serve = await startServe(sock, home);
});
after(async () => {
  await serve?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a request naming client_pid or client_uid as a label is refused (run and session), nothing starts', async () => {
  const run = await daemonRequest(sock, 'POST', '/v1/run', { argv: ['true'], labels: { client_uid: '4242' } });
  assert.equal(run.status, 400, JSON.stringify(run.json));
  assert.match((run.json.error as { message: string }).message, /labels\.client_uid: client_uid is set by the daemon/);
  const ses = await daemonRequest(sock, 'POST', '/v1/sessions', { labels: { client_pid: '1' } });
  assert.equal(ses.status, 400, JSON.stringify(ses.json));
  assert.match((ses.json.error as { message: string }).message, /labels\.client_pid/);
  const list = await daemonRequest(sock, 'GET', '/v1/sessions');
  assert.deepEqual(list.json.sessions, []);
});

test('a run whose output comes back in the answer records the kernel\'s client (this process)', async () => {
  const run = await daemonRequest(sock, 'POST', '/v1/run', { argv: ['true'], labels: { team: 'a' } });
  assert.equal(run.status, 200, JSON.stringify(run.json));
  const ev = spawnSync(process.execPath, [MAIN, 'events', '--home', home, '--session', String(run.json.session), '--kind', 'session.start', '--json'], { encoding: 'utf8' });
  assert.equal(ev.status, 0, ev.stderr);
  const start = JSON.parse(ev.stdout.trim().split('\n')[0]!) as { payload: { labels?: Record<string, string> } };
  assert.equal(start.payload.labels?.client_pid, String(process.pid), ev.stdout);
  assert.equal(start.payload.labels?.client_uid, String(process.getuid!()));
  assert.equal(start.payload.labels?.team, 'a');
});

test('a cancel_token in use by a running run is refused for another (409) and still stops its own run', async () => {
  const token = 'b'.repeat(32);
  const first = daemonRequest(sock, 'POST', '/v1/run', { argv: ['sleep', '20'], cancel_token: token });
  // wait until the first run is running
  for (let i = 0; i < 100; i++) {
    const l = await daemonRequest(sock, 'GET', '/v1/sessions');
    if ((l.json.sessions as { busy: boolean }[]).some((s) => s.busy)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const second = await daemonRequest(sock, 'POST', '/v1/run', { argv: ['true'], cancel_token: token });
  assert.equal(second.status, 409, JSON.stringify(second.json));
  assert.equal((second.json.error as { kind: string }).kind, 'conflict');
  const c = await daemonRequest(sock, 'POST', '/v1/run/cancel', { cancel_token: token, signal: 'SIGINT' });
  assert.deepEqual(c.json, { found: true, running: true });
  const r = await first;
  assert.equal(r.status, 200);
  assert.match(String(r.json.cancelled), /SIGINT/, 'the first run was the one stopped');
  assert.ok(Number(r.json.duration_ms) < 15_000, 'stopped, not run to its end');
});
