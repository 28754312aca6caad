// Why: runs a compiled rule set over a stream of events and returns detections with the rule,
// category, severity, ATT&CK ids, evidence ids and the triggering event (for attribution).
// Rules are indexed by event kind and share one per-event field cache, so the built-in set runs
// at well over a million events per second on one core. A rule that misbehaves on a hostile
// event is counted and skipped, never allowed to stop the stream.
import type { Detection, EngineEvent, EngineOptions, RuleSet } from './api.js';
import type { FieldCache } from './fields.js';
import { renderOutput } from './output.js';
import { internals, type RuleImpl } from './ruleset.js';
import { WindowStore } from './window.js';

interface Entry { r: RuleImpl; i: number }

function parseTs(ts: unknown): number {
  if (typeof ts === 'string') {
    const n = +ts;
    if (n === n && ts !== '') return n;
    const d = Date.parse(ts);
    return d === d ? d * 1e6 : NaN;
  }
  if (typeof ts === 'number') return ts;
  if (typeof ts === 'bigint') return Number(ts);
  return NaN;
}

export class DetectionEngine {
  private byKind = new Map<string, Entry[]>();
  private anyKind: Entry[] = [];
  private cache: FieldCache;
  private windows: WindowStore;
  private lastTs = 0;
  private counters = { events: 0, detections: 0, ruleErrors: 0 };

  constructor(readonly ruleSet: RuleSet, opts: EngineOptions = {}) {
    const { table } = internals(ruleSet);
    this.cache = table.newCache();
    const maxEntries = opts.maxEntriesPerKey ?? 4096;
    this.windows = new WindowStore(opts.maxWindowKeys ?? 10_000, maxEntries);
    const entries: Entry[] = ruleSet.rules.map((r, i) => {
      const impl = r as RuleImpl;
      if (typeof impl.fn !== 'function') throw new Error(`rule ${r.id} was not compiled by loadRuleSources`);
      const need = impl.window?.count ?? impl.window?.threshold;
      if (need !== undefined && need > maxEntries) throw new Error(`rule ${r.id}: window threshold ${need} exceeds maxEntriesPerKey ${maxEntries}`);
      return { r: impl, i };
    });
    for (const e of entries) {
      if (e.r.kinds === 'any') { this.anyKind.push(e); continue; }
      for (const k of e.r.kinds) {
        let l = this.byKind.get(k);
        if (!l) this.byKind.set(k, (l = []));
        l.push(e);
      }
    }
    if (this.anyKind.length) {
      for (const [k, l] of this.byKind) this.byKind.set(k, [...l, ...this.anyKind].sort((a, b) => a.i - b.i));
    }
  }

  /** Evaluates every rule that can match this event's kind. Never throws on a malformed event. */
  process(ev: EngineEvent): Detection[] {
    if (ev === null || typeof ev !== 'object') return [];
    this.counters.events++;
    const list = this.byKind.get(ev.kind) ?? this.anyKind;
    if (list.length === 0) return [];
    const c = this.cache.reset(ev);
    let out: Detection[] | undefined;
    let now = NaN;
    for (let j = 0; j < list.length; j++) {
      const { r, i } = list[j]!;
      let m: boolean;
      try { m = r.fn(c); } catch { this.counters.ruleErrors++; continue; }
      const w = r.window;
      if (w === undefined) {
        if (m) (out ??= []).push(this.detection(r, ev, [ev.id]));
        continue;
      }
      if (!m && !w.sustained) continue;
      if (now !== now) {
        now = parseTs(ev.ts);
        if (now !== now) now = this.lastTs; else if (now > this.lastTs) this.lastTs = now;
      }
      const hit = this.windows.feed(r, i, m, ev, c, now);
      if (hit) (out ??= []).push(this.detection(r, ev, hit.evidence, hit.count));
    }
    if (out) this.counters.detections += out.length;
    return out ?? [];
  }

  /** Drops window state that has aged out by nowNs (all of it when omitted, e.g. at the end of a
   *  stream). Windows fire eagerly in process(), so this returns no detections today. */
  flush(nowNs?: bigint): Detection[] {
    this.windows.evict(nowNs === undefined ? undefined : Number(nowNs));
    return [];
  }

  stats(): { events: number; detections: number; ruleErrors: number; windowKeys: number; windowEvictions: number } {
    return { ...this.counters, windowKeys: this.windows.size, windowEvictions: this.windows.evictions };
  }

  private detection(r: RuleImpl, ev: EngineEvent, evidence: string[], count?: number): Detection {
    const d: Detection = {
      rule: r.id, category: r.category, severity: r.severity, attack: r.attack,
      message: renderOutput(r.out, this.cache, count), reason: r.reason, evidence, event: ev,
    };
    if (count !== undefined) d.count = count;
    return d;
  }
}
