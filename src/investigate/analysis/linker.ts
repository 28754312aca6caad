// Why: the second pass streams every tool call once (10 M of them at fleet scale) and keeps
// only what the analysis needs: the calls that could explain an alert (candidates), per-episode
// windows, and the tool-call time of every source that raised alerts (the exposure of the
// enrichment test). Everything else is dropped as it streams past, so memory is bounded by the
// alerts, not by the traces. It runs on the main thread or inside trace workers (state is plain
// data so it can cross a thread boundary).
import type { ToolCallSpan } from '../types.js';
import { f64, Growable, lowerBound, mergeSorted } from './columns.js';
import { jsonLinesAddon, type NameIds } from '../inputs/json-lines.js';
import { leavesProcessRunning } from './command-evidence.js';
import { EpisodeTable } from './episode-table.js';
import { episodeKey, episodeName, parseEpisodeKey } from './episode-key.js';
import type { PlacementIndex, SpanKey } from './placements.js';

/** Alerts of one source key (sorted times), as shipped to the linker. */
export interface KeyAlertsInput { kind: 'ip' | 'host'; value: string; ts: Float64Array }

export interface LinkOptions {
  /** Clock skew between trace and firewall clocks, ms (windows widen by it on both sides). */
  skewMs: number;
  /** Longest time after a call's end that a process it left running may still be blamed on it, ms. */
  lagMs: number;
  /** Lag candidates whose command shows no way to outlive the call are kept only this long after its end, ms. */
  graceMs: number;
}

export interface EpisodeAgg {
  episode: string; run?: string; host?: string; sandbox?: string;
  start: number; end: number; calls: number; minStep: number; maxStep: number;
  /** Source keys with alerts this episode ran under ('ip:…' / 'host:…') and their validity. */
  keys: { key: string; from: number; to: number }[];
  /** Its identity, episodeKey(run, episode), when at hand (the native linker's): not built again. */
  id?: string;
}

/** The identity of an episode (episode-key.ts). */
const idOf = (e: EpisodeAgg): string => e.id ?? episodeKey(e.run, e.episode);

export interface Candidate { n: number; span: ToolCallSpan; keys: { key: string; from: number; to: number }[]; detached: boolean }

export interface LinkState {
  spans: number;
  candidates: Candidate[];
  episodes: EpisodeAgg[];
  /** Widened call windows per key, for the enrichment test (starts and ends each sorted when sorted). */
  exposure: { key: string; starts: Float64Array; ends: Float64Array; sorted?: boolean }[];
  minTs: number; maxTs: number;
  /** Distinct episodes, including those only in rest. */
  episodeCount: number;
  /**
   * Episodes without keys, as flat arrays: see SpanLinker.state(compact). Their identities
   * (episodeKey: run + episode) are concatenated (names may hold any character, so no
   * separator): key i is names.slice(nameEnds[i - 1] ?? 0, nameEnds[i]).
   */
  rest?: PackedNames & { start: Float64Array; end: Float64Array; calls: Int32Array };
  /** Compact states: the episodes with keys as columns (episodes is then empty); see keyedColumns(). */
  keyed?: EpisodeColumns;
}

/**
 * Episodes with keys as flat columns, so a worker sends them as a few buffers instead of a
 * hundred thousand objects (structured cloning them was ≈ 0.3 s per worker and as much again to
 * read them on the main thread). Identities (episodeKey) are concatenated with end offsets; run, host, sandbox and
 * key strings are indexes into dict (-1: absent); num holds start, end, calls, minStep, maxStep
 * per episode; episode i's keys are keyStarts[i]..keyStarts[i+1] of keyIdx/keyFrom/keyTo.
 */
export interface EpisodeColumns extends PackedNames {
  dict: string[];
  run: Int32Array; host: Int32Array; sandbox: Int32Array; num: Float64Array;
  keyStarts: Int32Array; keyIdx: Int32Array; keyFrom: Float64Array; keyTo: Float64Array;
}

const EP_NUM = 5;

/**
 * What the native trace linker (analysis/native-link.ts) took of one range, for state() to fold
 * in: its calls, its episodes with alert keys (none of them also an episode of this linker; see
 * foldNative) with the line of their first call, its other episodes as columns, and the exposure
 * it recorded per key.
 */
export interface NativePart {
  calls: number; minTs: number; maxTs: number;
  keyed: { ep: EpisodeAgg; first: number }[];
  rest: PackedNames & { start: Float64Array; end: Float64Array; calls: Int32Array };
  exposure: Map<string, { starts: Float64Array; ends: Float64Array }>;
}

/** An episode of the native linker as foldNative() receives it (keys: key strings, all unbounded). */
export interface NativeEpisode { start: number; end: number; calls: number; first: number; run?: string; host?: string; sandbox?: string; keys: string[] }

/** Names packed without a separator (a name may hold any character): one string and the end offset of each. */
export interface PackedNames { names: string; nameEnds: Int32Array }

export function packNames(list: string[]): PackedNames {
  const nameEnds = new Int32Array(list.length);
  let at = 0;
  list.forEach((n, i) => { at += n.length; nameEnds[i] = at; });
  return { names: list.join(''), nameEnds };
}

/** The names of packNames(), in order. */
export function* unpackNames(p: PackedNames): Generator<string> {
  let from = 0;
  for (let i = 0; i < p.nameEnds.length; i++) { yield p.names.slice(from, p.nameEnds[i]!); from = p.nameEnds[i]!; }
}

function keyedColumns(eps: EpisodeAgg[]): EpisodeColumns {
  const dict: string[] = [], ids = new Map<string, number>();
  const id = (v: string | undefined): number => {
    if (v === undefined) return -1;
    let i = ids.get(v);
    if (i === undefined) { i = dict.length; dict.push(v); ids.set(v, i); }
    return i;
  };
  const n = eps.length;
  const run = new Int32Array(n), host = new Int32Array(n), sandbox = new Int32Array(n), num = new Float64Array(n * EP_NUM);
  const keyStarts = new Int32Array(n + 1);
  const keyIdx: number[] = [], keyFrom: number[] = [], keyTo: number[] = [];
  eps.forEach((e, i) => {
    run[i] = id(e.run); host[i] = id(e.host); sandbox[i] = id(e.sandbox);
    num.set([e.start, e.end, e.calls, e.minStep, e.maxStep], i * EP_NUM);
    keyStarts[i] = keyIdx.length;
    for (const k of e.keys) { keyIdx.push(id(k.key)); keyFrom.push(k.from); keyTo.push(k.to); }
  });
  keyStarts[n] = keyIdx.length;
  return { ...packNames(eps.map(idOf)), dict, run, host, sandbox, num, keyStarts, keyIdx: Int32Array.from(keyIdx), keyFrom: Float64Array.from(keyFrom), keyTo: Float64Array.from(keyTo) };
}

/** The buffers of a compact state (to transfer, not copy, to another thread). */
export function stateBuffers(s: LinkState): ArrayBuffer[] {
  const out: ArrayBufferLike[] = s.exposure.flatMap((x) => [x.starts.buffer, x.ends.buffer]);
  if (s.rest) out.push(s.rest.nameEnds.buffer, s.rest.start.buffer, s.rest.end.buffer, s.rest.calls.buffer);
  const k = s.keyed;
  if (k) out.push(k.nameEnds.buffer, k.run.buffer, k.host.buffer, k.sandbox.buffer, k.num.buffer, k.keyStarts.buffer, k.keyIdx.buffer, k.keyFrom.buffer, k.keyTo.buffer);
  return out as ArrayBuffer[];
}

/** The keyed episodes of a compact state as fresh objects (in their original order). */
function* keyedEpisodes(c: EpisodeColumns): Generator<EpisodeAgg> {
  const str = (i: number): string | undefined => (i < 0 ? undefined : c.dict[i]);
  let i = 0;
  for (const id of unpackNames(c)) {
    const episode = episodeName(id);
    const keys: EpisodeAgg['keys'] = [];
    for (let j = c.keyStarts[i]!; j < c.keyStarts[i + 1]!; j++) keys.push({ key: c.dict[c.keyIdx[j]!]!, from: c.keyFrom[j]!, to: c.keyTo[j]! });
    const o = i * EP_NUM;
    yield {
      id, episode, run: str(c.run[i]!), host: str(c.host[i]!), sandbox: str(c.sandbox[i]!),
      start: c.num[o]!, end: c.num[o + 1]!, calls: c.num[o + 2]!, minStep: c.num[o + 3]!, maxStep: c.num[o + 4]!, keys,
    };
    i++;
  }
}

export interface KeyState { key: string; ts: Float64Array; starts: Growable<Float64Array>; ends: Growable<Float64Array> }

export class SpanLinker {
  private readonly ip = new Map<string, KeyState>();
  private readonly host = new Map<string, KeyState>();
  /** Episodes by run, then name (no string built per call); noRun: those without a run. order: by first call. */
  private readonly byRun = new Map<string, Map<string, EpisodeAgg>>();
  private readonly noRun = new Map<string, EpisodeAgg>();
  private readonly order: EpisodeAgg[] = [];
  private lastRun: string | undefined;
  private lastRunMap: Map<string, EpisodeAgg> | undefined;
  private readonly candidates: Candidate[] = [];
  private readonly placementKeys: SpanKey[] = [];
  private spans = 0;
  private minTs = Infinity; maxTs = -Infinity;
  /**
   * Added to the ordinal of the next call add() numbers: the calls of this range another reader
   * (the native linker) took before it, so every call keeps the number a single reader gives it.
   */
  ordinalOffset = 0;
  /** Line of each episode's first call (kept only with trackFirstLines(), to fold a native part in line order). */
  private firstLine: Map<EpisodeAgg, number> | undefined;
  private native: NativePart | undefined;

  constructor(keys: KeyAlertsInput[], private readonly placements: PlacementIndex | undefined, readonly opts: LinkOptions, private readonly numberBase = 0) {
    for (const k of keys) {
      const st: KeyState = { key: `${k.kind}:${k.value}`, ts: k.ts, starts: f64(16), ends: f64(16) };
      (k.kind === 'ip' ? this.ip : this.host).set(k.value, st);
    }
  }

  /** Consumes one tool call (hot path: no allocation unless the call matters). */
  add(span: ToolCallSpan): void {
    const n = this.numberBase + this.ordinalOffset + this.spans++;
    const { skewMs, lagMs } = this.opts;
    if (span.start < this.minTs) this.minTs = span.start;
    if (span.end > this.maxTs) this.maxTs = span.end;
    const run = span.run;
    let byName = this.noRun;
    if (run !== undefined) {
      if (run === this.lastRun) byName = this.lastRunMap!;
      else {
        let m = this.byRun.get(run);
        if (!m) { m = new Map<string, EpisodeAgg>(); this.byRun.set(run, m); }
        byName = m; this.lastRun = run; this.lastRunMap = m;
      }
    }
    let ep = byName.get(span.episode);
    if (!ep) {
      ep = { episode: span.episode, run, host: span.host, sandbox: span.sandbox, start: span.start, end: span.end, calls: 0, minStep: Infinity, maxStep: -Infinity, keys: [] };
      byName.set(span.episode, ep);
      this.order.push(ep);
      this.firstLine?.set(ep, span.line);
    }
    ep.calls++;
    if (span.start < ep.start) ep.start = span.start;
    if (span.end > ep.end) ep.end = span.end;
    if (span.step !== undefined) { if (span.step < ep.minStep) ep.minStep = span.step; if (span.step > ep.maxStep) ep.maxStep = span.step; }

    const until = span.end + lagMs;
    let hit: Candidate | undefined;
    const ips = span.ips;
    if (ips) for (let i = 0; i < ips.length; i++) {
      const st = this.ip.get(ips[i]!);
      if (st) hit = this.visit(st, span, n, -Infinity, Infinity, until, ep, hit);
    }
    let ipKnown = ips !== undefined && ips.length > 0;
    if (this.placements) {
      const pk = this.placementKeys;
      pk.length = 0;
      this.placements.keysFor(span, until + skewMs, pk);
      if (pk.length) ipKnown = true;
      for (const k of pk) {
        const st = this.ip.get(k.value);
        if (st) hit = this.visit(st, span, n, k.from, k.to, until, ep, hit);
      }
    }
    // The host name links only calls whose IP nobody knows: when it is known, traffic from the
    // host's other addresses comes from the host itself (its daemons), not from this call.
    if (span.host !== undefined && !ipKnown) {
      const st = this.host.get(span.host);
      if (st) hit = this.visit(st, span, n, -Infinity, Infinity, until, ep, hit);
    }
    if (hit) this.candidates.push(hit);
  }

  /** The IPs with alerts and their sorted alert times, in the order state() lists their exposure. */
  alertIps(): { value: string; ts: Float64Array; key: string }[] {
    return [...this.ip].map(([value, st]) => ({ value, ts: st.ts, key: st.key }));
  }

  /** Keep the line of each episode's first call (call before the first add()). */
  trackFirstLines(): void { this.firstLine ??= new Map(); }

  /**
   * Folds the native linker's share of this linker's episodes into them (take(key) hands over
   * and forgets the native episode of that identity, episodeKey()): windows and counts add up,
   * keys are joined, and host and sandbox are those of whichever first call came first.
   */
  foldNative(take: (key: string) => NativeEpisode | undefined): void {
    for (const ep of this.order) {
      const c = take(idOf(ep));
      if (!c) continue;
      if (c.start < ep.start) ep.start = c.start;
      if (c.end > ep.end) ep.end = c.end;
      ep.calls += c.calls;
      for (const key of c.keys) if (!ep.keys.some((k) => k.key === key && k.from === -Infinity)) ep.keys.push({ key, from: -Infinity, to: Infinity });
      const mine = this.firstLine?.get(ep) ?? Infinity;
      if (c.first < mine) { ep.host = c.host; ep.sandbox = c.sandbox; this.firstLine?.set(ep, c.first); }
    }
  }

  /** The rest of the native linker's work on this range (after foldNative), for state(). One per linker (one range). */
  absorb(part: NativePart): void {
    if (this.native) throw new Error('SpanLinker.absorb: a linker takes one native part (one linker per trace range)');
    this.native = part;
  }

  /** Records exposure on one key and checks its alerts against the call's window. */
  private visit(st: KeyState, span: ToolCallSpan, n: number, from: number, to: number, until: number, ep: EpisodeAgg, hit: Candidate | undefined): Candidate | undefined {
    const skew = this.opts.skewMs;
    const a = Math.max(span.start, from) - skew;
    const b = Math.min(span.end, to) + skew;
    if (b < a) return hit;
    st.starts.push(a); st.ends.push(b);
    let known = false;
    for (const k of ep.keys) if (k.key === st.key && k.from === from) { known = true; break; }
    if (!known) ep.keys.push({ key: st.key, from, to });
    const hi = Math.min(until, to) + skew;
    const i = lowerBound(st.ts, a);
    if (i >= st.ts.length || st.ts[i]! > hi) return hit;
    // Something lies in [start - skew, end + lag + skew]. After the call only counts if the call
    // could have left a process running (or its end is a guess); otherwise only within the grace.
    let detached = hit?.detached;
    if (st.ts[i]! > b + this.opts.graceMs && span.endKnown) {
      detached ??= leavesProcessRunning(span.command);
      if (!detached) return hit;
    }
    const entry = { key: st.key, from, to };
    if (hit) { hit.keys.push(entry); return hit; }
    return { n, span, keys: [entry], detached: detached ?? leavesProcessRunning(span.command) };
  }

  /**
   * The linker's result. compact: episodes that never ran under a key with alerts (most of a
   * fleet) are kept only as names, windows and call counts in flat arrays (cheap to send from a
   * worker thread); they count as episodes and merge into the same episode of another state.
   */
  state(compact = false): LinkState {
    const nat = this.native;
    // Compact states come from workers: they sort their windows, so the merge is linear.
    const exposure = [...this.ip.values(), ...this.host.values()]
      .map((s) => {
        let starts: Float64Array = s.starts.data.slice(0, s.starts.length), ends: Float64Array = s.ends.data.slice(0, s.ends.length);
        if (compact) { starts.sort(); ends.sort(); }
        // The native linker's windows come sorted: merged with this linker's (sorted above) when compact.
        const x = nat?.exposure.get(s.key);
        if (x && x.starts.length) {
          starts = compact ? mergeSorted([starts, x.starts]) : concat([starts, x.starts]);
          ends = compact ? mergeSorted([ends, x.ends]) : concat([ends, x.ends]);
        }
        return { key: s.key, starts, ends, sorted: compact };
      })
      .filter((x) => x.starts.length > 0);
    const base = {
      spans: this.spans + (nat?.calls ?? 0), candidates: this.candidates, exposure,
      minTs: Math.min(this.minTs, nat?.minTs ?? Infinity), maxTs: Math.max(this.maxTs, nat?.maxTs ?? -Infinity),
    };
    // Episodes in the order of their first call (a single reader's order): with a native part,
    // folding may have moved an episode's first call before those of episodes this linker met earlier.
    let all = [...this.order];
    if (nat) {
      const first = this.firstLine;
      const order = [...all.map((ep) => ({ ep, first: first?.get(ep) ?? Infinity })), ...nat.keyed];
      order.sort((a, b) => a.first - b.first);
      all = order.map((o) => o.ep);
    }
    const restCount = nat?.rest.nameEnds.length ?? 0;
    if (!compact) {
      if (nat) {
        const { start, end, calls } = nat.rest;
        let i = 0;
        for (const key of unpackNames(nat.rest)) { all.push({ ...parseEpisodeKey(key), start: start[i]!, end: end[i]!, calls: calls[i]!, minStep: Infinity, maxStep: -Infinity, keys: [] }); i++; }
      }
      return { ...base, episodes: all, episodeCount: all.length };
    }
    const keyed: EpisodeAgg[] = [];
    const names: string[] = [];
    const start = f64(1024), end = f64(1024), calls = new Growable(Int32Array, 1024);
    for (const e of all) {
      if (e.keys.length > 0) { keyed.push(e); continue; }
      names.push(idOf(e)); start.push(e.start); end.push(e.end); calls.push(e.calls);
    }
    const cut = <T extends Float64Array | Int32Array>(g: Growable<T>): T => g.data.slice(0, g.length) as T;
    let rest: NonNullable<LinkState['rest']> = { ...packNames(names), start: cut(start), end: cut(end), calls: cut(calls) };
    if (nat && restCount) rest = joinRest(rest, nat.rest);
    return { ...base, episodes: [], keyed: keyedColumns(keyed), episodeCount: all.length + restCount, rest };
  }
}

/** Two packed sets of episodes without keys, one after the other. */
function joinRest(a: NonNullable<LinkState['rest']>, b: NonNullable<LinkState['rest']>): NonNullable<LinkState['rest']> {
  const shift = a.names.length;
  const nameEnds = new Int32Array(a.nameEnds.length + b.nameEnds.length);
  nameEnds.set(a.nameEnds);
  for (let i = 0; i < b.nameEnds.length; i++) nameEnds[a.nameEnds.length + i] = b.nameEnds[i]! + shift;
  const calls = new Int32Array(a.calls.length + b.calls.length);
  calls.set(a.calls); calls.set(b.calls, a.calls.length);
  return { names: a.names + b.names, nameEnds, start: concat([a.start, b.start]), end: concat([a.end, b.end]), calls };
}

/**
 * A merged state: its episodes with alert keys as a table (episode-table.ts), which the analysis
 * reads; `episodes` lists the same as objects, built when read (tests, small inputs).
 */
export interface MergedLinkState extends LinkState { table: EpisodeTable }

/**
 * Merges the states of several linkers (trace workers) into one. Sorted windows are merged by the
 * addon on a pool thread while this thread merges the episodes (the other core idles otherwise).
 */
export async function mergeLinkStates(states: LinkState[]): Promise<MergedLinkState> {
  const exposure = new Map<string, { starts: Float64Array[]; ends: Float64Array[]; sorted: boolean }>();
  let spans = 0, minTs = Infinity, maxTs = -Infinity;
  const candidates: Candidate[] = [];
  for (const s of states) {
    spans += s.spans;
    for (const c of s.candidates) candidates.push(c);
    minTs = Math.min(minTs, s.minTs); maxTs = Math.max(maxTs, s.maxTs);
    for (const x of s.exposure) {
      const cur = exposure.get(x.key) ?? { starts: [], ends: [], sorted: true };
      cur.starts.push(x.starts); cur.ends.push(x.ends);
      if (x.sorted !== true) cur.sorted = false;
      exposure.set(x.key, cur);
    }
  }
  const addon = jsonLinesAddon();
  const inThread = addon?.mergeSortedRuns ? [...exposure.values()].filter((v) => v.sorted && v.starts.length > 1 && v.starts.length <= 64) : [];
  const merging = inThread.length ? addon!.mergeSortedRuns!(inThread.flatMap((v) => [v.starts, v.ends])) : undefined;
  merging?.catch(() => undefined); // (awaited below, after the episodes)
  const nameIds = addon?.nameIds;
  const compact = states.every((s) => s.keyed !== undefined && s.rest !== undefined && s.episodes.length === 0);
  const eps = nameIds && compact ? mergeCompactEpisodes(states, nameIds) : mergeEpisodes(states);
  const merged = new Map<(typeof inThread)[number], [Float64Array, Float64Array]>();
  if (merging) { const r = await merging; inThread.forEach((v, i) => merged.set(v, [r[2 * i]!, r[2 * i + 1]!])); }
  const out: LinkState['exposure'] = [];
  for (const [key, v] of exposure) {
    const m = merged.get(v);
    if (m) out.push({ key, starts: m[0], ends: m[1], sorted: true });
    else out.push(v.sorted ? { key, starts: mergeSorted(v.starts), ends: mergeSorted(v.ends), sorted: true } : { key, starts: concat(v.starts), ends: concat(v.ends) });
  }
  const table = eps.table;
  return {
    spans, candidates, exposure: out, minTs, maxTs, episodeCount: eps.count, table,
    get episodes(): EpisodeAgg[] { return table.toAggs(); },
  };
}

/** Adds episode e's windows, counts and keys to cur (the same episode seen by another state). */
function addEpisode(cur: EpisodeAgg, e: { start: number; end: number; calls: number; minStep: number; maxStep: number; keys: EpisodeAgg['keys'] }): void {
  cur.start = Math.min(cur.start, e.start); cur.end = Math.max(cur.end, e.end); cur.calls += e.calls;
  cur.minStep = Math.min(cur.minStep, e.minStep); cur.maxStep = Math.max(cur.maxStep, e.maxStep);
  for (const k of e.keys) if (!cur.keys.some((x) => x.key === k.key && x.from === k.from)) cur.keys.push(k);
}

/** Episodes with keys merged by identity, run + name (first state's host/sandbox), the others only counted or added to them. */
function mergeEpisodes(states: LinkState[]): { table: EpisodeTable; count: number } {
  const episodes = new Map<string, EpisodeAgg>();
  for (const s of states) {
    const fresh = s.keyed !== undefined;
    for (const e of s.keyed ? keyedEpisodes(s.keyed) : s.episodes) {
      const id = idOf(e);
      const cur = episodes.get(id);
      // (episodes decoded from columns are new objects: no copy needed)
      if (!cur) episodes.set(id, fresh ? e : { ...e, keys: [...e.keys] });
      else addEpisode(cur, e);
    }
  }
  // Episodes without keys: merged into a keyed episode of the same name, else only counted.
  const others = new Set<string>();
  for (const s of states) {
    if (!s.rest) continue;
    const { start, end, calls } = s.rest;
    let i = 0;
    for (const name of unpackNames(s.rest)) {
      const cur = episodes.get(name);
      if (!cur) others.add(name);
      else { cur.start = Math.min(cur.start, start[i]!); cur.end = Math.max(cur.end, end[i]!); cur.calls += calls[i]!; }
      i++;
    }
  }
  return { table: EpisodeTable.fromAggs([...episodes.values()]), count: episodes.size + others.size };
}

/**
 * mergeEpisodes() for compact states, with the names numbered by the addon (nameIds: keyed parts
 * first, so the keyed episodes get the numbers 0..K-1 in the order mergeEpisodes() meets them):
 * no Map of names, no object per episode, and no string at all for the episodes without keys.
 */
function mergeCompactEpisodes(states: LinkState[], nameIds: NameIds): { table: EpisodeTable; count: number } {
  const { ids, count } = nameIds([...states.map((s) => s.keyed!), ...states.map((s) => s.rest!)]);
  let keyedCount = 0;
  for (let si = 0; si < states.length; si++) for (const id of ids[si]!) if (id >= keyedCount) keyedCount = id + 1;
  const table = EpisodeTable.merge(states.map((s) => s.keyed!), ids.slice(0, states.length), keyedCount);
  states.forEach((s, si) => {
    const { start, end, calls } = s.rest!, id = ids[states.length + si]!;
    for (let i = 0; i < id.length; i++) {
      const e = id[i]!;
      if (e < keyedCount) { table.start[e] = Math.min(table.start[e]!, start[i]!); table.end[e] = Math.max(table.end[e]!, end[i]!); table.calls[e]! += calls[i]!; }
    }
  });
  return { table, count };
}

function concat(parts: Float64Array[]): Float64Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

