// Why: state for windowed (stateful) detections: scans (distinct destinations), beaconing and
// bursts (counts, optionally per destination), DNS tunnels (bytes of distinct names: distinct +
// sum), hidden mining load (sustained conditions, and means, which a throttled miner cannot dodge
// by dipping below the bar on one sample). Memory
// is bounded (LRU over keys, a cap per key) because the agent controls how many keys it creates:
// a flood of random destinations must cost bounded memory, not crash the monitor.
import type { EngineEvent } from './api.js';
import type { FieldCache } from './fields.js';
import type { RuleImpl } from './ruleset.js';

export const MAX_EVIDENCE = 64;

interface Base { overNs: number; last: number; quietUntil: number }
interface CountState extends Base { t: 'count'; ts: number[]; ids: string[]; head: number }
interface DistinctState extends Base {
  t: 'distinct'; seen: Map<unknown, { ts: number; id: string; w: number }>; /** Lower bound of the oldest entry's ts. */ headTs: number;
  /** Sum of the entries' w (distinct + sum windows; w is 0 otherwise). */ total: number;
}
interface SustainedState extends Base { t: 'sustained'; since: number; n: number; ids: string[] }
/** Mean windows: a run of samples (since = its first), each with the time it stands for (w). */
interface MeanState extends Base { t: 'mean'; since: number; n: number; ts: number[]; w: number[]; v: number[]; ids: string[]; head: number }
type State = CountState | DistinctState | SustainedState | MeanState;

export interface WindowHit { count: number; evidence: string[]; value?: number }

/** A finite number, or undefined (window values come from hostile payloads). */
function finite(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function keyValue(ev: EngineEvent, key: string): string {
  // A tool call id is the caller's name for it, unique only within its session: trainers reuse
  // 'call-1' or a step number in every episode, and one engine serves all sessions of a runtime.
  if (key === 'tool_call') return ev.tool_call === undefined ? `session:${ev.session ?? ''}` : `${ev.session ?? ''}\u0000${ev.tool_call}`;
  // An episode name is the trainer's too, unique only within its run ('episode-0' in every run):
  // the key is the run and the episode, so two runs' episodes never share a window (one episode
  // reopened in a second session of its run still does).
  if (key === 'episode') return ev.episode === undefined ? `session:${ev.session ?? ''}` : `${ev.run ?? ''}\u0000${ev.episode}`;
  return ev.session ?? 'session:';
}

type Inner = Map<unknown, State>;

export class WindowStore {
  /** Per rule: window key value -> (group value -> state). Maps keep insertion order; eviction picks
   *  the least recently active of the oldest few, so no reordering is needed on every event. */
  private perRule: Map<string, Inner>[];
  private total = 0;
  evictions = 0;
  constructor(rules: number, private readonly maxKeys: number, private readonly maxEntries: number) {
    this.perRule = Array.from({ length: rules }, () => new Map<string, Inner>());
  }

  get size(): number { return this.total; }

  /** Feeds one evaluated event to a windowed rule; returns a hit when the window fires. */
  feed(r: RuleImpl, ruleIdx: number, matched: boolean, ev: EngineEvent, c: FieldCache, now: number): WindowHit | undefined {
    const w = r.window!;
    const outer = this.perRule[ruleIdx]!;
    if (!matched && outer.size === 0) return undefined; // sustained reset with nothing to reset
    let group: unknown = '';
    if (r.groupSlot !== undefined) {
      group = c.g(r.groupSlot);
      if (group === undefined) return undefined;
    }
    const k = keyValue(ev, w.key);
    let inner = outer.get(k);
    let st = inner?.get(group);
    if (!matched) { // only sustained windows get here: the condition broke, start again
      if (st) this.remove(outer, k, inner!, group);
      return undefined;
    }
    if (!st) {
      st = w.sustained ? { t: 'sustained', overNs: w.overNs, last: now, quietUntil: 0, since: now, n: 0, ids: [] }
        : w.mean !== undefined ? { t: 'mean', overNs: w.overNs, last: now, quietUntil: 0, since: now, n: 0, ts: [], w: [], v: [], ids: [], head: 0 }
          : w.distinct ? { t: 'distinct', overNs: w.overNs, last: now, quietUntil: 0, seen: new Map(), headTs: now, total: 0 }
            : { t: 'count', overNs: w.overNs, last: now, quietUntil: 0, ts: [], ids: [], head: 0 };
      if (!inner) outer.set(k, (inner = new Map()));
      inner.set(group, st);
      if (++this.total > this.maxKeys) this.evictOne(inner, st);
    }
    const id = ev.id;
    const horizon = now - w.overNs;
    switch (st.t) {
      case 'count': {
        st.ts.push(now); st.ids.push(id); st.last = now;
        while (st.head < st.ts.length && st.ts[st.head]! <= horizon) st.head++;
        if (st.ts.length - st.head > this.maxEntries) st.head = st.ts.length - this.maxEntries;
        if (st.head > 256 && st.head * 2 > st.ts.length) { st.ts = st.ts.slice(st.head); st.ids = st.ids.slice(st.head); st.head = 0; }
        const n = st.ts.length - st.head;
        if (n < w.count! || now < st.quietUntil) return undefined;
        const evidence = st.ids.slice(Math.max(st.head, st.ids.length - MAX_EVIDENCE));
        st.ts = []; st.ids = []; st.head = 0; st.quietUntil = now + w.overNs;
        return { count: n, evidence };
      }
      case 'distinct': {
        const v = c.g(r.distinctSlot!);
        if (v === undefined) return undefined;
        let weight = 0;
        if (r.sumSlot !== undefined) { // distinct + sum: each distinct value adds its field once (its latest value)
          const x = finite(c.g(r.sumSlot));
          if (x === undefined || x < 0) return undefined;
          weight = x;
        }
        const seen = st.seen;
        const e = seen.get(v);
        if (e) { st.total += weight - e.w; e.ts = now; e.id = id; e.w = weight; seen.delete(v); seen.set(v, e); } // keep last-seen order
        else { seen.set(v, { ts: now, id, w: weight }); st.total += weight; }
        st.last = now;
        if (st.headTs <= horizon) { // something may have expired: drop from the least recently seen end
          for (const [key, x] of seen) { if (x.ts > horizon) { st.headTs = x.ts; break; } seen.delete(key); st.total -= x.w; }
        }
        if (seen.size > this.maxEntries) { const [key, x] = seen.entries().next().value!; seen.delete(key); st.total -= x.w; }
        if (seen.size === 0) st.total = 0; // no float drift once empty
        const reached = r.sumSlot !== undefined ? st.total >= w.threshold! : seen.size >= w.threshold!;
        if (!reached || now < st.quietUntil) return undefined;
        const evidence: string[] = [];
        let skip = seen.size - MAX_EVIDENCE;
        for (const x of seen.values()) if (skip-- <= 0) evidence.push(x.id);
        const n = seen.size;
        const hit: WindowHit = { count: n, evidence };
        if (r.sumSlot !== undefined) hit.value = st.total;
        seen.clear(); st.total = 0; st.headTs = now; st.quietUntil = now + w.overNs;
        return hit;
      }
      case 'mean': {
        const x = finite(c.g(r.meanSlot!));
        if (x === undefined) return undefined;
        if (st.n > 0 && now - st.last > w.overNs) { st.since = now; st.n = 0; st.ts = []; st.w = []; st.v = []; st.ids = []; st.head = 0; }
        // the value stands for the time since the previous sample, at most step: a longer gap counts as 0
        const weight = st.n === 0 ? 0 : Math.min(now - st.last, w.stepNs ?? w.overNs);
        if (st.n === 1 && st.ts.length === 1) {
          // a sample describes the interval before it: the run's first one takes the second one's
          // interval, and the run began that much earlier (13 samples 5 s apart cover 65 s, not 60)
          st.w[0] = weight; st.since -= weight;
        }
        st.ts.push(now); st.w.push(weight); st.v.push(x); st.ids.push(id);
        st.last = now; st.n++;
        while (st.head < st.ts.length && st.ts[st.head]! <= horizon) st.head++;
        if (st.ts.length - st.head > this.maxEntries) st.head = st.ts.length - this.maxEntries;
        if (st.head > 256 && st.head * 2 > st.ts.length) {
          st.ts = st.ts.slice(st.head); st.w = st.w.slice(st.head); st.v = st.v.slice(st.head); st.ids = st.ids.slice(st.head); st.head = 0;
        }
        if (now - st.since < w.overNs || now < st.quietUntil) return undefined;
        // the run covers the whole window: weigh each sample by the part of its time inside it
        let sum = 0;
        for (let i = st.head; i < st.ts.length; i++) sum += st.v[i]! * Math.min(st.w[i]!, st.ts[i]! - horizon);
        const mean = sum / w.overNs;
        if (mean < w.threshold!) return undefined;
        const hit: WindowHit = { count: st.ts.length - st.head, evidence: st.ids.slice(Math.max(st.head, st.ids.length - MAX_EVIDENCE)), value: Math.round(mean * 10) / 10 };
        // this sample starts the next run, so the next alert needs another full window
        st.since = now; st.n = 1; st.ts = [now]; st.w = [0]; st.v = [x]; st.ids = [id]; st.head = 0; st.quietUntil = now + w.overNs;
        return hit;
      }
      case 'sustained': {
        if (st.n > 0 && now - st.last > w.overNs) { st.since = now; st.n = 0; st.ids = []; }
        st.last = now; st.n++;
        st.ids.push(id);
        if (st.ids.length > MAX_EVIDENCE) st.ids.shift();
        if (now - st.since < w.overNs || now < st.quietUntil) return undefined;
        const hit = { count: st.n, evidence: st.ids };
        st.since = now; st.n = 0; st.ids = []; st.quietUntil = now + w.overNs;
        return hit;
      }
    }
  }

  private remove(outer: Map<string, Inner>, k: string, inner: Inner, group: unknown): void {
    inner.delete(group);
    if (inner.size === 0) outer.delete(k);
    this.total--;
  }

  /** Evicts one state, preferring the map that just grew: the least recently active of its
   *  oldest 8 entries (never the state just created). */
  private evictOne(grown: Inner, keep: State): void {
    let inner: Inner | undefined = grown.size > 1 ? grown : undefined;
    let outer: Map<string, Inner> | undefined;
    let outerKey: string | undefined;
    if (!inner) { // the grown map holds only the new state: take the largest map anywhere
      let most = 0;
      for (const o of this.perRule) for (const [ok, m] of o) if (m.size > most && !(m.size === 1 && m.values().next().value === keep)) { most = m.size; inner = m; outer = o; outerKey = ok; }
      if (!inner) return;
    }
    let victim: unknown;
    let oldest = Infinity;
    let n = 0;
    for (const [g, st] of inner) {
      if (st !== keep && st.last < oldest) { oldest = st.last; victim = g; }
      if (++n >= 8) break;
    }
    if (oldest === Infinity) return;
    inner.delete(victim);
    if (outer && outerKey !== undefined && inner.size === 0) outer.delete(outerKey);
    this.total--;
    this.evictions++;
  }

  /**
   * Drops the state one session's events made under `key`: a closed session's tool calls and the session
   * itself can get no more events, so their windows are dead weight (an engine serves every session of a
   * long-lived runtime: 2 states per session stayed until the LRU cap). Episode windows outlive a
   * session (an episode reopened in another session of its run shares them): only the fallback key of
   * events without an episode goes. Returns how many states were dropped.
   */
  forgetSession(ruleIdx: number, key: string, session: string): number {
    const outer = this.perRule[ruleIdx];
    if (!outer || outer.size === 0) return 0;
    let n = 0;
    const drop = (k: string): void => { const inner = outer.get(k); if (inner) { n += inner.size; outer.delete(k); } };
    drop(`session:${session}`);
    if (key === 'session') drop(session);
    else if (key === 'tool_call') {
      const prefix = `${session}\u0000`;
      for (const k of outer.keys()) if (k.startsWith(prefix)) drop(k);
    }
    this.total -= n;
    return n;
  }

  /** Drops state whose last event is older than its window at `now`; everything when now is undefined. */
  evict(now?: number): void {
    for (const outer of this.perRule) {
      for (const [k, inner] of outer) {
        for (const [g, st] of inner) {
          if (now === undefined || (st.last <= now - st.overNs && now >= st.quietUntil)) { inner.delete(g); this.total--; }
        }
        if (inner.size === 0) outer.delete(k);
      }
    }
  }
}
