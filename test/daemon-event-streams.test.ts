// The daemon bounds how many event streams (GET /v1/events) are open at once. Threat: a buggy or
// hostile client opening streams in a loop and never reading them — each may hold up to 1 MiB of
// events for its reader and costs every event a match and a write — grew the daemon, which holds
// every sandbox, without bound (600 were accepted, one runtime listener each). Past the bound a
// stream gets 503 `unavailable`; a closed one frees its place. Real daemon in the lab, no sensor.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { CorralDaemon, MAX_EVENT_STREAMS } from '../src/server/daemon.js';
import { daemonRequest } from '../src/server/daemon-client.js';

let dir: string, sock: string;
let d: CorralDaemon;

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-des-'));
  sock = join(dir, 'run', 'corral.sock');
  d = await CorralDaemon.start({ socketPath: sock, runtime: { home: join(dir, 'home'), sensor: false, poolSize: 0 }, maxEventStreams: 3 });
});
after(async () => {
  await d?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens GET /v1/events and resolves with its status once the head is in (the stream stays open). */
function openStream(path = '/v1/events'): Promise<{ status: number; body: () => string; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: sock, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c; });
      res.on('error', () => {});
      resolve({ status: res.statusCode ?? 0, body: () => body, close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

test('past maxEventStreams a stream gets 503; closing one frees its place; the open ones still get events', async () => {
  assert.ok(MAX_EVENT_STREAMS >= 64 && MAX_EVENT_STREAMS <= 4096, 'a default bound exists');
  const open = [await openStream(), await openStream(), await openStream()];
  for (const s of open) assert.equal(s.status, 200);
  const fourth = await openStream();
  assert.equal(fourth.status, 503);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((JSON.parse(fourth.body()) as { error: { kind: string } }).error.kind, 'unavailable');
  open[0]!.close();
  let again = await openStream();
  for (let i = 0; i < 50 && again.status !== 200; i++) { await new Promise((r) => setTimeout(r, 50)); again = await openStream(); }
  assert.equal(again.status, 200, 'a closed stream frees its place');
  const r = await daemonRequest(sock, 'POST', '/v1/run', { argv: ['true'] });
  assert.equal(r.status, 200);
  await new Promise((res) => setTimeout(res, 300));
  for (const s of [open[1]!, open[2]!, again]) assert.match(s.body(), /"kind":"session\.start"/, 'open streams still get events');
  for (const s of [open[1]!, open[2]!, again]) s.close();
});

test('a stream query it cannot serve is a 400 naming the problem, never ignored (a user review, session 41)', async () => {
  const cases: [string, RegExp][] = [
    ['?sesion=zzz', /unknown query parameter 'sesion'/],
    ['?kind=bogus', /unknown kind 'bogus'/],
    ['?category=mining,nope', /unknown category 'nope'/],
    ['?step=abc', /step must be a whole number/],
    ['?session=a&session=b', /'session' is given 2 times/],
    ['?run=', /'run' is empty/],
  ];
  for (const [q, why] of cases) {
    const s = await openStream(`/v1/events${q}`);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.status, 400, q);
    assert.match((JSON.parse(s.body()) as { error: { message: string } }).error.message, why, q);
    s.close();
  }
  const ok = await openStream('/v1/events?kind=toolcall.end,alert&category=mining&step=2');
  assert.equal(ok.status, 200);
  ok.close();
});
