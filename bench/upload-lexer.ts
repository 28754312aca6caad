// Why: every upload byte of a cleartext connection the gateway relays is read as JSON structure by the skeleton
// lexer (src/gateway/sniff/json-skeleton.ts) so a padded pool login cannot pass; its speed on the kinds of bytes
// agents upload (binary, JSON API calls, source code) bounds what an inspected upload costs the relay's thread.
// This times it in-process, per kind, as an HTTP body (one lexer) and as a raw TCP stream (two: lines and values).
// Run: node dist/bench/upload-lexer.js   (BENCH_MB=N per kind, default 64)
import { UploadRpcScan } from '../src/gateway/sniff/mining-skeleton.js';
import { printTable } from './bench-util.js';

const MB = Number(process.env.BENCH_MB ?? 64);
const size = MB << 20;

function kinds(): [string, Buffer][] {
  const rnd = Buffer.alloc(size);
  let x = 1;
  for (let i = 0; i < rnd.length; i++) { x = (x * 1103515245 + 12345) & 0x7fffffff; rnd[i] = x >> 16; }
  const line = `${JSON.stringify({ id: 1, jsonrpc: '2.0', method: 'eth_call', params: [{ to: '0xabc', data: `0x${'ab'.repeat(200)}` }, 'latest'] })}\n`;
  const code = 'function f(a) { return { x: a, y: [1, 2, 3] }; }\n';
  return [['random bytes', rnd], ['JSON-RPC lines', Buffer.from(line.repeat(Math.ceil(size / line.length)))], ['source code', Buffer.from(code.repeat(Math.ceil(size / code.length)))]];
}

function mbps(buf: Buffer, feed: (s: UploadRpcScan, piece: Buffer, first: boolean) => void): number {
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const s = new UploadRpcScan();
    const t = process.hrtime.bigint();
    for (let i = 0; i < buf.length; i += 65536) feed(s, buf.subarray(i, i + 65536), i === 0);
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e6);
  }
  return buf.length / 1e6 / (best / 1000);
}

const rows = kinds().map(([name, buf]) => [name, mbps(buf, (s, p, first) => { s.body(p, first); }).toFixed(0), mbps(buf, (s, p) => { s.raw(p); }).toFixed(0)]);
printTable('gateway upload lexer (json-skeleton.ts), in-process, best of 3', rows, ['upload bytes', 'HTTP body MB/s (1 lexer)', 'raw TCP MB/s (2 lexers)']);
