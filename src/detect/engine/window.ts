// Why: state for windowed (stateful) detections: scans (distinct destinations), beaconing and
// bursts (counts, optionally per destination), hidden mining load (sustained conditions). Memory
// is bounded (LRU over keys, a cap per key) because the agent controls how many keys it creates:
// a flood of random destinations must cost bounded memory, not crash the monitor.
import type { EngineEvent } from './api.js';
import type { FieldCache } from './fields.js';
import type { RuleImpl } from './ruleset.js';

export const MAX_EVIDENCE = 64;

interface Base { overNs: number; last: number; quietUntil: number }
interface CountState extends Base { t: 'count'; ts: number[]; ids: string[]; head: number }
interface DistinctState extends Base { t: 'distinct'; seen: Map<string, { ts: number; id: string }> }
interface SustainedState extends Base { t: 'sustained'; since: number; n: number; ids: string[] }
type State = CountState | DistinctState | SustainedState;

export interface WindowHit { count: number; evidence: string[] }

function keyValue(ev: EngineEvent, key: string): string {
  const v = key === 'tool_call' ? ev.tool_call : key === 'episode' ? ev.episode : ev.session;
  return v ?? `session:${ev.session ?? ''}`;
}

export class WindowStore {
  private states = new Map<string, State>();
  evictions = 0;
  constructor(private readonly maxKeys: number, private readonly maxEntries: number) {}

  get size(): number { return this.states.size; }

  /** Feeds one evaluated event to a windowed rule; returns a hit when the window fires. */
  feed(r: RuleImpl, ruleIdx: number, matched: boolean, ev: EngineEvent, c: FieldCache, now: number): WindowHit | undefined {
    const w = r.window!;
    let k = `${ruleIdx}\u0000${keyValue(ev, w.key)}`;
    if (r.groupSlot !== undefined) {
      const g = c.g(r.groupSlot);
      if (g === undefined) return undefined;
      k += `\u0000${String(g)}`;
    }
    let st = this.states.get(k);
    if (w.sustained) {
      if (!matched) { if (st) this.states.delete(k); return undefined; }
    }
    if (st) { this.states.delete(k); this.states.set(k, st); } // LRU: most recent last
    else {
      st = w.sustained ? { t: 'sustained', overNs: w.overNs, last: now, quietUntil: 0, since: now, n: 0, ids: [] }
        : w.distinct ? { t: 'distinct', overNs: w.overNs, last: now, quietUntil: 0, seen: new Map() }
          : { t: 'count', overNs: w.overNs, last: now, quietUntil: 0, ts: [], ids: [], head: 0 };
      this.states.set(k, st);
      if (this.states.size > this.maxKeys) {
        const oldest = this.states.keys().next().value as string;
        this.states.delete(oldest);
        this.evictions++;
      }
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
        const sv = String(v);
        st.seen.delete(sv);
        st.seen.set(sv, { ts: now, id });
        st.last = now;
        for (const [key, e] of st.seen) { if (e.ts > horizon) break; st.seen.delete(key); }
        if (st.seen.size > this.maxEntries) st.seen.delete(st.seen.keys().next().value as string);
        if (st.seen.size < w.threshold! || now < st.quietUntil) return undefined;
        const all = [...st.seen.values()];
        const evidence = all.slice(-MAX_EVIDENCE).map((e) => e.id);
        const n = st.seen.size;
        st.seen.clear(); st.quietUntil = now + w.overNs;
        return { count: n, evidence };
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

  /** Drops state whose last event is older than its window at `now`; everything when now is undefined. */
  evict(now?: number): void {
    if (now === undefined) { this.states.clear(); return; }
    for (const [k, st] of this.states) if (st.last <= now - st.overNs && now >= st.quietUntil) this.states.delete(k);
  }
}
