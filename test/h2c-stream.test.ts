// Why: cleartext HTTP/2 names each request's host in HPACK-compressed `:authority`, so the gateway's
// fronting check must decode it (h2c-stream.ts). These tests feed it what a real HTTP/2 client
// (Node's, nghttp2: Huffman strings, a dynamic table shared by the requests) sends on a loopback
// socket, cut at every byte, and hostile frame sequences that must stop the stream as ambiguous.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http2 from 'node:http2';
import { H2cRequestStream, H2_PREFACE, MAX_HEADER_BLOCK, UNTRACKED_CODING } from '../src/gateway/sniff/h2c-stream.js';
import { HttpRequestStream, type RequestHead } from '../src/gateway/sniff/http-stream.js';

/** What Node's HTTP/2 client writes for these requests (loopback only), once the three are sent. */
async function clientBytes(requests: http2.OutgoingHttpHeaders[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const srv = net.createServer((s) => { s.on('data', (d) => chunks.push(d)); s.on('error', () => {}); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const c = http2.connect(`http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`);
  c.on('error', () => {});
  for (const h of requests) { const r = c.request(h); r.on('error', () => {}); r.end(); }
  const want = requests.length;
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 20));
    const all = Buffer.concat(chunks);
    if (heads(new H2cRequestStream(), [all]).length >= want) break;
  }
  c.destroy(); srv.close();
  return Buffer.concat(chunks);
}

function heads(s: H2cRequestStream, parts: Buffer[]): RequestHead[] { return parts.flatMap((p) => s.push(p)); }

const frame = (type: number, flags: number, stream: number, payload: Buffer): Buffer => {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3); h[3] = type; h[4] = flags; h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
};
/** HPACK, no Huffman: :method GET, :path /, :scheme http (static), then literal fields without indexing. */
const block = (fields: [string, string][]): Buffer => Buffer.concat([Buffer.from([0x82, 0x84, 0x86]), ...fields.map(([n, v]) => {
  const idx = n === ':authority' ? 1 : 0;
  return Buffer.concat([Buffer.from([idx]), idx ? Buffer.alloc(0) : Buffer.concat([Buffer.from([n.length]), Buffer.from(n)]), Buffer.from([v.length]), Buffer.from(v)]);
})]);
const SETTINGS = frame(0x4, 0, 0, Buffer.alloc(0));

test('a real HTTP/2 client\'s requests give each :authority (Huffman, dynamic table), whatever the writes it comes in', async () => {
  const bytes = await clientBytes([
    { ':path': '/a', ':authority': 'registry.test', 'user-agent': 'x'.repeat(40) },
    { ':path': '/b', ':authority': 'registry.test' },
    { ':path': '/c', ':authority': 'pool.minexmr.test:80' },
  ]);
  assert.ok(bytes.subarray(0, 24).equals(H2_PREFACE));
  const want = [{ host: 'registry.test', ambiguous: false }, { host: 'registry.test', ambiguous: false }, { host: 'pool.minexmr.test', connectPort: 80, ambiguous: false }];
  assert.deepEqual(heads(new H2cRequestStream(), [bytes]), want);
  for (let cut = 1; cut < bytes.length; cut++) assert.deepEqual(heads(new H2cRequestStream(), [bytes.subarray(0, cut), bytes.subarray(cut)]), want, `cut at ${cut}`);
  assert.deepEqual(heads(new H2cRequestStream(), [...bytes].map((b) => Buffer.from([b]))), want, 'one byte at a time');
  // Through the HTTP/1 stream, as the gateway meets it: the preface is a "PRI" head, then HTTP/2 follows.
  const h1 = new HttpRequestStream().push(bytes);
  assert.deepEqual(h1, [{ ambiguous: false, h2At: 18 }]);
  assert.deepEqual(heads(new H2cRequestStream(true), [bytes.subarray(18)]), want);
});

test('HEADERS with padding and priority, and a block continued in CONTINUATION frames, are read; DATA is skipped', () => {
  const b = block([[':authority', 'registry.test']]);
  const padded = Buffer.concat([Buffer.from([3]), Buffer.alloc(5), b, Buffer.alloc(3)]);
  const bytes = Buffer.concat([H2_PREFACE, SETTINGS,
    frame(0x1, 0x4 | 0x8 | 0x20, 1, padded),
    frame(0x0, 0x1, 1, Buffer.from(':authority: pool.test\r\n'.repeat(20))),
    frame(0x1, 0, 3, b.subarray(0, 4)), frame(0x9, 0, 3, b.subarray(4, 9)), frame(0x9, 0x4, 3, b.subarray(9)),
    frame(0x1, 0x4, 5, block([[':authority', 'pool.test']]))]);
  assert.deepEqual(heads(new H2cRequestStream(), [bytes]), [{ host: 'registry.test', ambiguous: false }, { host: 'registry.test', ambiguous: false }, { host: 'pool.test', ambiguous: false }]);});

test('a port in :authority is told to the gateway (judged as a CONNECT\'s, a review, session 35); two different ports, or one that is none, are ambiguous', () => {
  const one = (fields: [string, string][]): RequestHead[] => heads(new H2cRequestStream(), [Buffer.concat([H2_PREFACE, frame(0x1, 0x4, 1, block(fields))])]);
  assert.deepEqual(one([[':authority', 'registry.test:6379']]), [{ host: 'registry.test', connectPort: 6379, ambiguous: false }]);
  assert.deepEqual(one([[':authority', 'registry.test:6379'], ['host', 'registry.test']]), [{ host: 'registry.test', connectPort: 6379, ambiguous: false }]);
  assert.deepEqual(one([[':authority', 'registry.test']]), [{ host: 'registry.test', ambiguous: false }]);
  for (const fields of [[[':authority', 'registry.test:6379'], ['host', 'registry.test:80']], [[':authority', 'registry.test:65616']]] as [string, string][][]) {
    assert.deepEqual(one(fields).map((h) => h.ambiguous), [true], JSON.stringify(fields));
  }
});

test('what cannot be followed stops the stream with one ambiguous head: conflicting hosts, a bad preface, broken HPACK, an interrupted block, a client PUSH_PROMISE, a huge block', () => {
  const ok = frame(0x1, 0x4, 1, block([[':authority', 'registry.test']]));
  const cases: [string, Buffer, RequestHead[], RegExp?][] = [
    ['conflicting :authority and host', Buffer.concat([H2_PREFACE, frame(0x1, 0x4, 1, block([[':authority', 'registry.test'], ['host', 'pool.test']]))]), [{ ambiguous: true }]],
    ['an authority that is no host name', Buffer.concat([H2_PREFACE, frame(0x1, 0x4, 1, block([[':authority', 'user@pool.test']]))]), [{ ambiguous: true }]],
    ['a bad preface', Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'), ok]), [{ ambiguous: true }], /not the HTTP\/2 connection preface/],
    ['an index past the tables', Buffer.concat([H2_PREFACE, ok, frame(0x1, 0x4, 3, Buffer.from([0xff, 0x80, 0x10]))]), [{ host: 'registry.test', ambiguous: false }, { ambiguous: true }], /an HPACK block it cannot decode \(.+\)/],
    ['a block interrupted by another frame', Buffer.concat([H2_PREFACE, frame(0x1, 0, 1, block([[':authority', 'registry.test']]).subarray(0, 4)), SETTINGS]), [{ ambiguous: true }], /not continued by CONTINUATION/],
    ['a CONTINUATION of nothing', Buffer.concat([H2_PREFACE, frame(0x9, 0x4, 1, block([[':authority', 'pool.test']]))]), [{ ambiguous: true }], /a CONTINUATION without its HEADERS/],
    ['a client PUSH_PROMISE', Buffer.concat([H2_PREFACE, frame(0x5, 0x4, 1, Buffer.concat([Buffer.from([0, 0, 0, 2]), block([[':authority', 'pool.test']])]))]), [{ ambiguous: true }], /PUSH_PROMISE/],
    ['a block over the cap', Buffer.concat([H2_PREFACE, frame(0x1, 0, 1, Buffer.alloc(MAX_HEADER_BLOCK)), frame(0x9, 0x4, 1, Buffer.alloc(10))]), [{ ambiguous: true }], /a header block over 262144 bytes/],
    ['a bad padding length', Buffer.concat([H2_PREFACE, frame(0x1, 0x4 | 0x8, 1, Buffer.from([200, 0x82]))]), [{ ambiguous: true }], /a bad HEADERS padding/],
  ];
  for (const [what, bytes, want, stopped] of cases) {
    const s = new H2cRequestStream();
    const got = heads(s, [bytes]);
    assert.deepEqual(got.map(({ why: _, ...h }) => h), want, what);
    // (the agent is told what made it ambiguous)
    assert.match(got.at(-1)!.why ?? '', stopped ? /^The cleartext HTTP\/2 stream cannot be followed \(/ : /^The HTTP\/2 request names its host ambiguously/, what);
    // (an ambiguous host is judged and the stream followed on; the others cannot be)
    assert.equal(s.opaque, stopped !== undefined, what);
    if (stopped) assert.match(s.stoppedBy ?? '', stopped, what);
    assert.deepEqual(s.push(ok), s.opaque ? [] : [{ host: 'registry.test', ambiguous: false }], `${what}: after it`);
  }
});

/** A stream's request body as the reader hands it over: its bytes, its coding, how many starts and ends it saw. */
type Body = { bytes: Buffer[]; coding: string; starts: number; ends: number };
function bodiesOf(parts: Buffer[], afterHead = false): Map<number, Body> {
  const out = new Map<number, Body>();
  const s = new H2cRequestStream(afterHead, (stream, piece, start, end, coding) => {
    const b = out.get(stream) ?? { bytes: [], coding, starts: 0, ends: 0 };
    out.set(stream, b);
    b.bytes.push(Buffer.from(piece)); b.starts += start ? 1 : 0; b.ends += end ? 1 : 0;
    assert.equal(b.coding, coding);
  });
  for (const p of parts) assert.deepEqual(s.push(p).filter((h) => h.ambiguous), []);
  return out;
}
const summary = (m: Map<number, Body>) => [...m].map(([id, b]) => [id, Buffer.concat(b.bytes).toString('latin1'), b.coding, b.starts, b.ends]);

test('request bodies: a real client\'s DATA (maximum padding, two streams, one gzip-coded) come out per stream, padding off, whatever the writes', async () => {
  const bodies = ['{"id":1,"method":"login","params":{"login":"w","pass":"x","agent":"XMRig/6"}}\n', 'x'.repeat(40_000)];
  const chunks: Buffer[] = [];
  const srv = net.createServer((s) => { s.on('data', (d) => chunks.push(d)); s.on('error', () => {}); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const c = http2.connect(`http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`, { paddingStrategy: http2.constants.PADDING_STRATEGY_MAX });
  c.on('error', () => {});
  const r1 = c.request({ ':method': 'POST', ':path': '/rpc', ':authority': 'registry.test', 'content-encoding': 'gzip' }); r1.on('error', () => {});
  r1.end(Buffer.from(bodies[0]!));
  const r2 = c.request({ ':method': 'POST', ':path': '/up', ':authority': 'registry.test' }); r2.on('error', () => {});
  r2.end(bodies[1]);
  const done = (m: Map<number, Body>) => [...m.values()].filter((b) => b.ends === 1).length === 2;
  for (let i = 0; i < 100 && !done(bodiesOf([Buffer.concat(chunks)])); i++) await new Promise((r) => setTimeout(r, 20));
  c.destroy(); srv.close();
  const bytes = Buffer.concat(chunks);
  const want = [[1, bodies[0], 'gzip', 1, 1], [3, bodies[1], '', 1, 1]];
  assert.deepEqual(summary(bodiesOf([bytes])), want);
  for (let cut = 1; cut < bytes.length; cut += 97) assert.deepEqual(summary(bodiesOf([bytes.subarray(0, cut), bytes.subarray(cut)])), want, `cut at ${cut}`);
  assert.deepEqual(summary(bodiesOf([...bytes.subarray(0, 4000)].map((b) => Buffer.from([b])).concat([bytes.subarray(4000)]))), want, 'one byte at a time');
});

test('request bodies: a login split over padded DATA frames with their headers in between comes out whole; END_STREAM alone ends it; bad padding stops the stream', () => {
  const login = Buffer.from('{"id":1,"method":"mining.subscribe","params":["cpuminer"]}\n');
  const pad = (b: Buffer, n: number) => Buffer.concat([Buffer.from([n]), b, Buffer.alloc(n, 0x7b)]); // ('{' as padding: must not be read)
  const bytes = Buffer.concat([H2_PREFACE, SETTINGS, frame(0x1, 0x4, 1, block([[':authority', 'registry.test'], ['content-encoding', 'identity']])),
    frame(0x0, 0x8, 1, pad(login.subarray(0, 12), 30)), frame(0x0, 0, 1, login.subarray(12, 20)), frame(0x0, 0x8, 1, pad(login.subarray(20), 0)),
    frame(0x0, 0x1, 1, Buffer.alloc(0))]);
  assert.deepEqual(summary(bodiesOf([bytes])), [[1, login.toString(), 'identity', 1, 1]]);
  for (let cut = 1; cut < bytes.length; cut++) assert.deepEqual(summary(bodiesOf([bytes.subarray(0, cut), bytes.subarray(cut)])), [[1, login.toString(), 'identity', 1, 1]], `cut at ${cut}`);
  for (const bad of [frame(0x0, 0x8, 1, Buffer.from([9, 1, 2])), frame(0x0, 0x8, 1, Buffer.alloc(0))]) {
    const s = new H2cRequestStream(false, () => {});
    assert.deepEqual(s.push(Buffer.concat([H2_PREFACE, bad])).map((h) => h.why), ['The cleartext HTTP/2 stream cannot be followed (a bad DATA padding), so its requests\' hosts cannot be read']);
  }
});

test('stream state: RST_STREAM clears a stream\'s coding, too many open coded streams are said (untracked), trailers with END_STREAM end a body, a dynamic table size update is accepted (reviews, session 39)', () => {
  const gz = (id: number) => frame(0x1, 0x4, id, block([[':authority', 'registry.test'], ['content-encoding', 'gzip']]));
  const rst = (id: number) => frame(0x3, 0, id, Buffer.from([0, 0, 0, 8]));
  // 1,030 streams opened with a coding and reset: the table stays small, and stream 2061's coding is its own
  const resets = Buffer.concat(Array.from({ length: 1030 }, (_, i) => Buffer.concat([gz(2 * i + 1), rst(2 * i + 1)])));
  const got = bodiesOf([Buffer.concat([H2_PREFACE, resets, gz(2061), frame(0x0, 0x1, 2061, Buffer.from('x'))])]);
  assert.deepEqual(summary(got), [[2061, 'x', 'gzip', 1, 1]]);
  // 1,030 coded streams left open: past the table, a stream's coding is said to be unknown, never taken as none
  const open = Buffer.concat(Array.from({ length: 1030 }, (_, i) => gz(2 * i + 1)));
  const plain = frame(0x1, 0x4, 2061, block([[':authority', 'registry.test']]));
  const over = bodiesOf([Buffer.concat([H2_PREFACE, open, gz(2063), frame(0x0, 0x1, 2063, Buffer.from('y')), plain, frame(0x0, 0x1, 2061, Buffer.from('z'))])]);
  assert.deepEqual(summary(over).map((r) => r[2]), [UNTRACKED_CODING, UNTRACKED_CODING]);
  // trailers (HEADERS with END_STREAM) end the body
  const trailers = bodiesOf([Buffer.concat([H2_PREFACE, gz(1), frame(0x0, 0, 1, Buffer.from('abc')), frame(0x1, 0x5, 1, block([['x-checksum', '1']]))])]);
  assert.deepEqual(summary(trailers), [[1, 'abc', 'gzip', 1, 1]]);
  // a dynamic table size update (4096) at the start of a block, as RFC 7541 §4.2 lets a client send
  const upd = frame(0x1, 0x4, 1, Buffer.concat([Buffer.from([0x3f, 0xe1, 0x1f]), block([[':authority', 'registry.test']])]));
  assert.deepEqual(heads(new H2cRequestStream(), [Buffer.concat([H2_PREFACE, upd])]), [{ host: 'registry.test', ambiguous: false }]);
});
