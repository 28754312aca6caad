// Why: a red-team review (session 39) got a padded pool login past the gateway to an allowed pool address nine ways
// the scanners did not read — JSON nested past the skeleton's depth, a form feed or BOM before the message, a login
// written as a line of a request head, raw JSON after an HTTP request or a CONNECT, after an `Upgrade: websocket`
// the server ignored, after `Upgrade: h2c, websocket`, after a SOCKS greeting — and SSH to a relay inside a TLS
// record body or after a vertical tab. Each is reproduced here in the lab against the fake pool and a sink relay
// (SAFETY.md): it is cut, alerted on the tool call that made it, and the pool answers nothing. A second review added a
// frame whose wire bytes are the login and 16 MiB of blank lines spending the JSON budget; a third (session 40) spent
// that budget with 17 MiB of junk lines, and the budget is gone.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, labPolicy, type Fixture } from './helpers/lab-fixture.js';
import { PY_UPLOAD } from './helpers/python-upload.js';

let fx: Fixture;
before(async () => {
  fx = await startFixture([
    { name: 'pool.minexmr.test', ip: '203.0.113.20', services: [{ kind: 'stratum', port: 443 }, { kind: 'stratum', port: 8443 }] },
    { name: 'relay.test', ip: '198.51.100.40', services: [{ kind: 'sink', port: 80 }, { kind: 'sink', port: 443 }] },
  ], 'labrtm');
});
after(async () => { await fx?.close(); });

const PY = `${PY_UPLOAD}${String.raw`NEST = "[" * 17 + '"]"' + "]" * 17
UP = b"GET /ws HTTP/1.1\r\nHost: 203.0.113.20\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
def hello(name):
    i, o = ssl.MemoryBIO(), ssl.MemoryBIO()
    t = ssl.create_default_context().wrap_bio(i, o, server_hostname=name)
    try:
        t.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return o.read()
def rec(body):
    return bytes([0x17, 3, 3]) + len(body).to_bytes(2, "big") + body
def wire_frame(wire, key=b"\x5a\x5a\x5a\x5a"):
    # a valid masked binary frame whose bytes on the wire are wire (its payload is wire XOR key)
    return bytes([0x82, 0x80 | 127]) + len(wire).to_bytes(8, "big") + key + wire
`}`;

const RAW_8443 = 'network:\n  allow:\n    - cidr: 203.0.113.20/32\n      ports: [8443]\n';
const RELAY = 'network:\n  allow:\n    - cidr: 198.51.100.40/32\n      ports: [80, 443]\n      protocols: [tls, http]\n';

async function cut(code: string, policy: string, category: 'mining' | 'tunnel', detail: RegExp, far: string): Promise<void> {
  const before = (await fx.far.counts())[far]?.requests ?? 0;
  const s = await fx.rt.createSession({ policy: labPolicy(policy), episode: 'redteam' });
  let r;
  try {
    // (skipScreen: the gateway's own verdict on the bytes is what is tested, not the command screen's on the source)
    r = await s.exec({ command: PY + code, tool: 'python', step: 1, toolCallId: 'call-1', timeoutMs: 30_000, skipScreen: true });
  } finally { await s.close(); }
  const alerts = s.alertEvents.filter((a) => a.payload.layer === 'network');
  const hit = alerts.find((a) => a.payload.category === category);
  assert.ok(hit, `${r.stdout}${r.stderr}${JSON.stringify(alerts.map((a) => a.payload.message))}`);
  assert.equal(hit.tool_call, 'call-1');
  assert.match(String(hit.payload.message), detail);
  assert.equal((await fx.far.counts())[far]?.requests ?? 0, before, 'the far host answered nothing');
}

const pool = (code: string, detail: RegExp, port = 443) => () => cut(code, port === 8443 ? RAW_8443 : '', 'mining', detail, `203.0.113.20:${port}`);
const LOGIN_SEEN = /login agent=XMRig\/6\.21/;
// (a padded line the gateway reads whole in one chunk, as it may under load, is cut by the line scanner, whose detail is
//  the method alone: the two tests below whose padding is shortest accept either reading — CI run of session 40)

test('JSON nested deeper than the skeleton follows ("x": 17 brackets) before the padded params', pool('attempt("203.0.113.20", 8443, None, (\'{"id":1,"method":"login","x":\' + NEST + LOGIN[24:]).encode())', LOGIN_SEEN, 8443));
test('a form feed before the padded login', pool('attempt("203.0.113.20", 8443, None, ("\\x0c" + LOGIN).encode())', LOGIN_SEEN, 8443));
test('a UTF-8 BOM before the padded login', pool('attempt("203.0.113.20", 8443, None, ("\\ufeff" + LOGIN).encode("utf-8"))', LOGIN_SEEN, 8443));
test('a SOCKS5 greeting and CONNECT, then the padded login', pool('attempt("203.0.113.20", 8443, b"\\x05\\x01\\x00\\x05\\x01\\x00\\x01" + socket.inet_aton("203.0.113.20") + (8443).to_bytes(2, "big"), LOGIN.encode())', LOGIN_SEEN, 8443));
test('the padded login written as a line of a pipelined request\'s head', pool(`L = '{"id":1,"method":"login","pad":"' + "A" * 20000 + '","params":{"agent":"XMRig/6.21","pass":"x","login":"wallet1"}}'
attempt("203.0.113.20", 443, b"GET / HTTP/1.1\\r\\nHost: 203.0.113.20\\r\\n\\r\\n", ("POST /x HTTP/1.1\\r\\nHost: 203.0.113.20\\r\\n" + L + "\\r\\nContent-Length: 0\\r\\n\\r\\n").encode())`, /: login( agent=XMRig\/6\.21 in an HTTP request head)?$/));
test('raw JSON after a complete HTTP request (the stream stops being HTTP mid-chunk)', pool('attempt("203.0.113.20", 443, None, b"POST / HTTP/1.1\\r\\nHost: 203.0.113.20\\r\\nContent-Length: 0\\r\\n\\r\\n" + LOGIN.encode())', LOGIN_SEEN));
test('raw JSON after an HTTP CONNECT', pool('attempt("203.0.113.20", 443, b"CONNECT 203.0.113.20:443 HTTP/1.1\\r\\nHost: 203.0.113.20:443\\r\\n\\r\\n", LOGIN.encode())', LOGIN_SEEN));
test('raw JSON after an `Upgrade: websocket` the server ignored (no frames come)', pool('attempt("203.0.113.20", 443, UP, LOGIN.encode())', LOGIN_SEEN));
test('WebSocket frames after `Upgrade: h2c, websocket` (websocket not the first token)', pool(`attempt("203.0.113.20", 443, UP.replace(b"Upgrade: websocket", b"Upgrade: h2c, websocket"), frames(b'{"id":1,"method":"login","params":{"agent":"XMRig/6.21","pass":"x","login":"wallet1"}}\\n', 1300))`, /login( agent=XMRig\/6\.21)? in WebSocket frames/));
test('a deeply nested padded login inside a TLS application_data record (no SNI)', pool(`L = '\\n{"id":1,"method":"login","x":' + NEST + ',"pad":"' + "A" * 14000 + '","params":{"agent":"XMRig/6.21","pass":"x","login":"wallet1"}}\\n'
attempt("203.0.113.20", 443, hello("203.0.113.20"), rec(L.encode()))`, /login( agent=XMRig\/6\.21)? inside TLS records/));

// (a second review, session 39)
test('a masked WebSocket frame whose bytes on the wire are the login, for a pool that ignored the upgrade', pool('attempt("203.0.113.20", 443, UP, wire_frame(("\\n" + LOGIN).encode()))', LOGIN_SEEN));
test('16 MiB of blank lines in an HTTP body before the padded login (they no longer spend the JSON budget)', pool(`junk = (" " * 1023 + "\\n").encode() * (16 * 1024 + 16)
attempt("203.0.113.20", 443, b"POST /rpc HTTP/1.1\\r\\nHost: 203.0.113.20\\r\\nContent-Length: %d\\r\\n\\r\\n" % (len(junk) + len(LOGIN) + 1) + junk, LOGIN.encode())`, /login agent=XMRig\/6\.21 in an HTTP body/));

// (a third review, session 40: 17 MiB of junk JSON lines spent the skeleton's old 16 MiB budget, then a login whose
//  `"method":` was padded past the line scan's 8 KiB tail reached the pool with only a low `gateway_upload_unread`)
test('17 MiB of junk JSON lines after an HTTP request, then a login padded between `"method":` and its value', pool(`junk = ('{"p":"' + "A" * 60000 + '"}\\n').encode() * 300
attempt("203.0.113.20", 443, b"GET / HTTP/1.1\\r\\nHost: 203.0.113.20\\r\\n\\r\\n", junk + b'{"id":1,"jsonrpc":"2.0","method":' + b" " * 9000 + b'"login","params":{"login":"wallet1","pass":"x","agent":"XMRig/6.21.0"}}\\n')`, LOGIN_SEEN));

test('120 ideographic spaces (360 bytes, past the 320-byte restart window) before the padded login, for a pool that trims them (round 2 of the session-40 review)', pool('attempt("203.0.113.20", 8443, None, ("\\u3000" * 120 + LOGIN).encode())', LOGIN_SEEN, 8443));
test('an HTTP deflate body whose first bytes pass the %31 check but zlib refuses (CINFO 8): read as raw from its first byte, the login cut (round 2)', pool(`c = zlib.compressobj(wbits=-15)
raw = c.compress(LOGIN.encode()) + c.flush()
pre = b"\\x88\\x1c\\x00\\xe3\\xff" + b" " * 28
attempt("203.0.113.20", 443, b"POST /rpc HTTP/1.1\\r\\nHost: 203.0.113.20\\r\\nContent-Encoding: deflate\\r\\nContent-Length: %d\\r\\n\\r\\n" % (len(pre) + len(raw)) + pre, raw)`, /login.* in an HTTP body \(deflate\)/));

test('SSH to a relay: an identification line at the start of a TLS record body is a tunnel, cut', () => cut(
  'attempt("198.51.100.40", 443, hello("relay.test"), rec(b"SSH-2.0-OpenSSH_9.2p1\\r\\n") + rec(os.urandom(600)))', RELAY, 'tunnel', /SSH-2\.0-OpenSSH_9\.2p1 inside TLS record bodies/, '198.51.100.40:443'));
test('SSH to a relay: an identification line after a vertical tab, after an HTTP request, is a tunnel, cut', () => cut(
  'attempt("198.51.100.40", 80, b"GET / HTTP/1.1\\r\\nHost: relay.test\\r\\n\\r\\n", b"\\x0bSSH-2.0-OpenSSH_9.2p1\\r\\n" + os.urandom(600))', RELAY, 'tunnel', /SSH-2\.0-OpenSSH_9\.2p1/, '198.51.100.40:80'));
