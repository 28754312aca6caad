// Why: JSON.parse of every line is most of an investigation's cost (2.7 GB of traces per 10 M
// tool calls, hundreds of MB of eve.json). The native scanner (native/json-lines.c) validates a
// whole chunk of lines against JSON's grammar in C and says where the values of a few named keys
// are; this wrapper holds its output arrays and turns the values a reader needs into JS values.
// A line the scanner cannot vouch for has status FULL: the reader then uses JSON.parse, so
// every bad line is still reported with file:line. Without the addon (not built), readers use
// JSON.parse for every line: slower, same answers.
// Threat stopped: a hostile log making the fast path accept a line JSON.parse would reject, or
// read a value differently (keys with escapes, duplicate keys, deep nesting all go to JSON.parse).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const T_ABSENT = 0, T_STR = 1, T_NUM = 2, T_TRUE = 3, T_FALSE = 4, T_NULL = 5, T_OBJ = 6, T_ARR = 7;
/** String flags: backslash escapes inside; bytes ≥ 0x80 (UTF-8) inside; same type and bytes as on the line before (keys asked for, values ≤ 128 bytes). */
export const F_ESC = 16, F_HIGH = 32, F_SAME = 64;
/** Line status: fields extracted; read this line with JSON.parse; only whitespace. */
export const ST_OK = 0, ST_FULL = 1, ST_BLANK = 2;

/** Node's Buffer#latin1Slice / #utf8Slice (no argument normalisation: hot loops build many short strings). */
type SliceBuffer = Buffer & { latin1Slice(start: number, end: number): string; utf8Slice(start: number, end: number): string };
export const latin1 = (b: Buffer, start: number, end: number): string => (b as SliceBuffer).latin1Slice(start, end);
export const utf8 = (b: Buffer, start: number, end: number): string => (b as SliceBuffer).utf8Slice(start, end);

interface Addon {
  scan(buf: Uint8Array, from: number, to: number, spec: Uint8Array, outI: Int32Array, outF: Float64Array): number;
  nameIds?: NameIds;
  /** Each group's sorted arrays merged into one sorted array, on a pool thread (native/sorted-merge.c; groups of 1-64 arrays). */
  mergeSortedRuns?: (groups: Float64Array[][]) => Promise<Float64Array[]>;
}

/** Numbers packed name lists by first occurrence (native/name-ids.c). */
export type NameIds = (parts: { names: string; nameEnds: Int32Array }[]) => { ids: Int32Array[]; count: number };

let loaded: Addon | null | undefined;

/**
 * The addon, or undefined when it was not built (readers then parse every line in JS). The
 * environment variable CORRAL_NO_NATIVE_SCANNER=1 turns it off (to compare answers, or to rule
 * the scanner out when chasing a problem).
 */
export function jsonLinesAddon(): Addon | undefined {
  if (loaded === undefined && process.env.CORRAL_NO_NATIVE_SCANNER === '1') loaded = null;
  if (loaded === undefined) {
    const here = dirname(fileURLToPath(import.meta.url));
    // dist/src/investigate/inputs → dist/native
    try { loaded = createRequire(import.meta.url)(join(here, '..', '..', '..', 'native', 'json-lines.node')) as Addon; } catch { loaded = null; }
  }
  return loaded ?? undefined;
}

/** A key at the top level, or [parent, child] one level down (the parent's value must be an object). */
export type KeyPath = string | readonly [string, string];

/** Lines per scan call: enough to amortise the call, small enough to stay in cache. */
const BATCH = 4096;

/**
 * Scans chunks of JSON Lines for a fixed set of keys. After scan(), line i's status, offsets and
 * the values of key k (by its index in the constructor's list) are read with the accessors.
 */
export class JsonLineScanner {
  readonly stride: number;
  readonly outI: Int32Array;
  readonly outF: Float64Array;
  private readonly spec: Buffer;
  /** Doubles per line in outF. */
  readonly k: number;

  /** same: indexes (into keys) of the keys whose lines should get F_SAME. */
  constructor(private readonly addon: Addon, keys: readonly KeyPath[], same: readonly number[] = []) {
    // Names are compared as bytes in C, which is JSON.parse's comparison of decoded text only for
    // names of 1-63 UTF-8 bytes without control characters, '"', '\\', U+FFFD (what invalid UTF-8
    // decodes to) or lone surrogates: other names are refused rather than silently never found.
    for (const k of keys) for (const name of typeof k === 'string' ? [k] : k) {
      const n = Buffer.byteLength(name);
      if (n < 1 || n > 63 || /["\\\x00-\x1f\ufffd]/.test(name) || Buffer.from(name).toString() !== name) throw new Error(`JsonLineScanner: key ${JSON.stringify(name)} must be 1-63 UTF-8 bytes without control characters, '"', '\\', U+FFFD or lone surrogates`);
    }
    if (new Set(keys.map((k) => JSON.stringify(k))).size !== keys.length) throw new Error('JsonLineScanner: a key is listed twice');
    const names: string[] = [];
    const parents: number[] = [];
    const idx = (name: string, parent: number): number => {
      for (let i = 0; i < names.length; i++) if (names[i] === name && parents[i] === parent) return i;
      names.push(name); parents.push(parent);
      return names.length - 1;
    };
    // The caller's keys keep their indexes 0..n-1; parents not listed are appended after them.
    const pending: [number, string][] = [];
    for (const k of keys) {
      if (typeof k === 'string') idx(k, -1);
      else { names.push(k[1]); parents.push(-2); pending.push([names.length - 1, k[0]]); }
    }
    for (const [i, parent] of pending) parents[i] = idx(parent, -1);
    // The spec lists parents before children: order entries so, and map caller indexes.
    const order: number[] = [];
    for (let i = 0; i < names.length; i++) if (parents[i] === -1) order.push(i);
    for (let i = 0; i < names.length; i++) if (parents[i]! >= 0) order.push(i);
    if (order.length > 64) throw new Error(`JsonLineScanner: at most 64 keys, got ${order.length}`);
    // (parent + 1 must fit in 7 bits: guaranteed by the 64-key limit)
    const pos = new Map(order.map((orig, at) => [orig, at]));
    this.remap = Int32Array.from(keys.map((_, i) => pos.get(i)!));
    const parts: Buffer[] = [];
    for (const orig of order) {
      const p = parents[orig]!;
      const flag = orig < keys.length && same.includes(orig) ? 0x80 : 0;
      parts.push(Buffer.from([flag | (p < 0 ? 0 : pos.get(p)! + 1)]), Buffer.from(names[orig]!, 'utf8'), Buffer.from([0]));
    }
    this.spec = Buffer.concat(parts);
    this.k = order.length;
    this.stride = 4 + 3 * this.k;
    this.outI = new Int32Array(BATCH * this.stride);
    this.outF = new Float64Array(BATCH * this.k);
  }

  /** Spec position of each caller key index. */
  private readonly remap: Int32Array;

  /**
   * For hot loops: key k's type|flags is outI[i * stride + slot(k)], its offset and length follow;
   * its number is outF[i * k + fslot(k)].
   */
  slot(k: number): number { return 4 + 3 * this.remap[k]!; }
  fslot(k: number): number { return this.remap[k]!; }

  /** Scans the complete lines of buf[from, to); returns how many were indexed (continue after lineEnd(n-1)). */
  scan(buf: Buffer, from: number, to: number): number {
    return this.addon.scan(buf, from, to, this.spec, this.outI, this.outF);
  }

  lineStart(i: number): number { return this.outI[i * this.stride]!; }
  /** Index of the line's '\n'. */
  lineEnd(i: number): number { return this.outI[i * this.stride + 1]!; }
  status(i: number): number { return this.outI[i * this.stride + 2]!; }
  /** End of the line's content (before a trailing '\r'). */
  contentEnd(i: number): number { return this.outI[i * this.stride + 3]!; }
  /** Type (low 4 bits) and flags of key k on line i. */
  tf(i: number, k: number): number { return this.outI[i * this.stride + 4 + 3 * this.remap[k]!]!; }
  off(i: number, k: number): number { return this.outI[i * this.stride + 5 + 3 * this.remap[k]!]!; }
  len(i: number, k: number): number { return this.outI[i * this.stride + 6 + 3 * this.remap[k]!]!; }
  /** A number's value, or a zoned ISO timestamp string as epoch ms (NaN otherwise). */
  num(i: number, k: number): number { return this.outF[i * this.k + this.remap[k]!]!; }

  /** The string value of key k (which must be T_STR), decoded as JSON.parse would. */
  str(buf: Buffer, i: number, k: number): string {
    const tf = this.tf(i, k), o = this.off(i, k), n = this.len(i, k);
    if (tf & F_ESC) return JSON.parse(`"${utf8(buf, o, o + n)}"`) as string;
    return tf & F_HIGH ? utf8(buf, o, o + n) : latin1(buf, o, o + n);
  }

  /** Key k's value as JSON.parse would give it (objects and arrays are parsed from their bytes). */
  value(buf: Buffer, i: number, k: number): unknown {
    const tf = this.tf(i, k), t = tf & 15;
    switch (t) {
      case T_ABSENT: return undefined;
      case T_STR: return this.str(buf, i, k);
      case T_NUM: return this.num(i, k);
      case T_TRUE: return true;
      case T_FALSE: return false;
      case T_NULL: return null;
      default: { const o = this.off(i, k); return JSON.parse(buf.toString('utf8', o, o + this.len(i, k))) as unknown; }
    }
  }
}
