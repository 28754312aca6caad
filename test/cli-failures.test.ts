// Why: a reviewer found CLI failures that ended in a stack trace (exit 125), a silent exit 0, or
// an exit code without the JSON error object --json promises. These run the built CLI as users do,
// with nothing outside the machine: a local event store, a fake daemon on a Unix socket, ports on
// 127.0.0.1. Proves: --since far in the past and an --html file that cannot be written are clean
// errors; the HTML is written whole or not at all, 0600; a busy --listen port is a usage error;
// `events --follow` says when the daemon stops (exit 1) and stays quiet on Ctrl-C (exit 0); the
// events table shows dates and says UTC; dashboard without a daemon has its JSON error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CorralEvent } from '../src/events/event.js';
import { EventStore } from '../src/store/event-store.js';
import { eventsCommand, sinceTs } from '../src/cli/events-command.js';
import { REPORT_USAGE } from '../src/cli/report-command.js';
import { corral, MAIN } from './helpers/cli.js';
import { Collect } from './helpers/collect.js';

const lastJson = (stderr: string) => JSON.parse(stderr.trim().split('\n').at(-1)!) as { error: { kind: string; message: string } };

function tempDir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'corral-clifail-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A store with one session of one tool call, its events on 2023-11-14 (UTC). */
function storeWithSession(home: string): void {
  const base = 1_700_000_000_000_000_000n;
  let n = 0;
  const ev = (kind: CorralEvent['kind'], extra: Partial<CorralEvent> = {}): CorralEvent =>
    ({ id: `s1-${++n}`, ts: String(base + BigInt(n) * 1_000_000n), kind, session: 's1', episode: 'ep', payload: {}, ...extra });
  const store = EventStore.open({ home });
  for (const e of [ev('session.start'), ev('toolcall.start', { step: 1, tool_call: 'tc1', payload: { command: 'ls' } }),
    ev('exec', { step: 1, tool_call: 'tc1', pid: 10, payload: { argv: ['ls'] } }), ev('toolcall.end', { step: 1, tool_call: 'tc1', payload: { exit_code: 0 } }),
    ev('session.end')]) store.append(e);
  store.close();
}

test('events --since further back than 1970 is a usage error naming the bound, not a stack trace', async () => {
  for (const since of ['200000000d', '100000000d', `${'9'.repeat(400)}d`]) {
    const r = await corral(['events', '--since', since, '--json', '--home', join(tmpdir(), 'corral-no-such-home')]);
    assert.equal(r.code, 2, `${since}: ${r.stderr}`);
    assert.match(r.stderr, /--since .* reaches back before 1970-01-01, where event times begin: at most \d+d/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(lastJson(r.stderr).error.kind, 'usage');
  }
  const now = Date.UTC(2026, 0, 2);
  assert.equal(sinceTs('1d', now), '2026-01-01T00:00:00.000Z');
  assert.equal(sinceTs(`${now / 86_400_000}d`, now), '1970-01-01T00:00:00.000Z', 'back to 1970 exactly is fine');
  assert.throws(() => sinceTs(`${now / 86_400_000 + 1}d`, now), /at most 20455d/);
});


test('the events table says UTC and shows the date even when every event is on one day', async (t) => {
  const home = tempDir(t);
  storeWithSession(home);
  const stdout = new Collect(), stderr = new Collect();
  assert.equal(await eventsCommand(['--home', home], { stdout, stderr, env: {} }), 0, stderr.text);
  const lines = stdout.text.trimEnd().split('\n');
  assert.match(lines[0]!, /^TIME \(UTC\)\s+SESSION/);
  assert.equal(lines.length, 1 + 5);
  for (const l of lines.slice(1)) assert.match(l, /^2023-11-14 22:13:20\.\d{3}\s+s1\s/);
});

test('report --html: a file that cannot be written is exit 1 with its reason; the file is written whole or not at all, 0600', async (t) => {
  const dir = tempDir(t);
  const home = join(dir, 'home');
  storeWithSession(home);
  assert.match(REPORT_USAGE, /store given by --postgres\), or\s+writing --html FILE failed after the check \(a full disk\)/);
  const full = await corral(['report', '--home', home, '--html', '/dev/full', '--json']);
  assert.equal(full.code, 1, full.stderr);
  assert.match(full.stderr, /^corral report: --html \/dev\/full: cannot write it: ENOSPC/m);
  assert.doesNotMatch(full.stderr, /\n\s+at /, 'no stack trace');
  assert.deepEqual(lastJson(full.stderr).error, { kind: 'failure', message: lastJson(full.stderr).error.message });
  assert.match(lastJson(full.stderr).error.message, /^--html \/dev\/full: cannot write it: ENOSPC/);
  assert.equal(statSync('/dev/full').isCharacterDevice(), true, '/dev/full is still the device');

  const out = join(dir, 'r.html');
  writeFileSync(out, 'the previous report');
  chmodSync(out, 0o644);
  // A write that fails part-way (a file size limit: EFBIG after 4 KiB; the report's own store
  // would trip it too, so the writer alone) leaves the previous file as it was, and no temporary file.
  const writer = `import { writeFileAtomic } from ${JSON.stringify(join(process.cwd(), 'dist', 'src', 'util', 'atomic-write.js'))}; writeFileAtomic(process.argv[1], 'x'.repeat(100000));`;
  const cut = spawnSync('bash', ['-c', 'ulimit -f 4; exec "$0" "$@"', process.execPath, '--input-type=module', '-e', writer, out], { encoding: 'utf8' });
  assert.notEqual(cut.status, 0, 'the write was cut');
  assert.match(cut.stderr, /EFBIG/);
  assert.equal(readFileSync(out, 'utf8'), 'the previous report');
  assert.deepEqual(readdirSync(dir).sort(), ['home', 'r.html']);
  const ok = await corral(['report', '--home', home, '--html', out]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(readFileSync(out, 'utf8'), /^<!doctype html>/i);
  assert.equal(statSync(out).mode & 0o777, 0o600, 'the report holds commands: owner only');
  assert.deepEqual(readdirSync(dir).sort(), ['home', 'r.html']);
});

test('dashboard: a --listen port that is taken is exit 2 saying so; without a daemon, --json ends with the error object', async (t) => {
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  t.after(() => busy.close());
  const port = (busy.address() as net.AddressInfo).port;
  // (--nats: no daemon needed; the listener fails before any connection is tried)
  const r = await corral(['dashboard', '--listen', `127.0.0.1:${port}`, '--nats', 'nats://127.0.0.1:1', '--json']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`^corral dashboard: --listen 127\\.0\\.0\\.1:${port}: port ${port} is taken`, 'm'));
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(lastJson(r.stderr).error.kind, 'usage');
  const none = await corral(['dashboard', '--socket', join(tmpdir(), 'corral-nobody.sock'), '--json']);
  assert.equal(none.code, 2, none.stderr);
  assert.deepEqual(lastJson(none.stderr).error.kind, 'usage');
  assert.match(lastJson(none.stderr).error.message, /^shows a running corral serve; none listens on .*corral-nobody\.sock/);
});

/** A stand-in for `corral serve`'s socket: /v1/health, and /v1/events sending one event and staying open. */
async function fakeDaemon(sock: string): Promise<http.Server> {
  const ev = { id: 'f-1', ts: '1700000000000000000', kind: 'exec', session: 'f1', payload: { argv: ['true'] } };
  const srv = http.createServer((req, res) => {
    if (req.url === '/v1/health') { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"ok":true}'); return; }
    if (req.url?.startsWith('/v1/events')) { res.writeHead(200, { 'content-type': 'text/event-stream' }); res.write(`data: ${JSON.stringify(ev)}\n\n`); return; }
    res.writeHead(404); res.end();
  });
  await new Promise<void>((r) => srv.listen(sock, () => r()));
  return srv;
}

function follow(sock: string) {
  const child = spawn(process.execPath, [MAIN, 'events', '--follow', '--socket', sock, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let stdout = '', stderr = '';
  child.stdout.on('data', (c: Buffer) => { stdout += c; });
  child.stderr.on('data', (c: Buffer) => { stderr += c; });
  const done = new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr })));
  const firstEvent = async (): Promise<void> => {
    for (const t0 = Date.now(); !stdout.includes('"f-1"'); await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() - t0 > 10_000) throw new Error(`no event followed: ${stderr}`);
    }
  };
  return { child, done, firstEvent };
}

test('events --follow: the daemon stopping is said and exit 1; Ctrl-C stays a quiet exit 0', async (t) => {
  const dir = tempDir(t);
  const sock = join(dir, 'fake.sock');
  let srv = await fakeDaemon(sock);
  const a = follow(sock);
  t.after(() => { a.child.kill('SIGKILL'); });
  await a.firstEvent();
  srv.close();
  srv.closeAllConnections();
  const stopped = await a.done;
  assert.equal(stopped.code, 1, stopped.stderr);
  assert.match(stopped.stderr, /corral events: the daemon on .*fake\.sock stopped \(its event stream ended\)/);
  assert.equal(lastJson(stopped.stderr).error.kind, 'failure', '--json: the error object ends stderr');

  srv = await fakeDaemon(sock);
  t.after(() => { srv.closeAllConnections(); srv.close(); });
  const b = follow(sock);
  t.after(() => { b.child.kill('SIGKILL'); });
  await b.firstEvent();
  b.child.kill('SIGINT');
  const interrupted = await b.done;
  assert.equal(interrupted.code, 0, interrupted.stderr);
  assert.doesNotMatch(interrupted.stderr, /stopped|error/);
});

test('events --follow names its filter as written (kind=toolcall.start,alert), and sends it to the daemon', async (t) => {
  const dir = tempDir(t);
  const sock = join(dir, 'fake.sock');
  const urls: string[] = [];
  const srv = http.createServer((req, res) => {
    urls.push(req.url ?? '');
    if (req.url === '/v1/health') { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"ok":true}'); return; }
    res.writeHead(200, { 'content-type': 'text/event-stream' }); res.write(': hello\n\n');
  });
  await new Promise<void>((r) => srv.listen(sock, () => r()));
  t.after(() => { srv.closeAllConnections(); srv.close(); });
  const child = spawn(process.execPath, [MAIN, 'events', '--follow', '--socket', sock, '--kind', 'toolcall.start,alert', '--episode', 'ep 1'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => { stderr += c; });
  t.after(() => { child.kill('SIGKILL'); });
  for (const t0 = Date.now(); !urls.some((u) => u.startsWith('/v1/events')); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() - t0 > 10_000) throw new Error(`never subscribed: ${stderr}`);
  }
  child.kill('SIGINT');
  await new Promise((r) => child.on('close', r));
  assert.match(stderr, /following .*fake\.sock \((episode=ep 1 kind=toolcall\.start,alert|kind=toolcall\.start,alert episode=ep 1)\); Ctrl-C to stop/);
  const q = new URL(urls.find((u) => u.startsWith('/v1/events'))!, 'http://x').searchParams;
  assert.equal(q.get('kind'), 'toolcall.start,alert');
  assert.equal(q.get('episode'), 'ep 1');
});
