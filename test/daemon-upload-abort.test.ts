// Why: a client that gives up on a file upload half-way (a trainer killed, a timeout in its HTTP
// client) is the client's doing, not a fault of the daemon. Proves through a real daemon and real
// sandboxes, inside the lab: a POST …/files whose body is cut off mid-way and whose socket is then
// destroyed is logged as the client's abort (status 499, `aborted`), not a 500; raises no runtime
// warning; writes nothing (a new file is not created, an existing one keeps its bytes: the file
// tool only starts once the whole body is in); and the session takes the next call normally.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorralDaemon, type RequestLogEntry } from '../src/server/daemon.js';
import { daemonRequest } from '../src/server/daemon-client.js';
import { assertInLab } from '../src/lab/lab-guard.js';

let dir: string;
let sock: string;
let d: CorralDaemon;
const logged: RequestLogEntry[] = [];
const warnings: string[] = [];

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-abort-test-'));
  sock = join(dir, 'corral.sock');
  d = await CorralDaemon.start({ socketPath: sock, runtime: { home: join(dir, 'home'), sensor: false, poolSize: 1 }, sessionIdleMs: 60_000, onRequest: (e) => logged.push(e) });
  d.runtime.on('warning', (m: string) => warnings.push(m));
});
after(async () => {
  await d?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Sends the head of a file write whose body would be `total` bytes, then `part` of them, then destroys the socket. */
function abortedUpload(session: string, path: string, total: number, part: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const head = `{"op":"write","path":${JSON.stringify(path)},"step":9,"content":"`;
    const body = Buffer.concat([Buffer.from(head), Buffer.alloc(total - head.length - 2, 'x'), Buffer.from('"}')]);
    const req = http.request({ socketPath: sock, path: `/v1/sessions/${session}/files`, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': body.length } });
    req.on('error', () => resolve()); // (the socket this client destroys)
    req.on('response', () => reject(new Error('the daemon answered a request whose body never came')));
    req.flushHeaders();
    req.write(body.subarray(0, part), () => {
      // (long enough for the daemon to have read what was sent and be waiting for the rest)
      setTimeout(() => { req.destroy(); resolve(); }, 300);
    });
  });
}

test('an upload cut off mid-body is logged as the client\'s abort (499), raises no warning and writes nothing', async () => {
  const open = await daemonRequest(sock, 'POST', '/v1/sessions', { policy: 'default', episode: 'abort' });
  assert.equal(open.status, 200, JSON.stringify(open.json));
  const id = String(open.json.session);
  try {
    const w = await daemonRequest(sock, 'POST', `/v1/sessions/${id}/files`, { op: 'write', path: 'kept.txt', content: 'original\n', step: 1 });
    assert.equal(w.json.ok, true, JSON.stringify(w.json));
    const before = logged.length;
    // a new file and a replacement of an existing one, each cut off after 1 MiB of 4 MiB
    await abortedUpload(id, 'new.bin', 4 << 20, 1 << 20);
    await abortedUpload(id, 'kept.txt', 4 << 20, 1 << 20);
    for (let i = 0; i < 50 && logged.length < before + 2; i++) await new Promise((r) => setTimeout(r, 100));
    const entries = logged.slice(before);
    assert.deepEqual(entries.map((e) => [e.method, e.path, e.status]), [['POST', `/v1/sessions/${id}/files`, 499], ['POST', `/v1/sessions/${id}/files`, 499]], JSON.stringify(entries));
    for (const e of entries) assert.match(String(e.error), /^body: the client closed the connection after \d+ of \d+ bytes$/);
    assert.deepEqual(warnings, [], 'a client\'s abort is no error of the daemon');
    // nothing was written, and the session is free for the next call
    const r = await daemonRequest(sock, 'POST', `/v1/sessions/${id}/exec`, { command: 'ls; cat kept.txt', step: 2 });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.stdout, 'kept.txt\noriginal\n');
    const read = await daemonRequest(sock, 'POST', `/v1/sessions/${id}/files`, { op: 'read', path: 'kept.txt', step: 3 });
    assert.equal(read.json.content, 'original\n');
  } finally { await daemonRequest(sock, 'DELETE', `/v1/sessions/${id}`); }
  assert.equal(logged.filter((e) => e.status === 500).length, 0, JSON.stringify(logged));
});
