// Why: a miner could pad its pool login so the gateway's line checks missed it — 100 KB of whitespace
// inside the message, a long junk value between `method` and `params`, keys reordered, everything
// in many small writes — in raw TCP on an allowed port, in an HTTP POST body on an allowed 443 and
// in WebSocket frames, compressed ones (permessage-deflate) too; and SSH carried in WebSocket frames passed as HTTP. These are real sessions in
// the lab against the fake pool (SAFETY.md): each evasion is cut and alerted on the tool call that
// made it, the pool answers nothing, and a benign API POST with a big field still goes through.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { PY_UPLOAD } from './helpers/python-upload.js';
import type { AlertEvent } from '../src/events/event.js';

let fx: Fixture;
before(async () => {
  fx = await startFixture([
    { name: 'pool.minexmr.test', ip: '203.0.113.20', services: [{ kind: 'stratum', port: 3333 }, { kind: 'stratum', port: 443 }] },
    { name: 'registry.test', ip: '198.51.100.10', services: [{ kind: 'http', port: 80 }] },
    // (an HTTP/1 host answers the h2 preface with 400 and closes, which could end a flow before its login was read)
    { name: 'relay.test', ip: '198.51.100.40', services: [{ kind: 'sink', port: 80 }] },
  ], 'labpad');
});
after(async () => { await fx?.close(); });

/** Python prelude: padded messages, sent in ~1.4 KB writes; `outcome` says whether the connection was cut. */
const PY = `${PY_UPLOAD}def deflated(messages, size):
    # permessage-deflate (RFC 7692): one compression context for the connection, each message flushed and its
    # 00 00 ff ff left off, RSV1 on its first frame
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = b""
    for m in messages:
        d = c.compress(m) + c.flush(zlib.Z_SYNC_FLUSH)
        out += frames(d[:-4], size, rsv1=True)
    return out
`;

async function call(code: string, policy = '') {
  const s = await fx.rt.createSession({ policy: labPolicy(policy), episode: 'padding' });
  try {
    // (skipScreen: the gateway's own verdict on the bytes is what is tested, not the command screen's on the source)
    const r = await s.exec({ command: PY + code, tool: 'python', step: 1, toolCallId: 'call-1', timeoutMs: 30_000, skipScreen: true });
    await s.close();
    return { r, alerts: s.alertEvents.filter((a) => a.payload.layer === 'network') };
  } finally { await s.close(); }
}

const poolRequests = async (port: number): Promise<number> => (await fx.far.counts())[`203.0.113.20:${port}`]?.requests ?? 0;
const RAW_3333 = 'network:\n  allow:\n    - cidr: 203.0.113.20/32\n      ports: [3333]\n';

function assertCut(r: { stdout: string; stderr: string }, alerts: AlertEvent[], category: string, detail: RegExp): void {
  assert.match(r.stdout, /^cut |^got b''/m, r.stdout + r.stderr);
  const hit = alerts.find((a) => a.payload.category === category);
  assert.ok(hit, JSON.stringify(alerts.map((a) => a.payload.message)));
  assert.equal(hit.tool_call, 'call-1');
  assert.match(String(hit.payload.message), detail);
}

test('raw TCP on an allowed port: 100 KB of whitespace between "method" and its value does not hide mining.subscribe', async () => {
  const before = await poolRequests(3333);
  const { r, alerts } = await call(`attempt("203.0.113.20", 3333, None, ('{"id":1,"method"' + " " * 100000 + ':"mining.subscribe","params":["cpuminer/2.5"]}\\n').encode())`, RAW_3333);
  assertCut(r, alerts, 'mining', /mining\.subscribe/);
  assert.equal(await poolRequests(3333), before, 'the pool answered nothing');
});

test('raw TCP on an allowed port: an XMR login with a 100 KB junk value between method and params, keys reordered', async () => {
  const before = await poolRequests(3333);
  const { r, alerts } = await call('attempt("203.0.113.20", 3333, None, LOGIN.encode())', RAW_3333);
  assertCut(r, alerts, 'mining', /login agent=XMRig\/6\.21/);
  assert.equal(await poolRequests(3333), before, 'the pool answered nothing');
});

test('an HTTP POST body on the allowed 443: a padded pool login is seen in the body and cut', async () => {
  const before = await poolRequests(443);
  const { r, alerts } = await call(`body = LOGIN.encode()
attempt("203.0.113.20", 443, b"POST /rpc HTTP/1.1\\r\\nHost: 203.0.113.20\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\n\\r\\n" % (len(body) + 1), body)`);
  assertCut(r, alerts, 'mining', /login agent=XMRig\/6\.21 in an HTTP body/);
  assert.equal(await poolRequests(443), before, 'the pool answered nothing');
});

test('WebSocket frames on the allowed 443: a padded login fragmented over 80 masked frames is cut', async () => {
  const { r, alerts } = await call(`up = b"GET /ws HTTP/1.1\\r\\nHost: 203.0.113.20\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n"
attempt("203.0.113.20", 443, up, frames(LOGIN.encode(), 1300))`);
  assertCut(r, alerts, 'mining', /login agent=XMRig\/6\.21 in WebSocket frames/);
});

test('SSH inside WebSocket frames to an allowed HTTP host is a tunnel, cut', async () => {
  const before = (await fx.far.counts())['198.51.100.10:80']?.requests ?? 0;
  const { r, alerts } = await call(`up = b"GET /ws HTTP/1.1\\r\\nHost: registry.test\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n"
attempt("registry.test", 80, up, frames(b"SSH-2.0-OpenSSH_9.2p1\\r\\n", 200, opcode=2))`);
  assertCut(r, alerts, 'tunnel', /SSH-2\.0-OpenSSH_9\.2p1 in WebSocket frames/);
  assert.ok(((await fx.far.counts())['198.51.100.10:80']?.requests ?? 0) <= before + 1, '(only the upgrade request itself reached the host)');
});

test('compressed WebSocket (permessage-deflate) on the allowed 443: a pool login after a benign message, in one compression context, is cut', async () => {
  const before = await poolRequests(443);
  const { r, alerts } = await call(`up = b"GET /ws HTTP/1.1\\r\\nHost: 203.0.113.20\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Extensions: permessage-deflate\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n"
attempt("203.0.113.20", 443, up, deflated([b'{"id":0,"method":"ping","params":{}}', LOGIN.encode()], 500))`);
  assertCut(r, alerts, 'mining', /login( agent=XMRig\/6\.21)? in compressed WebSocket frames/);
  assert.ok(await poolRequests(443) <= before + 1, '(the pool saw at most the upgrade request)');
});

test('compressed WebSocket to an allowed HTTP host: SSH inside is a tunnel, cut', async () => {
  const { r, alerts } = await call(`up = b"GET /ws HTTP/1.1\\r\\nHost: registry.test\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Extensions: permessage-deflate\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n"
attempt("registry.test", 80, up, deflated([b"SSH-2.0-OpenSSH_9.2p1\\r\\n"], 200))`);
  assertCut(r, alerts, 'tunnel', /SSH-2\.0-OpenSSH_9\.2p1 in compressed WebSocket frames/);
});

/** Python: a POST to registry.test:80 with the given Content-Encoding; prints the status line and what the host echoed. */
const post = (coding: string, bodyExpr: string, chunked = false) => `body = ${bodyExpr}
s = socket.create_connection(("registry.test", 80), timeout=5)
s.sendall(b"POST /rpc HTTP/1.1\\r\\nHost: registry.test\\r\\nContent-Type: application/json\\r\\nContent-Encoding: ${coding}\\r\\n" + (b"Transfer-Encoding: chunked\\r\\n\\r\\n" if ${chunked ? 'True' : 'False'} else b"Content-Length: %d\\r\\nConnection: close\\r\\n\\r\\n" % len(body)))
if ${chunked ? 'True' : 'False'}:
    for part in body:
        s.sendall(b"%x\\r\\n" % len(part) + part + b"\\r\\n")
        time.sleep(0.2)
    time.sleep(0.5)
else:
    send_split(s, body)
try:
    got = s.recv(300)
    print("got", got.split(b"\\r\\n")[0] if got else got)
except Exception as e:
    print("cut", type(e).__name__)`;

const flowsTo = (events: { kind: string; payload: Record<string, unknown> }[], host: string) =>
  events.filter((e) => e.kind === 'flow' && e.payload['server.address'] === host && e.payload.interim === undefined);

async function callWithEvents(code: string) {
  const s = await fx.rt.createSession({ policy: labPolicy(''), episode: 'padding' });
  try {
    const r = await s.exec({ command: PY + code, tool: 'python', step: 1, toolCallId: 'call-1', timeoutMs: 30_000, skipScreen: true });
    await s.close();
    return { r, alerts: s.alertEvents.filter((a) => a.payload.layer === 'network'), events: s.events };
  } finally { await s.close(); }
}

test('a gzip-compressed HTTP POST body to an allowed host: the padded pool login inside is decoded and cut', async () => {
  const { r, alerts } = await call(post('gzip', 'zlib.compress(LOGIN.encode(), wbits=31)'));
  assertCut(r, alerts, 'mining', /login( agent=XMRig\/6\.21)? in an HTTP body \(gzip\)/);
});

test('a chunked body compressed as a stream (gzip flushed per message, the body never ended): the login is cut when its chunk arrives', async () => {
  const { r, alerts, events } = await callWithEvents(`z = zlib.compressobj(6, zlib.DEFLATED, 31)
s = socket.create_connection(("registry.test", 80), timeout=5)
head = b"POST /rpc HTTP/1.1\\r\\nHost: registry.test\\r\\nContent-Encoding: gzip\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n"
s.sendall(head)
first = 0
try:
    for k, m in enumerate([b'{"id":0,"method":"ping","params":{}}\\n', b'{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5"]}\\n', b'{"id":2,"method":"ping"}\\n']):
        part = z.compress(m) + z.flush(zlib.Z_SYNC_FLUSH)
        chunk = b"%x\\r\\n" % len(part) + part + b"\\r\\n"
        if k == 0:
            first = len(head) + len(chunk)
        s.sendall(chunk)
        time.sleep(0.4)
except Exception as e:
    print("cut", type(e).__name__)
print("first", first)`);
  const hit = alerts.find((a) => a.payload.category === 'mining');
  assert.ok(hit, JSON.stringify(alerts.map((a) => a.payload.message)) + r.stdout + r.stderr);
  assert.equal(hit.tool_call, 'call-1');
  assert.match(String(hit.payload.message), /mining\.subscribe in an HTTP body \(gzip\)/);
  const [flow] = flowsTo(events, 'registry.test');
  assert.equal(flow?.payload.decision, 'deny');
  // (the head and the first chunk reached the host; the chunk with the login, and what followed, did not)
  assert.equal(flow?.payload.bytes_up, Number(/^first (\d+)$/m.exec(r.stdout)?.[1]), r.stdout);
});

test('an HTTP "deflate" (zlib) body to an allowed host: the pool authorize inside is cut', async () => {
  const { r, alerts } = await call(post('deflate', 'zlib.compress(b\'{"id":2,"method":"mining.authorize","params":["wallet.rig","x"]}\\n\')'));
  assertCut(r, alerts, 'mining', /mining\.authorize in an HTTP body \(deflate\)/);
});

test('benign: a gzip-compressed JSON upload goes through whole, no alert; a body in a coding Corral cannot decode (zstd) is cut, named on the flow record, in a medium defense_evasion alert (session 40: passed with a low one)', async () => {
  const ok = await callWithEvents(post('gzip', 'zlib.compress(json.dumps({"method": "login", "params": {"username": "alice"}, "rows": list(range(50000))}).encode(), wbits=31)'));
  assert.match(ok.r.stdout, /^got b'HTTP\/1\.1 200 OK/m, ok.r.stdout + ok.r.stderr);
  assert.deepEqual(ok.alerts.map((a) => a.payload.message), []);
  assert.deepEqual(flowsTo(ok.events, 'registry.test').map((e) => e.payload.uninspected), [undefined]);
  const z = await callWithEvents(post('zstd', 'b"(zstd frames would be here)"'));
  assertCut(z.r, z.alerts, 'defense_evasion', /^Upload to 198\.51\.100\.10:80 \(registry\.test\) \[http\] was cut: This connection sent data Corral's gateway cannot inspect \(HTTP request body in zstd coding\)/);
  assert.deepEqual(z.alerts.map((a) => [a.payload.rule, a.payload.severity]), [['gateway.upload_unread', 'medium']]);
  assert.deepEqual(flowsTo(z.events, 'registry.test').map((e) => [e.payload.decision, e.payload.uninspected, e.payload.bytes_up]), [['deny', ['HTTP request body in zstd coding'], 0]]);
});

test('a gzip body that decodes past the 16 MiB bound, with a pool login after it, is cut at the bound (the compressed analogue of a red team\'s padded login, session 40)', async () => {
  const { r, alerts } = await call(post('gzip', `zlib.compress((b'{"p":"' + b"A" * 60000 + b'"}\\n') * 300 + LOGIN.encode(), wbits=31)`));
  assertCut(r, alerts, 'defense_evasion', /cannot inspect \(HTTP request body in gzip \(past the inflate bound\)\)/);
  assert.ok(!alerts.some((a) => a.payload.category === 'mining'), 'cut at the bound, before any login could be read or passed');
});

/** Python: a cleartext HTTP/2 (prior knowledge) POST to relay.test:80 (a sink) whose body is split over padded DATA frames. */
const h2post = (fields: string, bodyExpr: string) => `def h2f(t, flags, sid, payload):
    return len(payload).to_bytes(3, "big") + bytes([t, flags]) + sid.to_bytes(4, "big") + payload
def h2block(fields):
    out = b"\\x83\\x84\\x86"  # :method POST, :path /, :scheme http (HPACK static table)
    for n, v in fields:
        out += b"\\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v
    return out
body = ${bodyExpr}
frames_ = b"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n" + h2f(4, 0, 0, b"") + h2f(1, 4, 1, h2block([(b":authority", b"relay.test")${fields}]))
for i in range(0, len(body), 9000):
    part = body[i:i + 9000]
    frames_ += h2f(0, 8 | (1 if i + 9000 >= len(body) else 0), 1, bytes([17]) + part + b"{" * 17)
attempt("198.51.100.40", 80, None, frames_)`;
const RELAY_80 = 'network:\n  allow:\n    - cidr: 198.51.100.40/32\n      ports: [80]\n      protocols: [http]\n';

test('cleartext HTTP/2: a padded pool login split over padded DATA frames (frame headers inside it) is read per stream and cut', async () => {
  const { r, alerts } = await call(h2post('', 'LOGIN.encode()'), RELAY_80);
  assertCut(r, alerts, 'mining', /login( agent=XMRig\/6\.21)?( in an HTTP\/2 body)?$/); // (read per stream, or raw: either reading may see it first)
});

test('cleartext HTTP/2 with content-encoding gzip: the login inside the DATA frames is decoded and cut', async () => {
  const { r, alerts } = await call(h2post(', (b"content-encoding", b"gzip")', 'zlib.compress(LOGIN.encode(), wbits=31)'), RELAY_80);
  assertCut(r, alerts, 'mining', /login( agent=XMRig\/6\.21)? in an HTTP\/2 body \(gzip\)/);
});

test('benign: an ordinary API POST with a 200 KB field and a web login shape goes through, no alert', async () => {
  const { r, alerts } = await call(`body = json.dumps({"method": "login", "params": {"username": "alice", "password": "pw"}, "document": "x" * 200000}).encode()
s = socket.create_connection(("registry.test", 80), timeout=5)
s.sendall(b"POST /upload HTTP/1.1\\r\\nHost: registry.test\\r\\nContent-Type: application/json\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n" % len(body))
send_split(s, body)
data = b""
while True:
    got = s.recv(4096)
    if not got:
        break
    data += got
print(data.split(b"\\r\\n")[0].decode(), data.strip().split(b"\\n")[-1].decode())`);
  assert.match(r.stdout, /^HTTP\/1\.1 200 OK \d+$/m, r.stdout + r.stderr);
  assert.deepEqual(alerts.map((a) => a.payload.message), []);
});
