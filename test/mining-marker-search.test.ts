// Why: the upload scanner's search for pool-message markers is native (native/mining-markers.c) when the
// gateway's addon is built, and the regular expression otherwise; a marker one of them missed would let a pool
// login through in one build and not the other. This holds them to the same answer on crafted and random inputs,
// and checks that the native search is what the gateway actually uses when it is built.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { markerFinder, nativeFinder, regexFinder } from '../src/gateway/sniff/marker-search.js';
import { containsMiningRpc, MiningRpcScanner } from '../src/gateway/sniff/mining-jsonrpc.js';

const MARKERS = ['mining.', 'eth_submit', 'eth_getWork', '"login"', '"submit"', '"getjob"', '"keepalived"', '"getblocktemplate"', '"getwork"', '"submitblock"', '"getauxblock"', '"createauxblock"', '"submitauxblock"', '\\u'];
/** Strings that look like markers and are not (cut short, one letter off, unquoted, the wrong case). */
const NEAR = ['mining', 'minin.', 'eth_submi', 'eth_getwork', 'eth_', '"login', 'login"', '"Login"', '"submits"', '"getjobs"', '"keepalive"', '"getblock"', '"createaux"', '\\n', '\\U', '"', '\\', 'e', 'm'];

function all(find: (from: number) => number, len: number): number[] {
  const out: number[] = [];
  for (let at = find(0); at >= 0 && at < len; at = find(at + 1)) out.push(at);
  return out;
}

const native = nativeFinder(Buffer.alloc(0)) !== undefined;

test('the native marker search is built and is the one the gateway uses', { skip: process.env.CORRAL_NO_NATIVE ? 'CORRAL_NO_NATIVE' : false }, () => {
  assert.ok(native, 'dist/native/original-dst.node has miningMarkerAt (npm run build)');
  const b = Buffer.from('x"login"y');
  assert.equal(markerFinder(b)(0), 1);
});

test('native and regular-expression marker search give the same offsets: every marker, near misses, at the edges, in random text', { skip: native ? false : 'the native search is not built' }, () => {
  const cases: Buffer[] = [Buffer.alloc(0)];
  for (const m of [...MARKERS, ...NEAR]) {
    cases.push(Buffer.from(m), Buffer.from(`x${m}`), Buffer.from(`${m}x`), Buffer.from(`{"a":1}\n${m}\n${m}`));
    // cut at every length: a marker split by the chunk's end is not one
    for (let k = 1; k < m.length; k++) cases.push(Buffer.from(m.slice(0, k)));
  }
  // random text from an alphabet dense in the markers' letters, with markers and near misses dropped in
  const alphabet = 'mining.eth_submitgetWork"loginkeepalivedcreateauxblock\\u\n{}:, ';
  for (let i = 0; i < 3000; i++) {
    const r = randomBytes(200);
    let s = '';
    for (let k = 0; k < 200; k++) s += r[k]! < 8 ? MARKERS[r[k]! % MARKERS.length]! : r[k]! < 20 ? NEAR[r[k]! % NEAR.length]! : alphabet[r[k]! % alphabet.length]!;
    cases.push(Buffer.from(s, 'latin1'));
  }
  for (let i = 0; i < 200; i++) cases.push(randomBytes(4096));
  for (const b of cases) {
    const want = all(regexFinder(b), b.length);
    assert.deepEqual(all(nativeFinder(b)!, b.length), want, JSON.stringify(b.toString('latin1').slice(0, 120)));
    // and from every starting offset of a short one
    if (b.length < 40) for (let f = 0; f <= b.length + 1; f++) assert.equal(nativeFinder(b)!(f), regexFinder(b)(f), `${JSON.stringify(b.toString('latin1'))} from ${f}`);
  }
  // a subarray is searched within its own bounds (the scanner hands over views of larger buffers)
  const big = Buffer.from('"login"......mining.', 'latin1');
  assert.equal(nativeFinder(big.subarray(1))!(0), 12);
  assert.equal(nativeFinder(big.subarray(0, 12))!(1), -1);
});

test('a pool message is found by either search, anywhere in a chunk; benign JSON lines are not', () => {
  const login = '{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"4AbCdEf","pass":"x","agent":"XMRig/6.21.0"}}';
  const benign = Array.from({ length: 200 }, (_, i) => JSON.stringify({ id: i, name: `item${i}`, text: 'lorem ipsum '.repeat(10) })).join('\n');
  for (const chunk of [`${login}\n`, `${benign}\n${login}\n`, `${benign}\n${login}`]) {
    assert.deepEqual(containsMiningRpc(Buffer.from(chunk)), { method: 'login' });
  }
  assert.equal(containsMiningRpc(Buffer.from(`${benign}\n`)), null);
  assert.deepEqual(containsMiningRpc(Buffer.from(`${benign}\n{"id":1,"method":"mining.subscribe","params":["cpuminer/2.5"]}\n`)), { method: 'mining.subscribe' });
  // escaped: found by its \u marker
  assert.deepEqual(containsMiningRpc(Buffer.from(`${benign}\n{"id":1,"method":"\\u006dining.subscribe","params":[]}\n`)), { method: 'mining.subscribe' });
});

test('the per-flow scanner finds a pool message split anywhere across chunks, and nothing in benign lines however they are cut', () => {
  const login = '{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"4AbCdEf","pass":"x","agent":"XMRig/6.21.0"}}';
  const benign = Array.from({ length: 60 }, (_, i) => JSON.stringify({ id: i, text: 'lorem ipsum '.repeat(i % 7) })).join('\n');
  for (let trial = 0; trial < 300; trial++) {
    const withLogin = trial % 3 !== 0;
    const stream = Buffer.from(withLogin ? `${benign}\n${login}\n${benign}\n` : `${benign}\n${benign}\n`);
    const s = new MiningRpcScanner();
    let found: { method: string } | null = null;
    for (let at = 0; at < stream.length && !found;) {
      const n = 1 + (randomBytes(2).readUInt16LE(0) % (trial % 2 ? 40 : 3000));
      found = s.push(stream.subarray(at, at + n));
      at += n;
    }
    assert.deepEqual(found, withLogin ? { method: 'login' } : null, `trial ${trial}`);
  }
});
