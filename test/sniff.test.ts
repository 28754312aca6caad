// Why: the gateway's protocol sniffers decide what a sandboxed client may reach, so they are
// tested on real bytes (a ClientHello from Node's TLS stack, a banner from the real OpenSSH
// client, a request from Node's HTTP client), on evasion tricks, and on truncated/fuzzed input
// they must survive without throwing. All traffic stays on 127.0.0.1; names are under .test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import {
  sniff, containsMiningRpc, parseClientHello, parseHttpRequest, parseSshBanner, parseMiningRpc,
  MiningRpcScanner, classifyRawText, classifyRpcMessage, SshIdScanner, TlsRecordWalker, type SniffResult,
} from '../src/gateway/sniff/index.js';
import { WebSocketUnmasker } from '../src/gateway/sniff/websocket-frames.js';

// ---------- capture helpers (127.0.0.1 only) ----------

/**
 * Listens on 127.0.0.1:0, lets `start` open one client connection to it, and returns what the
 * client sent first (everything that arrived within settleMs of the first chunk).
 */
async function captureFirstBytes(
  start: (port: number) => () => void | Promise<void>,
  settleMs = 150,
): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  let stop: (() => void | Promise<void>) | undefined;
  try {
    const got = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no bytes captured within 5 s')), 5000);
      server.once('connection', (sock) => {
        const chunks: Buffer[] = [];
        sock.on('error', () => undefined);
        sock.on('data', (d: Buffer) => {
          if (chunks.length === 0) {
            setTimeout(() => { clearTimeout(timer); sock.destroy(); resolve(Buffer.concat(chunks)); }, settleMs);
          }
          chunks.push(d);
        });
      });
    });
    stop = start(port);
    return await got;
  } finally {
    await stop?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function captureTls(opts: Omit<tls.ConnectionOptions, 'host' | 'port'>): Promise<Buffer> {
  return captureFirstBytes((port) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts });
    s.on('error', () => undefined);
    return () => { s.destroy(); };
  });
}

// ---------- byte builders ----------

function u16(n: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; }
function ext(type: number, data: Buffer): Buffer { return Buffer.concat([u16(type), u16(data.length), data]); }
function sniExt(names: string[]): Buffer {
  const entries = Buffer.concat(names.map((n) => {
    const b = Buffer.from(n, 'latin1');
    return Buffer.concat([Buffer.from([0]), u16(b.length), b]);
  }));
  return ext(0, Buffer.concat([u16(entries.length), entries]));
}
/** A minimal but well-formed ClientHello record carrying the given extensions. */
function clientHello(exts: Buffer[]): Buffer {
  const extBytes = Buffer.concat(exts);
  const body = Buffer.concat([
    Buffer.from([3, 3]), Buffer.alloc(32, 7), Buffer.from([0]), u16(2), Buffer.from([0x13, 0x01]),
    Buffer.from([1, 0]), ...(exts.length > 0 ? [u16(extBytes.length), extBytes] : []),
  ]);
  const hs = Buffer.concat([Buffer.from([1, body.length >> 16, (body.length >> 8) & 0xff, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([22, 3, 1]), u16(hs.length), hs]);
}
/** Re-frames one ClientHello record as two handshake records split at `at`. */
function splitRecord(rec: Buffer, at: number): Buffer {
  const hs = rec.subarray(5, 5 + rec.readUInt16BE(3));
  const a = hs.subarray(0, at);
  const b = hs.subarray(at);
  return Buffer.concat([Buffer.from([22, 3, 1]), u16(a.length), a, Buffer.from([22, 3, 1]), u16(b.length), b]);
}

/** Deterministic xorshift PRNG so fuzz failures are reproducible. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 0x100000000; };
}

const PROTOCOLS = new Set(['tls', 'http', 'ssh', 'mining', 'other']);
const HOST_RE = /^[a-z0-9_-]+(?:\.[a-z0-9_-]+)*$|^[0-9a-f:.]+$/;
function assertWellFormed(r: SniffResult, ctx: string): void {
  assert.ok(r.status === 'done' || r.status === 'incomplete', ctx);
  assert.ok(PROTOCOLS.has(r.protocol), ctx);
  if (r.host !== undefined) assert.match(r.host, HOST_RE, ctx);
  if (r.detail !== undefined) assert.equal(typeof r.detail, 'string', ctx);
}

const lines = (...ls: string[]): Buffer => Buffer.from(ls.map((l) => `${l}\n`).join(''), 'utf8');

// ---------- TLS ----------

test('TLS: real Node ClientHello yields SNI host and ALPN', async () => {
  const hello = await captureTls({ servername: 'Registry.test', ALPNProtocols: ['h2', 'http/1.1'] });
  assert.equal(hello[0], 22);
  const r = sniff(hello);
  assert.equal(r.status, 'done');
  assert.equal(r.protocol, 'tls');
  assert.equal(r.host, 'registry.test');
  assert.match(r.detail ?? '', /alpn=h2,http\/1\.1/);
  assert.deepEqual(parseClientHello(hello), r);
});

test('TLS: connection to an IP literal carries no SNI', async () => {
  const hello = await captureTls({});
  const r = sniff(hello);
  assert.equal(r.status, 'done');
  assert.equal(r.protocol, 'tls');
  assert.equal(r.host, undefined);
});

test('TLS: every prefix of a real ClientHello is incomplete, the whole is tls; never throws', async () => {
  const hello = await captureTls({ servername: 'registry.test' });
  const recLen = 5 + hello.readUInt16BE(3);
  assert.equal(hello.length, recLen, 'client sends exactly one record, then waits');
  for (let n = 0; n < hello.length; n++) {
    const r = sniff(hello.subarray(0, n));
    assert.equal(r.status, 'incomplete', `prefix ${n}`);
  }
  // Split over two records: every prefix incomplete too, and the reassembled SNI is found.
  for (const at of [1, 3, 4, 40, 100, hello.length - 10]) {
    const split = splitRecord(hello, at);
    for (let n = 0; n < split.length; n++) assert.equal(sniff(split.subarray(0, n)).status, 'incomplete', `split ${at} prefix ${n}`);
    const r = sniff(split);
    assert.equal(r.protocol, 'tls', `split at ${at}`);
    assert.equal(r.host, 'registry.test', `split at ${at}`);
  }
});

test('TLS: malformed ClientHellos are other, not tls', async () => {
  const hello = await captureTls({ servername: 'registry.test' });
  const mutate = (off: number, v: number): Buffer => { const b = Buffer.from(hello); b[off] = v; return b; };
  assert.equal(sniff(mutate(5, 2)).protocol, 'other', 'handshake type ServerHello');
  assert.equal(sniff(mutate(1, 9)).protocol, 'other', 'record version major');
  assert.equal(sniff(mutate(5 + 4 + 2 + 32, 200)).protocol, 'other', 'session id length > 32');
  const bigRecord = Buffer.from(hello); bigRecord.writeUInt16BE(0xffff, 3);
  assert.equal(sniff(bigRecord).protocol, 'other', 'record length > 2^14');
  // A handshake length that disagrees with the ClientHello's own extension lengths.
  const longer = Buffer.from(hello); longer[8] = longer[8]! + 1;
  assert.equal(sniff(longer).protocol, 'other');
  // A ClientHello continued in a second record: that record must be a handshake record too.
  const split = splitRecord(hello, 100);
  const firstRecord = split.subarray(0, 5 + 100);
  assert.equal(sniff(firstRecord).status, 'incomplete');
  assert.equal(sniff(Buffer.concat([firstRecord, Buffer.from('GET / HTTP/1.1\r\n')])).protocol, 'other');
  assert.equal(sniff(Buffer.concat([firstRecord, Buffer.from([23, 3, 3, 0, 10])])).protocol, 'other');
  // Early rejection: a record header followed by a non-ClientHello byte needs no more data.
  assert.deepEqual(sniff(Buffer.from([22, 3, 1, 0, 200, 2])), { status: 'done', protocol: 'other' });
  assert.equal(sniff(Buffer.from([22, 3, 1, 0, 200, 1, 0, 0, 5])).protocol, 'other', 'body too short for a ClientHello');
});

test('TLS: built ClientHellos: no extensions, trailing dot, SNI tricks', () => {
  const none = sniff(clientHello([]));
  assert.equal(none.protocol, 'tls');
  assert.equal(none.host, undefined);
  assert.equal(sniff(clientHello([sniExt(['Registry.Test.'])])).host, 'registry.test');
  const dupExt = sniff(clientHello([sniExt(['registry.test']), sniExt(['evil.test'])]));
  assert.equal(dupExt.protocol, 'tls');
  assert.equal(dupExt.host, undefined, 'duplicate server_name extension gives no host');
  const twoNames = sniff(clientHello([sniExt(['registry.test', 'evil.test'])]));
  assert.equal(twoNames.host, undefined, 'two host_names give no host');
  const nul = sniff(clientHello([sniExt(['registry.test\u0000.evil.test'])]));
  assert.equal(nul.protocol, 'tls');
  assert.equal(nul.host, undefined, 'NUL in SNI gives no host');
  assert.match(nul.detail ?? '', /invalid server_name/);
  const ech = sniff(clientHello([sniExt(['public.test']), ext(0xfe0d, Buffer.alloc(8))]));
  assert.equal(ech.host, 'public.test');
  assert.match(ech.detail ?? '', /ech/);
  // Extension length pointing past the end of the message.
  const bad = clientHello([sniExt(['registry.test'])]);
  bad.writeUInt16BE(bad.readUInt16BE(bad.length - sniExt(['registry.test']).length - 2) + 1, bad.length - sniExt(['registry.test']).length - 2);
  assert.equal(sniff(bad).protocol, 'other');
});

test('TLS: an unusable server_name is ambiguous and refused (sni-mismatch), never judged as no SNI by the resolved name (a review, session 35)', async () => {
  const { compilePolicy, parsePolicy } = await import('../src/policy/index.js');
  const p = compilePolicy(parsePolicy('name: t\nnetwork:\n  allow:\n    - domain: front.test\n      ports: [443]\n      protocols: [tls]\n', 't.yaml'));
  const judge = (r: SniffResult) => p.decideConnect({ ip: '203.0.113.10', port: 443, name: 'front.test', protocol: 'tls', sniHost: r.host, tls: r.tls, hostAmbiguous: r.hostAmbiguous, ambiguousWhy: r.ambiguousWhy });
  const cases: [string, Buffer[], RegExp][] = [
    ['NUL in the name', [sniExt(['pool.test\u0000'])], /invalid server_name/],
    ['a trailing space', [sniExt(['pool.test '])], /invalid server_name/],
    ['non-ASCII (UTF-8) bytes', [sniExt([Buffer.from('pool.tést', 'utf8').toString('latin1')])], /invalid server_name/],
    ['two host_names, the allowed one first', [sniExt(['front.test', 'pool.test'])], /several host_names/],
    ['two host_names, the allowed one last', [sniExt(['pool.test', 'front.test'])], /several host_names/],
    ['a duplicate server_name extension', [sniExt(['front.test']), sniExt(['pool.test'])], /duplicate server_name extension/],
    ['a name over 253 characters', [sniExt([`${'a'.repeat(60)}.`.repeat(4) + 'x'.repeat(50) + '.front.test'])], /invalid server_name/],
    ['an empty server_name extension', [ext(0, Buffer.alloc(0))], /empty server_name/],
  ];
  for (const [what, exts, why] of cases) {
    const r = sniff(clientHello(exts));
    assert.equal(r.protocol, 'tls', what);
    assert.equal(r.host, undefined, what);
    assert.equal(r.hostAmbiguous, true, what);
    assert.match(r.ambiguousWhy ?? '', why, what);
    const d = judge(r);
    assert.deepEqual([d.verdict, d.rule], ['deny', 'sni-mismatch'], what);
    assert.match(d.reason, /^The TLS ClientHello names its server ambiguously \(/, what);
  }
  // Bytes after the ClientHello inside its own record (an SSH banner riding past the SNI decision), whole
  // or with the record's tail still to come: ambiguous too.
  const good = clientHello([sniExt(['front.test'])]);
  const tail = Buffer.from('SSH-2.0-OpenSSH_9.6\r\n', 'latin1');
  const padded = Buffer.concat([good, tail]);
  padded.writeUInt16BE(good.readUInt16BE(3) + tail.length, 3);
  for (const [what, bytes] of [['whole', padded], ['record tail not yet arrived', padded.subarray(0, good.length + 3)]] as const) {
    const r = sniff(bytes);
    assert.deepEqual([r.protocol, r.host, r.hostAmbiguous], ['tls', undefined, true], what);
    assert.match(r.ambiguousWhy ?? '', new RegExp(`\\(${tail.length} bytes follow the ClientHello inside its record\\)`), what);
    assert.deepEqual([judge(r).verdict, judge(r).rule], ['deny', 'sni-mismatch'], what);
  }
  // A usable name, or none at all, is judged as before.
  for (const [what, exts] of [['the allowed name', [sniExt(['Front.Test.'])]], ['no SNI', []]] as const) {
    const r = sniff(clientHello([...exts]));
    assert.equal(r.hostAmbiguous, undefined, what);
    assert.equal(judge(r).verdict, 'allow', what);
  }
});

test('TLS: fuzzed ClientHellos never throw and stay well-formed', async () => {
  const hello = await captureTls({ servername: 'registry.test', ALPNProtocols: ['h2'] });
  const rand = rng(0xc0ffee);
  const seen = new Map<string, number>();
  for (let i = 0; i < 5000; i++) {
    const b = Buffer.from(hello);
    const flips = 1 + Math.floor(rand() * 4);
    for (let k = 0; k < flips; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    const cut = rand() < 0.3 ? Math.floor(rand() * b.length) : b.length;
    const r = sniff(b.subarray(0, cut));
    assertWellFormed(r, `iteration ${i}`);
    const key = `${r.status}/${r.protocol}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  assert.ok((seen.get('done/tls') ?? 0) > 0 && (seen.get('done/other') ?? 0) > 0, JSON.stringify([...seen]));
});

// ---------- HTTP ----------

test('HTTP: real Node http request: host from Host header, port stripped, lowercased', async () => {
  const bytes = await captureFirstBytes((port) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/v2/library', headers: { Host: 'Registry.Test:5000' } });
    req.on('error', () => undefined);
    req.end();
    return () => { req.destroy(); };
  });
  const r = sniff(bytes);
  assert.deepEqual(r, { status: 'done', protocol: 'http', method: 'GET', detail: 'GET /v2/library', host: 'registry.test' });
  for (let n = 0; n < bytes.length; n++) {
    const p = sniff(bytes.subarray(0, n));
    assert.equal(p.status, 'incomplete', `prefix ${n}: ${JSON.stringify(p)}`);
  }
});

test('HTTP: CONNECT, absolute-form, case-insensitive Host, IPv6, h2 preface, leading CRLF', () => {
  const c = sniff(Buffer.from('CONNECT Pool.Test:3333 HTTP/1.1\r\nHost: registry.test:443\r\n\r\n'));
  assert.equal(c.protocol, 'http');
  assert.equal(c.method, 'CONNECT');
  assert.equal(c.host, 'pool.test', 'CONNECT uses the authority, not Host');
  assert.equal(c.connectPort, 3333);
  const abs = sniff(Buffer.from('GET http://other.test:8080/x HTTP/1.1\r\nHost: registry.test\r\n\r\n'));
  assert.equal(abs.host, 'other.test', 'absolute-form target wins over Host (RFC 9112 3.2.2)');
  assert.equal(abs.connectPort, 8080, 'an absolute-form target\'s port is where a proxy goes (judged as CONNECT\'s)');
  assert.equal(sniff(Buffer.from('GET http://[::1]:6379/ HTTP/1.1\r\nHost: x.test\r\n\r\n')).connectPort, 6379);
  for (const t of ['http://other.test/x', 'http://other.test:/x', '/x']) assert.equal(sniff(Buffer.from(`GET ${t} HTTP/1.1\r\nHost: other.test:8080\r\n\r\n`)).connectPort, undefined, `${t}: no port named (a Host port is not judged)`);
  for (const t of ['CONNECT other.test:65616', 'CONNECT other.test:0', 'GET http://other.test:70000/']) {
    const r = sniff(Buffer.from(`${t} HTTP/1.1\r\nHost: other.test\r\n\r\n`));
    assert.deepEqual([r.protocol, r.host, r.connectPort, r.hostAmbiguous], ['http', undefined, undefined, true], `${t}: a port that is none is ambiguous`);
  }
  assert.equal(sniff(Buffer.from('POST /upload HTTP/1.0\r\nhOsT:   A.Test  \r\nContent-Length: 0\r\n\r\n')).host, 'a.test');
  assert.equal(sniff(Buffer.from('GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n')).host, '::1');
  const pri = sniff(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'));
  assert.equal(pri.protocol, 'http');
  assert.equal(pri.method, 'PRI');
  assert.equal(sniff(Buffer.from('\r\nGET / HTTP/1.1\r\nHost: registry.test\r\n\r\n')).host, 'registry.test');
  const bareLf = sniff(Buffer.from('HEAD /x HTTP/1.1\nHost: registry.test\n\n'));
  assert.equal(bareLf.host, 'registry.test');
  const noHost = sniff(Buffer.from('GET / HTTP/1.0\r\n\r\n'));
  assert.equal(noHost.protocol, 'http');
  assert.equal(noHost.host, undefined);
});

test('HTTP: Host ambiguity gives no host', () => {
  const two = sniff(Buffer.from('GET / HTTP/1.1\r\nHost: registry.test\r\nHost: evil.test\r\n\r\n'));
  assert.equal(two.protocol, 'http');
  assert.equal(two.host, undefined);
  assert.match(two.detail ?? '', /conflicting/);
  const spaced = sniff(Buffer.from('GET / HTTP/1.1\r\nHost: registry.test\r\nHost : evil.test\r\n\r\n'));
  assert.equal(spaced.host, undefined);
  const folded = sniff(Buffer.from('GET / HTTP/1.1\r\nHost: registry.test\r\n evil.test\r\n\r\n'));
  assert.equal(folded.host, undefined);
  const userinfo = sniff(Buffer.from('GET / HTTP/1.1\r\nHost: registry.test@evil.test\r\n\r\n'));
  assert.equal(userinfo.host, undefined);
  // The same value twice is not ambiguous.
  assert.equal(sniff(Buffer.from('GET / HTTP/1.1\r\nHost: a.test\r\nhost: A.test\r\n\r\n')).host, 'a.test');
});

test('HTTP: incomplete vs garbage', () => {
  for (const s of ['G', 'GE', 'GET', 'CONN', 'GET /pa', 'GET /path HTTP/1.1\r', 'GET / HTTP/1.1\r\nHost: a.test\r\n']) {
    assert.equal(sniff(Buffer.from(s)).status, 'incomplete', JSON.stringify(s));
  }
  for (const s of ['HELLO world\r\n\r\n', 'GET / FTP/1.0\r\n\r\n', 'GET\t/ HTTP/1.1\r\n\r\n', 'G1T / HTTP/1.1\r\n', 'get / HTTP/1.1\r\n\r\n', 'GET /a\u0001b']) {
    const r = sniff(Buffer.from(s, 'latin1'));
    assert.deepEqual(r, { status: 'done', protocol: 'other' }, JSON.stringify(s));
  }
  // A 9 000-byte head is read whole now (the limit is 32 KiB): still incomplete until its end, then judged by its Host.
  const big = `GET / HTTP/1.1\r\nHost: registry.test\r\nCookie: ${'a'.repeat(9000)}\r\n`;
  assert.equal(sniff(Buffer.from(big)).status, 'incomplete');
  assert.deepEqual(((r) => [r.status, r.protocol, r.host, r.hostAmbiguous])(sniff(Buffer.from(`${big}\r\n`))), ['done', 'http', 'registry.test', undefined]);
  // Unterminated after 32 KiB (a Host line may follow what was read), or a request line that long: HTTP with no host any rule matches.
  for (const s of [`GET / HTTP/1.1\r\nHost: registry.test\r\nCookie: ${'a'.repeat(33_000)}\r\n`, `GET /${'a'.repeat(33_000)}`, `GET /${'a'.repeat(33_000)} HTTP/1.1\r\nHost: registry.test\r\n\r\n`]) {
    const r = sniff(Buffer.from(s));
    assert.deepEqual([r.status, r.protocol, r.host, r.hostAmbiguous, r.method], ['done', 'http', undefined, true, 'GET'], s.slice(0, 40));
    assert.match(r.ambiguousWhy!, /longer than 32768 bytes/);
  }
  // A head that ends after the limit is not read past it either.
  assert.equal(sniff(Buffer.from(`GET / HTTP/1.1\r\nX-Pad: ${'a'.repeat(33_000)}\r\nHost: pool.test\r\n\r\n`)).hostAmbiguous, true);
  assert.equal(parseHttpRequest(Buffer.from('SSH-2.0-x\r\n')).protocol, 'other');
  // Methods no list names are still requests, judged by their Host (WebDAV's, a server's own: a review, session 31)
  for (const m of ['PROPFIND', 'MKCOL', 'GXT', 'X-CUSTOM_METHOD']) {
    const h = sniff(Buffer.from(`${m} / HTTP/1.1\r\nHost: evil-backend.test\r\n\r\n`));
    assert.deepEqual([h.status, h.protocol, h.host], ['done', 'http', 'evil-backend.test'], m);
  }
});

// ---------- SSH ----------

test('SSH: banner captured from the real OpenSSH client', async (t) => {
  if (spawnSync('ssh', ['-V']).error) { t.skip('ssh client not installed'); return; }
  const bytes = await captureFirstBytes((port) => {
    const child = spawn('ssh', [
      '-F', '/dev/null', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=2', '-p', String(port), 'nobody@127.0.0.1',
    ], { stdio: 'ignore' });
    return async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        process.kill(child.pid!, 'SIGTERM');
        await exited;
      }
    };
  });
  const r = sniff(bytes);
  assert.equal(r.status, 'done');
  assert.equal(r.protocol, 'ssh');
  assert.match(r.detail ?? '', /^SSH-2\.0-OpenSSH_[^\r\n]+$/);
  assert.equal(r.detail, bytes.toString('latin1').split('\r\n')[0]);
  t.diagnostic(`captured banner: ${r.detail}`);
});

test('SSH: prefixes, stalls and non-SSH', () => {
  for (const s of ['S', 'SS', 'SSH']) assert.equal(sniff(Buffer.from(s)).status, 'incomplete', s);
  // A client stalling mid-banner is already decided: it cannot wait out the sniffer.
  assert.deepEqual(sniff(Buffer.from('SSH-2.0-Go')), { status: 'done', protocol: 'ssh', detail: 'SSH-2.0-Go' });
  const withKex = Buffer.concat([Buffer.from('SSH-2.0-PuTTY_0.78\r\n'), Buffer.from([0, 0, 1, 0x2c, 6, 20, 1, 2, 3])]);
  assert.equal(sniff(withKex).detail, 'SSH-2.0-PuTTY_0.78');
  assert.equal(sniff(Buffer.from('SSX-2.0\r\n')).protocol, 'other');
  assert.equal(parseSshBanner(Buffer.from('ssh-2.0-x\r\n')).protocol, 'other');
  const long = parseSshBanner(Buffer.from(`SSH-2.0-${'x'.repeat(1000)}`));
  assert.equal(long.protocol, 'ssh');
  assert.equal(long.detail?.length, 255);
});

// ---------- mining ----------

test('mining: Stratum v1 methods', () => {
  const sub = sniff(lines('{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5.1"]}'));
  assert.deepEqual(sub, { status: 'done', protocol: 'mining', method: 'mining.subscribe', detail: 'mining.subscribe agent=cpuminer/2.5.1' });
  for (const m of ['mining.authorize', 'mining.submit', 'mining.extranonce.subscribe', 'mining.configure']) {
    const r = sniff(lines(`{"id":2,"method":"${m}","params":["worker.1","x"]}`));
    assert.equal(r.protocol, 'mining', m);
    assert.equal(r.method, m);
  }
  const both = sniff(lines(
    '{"id":1,"method":"mining.subscribe","params":[]}',
    '{"id":2,"method":"mining.authorize","params":["wallet.rig","x"]}',
  ));
  assert.equal(both.method, 'mining.subscribe');
});

test('mining: XMRig-style login and XMR job methods, eth stratum', () => {
  const login = sniff(lines(JSON.stringify({
    id: 1, jsonrpc: '2.0', method: 'login',
    params: { login: '4Wallet', pass: 'x', agent: 'XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0', algo: ['rx/0'] },
  })));
  assert.equal(login.protocol, 'mining');
  assert.equal(login.method, 'login');
  assert.match(login.detail ?? '', /^login agent=XMRig\/6\.21\.0/);
  const submit = sniff(lines('{"id":3,"jsonrpc":"2.0","method":"submit","params":{"id":"s1","job_id":"j7","nonce":"0a0b0c0d","result":"ff"}}'));
  assert.equal(submit.protocol, 'mining');
  assert.equal(sniff(lines('{"id":4,"jsonrpc":"2.0","method":"keepalived","params":{"id":"s1"}}')).protocol, 'mining');
  assert.equal(sniff(lines('{"id":5,"method":"getjob","params":{"id":"s1"}}')).protocol, 'mining');
  for (const m of ['eth_submitLogin', 'eth_getWork', 'eth_submitWork']) {
    const r = sniff(lines(`{"id":1,"jsonrpc":"2.0","method":"${m}","params":["0xabc"],"worker":"rig"}`));
    assert.equal(r.protocol, 'mining', m);
    assert.equal(r.method, m);
  }
});

test('mining: bitcoind mining RPC (getblocktemplate, getwork, submitblock, aux blocks) as lines and as HTTP POST bodies', () => {
  for (const m of ['getblocktemplate', 'getwork', 'submitblock', 'getauxblock', 'createauxblock', 'submitauxblock']) {
    const r = sniff(lines(JSON.stringify({ jsonrpc: '1.0', id: 1, method: m, params: [] })));
    assert.equal(r.protocol, 'mining', m);
    assert.equal(r.method, m);
    assert.equal(classifyRawText(`{"id":1,"method":"${m}","params":[`).mining, true, `raw ${m}`);
  }
  // the red team's getwork_post: HTTP POSTs with a JSON-RPC body on one keep-alive connection
  const post = (body: object) => {
    const b = JSON.stringify(body);
    return Buffer.from(`POST / HTTP/1.1\r\nHost: registry.test\r\nContent-Type: application/json\r\nAuthorization: Basic dXNlcjpwYXNz\r\nContent-Length: ${b.length}\r\n\r\n${b}`);
  };
  const gbt = post({ jsonrpc: '1.0', id: 1, method: 'getblocktemplate', params: [{ rules: ['segwit'] }] });
  assert.equal(sniff(gbt).protocol, 'http'); // the first bytes are an HTTP request; the body scan decides
  assert.deepEqual(containsMiningRpc(gbt), { method: 'getblocktemplate' });
  for (const m of ['getwork', 'submitblock', 'getauxblock']) assert.deepEqual(new MiningRpcScanner().push(post({ jsonrpc: '1.0', id: 2, method: m, params: [] })), { method: m });
  // a body split across TCP chunks, and a pretty-printed body (the method on its own line)
  const scanner = new MiningRpcScanner();
  const cut = gbt.indexOf('getblocktemplate') + 5; // "getbl" | "ocktemplate"
  assert.equal(scanner.push(gbt.subarray(0, cut)), null);
  assert.equal(containsMiningRpc(gbt.subarray(cut)), null, 'the second chunk alone misses it');
  assert.deepEqual(scanner.push(gbt.subarray(cut)), { method: 'getblocktemplate' });
  assert.deepEqual(containsMiningRpc(Buffer.from('POST / HTTP/1.1\r\nHost: h.test\r\nContent-Length: 60\r\n\r\n{\n  "jsonrpc": "1.0",\n  "method": "getwork",\n  "params": []\n}')), { method: 'getwork' });
  // ordinary bitcoind and Ethereum JSON-RPC are not mining
  for (const m of ['getblockchaininfo', 'getblock', 'sendrawtransaction', 'eth_blockNumber', 'eth_call', 'eth_sendRawTransaction', 'eth_getBlockByNumber']) {
    const r = sniff(lines(JSON.stringify({ jsonrpc: '2.0', id: 1, method: m, params: [] })));
    assert.equal(r.protocol, 'other', m);
    assert.equal(containsMiningRpc(post({ jsonrpc: '2.0', id: 1, method: m, params: [] })), null, m);
  }
});

test('mining: stripped-down XMR login (login and rigid only, or a bare wallet) and submit without job_id', () => {
  // the red team's xmr_login_nopass / xmr_submit_nojobid
  const nopass = sniff(lines('{"id": 1, "jsonrpc": "2.0", "method": "login", "params": {"login": "4Awallet", "rigid": "r1"}}'));
  assert.equal(nopass.protocol, 'mining');
  assert.equal(nopass.detail, 'login');
  assert.equal(sniff(lines('{"id":1,"method":"login","params":{"login":"4Awallet"}}')).protocol, 'mining', 'only XMR keys');
  assert.equal(sniff(lines('{"id":1,"method":"login","params":{"login":"4Awallet","algo":["rx/0"]}}')).protocol, 'mining');
  const wallet = `4${'A'.repeat(94)}`;
  assert.equal(sniff(lines(JSON.stringify({ id: 1, method: 'login', params: { login: `${wallet}.rig1`, token: 'x' } }))).protocol, 'mining', 'a Monero wallet');
  const submit = sniff(lines(JSON.stringify({ id: 2, jsonrpc: '2.0', method: 'submit', params: { id: 'w1', job: 'j1', nonce: 'deadbeef', result: '00'.repeat(32) } })));
  assert.equal(submit.protocol, 'mining');
  // the parsed-JSON classifier on its own (the raw-text one backs it up in sniff)
  assert.equal(classifyRpcMessage({ method: 'submit', params: { id: 'w1', job: 'j1', nonce: 'deadbeef', result: '00'.repeat(32) } }).mining, true);
  assert.equal(classifyRpcMessage({ method: 'login', params: { login: 'w', rigid: 'r1', worker: 'x' } }).mining, true, 'rigid with another key');
  assert.equal(classifyRpcMessage({ method: 'login', params: { login: wallet, token: 'x' } }).mining, true, 'wallet with another key');
  assert.equal(classifyRpcMessage({ method: 'login', params: { login: 'w', token: 'x' } }).mining, false);
  // raw text (not parseable: a duplicate-key trick or a truncated line) decides on rigid, pass, agent, a wallet, nonce+result
  assert.equal(classifyRawText('{"id":1,"method":"login","params":{"login":"w","rigid":"r1"').mining, true);
  assert.equal(classifyRawText(`{"id":1,"method":"login","params":{"login":"${wallet}"`).mining, true);
  assert.equal(classifyRawText(`{"id":2,"method":"submit","params":{"id":"w1","nonce":"deadbeef","result":"${'ab'.repeat(32)}"`).mining, true);
  assert.deepEqual(containsMiningRpc(Buffer.from('{"id":2,"method":"ping"}\n{"id":3,"method":"submit","params":{"id":"w1","job":"j1","nonce":"0a0b0c0d","result":"' + 'f'.repeat(64) + '"}}\n')), { method: 'submit' });
  // web logins and form submits stay other
  for (const params of [{ username: 'bob', password: 'x' }, { login: 'alice', password: 'x' }, { login: 'alice', token: 'abc' }, { login: 'alice', remember: true }, { user: 'bob' }]) {
    assert.equal(sniff(lines(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'login', params }))).protocol, 'other', JSON.stringify(params));
  }
  for (const params of [{ form: 'contact', nonce: 'deadbeef' }, { nonce: 'not-hex!', result: 'ok' }, { nonce: 'deadbeef', result: 'accepted' }, { nonce: 12345678, result: 'ff'.repeat(32) }]) {
    assert.equal(sniff(lines(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'submit', params }))).protocol, 'other', JSON.stringify(params));
  }
  assert.equal(classifyRawText('{"id":1,"method":"login","params":{"login":"alice","password":"x"').mining, false);
});

test('mining: benign JSON-RPC is other', () => {
  const lsp = sniff(lines('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":1,"rootUri":null}}'));
  assert.deepEqual(lsp, { status: 'done', protocol: 'other', method: 'initialize', detail: 'initialize' });
  assert.equal(sniff(lines('{"id":1,"method":"login","params":{"user":"bob"}}')).protocol, 'other');
  assert.equal(sniff(lines('{"id":1,"method":"submit","params":{"form":"contact"}}')).protocol, 'other');
  assert.equal(sniff(lines('{"event":"data mining.subscribe is a string here","n":1}')).protocol, 'other');
  assert.equal(sniff(lines('[1,2,3]')).protocol, 'other');
  assert.equal(parseMiningRpc(Buffer.from('GET / HTTP/1.1\r\n')).protocol, 'other');
});

test('mining: incomplete lines, early decisions, evasions', () => {
  assert.deepEqual(sniff(Buffer.from('{"id":1,"meth')), { status: 'incomplete', protocol: 'other' });
  assert.equal(sniff(Buffer.from('  \n')).status, 'incomplete');
  // Unterminated but already complete JSON: decided without waiting.
  assert.equal(sniff(Buffer.from('{"id":1,"method":"mining.subscribe","params":[]}')).protocol, 'mining');
  assert.equal(sniff(Buffer.from('{"id":1,"method":"status"}')).status, 'done');
  // Unterminated and not JSON after 4 KiB: give up.
  assert.equal(sniff(Buffer.from(`{"pad":"${'a'.repeat(5000)}`)).status, 'done');
  // Duplicate keys: JSON.parse keeps the last, a pool may keep the first.
  assert.equal(sniff(lines('{"id":1,"method":"mining.subscribe","method":"status","params":[]}')).protocol, 'mining');
  // Escapes that defeat plain substring search.
  assert.equal(sniff(lines('{"id":1,"method":"mining\\u002esubscribe","params":[]}')).method, 'mining.subscribe');
  // Innocuous first line, pool after it.
  const second = sniff(lines('{"id":0,"method":"hello","params":[]}', '{"id":1,"method":"mining.authorize","params":["w","x"]}'));
  assert.equal(second.protocol, 'mining');
  assert.equal(second.method, 'mining.authorize');
  // A junk first line (a lenient pool skips it), or a non-JSON first line, before the pool.
  assert.equal(sniff(lines('{junk', '{"id":1,"method":"mining.subscribe","params":[]}')).protocol, 'mining');
  assert.equal(sniff(lines('hello', '{"id":1,"method":"mining.subscribe","params":[]}')).method, 'mining.subscribe');
  // Batch array and leading whitespace.
  assert.equal(sniff(lines('[{"id":1,"method":"mining.subscribe","params":[]}]')).protocol, 'mining');
  assert.equal(sniff(lines('  {"id":1,"method":"mining.subscribe","params":[]}')).protocol, 'mining');
  // Every prefix of a login line: incomplete or mining, never other.
  const login = lines('{"id":1,"method":"login","params":{"login":"w","pass":"x","agent":"XMRig/6.21.0"}}');
  for (let n = 1; n <= login.length; n++) {
    const r = sniff(login.subarray(0, n));
    assert.ok(r.status === 'incomplete' || r.protocol === 'mining', `prefix ${n}: ${JSON.stringify(r)}`);
  }
});

// ---------- containsMiningRpc / MiningRpcScanner ----------

function benignChunk(size: number, seed: number): Buffer {
  const rand = rng(seed);
  const parts: string[] = [];
  let len = 0;
  while (len < size) {
    const l = rand() < 0.5
      ? `{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"text":"data mining. result ${rand()}"}}\n`
      : `${Buffer.from(Array.from({ length: 60 }, () => Math.floor(rand() * 256))).toString('base64')}\n`;
    parts.push(l);
    len += l.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

test('containsMiningRpc: finds pool traffic in later chunks, ignores benign ones', () => {
  const benign = benignChunk(64 * 1024, 7);
  assert.equal(containsMiningRpc(benign), null);
  const rand = rng(99);
  assert.equal(containsMiningRpc(Buffer.from(Array.from({ length: 65536 }, () => Math.floor(rand() * 256)))), null);
  const withPool = Buffer.concat([
    benign.subarray(0, 30000), Buffer.from('\n{"id":9,"method":"mining.submit","params":["w","j1","00","5f","0a"]}\n'), benign.subarray(30000),
  ]);
  assert.deepEqual(containsMiningRpc(withPool), { method: 'mining.submit' });
  // A line whose start was in the previous chunk.
  assert.deepEqual(containsMiningRpc(Buffer.from('00","method":"mining.submit","params":["w","j","n"]}\n')), { method: 'mining.submit' });
  // Escaped key that hides "method" from substring search.
  assert.deepEqual(containsMiningRpc(Buffer.from('{"m\\u0065thod":"submit","params":{"job_id":"1","nonce":"2"}}\n')), { method: 'submit' });
  assert.deepEqual(containsMiningRpc(Buffer.from('{"id":1,"method":"keepalived","params":{"id":"s"}}\n')), { method: 'keepalived' });
  assert.equal(containsMiningRpc(Buffer.from('{"id":1,"method":"submit","params":{"form":"x"}}\n')), null);
  assert.equal(containsMiningRpc(Buffer.alloc(0)), null);
});

test('MiningRpcScanner: catches a message split across chunks', () => {
  const a = Buffer.from('{"id":0,"method":"ping"}\n{"id":4,"method":"mining.su');
  const b = Buffer.from('bmit","params":["w","j","n"]}\n');
  assert.equal(containsMiningRpc(b), null, 'stateless check alone misses the split');
  const scanner = new MiningRpcScanner();
  assert.equal(scanner.push(a), null);
  assert.deepEqual(scanner.push(b), { method: 'mining.submit' });
  // The tail is dropped after a newline: later benign chunks stay clean.
  assert.equal(scanner.push(Buffer.from('{"id":5,"method":"ping"}\n')), null);
});

// ---------- fuzz everything through sniff() ----------

test('sniff: random and prefix-shaped garbage never throws', () => {
  const rand = rng(12345);
  const firsts = [0x16, 0x53, 0x47, 0x43, 0x7b, 0x5b, 0x20, 0x0d, 0x0a, 0x00, 0xff];
  const seeds = [
    clientHello([sniExt(['registry.test'])]),
    Buffer.from('GET / HTTP/1.1\r\nHost: registry.test\r\n\r\n'),
    Buffer.from('SSH-2.0-OpenSSH_9.2p1\r\n'),
    lines('{"id":1,"method":"mining.subscribe","params":["x"]}'),
  ];
  for (let i = 0; i < 20000; i++) {
    let b: Buffer;
    if (i % 2 === 0) {
      b = Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
      if (b.length > 0) b[0] = firsts[Math.floor(rand() * firsts.length)]!;
    } else {
      b = Buffer.from(seeds[i % seeds.length]!);
      for (let k = 0; k < 3; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      b = b.subarray(0, Math.floor(rand() * (b.length + 1)));
    }
    assertWellFormed(sniff(b), `iteration ${i}: ${b.toString('hex')}`);
    assert.ok(containsMiningRpc(b) === null || typeof containsMiningRpc(b)?.method === 'string');
  }
  assert.deepEqual(sniff(Buffer.alloc(0)), { status: 'incomplete', protocol: 'other' });
  assert.deepEqual(sniff(Buffer.from([0x00, 0x01])), { status: 'done', protocol: 'other' });
});

// ---------- speed (reported, not asserted) ----------

test('speed: sniff() and containsMiningRpc() throughput', async (t) => {
  const hello = await captureTls({ servername: 'registry.test', ALPNProtocols: ['h2', 'http/1.1'] });
  const inputs: Array<[string, Buffer]> = [
    ['tls', hello],
    ['http', Buffer.from('GET /v2/ HTTP/1.1\r\nHost: registry.test\r\nUser-Agent: x\r\nAccept: */*\r\n\r\n')],
    ['ssh', Buffer.from('SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u10\r\n')],
    ['mining', lines('{"id":1,"method":"login","params":{"login":"w","pass":"x","agent":"XMRig/6.21.0"}}')],
    ['json-other', lines('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}')],
  ];
  for (const [name, buf] of inputs) {
    const n = 20000;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) sniff(buf);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    t.diagnostic(`sniff(${name}, ${buf.length} B): ${Math.round(n / s).toLocaleString('en-US')} calls/s`);
  }
  const chunk = benignChunk(64 * 1024, 3);
  const rand = rng(5);
  const binary = Buffer.from(Array.from({ length: 65536 }, () => Math.floor(rand() * 256)));
  const plain = Buffer.from(Array.from({ length: 1200 }, (_, i) => `{"jsonrpc":"2.0","method":"textDocument/hover","params":{"line":${i}}}\n`).join('')).subarray(0, 65536);
  const cases = [['JSON-RPC without markers', plain], ['JSON-RPC, "mining." on every other line', chunk], ['random binary', binary]] as const;
  for (const [name, buf] of cases) {
    const n = 500;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) containsMiningRpc(buf);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    t.diagnostic(`containsMiningRpc(64 KiB ${name}): ${Math.round(n / s).toLocaleString('en-US')} chunks/s, ${Math.round((n * buf.length) / s / 1e6)} MB/s`);
  }
});

test('WebSocket: masked client frames of any size, split anywhere, are unmasked; garbage never throws', () => {
  const frame = (payload: Buffer, key: Buffer): Buffer => {
    const len = payload.length;
    const head = len < 126 ? Buffer.from([0x81, 0x80 | len]) : len < 65536 ? Buffer.from([0x81, 0x80 | 126, len >> 8, len & 255])
      : Buffer.concat([Buffer.from([0x82, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(len)); return b; })()]);
    const masked = Buffer.from(payload.map((c, i) => c ^ key[i & 3]!));
    return Buffer.concat([head, key, masked]);
  };
  const payloads = [Buffer.from('{"id":1,"method":"mining.subscribe","params":[]}\n'), Buffer.alloc(300, 0x61), Buffer.alloc(70000, 0x62), Buffer.alloc(0)];
  const stream = Buffer.concat(payloads.map((p, i) => frame(p, Buffer.from([i + 1, 0x5a, 0xa5, 0xff]))));
  for (const cut of [1, 2, 7, 13, 64, 4096, stream.length]) {
    const u = new WebSocketUnmasker();
    const got: Buffer[] = [];
    for (let at = 0; at < stream.length; at += cut) got.push(...u.push(stream.subarray(at, at + cut)));
    assert.deepEqual(Buffer.concat(got), Buffer.concat(payloads), `chunks of ${cut}`);
  }
  const u = new WebSocketUnmasker();
  for (let i = 0; i < 200; i++) u.push(Buffer.from(Array.from({ length: 50 }, (_, j) => (i * 31 + j * 7) & 255)));
  // a stratum line inside masked frames has none of its markers in the raw bytes
  assert.equal(containsMiningRpc(frame(payloads[0]!, Buffer.from([9, 8, 7, 6]))), null);
});

test('mining: an escaped method in a line too long to parse is still seen, whole or in chunks; benign escapes stay benign', () => {
  // (a review, session 23: `"\u006dining.subscribe"` with 70 KB of padding passed a gateway rule that allowed `other`)
  const pad = 'a'.repeat(70_000);
  const line = Buffer.from(`{"id":1,"method":"\\u006dining.subscribe","params":["x"],"pad":"${pad}"}\n`);
  assert.equal(containsMiningRpc(line)?.method, 'mining.subscribe');
  const sc = new MiningRpcScanner();
  let hit: { method: string } | null = null;
  for (let i = 0; i < line.length && !hit; i += 16_384) hit = sc.push(line.subarray(i, i + 16_384));
  assert.equal(hit?.method, 'mining.subscribe', 'split across chunks, the first chunk holds the escaped method');
  assert.ok(containsMiningRpc(Buffer.from(`{"\\u006dethod":"mining.subscribe","pad":"${pad}"}\n`)), 'an escaped key too');
  assert.equal(containsMiningRpc(Buffer.from(`{"method":"tools/call","params":{"text":"caf\\u00e9 \\u0041 \\u0022"},"pad":"${pad}"}\n`)), null);
});

test('HTTP stream: request heads are found by HTTP framing across writes, bodies are skipped, ambiguity is flagged', async () => {
  const { HttpRequestStream } = await import('../src/gateway/sniff/http-stream.js');
  const hosts = (pieces: string[]): (string | undefined)[] => {
    const s = new HttpRequestStream();
    return pieces.flatMap((p) => s.push(Buffer.from(p, 'latin1')).map((h) => h.host ?? (h.ambiguous ? '?' : undefined)));
  };
  const everySplit = (text: string): (string | undefined)[][] => {
    const out = [];
    for (let i = 1; i < text.length; i++) out.push(hosts([text.slice(0, i), text.slice(i)]));
    return out;
  };
  const body = 'POST /up HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhelloGET /job HTTP/1.1\r\nHost: pool.test\r\n\r\n';
  assert.deepEqual(hosts([body]), ['a.test', 'pool.test'], 'a head right after a body in the same write');
  for (const got of everySplit(body)) assert.deepEqual(got, ['a.test', 'pool.test'], 'split anywhere');
  const chunked = 'POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nGET\r\n0\r\nT: v\r\n\r\nGET / HTTP/1.1\r\nHost: b.test\r\n\r\n';
  for (const got of everySplit(chunked)) assert.deepEqual(got, ['a.test', 'b.test'], 'chunked, split anywhere');
  const inBody = 'POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 38\r\n\r\nGET / HTTP/1.1\r\nHost: evil.test\r\n\r\n';
  assert.deepEqual(hosts([inBody]), ['a.test'], 'a body that looks like a head is a body');
  assert.deepEqual(hosts(['GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n']), ['?'], 'conflicting Host headers are ambiguous');
  for (const got of everySplit('GET / HTTP/1.1\r\nHost: api.test\r\n\r\nMKCOL / HTTP/1.1\r\nHost: evil-backend.test\r\n\r\n')) {
    assert.deepEqual(got, ['api.test', 'evil-backend.test'], 'a later request with a method no list names is still judged by its Host');
  }
  const s = new HttpRequestStream();
  s.push(Buffer.from('POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n'));
  assert.ok(s.opaque, 'conflicting lengths: the stream cannot be framed');
  const proxied = new HttpRequestStream().push(Buffer.from('GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\nGET http://a.test:6379/ HTTP/1.1\r\nHost: a.test\r\n\r\n'));
  assert.deepEqual(proxied, [{ host: 'a.test', ambiguous: false }, { host: 'a.test', ambiguous: false, connectPort: 6379 }], 'a later request\'s target port is told to the gateway');
  const ws = new HttpRequestStream();
  const up = 'GET /ws HTTP/1.1\r\nHost: a.test\r\nUpgrade: websocket\r\n\r\n';
  const [h] = ws.push(Buffer.from(up + 'FRAMES'));
  assert.equal(h?.framesAt, up.length);
});

test('SSH after blanks or blank lines in the first bytes is ssh (a far-end relay strips them); inside a line it is not', () => {
  for (const pre of ['\r\n\r\n\r\n\r\n\r\n', ' ', '\t \r\n  ', '\n']) {
    const r = sniff(Buffer.from(`${pre}SSH-2.0-OpenSSH_9.2p1\r\n`));
    assert.deepEqual([r.status, r.protocol, r.detail], ['done', 'ssh', 'SSH-2.0-OpenSSH_9.2p1'], JSON.stringify(pre));
  }
  assert.equal(sniff(Buffer.from(' SSH-1.99-x\r\n')).protocol, 'ssh');
  for (const other of ['xSSH-2.0-OpenSSH\r\n', ' SSH-2.0-\r\n', ' SSH-3.0-x\r\n', '\r\n\r\n\r\n\r\n\r\nhello SSH-2.0-x\r\n']) {
    assert.notEqual(sniff(Buffer.from(other)).protocol, 'ssh', JSON.stringify(other));
  }
});

test('SshIdScanner: an identification line at any line start of a stream, split anywhere across chunks; not inside a line', () => {
  const http = 'GET / HTTP/1.1\r\nHost: api.test\r\n\r\n';
  for (const stream of [`${http}SSH-2.0-OpenSSH_9.2p1\r\n`, `${http}\r\n  \r\n \tSSH-2.0-OpenSSH_9.2p1\r\n`, 'SSH-2.0-x\r\n', `${'x'.repeat(70000)}\nSSH-1.99-y\r\n`]) {
    const b = Buffer.from(stream, 'latin1');
    for (const cut of [1, 3, 7, 64, 1000]) {
      const sc = new SshIdScanner();
      let found: string | undefined;
      for (let i = 0; i < b.length && found === undefined; i += cut) found = sc.push(b.subarray(i, i + cut));
      assert.match(found ?? '', /^SSH-(2\.0|1\.99)-/, `${JSON.stringify(stream.slice(-40))} in chunks of ${cut}`);
    }
  }
  for (const stream of [`${http}x SSH-2.0-OpenSSH\r\n`, 'POST / HTTP/1.1\r\n\r\nthe banner reads SSH-2.0-OpenSSH_9\r\n', 'SSH-2.0-\r\n', 'SSH-2.1-x\r\n']) {
    const b = Buffer.from(stream, 'latin1');
    for (const cut of [1, 5, 1000]) {
      const sc = new SshIdScanner();
      for (let i = 0; i < b.length; i += cut) assert.equal(sc.push(b.subarray(i, i + cut)), undefined, `${JSON.stringify(stream)} in chunks of ${cut}`);
    }
  }
});

test('TlsRecordWalker: real TLS records pass whole or split anywhere; cleartext after a ClientHello is found where it starts', async () => {
  const hello = await captureTls({ servername: 'registry.test' });
  const app = Buffer.concat([Buffer.from([23, 3, 3, 0x40, 0x00]), Buffer.alloc(0x4000, 7), Buffer.from([21, 3, 3, 0, 2, 1, 0])]);
  const ok = Buffer.concat([hello, Buffer.from([20, 3, 3, 0, 1, 1]), app]);
  for (const cut of [1, 2, 5, 1000, ok.length]) {
    const w = new TlsRecordWalker();
    for (let i = 0; i < ok.length; i += cut) assert.equal(w.push(ok.subarray(i, i + cut)), -1, `chunks of ${cut}`);
  }
  const login = Buffer.from('{"id":1,"method":"login","params":{"login":"x","agent":"XMRig/6.21"}}\n');
  const bad = Buffer.concat([hello, login]);
  const w = new TlsRecordWalker();
  assert.equal(w.push(bad), hello.length, 'the first byte after the hello');
  const w2 = new TlsRecordWalker();
  assert.equal(w2.push(hello), -1);
  assert.equal(w2.push(login), 0);
  // a header that cannot be TLS's: another version, an oversized record, a content type out of range
  for (const h of [[23, 2, 0, 0, 1], [23, 3, 3, 0x48, 0x01], [25, 3, 3, 0, 1], [19, 3, 3, 0, 1]]) assert.equal(new TlsRecordWalker().push(Buffer.from(h)), 0, JSON.stringify(h));
});
