// Why: the gateway inflates a permessage-deflate client's messages to scan them (sniff/websocket-inflate.ts);
// hostile input must not make that a weapon: a decompression bomb stops at its output bound, a corrupt stream
// stops inflating, a long stream stops at its compressed-byte bound — each said (`exhausted`, `why`) — and
// the frame reader marks which pieces are compressed and where messages end, control frames in between.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, deflateRawSync, createDeflateRaw } from 'node:zlib';
import { WebSocketUnmasker, type FramePiece } from '../src/gateway/sniff/websocket-frames.js';
import { WebSocketInflater, WS_INFLATE_LIMITS } from '../src/gateway/sniff/websocket-inflate.js';

/** A masked client frame. */
function frame(payload: Buffer, o: { fin?: boolean; rsv1?: boolean; opcode?: number } = {}): Buffer {
  const key = Buffer.from([1, 2, 3, 4]);
  const head = [((o.fin ?? true) ? 0x80 : 0) | (o.rsv1 ? 0x40 : 0) | (o.opcode ?? 1)];
  const len = payload.length < 126 ? [0x80 | payload.length] : [0x80 | 126, payload.length >> 8, payload.length & 0xff];
  return Buffer.concat([Buffer.from([...head, ...len]), key, Buffer.from(payload.map((b, i) => b ^ key[i & 3]!))]);
}

/** Compressed messages in one context (each flushed, its 00 00 ff ff left off). */
async function deflateMessages(msgs: string[]): Promise<Buffer[]> {
  const c = createDeflateRaw();
  const out: Buffer[] = [];
  for (const m of msgs) {
    c.write(m);
    await new Promise<void>((r) => c.flush(constants.Z_SYNC_FLUSH, () => r()));
    const d = c.read() as Buffer;
    out.push(d.subarray(0, d.length - 4));
  }
  return out;
}

test('frames: RSV1 marks a message compressed through its continuations, a ping between them changes nothing, FIN ends it', async () => {
  const [a] = await deflateMessages(['{"id":1,"method":"login","params":{"login":"w","pass":"x","agent":"XMRig/6"}}']);
  const half = Math.floor(a!.length / 2);
  const stream = Buffer.concat([
    frame(a!.subarray(0, half), { fin: false, rsv1: true, opcode: 1 }),
    frame(Buffer.from('hi'), { opcode: 9 }), // a ping between the message's frames
    frame(a!.subarray(half), { fin: true, opcode: 0 }),
    frame(Buffer.from('plain'), { opcode: 1 }),
  ]);
  const pieces: FramePiece[] = [];
  const u = new WebSocketUnmasker();
  for (let i = 0; i < stream.length; i += 7) pieces.push(...u.pushFrames(stream.subarray(i, i + 7)));
  const data = pieces.filter((p) => p.opcode < 8);
  assert.ok(data.filter((p) => p.opcode !== 1 || p.compressed).every((p) => p.compressed), 'every piece of the compressed message');
  assert.equal(pieces.filter((p) => p.opcode === 9).every((p) => !p.compressed && !p.messageEnd), true);
  assert.deepEqual(data.filter((p) => p.messageEnd).map((p) => p.compressed), [true, false]);
  const inf = new WebSocketInflater();
  const texts = data.map((p) => inf.push(p)).filter((t) => t !== undefined).map(String);
  assert.deepEqual(texts, ['{"id":1,"method":"login","params":{"login":"w","pass":"x","agent":"XMRig/6"}}']);
});

test('inflater: messages in one context come back one by one; a bomb, a corrupt stream and a long stream each stop it, said', async () => {
  const msgs = ['{"id":0,"method":"ping"}', '{"id":1,"method":"ping"}', '{"id":2,"method":"mining.subscribe","params":[]}'];
  const inf = new WebSocketInflater();
  const got = (await deflateMessages(msgs)).map((d) => String(inf.push({ data: d, opcode: 1, frameStart: true, compressed: true, messageEnd: true })));
  assert.deepEqual(got, msgs, 'later messages refer to earlier ones (context takeover)');
  // a bomb: 64 MiB of zeros in ≈ 64 KiB
  const bomb = deflateRawSync(Buffer.alloc(64 << 20), { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4);
  assert.ok(bomb.length < WS_INFLATE_LIMITS.MAX_COMPRESSED);
  const b = new WebSocketInflater();
  assert.equal(b.push({ data: bomb, opcode: 1, frameStart: true, compressed: true, messageEnd: true }), undefined);
  assert.deepEqual([b.exhausted, b.why], [true, 'bound']);
  // corrupt
  const c = new WebSocketInflater();
  assert.equal(c.push({ data: Buffer.from([0xff, 0xff, 0xff, 0x00, 0x12]), opcode: 1, frameStart: true, compressed: true, messageEnd: true }), undefined);
  assert.deepEqual([c.exhausted, c.why], [true, 'corrupt']);
  // past the compressed-byte bound: no more inflating (uncompressed pieces are never taken)
  const l = new WebSocketInflater();
  assert.equal(l.push({ data: Buffer.alloc(WS_INFLATE_LIMITS.MAX_COMPRESSED + 1), opcode: 2, frameStart: true, compressed: true, messageEnd: false }), undefined);
  assert.deepEqual([l.exhausted, l.why], [true, 'bound']);
  assert.equal(new WebSocketInflater().push({ data: Buffer.from('x'), opcode: 1, frameStart: true, compressed: false, messageEnd: true }), undefined);
});

test('inflater: the re-inflation work of many messages is bounded (each message inflates the stream so far)', async () => {
  // 200 messages of ≈ 1 MiB of text each that compress to a few KiB: the stream's output grows by 1 MiB a message
  const text = 'x'.repeat(1 << 20);
  const inf = new WebSocketInflater();
  let n = 0;
  for (const d of await deflateMessages(Array.from({ length: 200 }, () => text))) {
    if (inf.push({ data: d, opcode: 1, frameStart: true, compressed: true, messageEnd: true }) !== undefined) n++;
    if (inf.exhausted) break;
  }
  assert.deepEqual([inf.exhausted, inf.why], [true, 'bound']);
  assert.ok(n >= 8 && n <= 16, `${n} messages inflated before the work bound`);
});
