// The dashboard's listener bounds what a client that never finishes its request can hold. Threat:
// anyone on the machine may connect to it (the token is only checked once a request is in); with
// Node's defaults a connection whose headers never end stayed open 60-90 s, with no cap on how
// many, so a local user could take every descriptor and cut the dashboard off from the daemon.
// Now such a connection is closed after about 10 s, at most 256 are open at once, and the page is
// served again as soon as they are gone. A real DashboardServer on 127.0.0.1 (its daemon socket
// does not exist: the page is served regardless).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertInLab } from '../src/lab/lab-guard.js';
import { DashboardServer } from '../src/web/dashboard-server.js';

/** The bounds the listener promises (dashboard-server.ts DASHBOARD_LIMITS), written out so the test stands alone. */
const MAX_CONNECTIONS = 256, HEADERS_MS = 10_000;

let dir: string;
let d: DashboardServer;

before(async () => {
  assertInLab();
  dir = mkdtempSync(join(tmpdir(), 'corral-dsc-'));
  d = await DashboardServer.start({ socket: join(dir, 'none.sock'), machine: 'test' });
});
after(async () => {
  await d?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A connection that sends the start of a request and never ends its headers. */
function slow(): net.Socket {
  const s = net.connect(d.port, '127.0.0.1');
  s.on('error', () => {});
  s.resume(); // (read what the server sends — a 408 — or 'close' never comes)
  s.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${d.port}\r\n`);
  return s;
}
const closed = (s: net.Socket, ms: number): Promise<number | undefined> => {
  const t0 = Date.now();
  return new Promise((res) => {
    if (s.destroyed) { res(0); return; }
    const t = setTimeout(() => res(undefined), ms);
    s.once('close', () => { clearTimeout(t); res(Date.now() - t0); });
  });
};

test('a connection that never finishes its headers is closed within seconds; past the cap new ones are turned away; then the page is served', async () => {
  const held = Array.from({ length: MAX_CONNECTIONS }, slow);
  await new Promise((r) => setTimeout(r, 500));
  const extra = slow();
  assert.notEqual(await closed(extra, 3000), undefined, 'a connection past the cap is closed at once');
  const after = await Promise.all(held.map((s) => closed(s, HEADERS_MS + 5000)));
  assert.ok(after.every((ms) => ms !== undefined), `every slow connection was closed (still open: ${after.filter((x) => x === undefined).length})`);
  const res = await fetch(d.url);
  assert.equal(res.status, 200, 'the page is served once they are gone');
  await res.text();
});
