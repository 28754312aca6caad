// JA3/JA4 of the gateway's ClientHello parser against published values: FoxIO's JA4 specification
// example (technical_details/JA4.md: lists, JA4, JA4_r, and JA4_o for the original order) and a
// browser's ClientHello as a public fingerprinting service reported it (JA3 string and MD5, JA4,
// JA4_r, the extension order). The ClientHellos are built byte by byte from those lists, with
// GREASE values added where real clients put them (they must not change anything). Plus the ALPN
// rules of the specification, the empty cases, and a real Node ClientHello.
import { test } from 'node:test';
import { createHash } from 'node:crypto';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { createServer } from 'node:net';
import { isGrease, parseClientHello, tlsFingerprint, type HelloFields } from '../src/gateway/sniff/index.js';

const u16 = (v: number): Buffer => Buffer.from([v >> 8, v & 0xff]);
const u16s = (vs: number[]): Buffer => Buffer.concat(vs.map(u16));
const ext = (type: number, data: Buffer): Buffer => Buffer.concat([u16(type), u16(data.length), data]);

interface Spec { ciphers: number[]; exts: number[]; groups?: number[]; points?: number[]; sigs?: number[]; versions?: number[]; alpn?: string[]; sni?: string }

/** A ClientHello record with those lists; extensions in the given order (types without data here get empty bodies). */
function hello(s: Spec): Buffer {
  const body = (type: number): Buffer => {
    switch (type) {
      case 0x0000: { const n = Buffer.from(s.sni ?? 'example.test'); return Buffer.concat([u16(n.length + 3), Buffer.from([0]), u16(n.length), n]); }
      case 0x0010: { const l = Buffer.concat((s.alpn ?? ['h2']).map((a) => Buffer.concat([Buffer.from([a.length]), Buffer.from(a, 'latin1')]))); return Buffer.concat([u16(l.length), l]); }
      case 0x000a: return Buffer.concat([u16((s.groups ?? []).length * 2), u16s(s.groups ?? [])]);
      case 0x000b: return Buffer.from([(s.points ?? [0]).length, ...(s.points ?? [0])]);
      case 0x000d: return Buffer.concat([u16((s.sigs ?? []).length * 2), u16s(s.sigs ?? [])]);
      case 0x002b: return Buffer.concat([Buffer.from([(s.versions ?? []).length * 2]), u16s(s.versions ?? [])]);
      default: return Buffer.alloc(0);
    }
  };
  const exts = Buffer.concat(s.exts.map((t) => ext(t, body(t))));
  const hb = Buffer.concat([u16(0x0303), Buffer.alloc(32, 7), Buffer.from([32]), Buffer.alloc(32, 9), u16(s.ciphers.length * 2), u16s(s.ciphers), Buffer.from([1, 0]), u16(exts.length), exts]);
  const hs = Buffer.concat([Buffer.from([1, 0, hb.length >> 8, hb.length & 0xff]), hb]);
  return Buffer.concat([Buffer.from([22, 3, 1]), u16(hs.length), hs]);
}

const hexes = (s: string): number[] => s.split(',').map((h) => parseInt(h, 16));
const SIGS = hexes('0403,0804,0401,0503,0805,0501,0806,0601');

test('JA4 of the specification\'s example ClientHello (GREASE added), its raw form, and the original-order hashes', () => {
  const ciphers = hexes('1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035');
  const exts = hexes('001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,0015');
  const r = parseClientHello(hello({ ciphers: [0x0a0a, ...ciphers], exts: [0x1a1a, ...exts, 0x2a2a], sigs: SIGS, versions: [0x3a3a, 0x0304, 0x0303], groups: [0x4a4a, 0x001d, 0x0017], alpn: ['h2', 'http/1.1'] }));
  assert.equal(r.protocol, 'tls');
  assert.equal(r.tls?.ja4, 't13d1516h2_8daaf6152771_e5627efa2ab1');
  assert.equal(r.tls?.ja4_r, 't13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601');
  // The specification's JA4_o hashes the lists in their original order (SNI and ALPN kept): the
  // same inputs our parser collected, hashed that way, give its published value.
  const sha12 = (x: string): string => createHash('sha256').update(x).digest('hex').slice(0, 12);
  const orig = `${sha12(ciphers.map((v) => v.toString(16).padStart(4, '0')).join(','))}_${sha12(`${exts.map((v) => v.toString(16).padStart(4, '0')).join(',')}_0403,0804,0401,0503,0805,0501,0806,0601`)}`;
  assert.equal(`t13d1516h2_${orig}`, 't13d1516h2_acb858a92679_18f69afefd3d');
});

test('JA3 and JA4 of a browser ClientHello as a public fingerprinting service reported them', () => {
  const ciphers = '4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53'.split('-').map(Number);
  const exts = '45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27'.split('-').map(Number);
  const r = parseClientHello(hello({ ciphers: [0x5a5a, ...ciphers], exts: [0x6a6a, ...exts, 0x7a7a], groups: [0x8a8a, 4588, 29, 23, 24], points: [0], sigs: SIGS, versions: [0x9a9a, 0x0304, 0x0303], alpn: ['h2', 'http/1.1'], sni: 'tls.browserleaks.test' }));
  assert.equal(r.tls?.ja3_string, '771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0');
  assert.equal(r.tls?.ja3, '98487aa16281980e7d1120d399efb6a4');
  assert.equal(r.tls?.ja4, 't13d1516h2_8daaf6152771_d8a2da3f94cd');
  assert.equal(r.tls?.ja4_r, 't13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_0403,0804,0401,0503,0805,0501,0806,0601');
  // The same ClientHello split over two handshake records fingerprints the same.
  const one = hello({ ciphers, exts, groups: [4588, 29, 23, 24], points: [0], sigs: SIGS, versions: [0x0304, 0x0303], alpn: ['h2', 'http/1.1'], sni: 'tls.browserleaks.test' });
  const hs = one.subarray(5), at = 60;
  const split = Buffer.concat([Buffer.from([22, 3, 1]), u16(at), hs.subarray(0, at), Buffer.from([22, 3, 1]), u16(hs.length - at), hs.subarray(at)]);
  assert.deepEqual(parseClientHello(split).tls, parseClientHello(one).tls);
});

test('JA4 parts: ALPN first/last characters (hex when not alphanumeric), no ALPN, no SNI, no signature algorithms, no extensions, versions, counts over 99', () => {
  const base: HelloFields = { version: 0x0303, ciphers: [0x1301], extensions: [0x0010], groups: [], pointFormats: [], sigAlgs: [], versions: [], sni: false };
  const a = (bytes: number[] | undefined): string => tlsFingerprint({ ...base, alpnFirst: bytes === undefined ? undefined : Buffer.from(bytes) }).ja4.slice(8, 10);
  assert.equal(a([0x68, 0x32]), 'h2');
  assert.equal(a([...Buffer.from('http/1.1')]), 'h1');
  assert.equal(a([0x68]), 'hh', 'one character is first and last');
  assert.equal(a([0xab]), 'ab');
  assert.equal(a([0xab, 0xcd]), 'ad');
  assert.equal(a([0x30, 0xab]), '3b');
  assert.equal(a([0x30, 0x31, 0xab, 0xcd]), '3d');
  assert.equal(a([0x30, 0xab, 0xcd, 0x31]), '01');
  assert.equal(a(undefined), '00');
  assert.equal(tlsFingerprint(base).ja4.slice(0, 4), 't12i', 'no supported_versions: the legacy version; no SNI: i');
  // Only SNI/ALPN as extensions: the extension hash is all zeros; no ciphers either: zeros too.
  assert.match(tlsFingerprint({ ...base, ciphers: [], extensions: [0x0000, 0x0010], sni: true }).ja4, /^t12d0002\d\d_000000000000_000000000000$/);
  // No signature algorithms: the extension list is hashed without a trailing underscore.
  const noSig = tlsFingerprint({ ...base, extensions: hexes('0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01') });
  assert.equal(noSig.ja4.split('_')[2], '6d807ffa2a79', 'the specification\'s value for that list');
  assert.equal(tlsFingerprint({ ...base, versions: [0x0300] }).ja4.slice(1, 3), 's3');
  assert.equal(tlsFingerprint({ ...base, versions: [0x7f00] }).ja4.slice(1, 3), '00', 'unknown version');
  assert.equal(tlsFingerprint({ ...base, ciphers: Array.from({ length: 150 }, (_, i) => i + 1) }).ja4.slice(4, 6), '99');
  for (let v = 0; v < 0x10000; v++) assert.equal(isGrease(v), (v & 0x0f0f) === 0x0a0a && (v >> 12) === ((v >> 4) & 0xf), `GREASE ${v}`);
});

test('a real Node ClientHello gets a JA4 that says TLS 1.3, SNI, its ALPN, and a 32-hex JA3', async () => {
  const bytes = await new Promise<Buffer>((resolve, reject) => {
    const srv = createServer((sock) => { sock.once('data', (d: Buffer) => { resolve(d); sock.destroy(); srv.close(); }); });
    srv.listen(0, '127.0.0.1', () => {
      const c = tlsConnect({ host: '127.0.0.1', port: (srv.address() as { port: number }).port, servername: 'registry.test', ALPNProtocols: ['http/1.1'] });
      c.on('error', () => {});
    });
    srv.on('error', reject);
  });
  const r = parseClientHello(bytes);
  assert.match(r.tls?.ja4 ?? '', /^t13d\d{4}h1_[0-9a-f]{12}_[0-9a-f]{12}$/);
  assert.match(r.tls?.ja3 ?? '', /^[0-9a-f]{32}$/);
  assert.match(r.tls?.ja3_string ?? '', /^771,[\d-]+,[\d-]+,[\d-]*,[\d-]*$/);
});
