// Why: the skeleton lexer (src/gateway/sniff/json-skeleton.ts) is what lets the gateway see a pool
// login whatever padding, key order or write boundaries hide it; these tests pin that down without a
// network: every split point of a sample, padding forms, benign look-alikes, and hostile input that
// must neither throw nor grow memory past the lexer's bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonSkeleton, MAX_DEPTH, MAX_VALUE, type ObjectSummary } from '../src/gateway/sniff/json-skeleton.js';
import { UploadRpcScan, judgeSummary, type RpcHit } from '../src/gateway/sniff/mining-skeleton.js';
import { HttpRequestStream } from '../src/gateway/sniff/http-stream.js';
import { WebSocketSshCheck, WebSocketUnmasker } from '../src/gateway/sniff/websocket-frames.js';
import { SshIdScanner } from '../src/gateway/sniff/ssh-banner.js';

/** Feeds the chunks to a fresh raw scan; the first hit. */
function rawHit(chunks: Buffer[]): RpcHit | undefined {
  const scan = new UploadRpcScan();
  let hit: RpcHit | undefined;
  for (const c of chunks) hit ??= scan.raw(c);
  return hit;
}
const B = (s: string): Buffer => Buffer.from(s, 'latin1');
function splitEvery(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

const SUBSCRIBE = '{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5"]}\n';
const LOGIN = '{"id":1,"jsonrpc":"2.0","params":{"agent":"XMRig/6.21","pass":"x","login":"wallet1"},"method":"login"}\n';

test('a sample split at every byte position (and byte by byte) gives the same verdict as whole', () => {
  for (const sample of [SUBSCRIBE, LOGIN, `{"id":1,"pad":"A\\"B\\\\C\\u0041","method":"\\u006dining.authorize","params":["w","x"]}\n`]) {
    const buf = B(`{"junk":[1,2,{"a":"b"}]}\n${sample}`);
    const whole = rawHit([buf]);
    assert.ok(whole, sample);
    for (let p = 0; p <= buf.length; p++) {
      assert.deepEqual(rawHit([buf.subarray(0, p), buf.subarray(p)]), whole, `split at ${p}: ${sample}`);
    }
    assert.deepEqual(rawHit(splitEvery(buf, 1)), whole);
  }
  // (a mining.* method decides as soon as it is read, before its params: the detail has no agent then)
  assert.equal(rawHit([B(SUBSCRIBE)])?.detail, 'mining.subscribe');
  assert.equal(rawHit([B(LOGIN)])?.detail, 'login agent=XMRig/6.21');
});

test('padding does not hide a pool message: whitespace, a long junk value, reordered keys, split writes', () => {
  const pad = 'A'.repeat(100_000);
  const ws = ' '.repeat(100_000);
  const cases = [
    `{"id":1,"pad":"${pad}","method":"mining.subscribe","params":["x"]}\n`,
    `{"id":1,"method"${ws}:${ws}"mining.subscribe","params":["x"]}\n`,
    `{"id":1,"method":"login","pad":"${pad}","params":{"login":"w","pass":"x","agent":"XMRig/6.21"}}\n`,
    `{"params":{"agent":"XMRig","pad":"${pad}","login":"w","pass":"x"},"id":1,"${'k'.repeat(50_000)}":[${'1,'.repeat(20_000)}2],"method":"login"}\n`,
    // (a batch, escapes in the key, duplicate keys — a benign method first, the pool's last)
    `[{"id":0,"method":"ping"},{"id":1,"\\u006d\\u0065thod":"ping","pad":"${pad}","method":"mining.authorize","params":["w","x"]}]\n`,
    // (pretty-printed, across lines, for a parser that is not line-based)
    `{\n  "id": 1,\n  "pad": "${pad}",\n  "method": "getblocktemplate",\n  "params": [{"rules": ["segwit"]}]\n}\n`,
    // (a junk line of unclosed brackets first: a line-based pool drops it and reads the next)
    `${'{'.repeat(40)}\n{"id":1,"pad":"${pad}","method":"mining.subscribe","params":[]}\n`,
    `[[[[[[[[[[[[[[[\n{"id":1,"pad":"${pad}","method":"login","params":{"login":"w","pass":"x"}}\n`,
  ];
  for (const c of cases) {
    const buf = B(c);
    for (const size of [1 << 20, 1000, 4097, 7]) {
      if (size === 7 && buf.length > 300_000) continue;
      assert.ok(rawHit(splitEvery(buf, size)), `${c.slice(0, 60)}… in ${size}-byte writes`);
    }
  }
});

test('benign JSON is not mining however padded: a big API field, a web login, Stratum text quoted inside a string', () => {
  const big = 'x'.repeat(200_000);
  const cases = [
    `{"model":"m","messages":[{"role":"user","content":"${big}"}],"method":"POST"}\n`,
    `{"method":"login","params":{"username":"alice","password":"pw"},"blob":"${big}"}\n`,
    `{"content":"see {\\"id\\":1,\\"method\\":\\"mining.subscribe\\",\\"params\\":[]} ${big}"}\n`,
    `{"jsonrpc":"2.0","method":"eth_call","params":[{"to":"0x0","data":"0x${'0'.repeat(100_000)}"},"latest"],"id":1}\n`,
  ];
  for (const c of cases) assert.equal(rawHit(splitEvery(B(c), 1500)), undefined, c.slice(0, 80));
});

test('hostile input never throws and keeps the lexer within its bounds', () => {
  let seen = 0;
  let deepest = 0;
  const lx = new JsonSkeleton((o: ObjectSummary) => { seen++; assert.ok(o.keys.length <= 11); for (const v of o.values?.values() ?? []) if (v.t === 's') assert.ok(v.v.length <= MAX_VALUE + 1); });
  const probe = (): void => { deepest = Math.max(deepest, (lx as unknown as { stack: unknown[] }).stack.length); };
  const inputs = [
    B('['.repeat(100_000)), B('{"a":'.repeat(50_000)), B('\\'.repeat(100_000)), B(`"${'\\u'.repeat(10_000)}`),
    B(`{"${'k'.repeat(100_000)}":"${'v'.repeat(100_000)}"}`), B(`{${'"k":1,'.repeat(50_000)}"method":"x"}`),
    B('{"a":"\\uZZZZ","b":"\\u12"}\n{"method":"\\'), B('}]}]}]'.repeat(1000)), B('{"a":\u00ff\u0000}'),
  ];
  let x = 12345;
  const rnd = Buffer.alloc(2_000_000);
  for (let i = 0; i < rnd.length; i++) { x = (x * 1103515245 + 12345) & 0x7fffffff; rnd[i] = (x >> 16) & 0xff; }
  inputs.push(rnd);
  // (random bytes drawn from JSON's own alphabet: the lexer runs deep in its states)
  const alpha = B('{}[]":,\\u0aA1 \n');
  inputs.push(Buffer.from(rnd.map((b) => alpha[b % alpha.length]!)));
  for (const inp of inputs) for (const piece of splitEvery(inp, 777)) { assert.doesNotThrow(() => lx.push(piece)); probe(); }
  assert.ok(deepest <= MAX_DEPTH, `stack ${deepest}`);
  assert.ok(lx.abandoned > 0);
  assert.ok(seen > 0);
  // (and it still works after all that, from the next line)
  const scan = new UploadRpcScan();
  for (const inp of inputs) scan.raw(inp);
  assert.ok(scan.raw(B(`\n${SUBSCRIBE}`)));
});

test('judgeSummary follows the line checks: a stripped XMR login, a web login, an XMR submit', () => {
  const sum = (json: string): ObjectSummary | undefined => { let last: ObjectSummary | undefined; const lx = new JsonSkeleton((o) => { if (o.methods.length) last = o; }); lx.push(B(`${json}\n`)); return last; };
  assert.ok(judgeSummary(sum('{"method":"login","params":{"login":"w"}}')!));
  assert.equal(judgeSummary(sum('{"method":"login","params":{"login":"w","password":"p"}}')!), undefined);
  assert.ok(judgeSummary(sum('{"method":"submit","params":{"id":"a","job_id":"b","nonce":"00000001","result":"ff"}}')!));
  assert.equal(judgeSummary(sum(`{"method":"submit","params":{"nonce":"00000001","result":"${'f'.repeat(200)}"}}`)!), undefined, 'a cut result is not a hex result');
});

test('HTTP bodies are read de-chunked, as lines and as one value: a padded login in a chunked POST is seen', () => {
  // (a junk line of unclosed brackets first, for a line-based pool behind the HTTP server)
  for (const pre of ['', `${'['.repeat(15)}\n`]) {
    const scan = new UploadRpcScan();
    let hit: RpcHit | undefined;
    for (const [i, c] of splitEvery(B(`${pre}{"pad":"${'A'.repeat(9000)}",\n"method":"mining.subscribe"}`), 1000).entries()) hit ??= scan.body(c, i === 0);
    assert.ok(hit, pre);
  }
  const body = `{"id":1,"method":"login","pad":"${'A'.repeat(50_000)}","params":{"login":"w","pass":"x","agent":"XMRig"}}\n`;
  const chunks = splitEvery(B(body), 4096).map((c) => `${c.length.toString(16)}\r\n${c.toString('latin1')}\r\n`).join('');
  const req = B(`POST /rpc HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`);
  const scan = new UploadRpcScan();
  let hit: RpcHit | undefined;
  const http = new HttpRequestStream((piece, start) => { hit ??= scan.body(piece, start); });
  for (const c of splitEvery(req, 999)) http.push(c);
  assert.equal(hit?.detail, 'login agent=XMRig');
});

/** Client frames (masked) of a payload, cut into frames of `size` bytes (first text/binary, then continuations). */
function frames(payload: Buffer, size: number, opcode = 2): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; i < payload.length; i += size) {
    const p = payload.subarray(i, i + size);
    const fin = i + size >= payload.length ? 0x80 : 0;
    const key = Buffer.from([1, 2, 3, 4]);
    const len = p.length < 126 ? Buffer.from([0x80 | p.length]) : Buffer.from([0x80 | 126, p.length >> 8, p.length & 0xff]);
    out.push(Buffer.from([fin | (i === 0 ? opcode : 0)]), len, key, Buffer.from(p.map((b, j) => b ^ key[j % 4]!)));
  }
  return Buffer.concat(out);
}

test('WebSocket: a padded login across many frames is seen; SSH in a frame is found; benign frames are not', () => {
  const login = B(`{"id":1,"method":"login","pad":"${'A'.repeat(60_000)}","params":{"login":"w","pass":"x"}}`);
  const scanWs = (wire: Buffer): { hit?: RpcHit; ssh?: string } => {
    // (as the gateway does: each data frame's start, and the frames' data as one stream)
    const un = new WebSocketUnmasker(), scan = new UploadRpcScan(), ssh = new WebSocketSshCheck(), stream = new SshIdScanner();
    const r: { hit?: RpcHit; ssh?: string } = {};
    for (const c of splitEvery(wire, 1000)) for (const p of un.pushFrames(c)) { r.hit ??= scan.ws(p.data, p.frameStart && p.opcode !== 0); r.ssh ??= ssh.push(p) ?? stream.push(p.data); }
    return r;
  };
  assert.ok(scanWs(frames(login, 3000)).hit);
  assert.ok(scanWs(frames(login, 100)).hit);
  assert.equal(scanWs(frames(B('SSH-2.0-OpenSSH_9.2p1\r\n'), 100)).ssh, 'SSH-2.0-OpenSSH_9.2p1');
  assert.match(scanWs(frames(B('SSH-2.0-OpenSSH_9.2p1\r\n'), 3)).ssh ?? '', /^SSH-2\.0-O/, 'split across 3-byte frames');
  assert.equal(scanWs(frames(B('\r\n  SSH-2.0-x\r\n'), 1000)).ssh, 'SSH-2.0-x', 'blanks first');
  const benign = scanWs(frames(B(`{"msg":"hello","blob":"${'SSH-2.0-'.repeat(1000)}"}`), 500));
  assert.equal(benign.hit, undefined);
  assert.equal(benign.ssh, undefined);
});

test('TLS records: a padded login carried in record bodies is seen, even when a header\'s length bytes are a quote and a newline', async () => {
  const { TlsRecordWalker } = await import('../src/gateway/sniff/tls-records.js');
  const msg = B(`{"id":1,"method":"login","pad":"${'A'.repeat(30_000)}","params":{"login":"w","pass":"x"}}\n`);
  const records: Buffer[] = [];
  for (let i = 0; i < msg.length; i += 0x0a22) {
    const body = msg.subarray(i, i + 0x0a22);
    records.push(Buffer.from([0x17, 0x03, 0x03, body.length >> 8, body.length & 0xff]), body);
  }
  const wire = Buffer.concat(records);
  const walk = new TlsRecordWalker(), scan = new UploadRpcScan();
  let hit: RpcHit | undefined;
  for (const c of splitEvery(wire, 1000)) assert.equal(walk.push(c, (b) => { hit ??= scan.raw(b); }), -1);
  assert.ok(hit);
  assert.equal(rawHit(splitEvery(wire, 1000)), undefined, '(read with the headers, the string ends early: why bodies are fed alone)');
});

test('no give-up point: a padded login after 17 MiB of junk JSON lines is still read, raw and as an HTTP body (a red-team review, session 40)', () => {
  // (17 MiB spent the old 16 MiB budget; the login's `"method":` is then padded past the line scan's 8 KiB tail)
  const junk = B(`{"p":"${'A'.repeat(60_000)}"}\n`.repeat(300) + `{"a":[${'1,'.repeat(1 << 20)}0]}\n`);
  assert.ok(junk.length > 17 * 2 ** 20);
  const login = B(`{"id":1,"jsonrpc":"2.0","method":${' '.repeat(9000)}"login","params":{"login":"wallet1","pass":"x","agent":"XMRig/6.21.0"}}\n`);
  const raw = new UploadRpcScan();
  for (const c of splitEvery(junk, 65536)) assert.equal(raw.raw(c), undefined);
  let hit: RpcHit | undefined;
  for (const c of splitEvery(login, 1400)) hit ??= raw.raw(c);
  assert.equal(hit?.method, 'login', 'raw stream');
  const body = new UploadRpcScan();
  for (const [i, c] of splitEvery(junk, 65536).entries()) assert.equal(body.body(c, i === 0), undefined);
  hit = undefined;
  for (const c of splitEvery(login, 1400)) hit ??= body.body(c, false);
  assert.equal(hit?.method, 'login', 'one HTTP body');
});

test('a value nested past MAX_DEPTH is walked, not abandoned: the login around it is still read (a red-team review, session 39)', () => {
  const nest = (d: number): string => `${'['.repeat(d)}"]}[{\\"" , {"method":"x"}${']'.repeat(d)}`;
  for (const d of [MAX_DEPTH + 1, 40, 5000]) {
    const login = `{"id":1,"method":"login","x":${nest(d)},"pad":"${'A'.repeat(100_000)}","params":{"agent":"XMRig/6.21","pass":"x","login":"wallet1"}}\n`;
    assert.equal(rawHit(splitEvery(B(login), 1400))?.method, 'login', `depth ${d}`);
    assert.equal(rawHit([B(`{"id":1,"x":${nest(d)},"method"${' '.repeat(100_000)}:"mining.subscribe","params":["cpuminer/2.5"]}\n`)])?.method, 'mining.subscribe', `depth ${d}`);
  }
  // (a deep value that never closes is still bounded: a newline ends it in line framing, MAX_MESSAGE otherwise)
  const lx = new JsonSkeleton(() => {}, true);
  lx.push(B(`{"a":${'['.repeat(100_000)}\n`));
  assert.equal(lx.idle, true);
});

test('bytes before a value on its line (a form feed, a BOM, a SOCKS greeting) no longer hide it: lexing starts again at the next "{"', () => {
  const login = `{"id":1,"method":"login","pad":"${'A'.repeat(100_000)}","params":{"agent":"XMRig/6.21","pass":"x","login":"wallet1"}}\n`;
  for (const before of ['\f', '\v', '\ufeff', '\u00a0', '\u0005\u0001\u0000\u0001\u00cb\u0000\u0071\u0014\u0020\u00fb', 'GET / HTTP/1.1 junk ']) {
    assert.equal(rawHit(splitEvery(Buffer.from(before + login, 'utf8'), 1400))?.method, 'login', JSON.stringify(before));
  }
  // an abandoned value (a byte JSON never has) starts again at the next '{' on its line
  assert.equal(rawHit([B(`{"a":@@ ${SUBSCRIBE}`)])?.method, 'mining.subscribe');
  // plain text with braces is not a pool message
  assert.equal(rawHit([B('function f() { return {a: 1}; } // {"method": "x"}\n{ not json }\n')]), undefined);
});

test('Unicode spaces a pool trims before the login (U+3000, U+00A0, U+FEFF …), however many, do not hide it; nor do they after bytes a relay strips (a red-team review, session 40)', () => {
  const login = `{"id":1,"method":"login","pad":"${'A'.repeat(100_000)}","params":{"agent":"XMRig/6.21","pass":"x","login":"wallet1"}}\n`;
  for (const before of ['\u3000'.repeat(120), '\u00a0'.repeat(200), '\u2009\u202f\u205f\u1680\u0085\u2028\ufeff'.repeat(60), '\x1c\x1d\x1e\x1f'.repeat(100),
    `\u0005\u0001\u0000\u0001\u00cb\u0000\u0071${'\u3000'.repeat(150)}`]) {
    for (const size of [1400, 7]) assert.equal(rawHit(splitEvery(Buffer.from(before + login, 'utf8'), size))?.method, 'login', `${JSON.stringify(before.slice(0, 12))}… in ${size}-byte pieces`);
  }
});

test('blank lines between values do not spend the JSON budget: a padded login after 17 MiB of them is read (a review, session 39)', () => {
  const scan = new UploadRpcScan();
  const blank = B(`${' '.repeat(1023)}\n`.repeat(1024));
  for (let i = 0; i < 17; i++) assert.equal(scan.raw(blank), undefined);
  let hit;
  for (const p of splitEvery(B(`{"id":1,"method":"login","pad":"${'A'.repeat(100_000)}","params":{"agent":"XMRig/6.21","pass":"x","login":"wallet1"}}\n`), 1400)) hit ??= scan.raw(p);
  assert.equal(hit?.method, 'login');
});
