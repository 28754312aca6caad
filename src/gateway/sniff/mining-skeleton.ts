// Why: mining-jsonrpc.ts judges JSON-RPC lines as text, which padding defeats (json-skeleton.ts says
// how). This feeds a client's upload to the skeleton lexer — the raw stream read both as lines and as
// concatenated JSON, each HTTP body, each WebSocket message and the messages' concatenation (see DualLexer) — and
// judges every object that has a `method` with the same classifyRpcMessage the line checks use, so one
// set of rules decides. Threat: a pool login padded, reordered or split across writes, in raw TCP, an
// HTTP body, TLS records or WebSocket frames. Memory: at most seven lexers per flow, each bounded (json-skeleton.ts).
import { JsonSkeleton, type ObjectSummary, type Shape } from './json-skeleton.js';
import { classifyRpcMessage, mayBeMiningMethod } from './mining-jsonrpc.js';

export interface RpcHit { method: string; detail: string }

/** A summary's shape as the plain value classifyRpcMessage reads (keys without kept values are null). */
function plain(s: Shape): unknown {
  if (s.t === 's') return s.v;
  if (s.t === 'a') return s.first ? [plain(s.first)] : [];
  if (s.t === 'x') return null;
  const o = Object.create(null) as Record<string, unknown>;
  for (const k of s.o.keys) { const v = s.o.values?.get(k); o[k] = v ? plain(v) : null; }
  if (s.o.moreKeys > 0) o['\u2026'] = null; // (one stands for all the keys a verdict does not name)
  return o;
}

/** The mining verdict on an object summary: each `method` it had with each `params` (duplicate keys both ways). */
export function judgeSummary(o: ObjectSummary): RpcHit | undefined {
  for (const method of o.methods) {
    // (every other method is no verdict: most JSON-RPC an agent uploads is judged here without building its params)
    if (!mayBeMiningMethod(method)) continue;
    for (const p of o.params.length ? o.params : [undefined]) {
      const v = classifyRpcMessage(p === undefined ? { method } : { method, params: plain(p) });
      if (v.mining) return { method: v.method ?? 'unknown', detail: v.detail ?? v.method ?? 'mining JSON-RPC' };
    }
  }
  return undefined;
}

/** One lexer whose hits are collected per push. */
class Lexer {
  hit?: RpcHit;
  readonly lx: JsonSkeleton;
  private readonly see = (o: ObjectSummary): void => { if (!this.hit && o.methods.length > 0) this.hit = judgeSummary(o); };
  constructor(lines: boolean, from?: JsonSkeleton) {
    this.lx = from ? from.fork(this.see) : new JsonSkeleton(this.see, lines);
  }
  push(chunk: Buffer, boundary = false): RpcHit | undefined {
    if (boundary) this.lx.boundary();
    this.lx.push(chunk);
    const h = this.hit;
    this.hit = undefined;
    return h;
  }
}

/**
 * A byte stream read as lines (a line-based pool: a junk line of unclosed brackets cannot swallow the
 * next) and as concatenated JSON (a streaming parser's pool: one message over several lines). The two
 * readings differ only once a newline falls inside an open value, so the second lexer is forked from
 * the first there and dropped once they agree again: one lexer's cost for newline-delimited traffic.
 */
class DualLexer {
  private readonly lines = new Lexer(true);
  private stream?: Lexer;
  private forkAt = -1;

  constructor() {
    this.lines.lx.onNewlineInValue = (at) => {
      if (!this.stream && this.forkAt < 0) { this.stream = new Lexer(false, this.lines.lx); this.forkAt = at; }
    };
  }

  push(chunk: Buffer, boundary = false): RpcHit | undefined {
    if (boundary) this.stream = undefined;
    const running = this.stream;
    this.forkAt = -1;
    const a = this.lines.push(chunk, boundary);
    const b = running ? running.push(chunk) : this.forkAt >= 0 ? this.stream!.push(chunk.subarray(this.forkAt)) : undefined;
    const s = this.stream;
    if (s && s.lx.idle && this.lines.lx.idle && s.lx.where === this.lines.lx.where) this.stream = undefined;
    return a ?? b;
  }
}

/** The skeleton scans of one flow's upload; each method returns the first mining message completed by its bytes. */
export class UploadRpcScan {
  private rawStream?: DualLexer;
  private bodies?: DualLexer;

  private wsMessages?: Lexer;
  private wsStream?: DualLexer;

  /** A byte stream: raw TCP, TLS record bodies, an HTTP stream that cannot be framed. */
  raw(chunk: Buffer): RpcHit | undefined {
    return (this.rawStream ??= new DualLexer()).push(chunk);
  }

  /** HTTP request body bytes, de-chunked; `start`: the first of a new body. */
  body(piece: Buffer, start: boolean): RpcHit | undefined {
    return (this.bodies ??= new DualLexer()).push(piece, start);
  }

  /** Unmasked WebSocket data-frame payload, read per message and as the stream a relay makes of them; `messageStart`: a new message's first bytes. */
  ws(piece: Buffer, messageStart: boolean): RpcHit | undefined {
    const a = (this.wsMessages ??= new Lexer(false)).push(piece, messageStart);
    const b = (this.wsStream ??= new DualLexer()).push(piece);
    return a ?? b;
  }
}
