// Why: the gateway decodes compressed HTTP request bodies as they stream (sniff/stream-inflate.ts) so a pool login
// cannot hide behind `Content-Encoding`. These check, with Node's own encoders on the other side, that every coding a
// client sends decodes byte for byte however the body is cut into pieces (one byte at a time included), layered
// codings in the right order, HTTP `deflate` with and without its zlib header, gzip with several members — and that
// hostile input (a bomb, garbage, a coding it cannot decode, layers on layers) stops it with a reason, never a throw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync, inflateRawSync } from 'node:zlib';
import { StreamInflater, parseContentCodings, type Coding } from '../src/gateway/sniff/stream-inflate.js';
import { CompressedBody } from '../src/gateway/sniff/compressed-body.js';
import { HttpRequestStream } from '../src/gateway/sniff/http-stream.js';

const LOGIN = Buffer.from(`${JSON.stringify({ id: 1, method: 'login', params: { login: 'wallet', pass: 'x', agent: 'XMRig/6.21' } })}\n`.repeat(50));

function decode(codings: Coding[], data: Buffer, step: number, max = 1 << 20): { out: Buffer; z: StreamInflater } {
  const z = new StreamInflater(codings, max);
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += step) parts.push(...z.push(data.subarray(i, i + step), i + step >= data.length));
  return { out: Buffer.concat(parts), z };
}

test('each coding decodes byte for byte, whole or cut into pieces of 1, 7 and 1000 bytes', () => {
  const cases: [Coding[], Buffer][] = [
    [['gzip'], gzipSync(LOGIN)],
    [['deflate'], deflateSync(LOGIN)], // (HTTP deflate as RFC 9110 means it: zlib)
    [['deflate'], deflateRawSync(LOGIN)], // (…and as some clients send it: raw)
    [['br'], brotliCompressSync(LOGIN)],
    [['gzip'], Buffer.concat([gzipSync(LOGIN.subarray(0, 500)), gzipSync(LOGIN.subarray(500))])], // two members
    [['br', 'gzip'], gzipSync(brotliCompressSync(LOGIN))], // applied br first, then gzip
  ];
  for (const [codings, data] of cases) {
    for (const step of [1, 7, 1000, data.length]) {
      const { out, z } = decode(codings, data, step);
      assert.equal(z.stopped, undefined, `${codings} step ${step}`);
      assert.ok(out.equals(LOGIN), `${codings} step ${step}: ${out.length} of ${LOGIN.length} bytes`);
    }
  }
});

test('a gzip body is decoded as it streams: the first message is out before the body ends', () => {
  const z = new StreamInflater(['gzip'], 1 << 20);
  const whole = gzipSync(LOGIN);
  const got = Buffer.concat(z.push(whole.subarray(0, Math.floor(whole.length * 0.6))));
  assert.ok(got.length > 0 && LOGIN.subarray(0, got.length).equals(got), 'a prefix of the text, before the end');
});

test('a bomb stops at the output bound with what fit; garbage stops as corrupt; neither throws', () => {
  const bomb = gzipSync(Buffer.alloc(64 << 20));
  const { out, z } = decode(['gzip'], bomb, 65536, 4 << 20);
  assert.equal(out.length, 4 << 20);
  assert.equal(z.stopped, 'bound');
  assert.deepEqual(z.push(Buffer.from('more')), []);
  const br = decode(['br'], brotliCompressSync(Buffer.alloc(80 << 20)), 1024, 4 << 20);
  assert.equal(br.z.stopped, 'bound');
  for (const c of ['gzip', 'deflate', 'br'] as Coding[]) {
    const g = decode([c], Buffer.from('this is not compressed at all, just text pretending'), 5);
    assert.equal(g.z.stopped, 'corrupt', c);
  }
});

test('Content-Encoding values: aliases, identity, order, what cannot be decoded', () => {
  assert.deepEqual(parseContentCodings('gzip'), { codings: ['gzip'] });
  assert.deepEqual(parseContentCodings(' X-GZIP '), { codings: ['gzip'] });
  assert.deepEqual(parseContentCodings('identity'), { codings: [] });
  assert.deepEqual(parseContentCodings('br, gzip'), { codings: ['br', 'gzip'] });
  assert.deepEqual(parseContentCodings('gzip,,deflate'), { codings: ['gzip', 'deflate'] });
  assert.deepEqual(parseContentCodings('zstd'), { unsupported: 'zstd' });
  assert.deepEqual(parseContentCodings('gzip, compress'), { unsupported: 'compress' });
  assert.deepEqual(parseContentCodings('gzip, gzip, gzip, gzip'), { unsupported: '4 layered codings' });
});

test('HTTP/1.1 framing hands each body its codings in order — Content-Encoding, then transfer codings before chunked — and CompressedBody reads the login through them', () => {
  const login = Buffer.from('{"id":1,"method":"login","params":{"login":"w","pass":"x","agent":"XMRig/6.21"}}\n');
  const chunked = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n0\r\n\r\n')]);
  const cases: [string, Buffer, string][] = [
    ['Transfer-Encoding: gzip, chunked', chunked(gzipSync(login)), 'gzip'],
    ['Content-Encoding: br\r\nTransfer-Encoding: gzip, chunked', chunked(gzipSync(brotliCompressSync(login))), 'br,gzip'],
    ['Content-Encoding: gzip\r\nContent-Length: LEN', gzipSync(login), 'gzip'],
  ];
  for (const [headers, body, want] of cases) {
    let coding: string | undefined;
    let cb: CompressedBody | undefined;
    let hit: string | undefined;
    const s = new HttpRequestStream((piece, start, end, c) => {
      coding ??= c;
      if (start) cb = new CompressedBody(c);
      hit ??= cb!.push(piece, end)?.rpc?.method;
    });
    s.push(Buffer.concat([Buffer.from(`POST /rpc HTTP/1.1\r\nHost: registry.test\r\n${headers.replace('LEN', String(body.length))}\r\n\r\n`), body]));
    assert.equal(coding, want, headers);
    assert.equal(hit, 'login', headers);
  }
});

test('HTTP deflate whose raw stream begins with two bytes that pass the zlib check is read again as raw at the body\'s end (a review, session 39)', () => {
  const login = Buffer.from('{"id":1,"method":"login","params":{"login":"w","pass":"x","agent":"XMRig/6.21"}}\n');
  // a stored block of 0x0101 bytes whose first bytes, 78 01, pass the zlib header check — then the login, raw
  const L = 0x0101;
  const stored = Buffer.concat([Buffer.from([0x78, L & 0xff, L >> 8, ~L & 0xff, (~L >> 8) & 0xff]), Buffer.alloc(L, 0x20)]);
  const body = Buffer.concat([stored, deflateRawSync(login)]);
  assert.ok(inflateRawSync(body).toString().endsWith(login.toString()), '(what a server falling back to raw reads)');
  const cb = new CompressedBody('deflate');
  let hit: string | undefined;
  for (let i = 0; i < body.length; i += 100) hit ??= cb.push(body.subarray(i, i + 100), i + 100 >= body.length)?.rpc?.method;
  assert.equal(hit, 'login');
  // a real zlib body is read once, as zlib (no second reading)
  const z = new CompressedBody('deflate');
  assert.equal(z.push(deflateSync(login), true)?.rpc?.method, 'login');
  assert.equal(z.unread, undefined);
});

test('HTTP deflate whose zlib reading fails mid-body is raw from its first byte to its last, as a zlib-then-raw decoder reads it; a header zlib refuses (CINFO 8) is raw from the start (a red-team review, session 40)', () => {
  const login = Buffer.from('{"id":1,"method":"login","params":{"login":"w","pass":"x","agent":"XMRig/6.21"}}\n');
  // (a): 88 1c passes the %31 check but zlib refuses its window (CINFO 8): a stored block of 28 spaces, then the login, raw
  const a = Buffer.concat([Buffer.from([0x88, 0x1c, 0x00, 0xe3, 0xff]), Buffer.alloc(28, 0x20), deflateRawSync(login)]);
  // (b): 78 01 passes every zlib check, the body goes on being read after the zlib reading fails, in two writes
  const L = 0x0101;
  const b = Buffer.concat([Buffer.from([0x78, L & 0xff, L >> 8, ~L & 0xff, (~L >> 8) & 0xff]), Buffer.alloc(L, 0x20), deflateRawSync(login)]);
  for (const [name, body, cut] of [['CINFO 8', a, 33], ['78 01', b, 300]] as const) {
    assert.ok(inflateRawSync(body).toString().endsWith(login.toString()), `${name}: what a raw reader gets`);
    const cb = new CompressedBody('deflate');
    // the body never ends (a Content-Length larger than what is sent): the login must be read as it arrives
    const first = cb.push(body.subarray(0, cut), false);
    assert.equal(first, undefined);
    assert.equal(cb.push(body.subarray(cut), false)?.rpc?.method, 'login', name);
    assert.equal(cb.unread, undefined, `${name}: nothing left unread`);
  }
});
