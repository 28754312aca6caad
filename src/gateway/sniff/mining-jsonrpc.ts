// Why: cryptocurrency pools speak newline-delimited JSON-RPC over plain TCP (Stratum v1,
// XMR-style login/submit, eth stratum), and solo miners and merged-mining proxies speak
// bitcoind's JSON-RPC (getblocktemplate, getwork, submitblock, getauxblock), as bare lines or as
// HTTP POST bodies. Recognising those messages lets the gateway block mining whatever address or
// port the pool hides behind.
// Threat stopped: a sandboxed agent mining through a pool (or a proxy to one) on an allowed
// address, including pools reached after an innocuous first message (containsMiningRpc and
// MiningRpcScanner look at every later chunk: the lines of an HTTP request's body too),
// duplicate-key and \u-escape tricks (each line is checked both as parsed JSON and as raw text),
// and stripped-down miners (an XMR `login` without agent or pass, a `submit` without job_id).
// False positives weighed: the bitcoind mining methods are used by nothing but mining software;
// Ethereum's ordinary JSON-RPC (eth_call, eth_blockNumber …) is not mining, only its four
// getWork-style methods are. `login` is mining when its params carry a `login` key and either
// pass/agent/rigid, a Monero-style wallet as the login, or no key outside the XMR login set
// (login, pass, agent, rigid, algo, algo-perf): a web API's {"method":"login","params":
// {"username":…,"password":…}} or {"login":…,"password":…} stays other; a bare {"login":"alice"}
// is taken for a miner (no web login we know of sends a name without a secret). `submit` is
// mining with job_id, or with a hex nonce (8-16 digits) and a hex result of 32+ digits.
// Out of scope: WebSocket frames (masked), compressed or chunked HTTP bodies, a JSON body
// pretty-printed so that `login` and its keys fall on different lines, binary Stratum v2.

import { markerFinder } from './marker-search.js';
import type { SniffResult } from './index.js';

/** A first JSON line still unterminated after this many bytes: decide with what has arrived. */
export const MAX_JSON_LINE = 4096;
/** At most this many complete lines are examined by parseMiningRpc. */
const MAX_LINES = 32;
/** Lines longer than this are only checked as raw text, never JSON-parsed whole. */
const MAX_PARSE_LINE = 65536;

const ETH_METHODS = new Set(['eth_submitLogin', 'eth_getWork', 'eth_submitWork', 'eth_submitHashrate']);
/** bitcoind's mining RPC (BIP 22/23 getblocktemplate, the old getwork, merged mining's aux blocks). */
const BLOCK_METHODS = new Set(['getblocktemplate', 'getwork', 'submitblock', 'getauxblock', 'createauxblock', 'submitauxblock']);
/** Keys an XMR stratum login carries; a login with other keys (password, username, token …) is some web API's. */
const XMR_LOGIN_KEYS = new Set(['login', 'pass', 'agent', 'rigid', 'algo', 'algo-perf']);
/** A Monero address (95 base58 characters, 106 integrated) at the start of a login, maybe with .worker or +diff after it. */
const MONERO_WALLET = /^[48][1-9A-HJ-NP-Za-km-z]{94}(?:[1-9A-HJ-NP-Za-km-z]{11})?(?:$|[.+/:@])/;
const HEX_NONCE = /^[0-9a-fA-F]{8,16}$/;
const HEX_RESULT = /^[0-9a-fA-F]{32,128}$/;

export interface MiningVerdict {
  mining: boolean;
  /** The JSON-RPC method seen (for mining and non-mining messages). */
  method?: string;
  detail?: string;
}

const NONE = (): MiningVerdict => ({ mining: false });

function clean(s: string, max = 64): string {
  return s.slice(0, max).replace(/[^\x20-\x7e]/g, '?');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isMiningMethodName(m: string): boolean {
  return m.startsWith('mining.') || ETH_METHODS.has(m) || BLOCK_METHODS.has(m);
}

/** Whether a message with this method can be mining at all (classifyRpcMessage says no to every other): a cheap gate for hot paths. */
export function mayBeMiningMethod(m: string): boolean {
  return isMiningMethodName(m) || m === 'login' || m === 'submit' || m === 'getjob' || m === 'keepalived';
}

/** An XMR stratum login (see the header for why each shape counts). */
function isXmrLogin(params: Record<string, unknown>): boolean {
  if (typeof params.login !== 'string') return false;
  if ('pass' in params || typeof params.agent === 'string' || 'rigid' in params) return true;
  if (MONERO_WALLET.test(params.login)) return true;
  return Object.keys(params).every((k) => XMR_LOGIN_KEYS.has(k));
}

/** An XMR share: job_id, or a hex nonce and a hex result. */
function isXmrSubmit(params: Record<string, unknown>): boolean {
  if ('job_id' in params) return true;
  return typeof params.nonce === 'string' && HEX_NONCE.test(params.nonce) && typeof params.result === 'string' && HEX_RESULT.test(params.result);
}

/** Classifies one parsed JSON-RPC message (or a batch array of them). */
export function classifyRpcMessage(msg: unknown): MiningVerdict {
  if (Array.isArray(msg)) {
    let first: MiningVerdict = NONE();
    for (const m of msg.slice(0, 16)) {
      const v = classifyRpcMessage(m);
      if (v.mining) return v;
      if (first.method === undefined && v.method !== undefined) first = v;
    }
    return first;
  }
  if (!isObject(msg) || typeof msg.method !== 'string') return NONE();
  const method = msg.method;
  const name = clean(method);
  const params = msg.params;
  if (isMiningMethodName(method)) {
    let detail = name;
    if (method === 'mining.subscribe' && Array.isArray(params) && typeof params[0] === 'string' && params[0] !== '') {
      detail += ` agent=${clean(params[0])}`;
    }
    return { mining: true, method: name, detail };
  }
  if (method === 'login' && isObject(params) && isXmrLogin(params)) {
    const detail = typeof params.agent === 'string' ? `login agent=${clean(params.agent)}` : 'login';
    return { mining: true, method: name, detail };
  }
  if (method === 'submit' && isObject(params) && isXmrSubmit(params)) {
    return { mining: true, method: name, detail: name };
  }
  if ((method === 'getjob' || method === 'keepalived') && isObject(params)) {
    return { mining: true, method: name, detail: name };
  }
  return { mining: false, method: name, detail: name };
}

const METHOD_RE = /"method"\s*:\s*"([^"\\]{1,64})"/g;
const LOGIN_KEY_RE = /"login"\s*:/;
const PASS_KEY_RE = /"pass"\s*:/;
const AGENT_RE = /"agent"\s*:\s*"([^"\\]{0,64})"/;
const JOB_ID_KEY_RE = /"job_id"\s*:/;
const RIGID_KEY_RE = /"rigid"\s*:/;
const WALLET_LOGIN_RE = /"login"\s*:\s*"[48][1-9A-HJ-NP-Za-km-z]{94}/;
const NONCE_RE = /"nonce"\s*:\s*"[0-9a-fA-F]{8,16}"/;
const RESULT_RE = /"result"\s*:\s*"[0-9a-fA-F]{32,128}"/;
const PARAMS_KEY_RE = /"params"\s*:\s*\{/;

/**
 * Classifies raw text (a whole line, or the part of one that has arrived) without JSON parsing.
 * Catches what JSON.parse hides: duplicate "method" keys (a pool's parser may keep the first,
 * JSON.parse keeps the last), malformed JSON a lenient pool accepts, and partial lines.
 */
export function classifyRawText(text: string): MiningVerdict {
  let first: MiningVerdict = NONE();
  METHOD_RE.lastIndex = 0;
  let m: RegExpExecArray | null;
  let count = 0;
  while ((m = METHOD_RE.exec(text)) !== null && count++ < 64) {
    const method = m[1]!;
    const name = clean(method);
    if (isMiningMethodName(method)) return { mining: true, method: name, detail: name };
    // Raw text has no key set to compare (it may not parse); pass, agent, rigid or a wallet decide.
    if (method === 'login' && LOGIN_KEY_RE.test(text)) {
      const agent = AGENT_RE.exec(text);
      if (agent || PASS_KEY_RE.test(text) || RIGID_KEY_RE.test(text) || WALLET_LOGIN_RE.test(text)) {
        return { mining: true, method: name, detail: agent ? `login agent=${clean(agent[1]!)}` : 'login' };
      }
    }
    if (method === 'submit' && (JOB_ID_KEY_RE.test(text) || (NONCE_RE.test(text) && RESULT_RE.test(text)))) {
      return { mining: true, method: name, detail: name };
    }
    if ((method === 'getjob' || method === 'keepalived') && PARAMS_KEY_RE.test(text)) {
      return { mining: true, method: name, detail: name };
    }
    if (first.method === undefined) first = { mining: false, method: name, detail: name };
  }
  return first;
}

const U_ESCAPE_RE = /\\u([0-9a-fA-F]{4})/g;

/**
 * Raw text with its `\uXXXX` escapes of printable ASCII written out (a quote or backslash stays
 * escaped, so the text keeps its shape): `"\u006dethod":"\u006dining.subscribe"` reads as what a
 * pool's parser reads. Threat: a line too long to parse (over MAX_PARSE_LINE, or split across chunks)
 * hid an escaped method from the raw-text patterns (a review, session 23).
 */
function unescapeAscii(text: string): string {
  return text.replace(U_ESCAPE_RE, (all, hex: string) => {
    const c = parseInt(hex, 16);
    return c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c ? String.fromCharCode(c) : all;
  });
}

function isSpace(c: number): boolean { return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a; }

/**
 * Classifies buf[start, end) as one line: parsed JSON first, then raw text as a fallback (with its
 * escapes written out when it has any).
 */
export function classifyLine(buf: Buffer, start: number, end: number): MiningVerdict & { json: boolean } {
  while (start < end && isSpace(buf[start]!)) start++;
  while (end > start && isSpace(buf[end - 1]!)) end--;
  let parsed: MiningVerdict = NONE();
  let json = false;
  const open = buf[start];
  const close = buf[end - 1];
  if (end - start <= MAX_PARSE_LINE && ((open === 0x7b && close === 0x7d) || (open === 0x5b && close === 0x5d))) {
    try {
      parsed = classifyRpcMessage(JSON.parse(buf.toString('utf8', start, end)));
      json = true;
      if (parsed.mining) return { ...parsed, json };
    } catch {
      // not complete JSON: the raw check below still applies
    }
  }
  const text = buf.toString('latin1', start, end);
  let raw = classifyRawText(text);
  if (raw.mining) return { ...raw, json };
  if (text.includes('\\u')) {
    const plain = classifyRawText(unescapeAscii(text));
    if (plain.mining) return { ...plain, json };
    if (raw.method === undefined) raw = plain;
  }
  return { ...(parsed.method !== undefined ? parsed : raw), json };
}

function resultOf(v: MiningVerdict): SniffResult {
  const r: SniffResult = { status: 'done', protocol: v.mining ? 'mining' : 'other' };
  if (v.method !== undefined) r.method = v.method;
  if (v.detail !== undefined) r.detail = v.detail;
  return r;
}

/**
 * Classifies bytes that may start a newline-delimited JSON-RPC stream. Looks at up to 32
 * complete lines and the trailing partial one. An unterminated first line that is neither
 * complete JSON nor already recognisable as mining is 'incomplete' while under 4 KiB.
 */
export function parseMiningRpc(buf: Buffer): SniffResult {
  try {
    let pos = 0;
    while (pos < buf.length && isSpace(buf[pos]!)) pos++;
    if (pos >= buf.length) return { status: buf.length < MAX_JSON_LINE ? 'incomplete' : 'done', protocol: 'other' };
    if (buf[pos] !== 0x7b && buf[pos] !== 0x5b) return { status: 'done', protocol: 'other' };
    let first: MiningVerdict | undefined;
    for (let lines = 0; pos < buf.length && lines < MAX_LINES; lines++) {
      const lf = buf.indexOf(0x0a, pos);
      if (lf < 0) {
        // Trailing partial line.
        const v = classifyLine(buf, pos, buf.length);
        if (v.mining) return resultOf(v);
        if (first !== undefined) return resultOf(first);
        if (v.json) return resultOf(v); // a complete JSON value sent without a newline
        if (buf.length - pos < MAX_JSON_LINE) return { status: 'incomplete', protocol: 'other' };
        return resultOf(v);
      }
      const v = classifyLine(buf, pos, lf);
      if (v.mining) return resultOf(v);
      // Keep going after a non-mining (even non-JSON) line: a lenient pool may skip it.
      if (first === undefined || (first.method === undefined && v.method !== undefined)) first = v;
      pos = lf + 1;
    }
    return resultOf(first ?? NONE());
  } catch {
    return { status: 'done', protocol: 'other' };
  }
}


/**
 * For chunks later in a client stream: returns the mining method if any line in the chunk
 * (including a partial first or last line) is mining JSON-RPC. Only lines holding a marker
 * string and a literal "method" key are checked fully (parsed JSON + raw text); lines whose
 * markers may be hidden by \u escapes are JSON-parsed when complete.
 */
export function containsMiningRpc(chunk: Buffer): { method: string } | null {
  try {
    // (the markers found by marker-search.ts: natively when the gateway's addon is built)
    const next = markerFinder(chunk);
    for (let at = next(0); at >= 0;) {
      const start = chunk.lastIndexOf(0x0a, at) + 1;
      let end = chunk.indexOf(0x0a, at);
      if (end < 0) end = chunk.length;
      const line = chunk.subarray(start, end);
      let v: MiningVerdict | undefined;
      // (escapes: parsed when whole, else read with them written out)
      if (line.indexOf('"method"') >= 0 || line.indexOf('\\u') >= 0) v = classifyLine(chunk, start, end);
      if (v?.mining) return { method: v.method ?? 'unknown' };
      if (end >= chunk.length) break;
      at = next(end + 1);
    }
    return null;
  } catch {
    return null;
  }
}

/**
 * Stateful per-flow wrapper around containsMiningRpc: keeps the unterminated last line of the
 * previous chunk (up to maxTail bytes) and prepends it, so a message split across chunk
 * boundaries (or stalled mid-line across the first-bytes sniff) is still seen whole.
 * Feed it every client chunk of a flow, the first one included.
 */
export class MiningRpcScanner {
  private tail: Buffer = Buffer.alloc(0);
  constructor(private readonly maxTail = 8192) {}

  push(chunk: Buffer): { method: string } | null {
    // Only the line the kept tail continues is joined (copied): the chunk's later lines are read where they lie
    // (the same lines either way; copying every 64 KiB chunk behind its tail was a tenth of an upload's cost).
    const firstLf = this.tail.length > 0 ? chunk.indexOf(0x0a) : -1;
    let hit: { method: string } | null;
    if (this.tail.length > 0 && firstLf >= 0) {
      hit = containsMiningRpc(Buffer.concat([this.tail, chunk.subarray(0, firstLf + 1)])) ?? containsMiningRpc(chunk.subarray(firstLf + 1));
    } else {
      const data = this.tail.length > 0 ? Buffer.concat([this.tail, chunk]) : chunk;
      hit = containsMiningRpc(data);
      if (this.tail.length > 0) chunk = data;
    }
    const lf = chunk.lastIndexOf(0x0a);
    const rest = lf >= 0 ? chunk.subarray(lf + 1) : chunk;
    // Copy so the scanner never pins a large chunk in memory.
    this.tail = Buffer.from(rest.subarray(Math.max(0, rest.length - this.maxTail)));
    return hit;
  }
}
