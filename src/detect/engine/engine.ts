// Why: runs a compiled rule set over a stream of events and returns detections with the rule,
// category, severity, ATT&CK ids, evidence ids and the triggering event (for attribution).
// Rules are indexed by event kind and process name, command-line rules sit behind a literal
// prefilter, and all share one per-event field cache (see docs/rules.md for measured speed).
// A rule that misbehaves on a hostile event is counted and skipped, never allowed to stop the stream.
import type { Detection, EngineEvent, EngineOptions, RuleSet } from './api.js';
import type { FieldCache, Getter } from './fields.js';
import { renderOutput } from './output.js';
import { internals, type RuleImpl } from './ruleset.js';
import { LiteralScanner } from './prefilter.js';
import { WindowStore } from './window.js';

interface Entry { r: RuleImpl; i: number }

/** An ordered list of rules to run, with the command-line prefilter when it pays off. */
interface RuleList {
  entries: Entry[];
  /** Per entry: its literal group in `scanner`, or -1 when it must always run. */
  groups: Int32Array;
  scanner: LiteralScanner | undefined;
}

function ruleList(entries: Entry[], prefilter: boolean): RuleList {
  const groups = new Int32Array(entries.length).fill(-1);
  const lits: string[][] = [];
  if (prefilter) {
    entries.forEach((e, k) => {
      if (e.r.literals !== 'any' && !e.r.window?.sustained) { groups[k] = lits.length; lits.push(e.r.literals); }
    });
  }
  if (lits.length < 2) return { entries, groups: groups.fill(-1), scanner: undefined };
  return { entries, groups, scanner: new LiteralScanner(lits) };
}

/** Rules for one event kind: per proc.name (when some rules need particular names) or the rest. */
interface KindIndex { always: RuleList; byName: Map<string, RuleList> | undefined; getters?: Getter[] }

/** Splits rules into those any event may match and, per proc.name, the ordered list to run. */
function indexByName(entries: Entry[], prefilter: boolean): KindIndex {
  // Sustained windows must see non-matching events to reset, so they are never name-indexed.
  const named = (e: Entry) => e.r.names !== 'any' && !e.r.window?.sustained;
  const always = ruleList(entries.filter((e) => !named(e)), prefilter);
  const names = new Set<string>();
  for (const e of entries) if (named(e)) for (const n of e.r.names as Set<string>) names.add(n);
  if (names.size === 0) return { always, byName: undefined };
  const byName = new Map<string, RuleList>();
  for (const n of names) byName.set(n, ruleList(entries.filter((e) => !named(e) || (e.r.names as Set<string>).has(n)), prefilter));
  return { always, byName };
}

/** Event time in ns as a double (sub-microsecond precision is not needed for windows). */
function parseTs(ts: unknown): number {
  if (typeof ts === 'string') {
    const len = ts.length;
    if (len > 0 && len <= 22) { // epoch ns as decimal digits: parse without the slow generic path
      let n = 0;
      let i = 0;
      for (; i < len; i++) {
        const d = ts.charCodeAt(i) - 48;
        if (d < 0 || d > 9) break;
        n = n * 10 + d;
      }
      if (i === len) return n;
    }
    const d = Date.parse(ts);
    return d === d ? d * 1e6 : NaN;
  }
  if (typeof ts === 'number') return ts;
  if (typeof ts === 'bigint') return Number(ts);
  return NaN;
}


export class DetectionEngine {
  private byKind = new Map<string, KindIndex>();
  private anyKind: KindIndex;
  private cache: FieldCache;
  private nameSlot: number;
  private cmdlineSlot: number;
  private windows: WindowStore;
  private lastTs = 0;
  private counters = { events: 0, detections: 0, ruleErrors: 0 };

  constructor(readonly ruleSet: RuleSet, opts: EngineOptions = {}) {
    const { table } = internals(ruleSet);
    this.cache = table.newCache();
    this.nameSlot = table.resolve('proc.name')!.slot;
    this.cmdlineSlot = table.resolve('proc.cmdline')!.slot;
    const prefilter = opts.prefilter ?? true;
    const maxEntries = opts.maxEntriesPerKey ?? 4096;
    this.windows = new WindowStore(ruleSet.rules.length, opts.maxWindowKeys ?? 10_000, maxEntries);
    const entries: Entry[] = ruleSet.rules.map((r, i) => {
      const impl = r as RuleImpl;
      if (typeof impl.fn !== 'function') throw new Error(`rule ${r.id} was not compiled by loadRuleSources`);
      const need = impl.window?.count ?? impl.window?.threshold;
      if (need !== undefined && need > maxEntries) throw new Error(`rule ${r.id}: window threshold ${need} exceeds maxEntriesPerKey ${maxEntries}`);
      return { r: impl, i };
    });
    const kinds = new Set<string>();
    for (const e of entries) if (e.r.kinds !== 'any') for (const k of e.r.kinds) kinds.add(k);
    for (const k of kinds) {
      const idx = indexByName(entries.filter((e) => e.r.kinds === 'any' || e.r.kinds.has(k)), prefilter);
      idx.getters = table.gettersFor(k);
      this.byKind.set(k, idx);
    }
    this.anyKind = indexByName(entries.filter((e) => e.r.kinds === 'any'), prefilter);
  }

  /** Evaluates every rule that can match this event's kind. Never throws on a malformed event. */
  process(ev: EngineEvent): Detection[] {
    if (ev === null || typeof ev !== 'object') return [];
    this.counters.events++;
    const idx = this.byKind.get(ev.kind) ?? this.anyKind;
    const c = this.cache.reset(ev, idx.getters);
    let list = idx.always;
    if (idx.byName !== undefined) {
      const name = c.g(this.nameSlot);
      if (name !== undefined) list = idx.byName.get(name as string) ?? list;
    }
    // Prefilter: rules that need a literal in the command line run only if one occurs.
    let hits: Uint8Array | undefined;
    let judged = false;
    if (list.scanner !== undefined) {
      const cmd = c.g(this.cmdlineSlot);
      if (typeof cmd !== 'string') { judged = true; hits = undefined; } // no command line: those rules cannot match
      else { hits = list.scanner.scan(cmd); judged = hits !== undefined; }
    }
    const entries = list.entries;
    const groups = list.groups;
    let out: Detection[] | undefined;
    let now = NaN;
    for (let j = 0; j < entries.length; j++) {
      const g = groups[j]!;
      if (g >= 0 && judged && (hits === undefined || hits[g] === 0)) continue;
      const { r, i } = entries[j]!;
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
