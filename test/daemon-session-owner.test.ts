// Why: the daemon's socket is root's alone by default, but an operator may open it to a team (a
// group or mode change on the socket). Every session was then everyone's: any user who could connect
// could run commands in another user's sandbox, read its files, report and live events, or close it.
// A session now belongs to the user whose client opened it (the uid from the kernel, SO_PEERCRED);
// root, who runs the daemon, may touch every one. Real daemon and sandboxes in the lab; the other user
// is a real process running as nobody, speaking plain HTTP to the socket.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorralDaemon } from '../src/server/daemon.js';
import { daemonRequest } from '../src/server/daemon-client.js';
import { assertInLab } from '../src/lab/lab-guard.js';
import { NOBODY } from './helpers/fake-daemon.js';

let dir: string;
let sock: string;
let d: CorralDaemon;

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-owner-test-'));
  sock = join(dir, 'run', 'corral.sock');
  d = await CorralDaemon.start({ socketPath: sock, runtime: { home: join(dir, 'home'), sensor: false, poolSize: 0 }, sessionIdleMs: 60_000 });
  // The operator opens the socket to other users.
  chmodSync(dir, 0o755); chmodSync(join(dir, 'run'), 0o755); chmodSync(sock, 0o666);
});
after(async () => {
  await d?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** While the other user streams: root runs a command in its own session and in the other user's. */
async function asRoot(theirs: string, mine: string): Promise<void> {
  const a = await daemonRequest(sock, 'POST', `/v1/sessions/${theirs}/exec`, { command: 'cat secret.txt' });
  assert.equal(a.status, 200, JSON.stringify(a.json));
  assert.equal(a.json.stdout, 'root-only', 'root\'s session is untouched: the other user wrote nothing');
  const b = await daemonRequest(sock, 'POST', `/v1/sessions/${mine}/exec`, { command: 'true' });
  assert.equal(b.status, 200, 'root may use any user\'s session');
  await new Promise((r) => setTimeout(r, 300));
}

/** p, or a rejection after 20 s. */
function inTime<T>(p: Promise<T>): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => { t = setTimeout(() => reject(new Error('timed out')), 20_000); })]).finally(() => clearTimeout(t));
}

/**
 * Runs as nobody: tries root's session `theirs` every way, opens and uses its own, then streams
 * events until its stdin closes; prints one JSON line of what it got ({"streaming": id} first).
 */
const OTHER_USER = `
const http = require('node:http');
const [sock, theirs] = process.argv.slice(1);
const ask = (method, path, body) => new Promise((resolve, reject) => {
  const req = http.request({ socketPath: sock, method, path, headers: { 'content-type': 'application/json' } }, (res) => {
    let t = ''; res.on('data', (c) => { t += c; }); res.on('end', () => resolve({ status: res.statusCode, body: t }));
  });
  req.on('error', reject); req.end(body === undefined ? undefined : JSON.stringify(body));
});
(async () => {
  const out = {};
  out.list = JSON.parse((await ask('GET', '/v1/sessions')).body).sessions.map((s) => s.session);
  out.exec = (await ask('POST', '/v1/sessions/' + theirs + '/exec', { command: 'echo pwned > /workspace/x' })).status;
  out.stream = (await ask('POST', '/v1/sessions/' + theirs + '/exec', { command: 'true', stream: true })).status;
  out.files = (await ask('POST', '/v1/sessions/' + theirs + '/files', { op: 'read', path: 'secret.txt' })).status;
  out.report = (await ask('GET', '/v1/sessions/' + theirs + '/report')).status;
  out.close = (await ask('DELETE', '/v1/sessions/' + theirs)).status;
  const mine = JSON.parse((await ask('POST', '/v1/sessions', {})).body).session;
  out.mine = mine;
  out.myExec = JSON.parse((await ask('POST', '/v1/sessions/' + mine + '/exec', { command: 'id -u' })).body).stdout;
  out.myReport = (await ask('GET', '/v1/sessions/' + mine + '/report')).status;
  const seen = new Set();
  const req = http.request({ socketPath: sock, method: 'GET', path: '/v1/events' }, (res) => {
    let buf = '';
    res.on('data', (c) => {
      buf += c;
      for (let i; (i = buf.indexOf('\\n\\n')) >= 0; buf = buf.slice(i + 2)) {
        const m = /^data: (.*)$/m.exec(buf.slice(0, i)); if (m) seen.add(JSON.parse(m[1]).session);
      }
    });
  });
  req.end();
  await new Promise((r) => setTimeout(r, 200));
  process.stdout.write(JSON.stringify({ streaming: mine }) + '\\n');
  process.stdin.resume();
  process.stdin.on('end', () => { out.events = [...seen]; process.stdout.write(JSON.stringify(out) + '\\n'); process.exit(0); });
})().catch((e) => { process.stderr.write(String(e.stack)); process.exit(1); });
`;

test('a session belongs to the user who opened it: another user can neither run, read, report, stream nor close it; root can touch every one', { timeout: 60_000 }, async () => {
  const open = await daemonRequest(sock, 'POST', '/v1/sessions', { episode: 'root-owned' });
  assert.equal(open.status, 200, JSON.stringify(open.json));
  const theirs = String(open.json.session);
  const w = await daemonRequest(sock, 'POST', `/v1/sessions/${theirs}/files`, { op: 'write', path: 'secret.txt', content: 'root-only' });
  assert.equal(w.status, 200, JSON.stringify(w.json));

  const child = spawn(process.execPath, ['-e', OTHER_USER, sock, theirs], { uid: NOBODY, gid: NOBODY, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c; });
  const streaming = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c;
      const first = /^(\{"streaming".*\})\n/.exec(stdout);
      if (first) resolve((JSON.parse(first[1]!) as { streaming: string }).streaming);
    });
    child.on('exit', (code) => reject(new Error(`the other user's client exited ${code}: ${stderr}`)));
  });
  // (ended however the test goes: a failed assertion must not leave it waiting on its stdin)
  const ended = new Promise((r) => child.once('exit', r));
  let mine: string;
  try { mine = await inTime(streaming); } catch (e) { child.kill(); await ended; throw e; }
  try {
    await asRoot(theirs, mine);
  } finally { child.stdin.end(); }
  await inTime(ended);
  const got = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.deepEqual(got.list, [], 'before it opened one, the other user lists no session: not root\'s');
  assert.deepEqual({ exec: got.exec, stream: got.stream, files: got.files, report: got.report, close: got.close },
    { exec: 403, stream: 403, files: 403, report: 403, close: 403 }, 'every way into root\'s session is refused');
  assert.equal(String(got.myExec).trim(), '65534', 'the other user\'s own session works');
  assert.equal(got.myReport, 200);
  assert.deepEqual(got.events, [mine], 'its event stream carries its own session\'s events only (root\'s calls ran meanwhile)');
  // Root lists both; a closed session's report stays its owner's.
  const list = await daemonRequest(sock, 'GET', '/v1/sessions');
  assert.deepEqual((list.json.sessions as { session: string }[]).map((s) => s.session).sort(), [theirs, mine].sort());
  assert.equal((await daemonRequest(sock, 'DELETE', `/v1/sessions/${theirs}`)).status, 200);
  // (the other user's session closes itself: its client exited)
  // (asynchronously: the daemon answers from this process)
  const reportAs = (id: string): Promise<number> => new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['-e', REPORT, sock, id], { uid: NOBODY, gid: NOBODY, stdio: ['ignore', 'pipe', 'inherit'] });
    let o = '';
    c.stdout.on('data', (x: Buffer) => { o += x; });
    c.on('exit', (code) => (code === 0 ? resolve(Number(o)) : reject(new Error(`report client exited ${code}`))));
  });
  assert.equal(await reportAs(theirs), 403, 'root\'s closed session\'s report is not the other user\'s');
  assert.equal(await reportAs(mine), 200, 'its own closed session\'s report is');
});

/** Runs as nobody: prints the status of GET /v1/sessions/ID/report. */
const REPORT = `
const [sock, id] = process.argv.slice(1);
require('node:http').get({ socketPath: sock, path: '/v1/sessions/' + id + '/report' }, (res) => { process.stdout.write(String(res.statusCode)); process.exit(0); });
`;
