// Why: the gateway inflates a permessage-deflate client's messages to scan them (sniff/websocket-inflate.ts);
// hostile input must not make that a weapon or a blind spot: a decompression bomb stops at its output bound, a
// corrupt stream stops inflating — each said (`exhausted`, `why`) — a long conversation is read to its end, a
// message that ends its deflate stream does not blind the inflater to the next, and the frame reader marks which
// pieces are compressed and where messages end, control frames in between.
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
  const texts = data.map((p) => inf.push(p)).filter((t) => t !== undefined);
  assert.equal(texts[0]!.start, true);
  assert.deepEqual([Buffer.concat(texts.map((t) => t.data)).toString()], ['{"id":1,"method":"login","params":{"login":"w","pass":"x","agent":"XMRig/6"}}']);
});

const piece = (data: Buffer, messageEnd = true): FramePiece => ({ data, opcode: 1, frameStart: true, compressed: true, messageEnd });
const text = (inf: WebSocketInflater, d: Buffer): string | undefined => inf.push(piece(d))?.data.toString();

test('inflater: messages in one context come back one by one, however many; a bomb and a corrupt stream each stop it, said', async () => {
  // 1,000 messages (the re-inflating inflater of session 38 stopped after 256), each referring to the ones before
  const msgs = Array.from({ length: 1000 }, (_, i) => `{"id":${i},"method":"ping","params":{}}`);
  msgs.push('{"id":1000,"method":"mining.subscribe","params":[]}');
  const inf = new WebSocketInflater();
  const got = (await deflateMessages(msgs)).map((d) => text(inf, d));
  assert.deepEqual(got, msgs, 'later messages refer to earlier ones (context takeover)');
  assert.equal(inf.exhausted, false);
  // a bomb: 80 MiB of zeros in ≈ 80 KiB stops at the output bound, what came before it returned
  const bomb = deflateRawSync(Buffer.alloc(80 << 20), { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, -4);
  const b = new WebSocketInflater();
  const out = b.push(piece(bomb));
  assert.equal(out?.data.length, WS_INFLATE_LIMITS.MAX_OUTPUT);
  assert.deepEqual([b.exhausted, b.why], [true, 'bound']);
  assert.equal(b.push(piece(Buffer.from([0x01, 0x02]))), undefined, 'nothing after the bound');
  // corrupt
  const c = new WebSocketInflater();
  assert.equal(c.push(piece(Buffer.from([0xff, 0xff, 0xff, 0x00, 0x12]))), undefined);
  assert.deepEqual([c.exhausted, c.why], [true, 'corrupt']);
  assert.equal(new WebSocketInflater().push({ ...piece(Buffer.from('x')), compressed: false }), undefined, 'uncompressed pieces are never taken');
});

test('inflater: a message that ends its deflate stream (a final block) is followed by a fresh stream, which is read', () => {
  const inf = new WebSocketInflater();
  // (deflateRawSync ends with a final block: each message its own complete stream, as RFC 7692 allows)
  assert.equal(text(inf, deflateRawSync('{"id":0,"method":"ping"}')), '{"id":0,"method":"ping"}');
  assert.equal(text(inf, deflateRawSync('{"id":1,"method":"login","params":{"login":"w","agent":"XMRig"}}')), '{"id":1,"method":"login","params":{"login":"w","agent":"XMRig"}}');
});

test('inflater: a message split into one-byte frames still comes back whole, marked as its message\'s start once', async () => {
  const [d] = await deflateMessages(['{"id":7,"method":"mining.authorize","params":["w","x"]}']);
  const inf = new WebSocketInflater();
  const parts = [...d!].map((byte, i) => inf.push(piece(Buffer.from([byte]), i === d!.length - 1))).filter((t) => t !== undefined);
  assert.equal(Buffer.concat(parts.map((t) => t.data)).toString(), '{"id":7,"method":"mining.authorize","params":["w","x"]}');
  assert.deepEqual(parts.map((t) => t.start).filter(Boolean), [true]);
  assert.equal(parts[0]!.start, true);
});
