// Why: the merged trace state holds every episode that ran under a source with alerts — 136 k of
// them for 10 M tool calls — and the analysis reads only their windows, counts, hosts and keys.
// Built as objects on the main thread (one EpisodeAgg and a keys array each), they were the serial
// tail's largest cost after the workers finished (≈ 0.3 s of building and as much of garbage
// collection). This table keeps them as columns: the workers' columns are merged into it by the
// numbers the addon gives their names, and an episode becomes an object (agg()) only when the
// result lists it. Threat stopped: none beyond speed; it holds what the objects held.
import type { EpisodeAgg, EpisodeColumns } from './linker.js';
import { episodeKey, episodeName } from './episode-key.js';

/** The merged episodes with alert keys: episode i's fields at index i; its keys are keyStart[i]..keyEnd[i] of keyIdx/keyFrom/keyTo. */
export class EpisodeTable {
  constructor(
    readonly count: number,
    /** Strings of run, host, sandbox and key (indexes below; -1: absent). */
    readonly dict: string[],
    readonly run: Int32Array, readonly host: Int32Array, readonly sandbox: Int32Array,
    readonly start: Float64Array, readonly end: Float64Array, readonly calls: Float64Array,
    readonly minStep: Float64Array, readonly maxStep: Float64Array,
    readonly keyStart: Int32Array, readonly keyEnd: Int32Array,
    readonly keyIdx: Int32Array, readonly keyFrom: Float64Array, readonly keyTo: Float64Array,
    private readonly keyOf: (i: number) => string,
  ) {}

  /** The identity of episode i (episodeKey: run + name). */
  key(i: number): string { return this.keyOf(i); }

  /** The name of episode i. */
  name(i: number): string { return episodeName(this.keyOf(i)); }

  /** A string of dict (undefined for -1). */
  str(i: number): string | undefined { return i < 0 ? undefined : this.dict[i]; }

  /** Episode i as an object (a new one each call). */
  agg(i: number): EpisodeAgg {
    const keys: EpisodeAgg['keys'] = [];
    for (let j = this.keyStart[i]!; j < this.keyEnd[i]!; j++) keys.push({ key: this.dict[this.keyIdx[j]!]!, from: this.keyFrom[j]!, to: this.keyTo[j]! });
    return {
      episode: this.name(i), run: this.str(this.run[i]!), host: this.str(this.host[i]!), sandbox: this.str(this.sandbox[i]!),
      start: this.start[i]!, end: this.end[i]!, calls: this.calls[i]!, minStep: this.minStep[i]!, maxStep: this.maxStep[i]!, keys,
    };
  }

  /** Every episode as an object, in order (tests, small inputs). */
  toAggs(): EpisodeAgg[] {
    return Array.from({ length: this.count }, (_, i) => this.agg(i));
  }

  /** The indexes of the episodes whose identities (episodeKey) are in keys (keys not in the table are left out). */
  indexOf(keys: ReadonlySet<string>): Map<string, number> {
    const out = new Map<string, number>();
    if (keys.size === 0) return out;
    for (let i = 0; i < this.count && out.size < keys.size; i++) {
      const n = this.key(i);
      if (keys.has(n) && !out.has(n)) out.set(n, i);
    }
    return out;
  }

  /** A table of episode objects (the single-thread path and small merges). */
  static fromAggs(list: readonly EpisodeAgg[]): EpisodeTable {
    const b = new TableBuilder(list.length);
    const nkeys = list.reduce((n, e) => n + e.keys.length, 0);
    b.reserveKeys(nkeys);
    list.forEach((e, i) => {
      b.first(i, b.id(e.run), b.id(e.host), b.id(e.sandbox), e.start, e.end, e.calls, e.minStep, e.maxStep);
      for (const k of e.keys) b.addKey(i, b.id(k.key), k.from, k.to);
    });
    return b.done((i) => list[i]!.id ?? episodeKey(list[i]!.run, list[i]!.episode));
  }

  /**
   * The keyed episodes of several workers' columns, merged by identity (run + name, as packed): ids[p][i] is the number of
   * episode i of part p (numbered by first occurrence, parts in order: the addon's nameIds), count
   * the distinct ones. An episode seen in several parts keeps the first part's run, host and
   * sandbox; windows widen, counts add, and keys are joined in the order the parts list them.
   */
  static merge(parts: readonly EpisodeColumns[], ids: readonly Int32Array[], count: number): EpisodeTable {
    const b = new TableBuilder(count);
    // Key slots: every part's keys of an episode, at most (duplicates are left out as they are added).
    const room = new Int32Array(count + 1);
    parts.forEach((c, p) => { const id = ids[p]!; for (let i = 0; i < id.length; i++) room[id[i]! + 1]! += c.keyStarts[i + 1]! - c.keyStarts[i]!; });
    for (let i = 0; i < count; i++) room[i + 1]! += room[i]!;
    b.reserveKeys(room[count]!, room);
    const srcPart = new Int32Array(count).fill(-1), srcPos = new Int32Array(count);
    parts.forEach((c, p) => {
      const id = ids[p]!;
      const remap = c.dict.map((s) => b.id(s));
      const at = (x: number): number => (x < 0 ? -1 : remap[x]!);
      for (let i = 0; i < id.length; i++) {
        const e = id[i]!, o = i * 5;
        if (srcPart[e] === -1) {
          srcPart[e] = p; srcPos[e] = i;
          b.first(e, at(c.run[i]!), at(c.host[i]!), at(c.sandbox[i]!), c.num[o]!, c.num[o + 1]!, c.num[o + 2]!, c.num[o + 3]!, c.num[o + 4]!);
        } else b.more(e, c.num[o]!, c.num[o + 1]!, c.num[o + 2]!, c.num[o + 3]!, c.num[o + 4]!);
        for (let j = c.keyStarts[i]!; j < c.keyStarts[i + 1]!; j++) b.addKey(e, remap[c.keyIdx[j]!]!, c.keyFrom[j]!, c.keyTo[j]!);
      }
    });
    const starts = parts.map((c) => c.nameEnds);
    return b.done((i) => {
      const p = srcPart[i]!, k = srcPos[i]!, ends = starts[p]!;
      return parts[p]!.names.slice(k === 0 ? 0 : ends[k - 1]!, ends[k]!);
    });
  }
}

/** Fills the columns of an EpisodeTable. */
class TableBuilder {
  private readonly dict: string[] = [];
  private readonly ids = new Map<string, number>();
  readonly run: Int32Array; readonly host: Int32Array; readonly sandbox: Int32Array;
  readonly start: Float64Array; readonly end: Float64Array; readonly calls: Float64Array;
  readonly minStep: Float64Array; readonly maxStep: Float64Array;
  private keyStart = new Int32Array(0); private keyEnd = new Int32Array(0);
  private keyIdx = new Int32Array(0); private keyFrom = new Float64Array(0); private keyTo = new Float64Array(0);
  private packed = true; // keys appended in episode order (fromAggs): each episode's start is where the last ended

  constructor(private readonly count: number) {
    this.run = new Int32Array(count); this.host = new Int32Array(count); this.sandbox = new Int32Array(count);
    this.start = new Float64Array(count); this.end = new Float64Array(count); this.calls = new Float64Array(count);
    this.minStep = new Float64Array(count); this.maxStep = new Float64Array(count);
  }

  id(s: string | undefined): number {
    if (s === undefined) return -1;
    let i = this.ids.get(s);
    if (i === undefined) { i = this.dict.length; this.dict.push(s); this.ids.set(s, i); }
    return i;
  }

  /** Room for n keys; offsets (count + 1 prefix sums) give each episode its own slots, else keys are appended in episode order. */
  reserveKeys(n: number, offsets?: Int32Array): void {
    this.keyIdx = new Int32Array(n); this.keyFrom = new Float64Array(n); this.keyTo = new Float64Array(n);
    this.keyStart = offsets ? offsets.slice(0, this.count) : new Int32Array(this.count);
    this.keyEnd = offsets ? Int32Array.from(this.keyStart) : new Int32Array(this.count);
    this.packed = offsets === undefined;
  }

  first(i: number, run: number, host: number, sandbox: number, start: number, end: number, calls: number, minStep: number, maxStep: number): void {
    this.run[i] = run; this.host[i] = host; this.sandbox[i] = sandbox;
    this.start[i] = start; this.end[i] = end; this.calls[i] = calls; this.minStep[i] = minStep; this.maxStep[i] = maxStep;
    if (this.packed) { const at = i === 0 ? 0 : this.keyEnd[i - 1]!; this.keyStart[i] = at; this.keyEnd[i] = at; }
  }

  more(i: number, start: number, end: number, calls: number, minStep: number, maxStep: number): void {
    this.start[i] = Math.min(this.start[i]!, start); this.end[i] = Math.max(this.end[i]!, end); this.calls[i]! += calls;
    this.minStep[i] = Math.min(this.minStep[i]!, minStep); this.maxStep[i] = Math.max(this.maxStep[i]!, maxStep);
  }

  /** Adds a key to episode i unless it has that key with that validity start already. */
  addKey(i: number, key: number, from: number, to: number): void {
    const s = this.keyStart[i]!, e = this.keyEnd[i]!;
    for (let j = s; j < e; j++) if (this.keyIdx[j] === key && this.keyFrom[j] === from) return;
    this.keyIdx[e] = key; this.keyFrom[e] = from; this.keyTo[e] = to;
    this.keyEnd[i] = e + 1;
  }

  done(keyOf: (i: number) => string): EpisodeTable {
    return new EpisodeTable(this.count, this.dict, this.run, this.host, this.sandbox, this.start, this.end, this.calls, this.minStep, this.maxStep,
      this.keyStart, this.keyEnd, this.keyIdx, this.keyFrom, this.keyTo, keyOf);
  }
}
