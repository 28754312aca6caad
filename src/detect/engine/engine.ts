// Why: runs a compiled rule set over a stream of events and returns detections with the rule,
// category, severity, ATT&CK ids, evidence ids and the triggering event (for attribution).
// Each event kind runs one compiled program holding all of that kind's rules (plan.ts,
// kindprog.ts); rules needing particular process names are masked per proc.name, command-line
// rules sit behind a literal prefilter, and field values are read once per event. Nothing is
// allocated for an event that matches nothing (see docs/rules.md for measured speed).
// A rule that misbehaves on a hostile event is counted and skipped, never allowed to stop the stream.
import type { Detection, EngineEvent, EngineOptions, RuleSet } from './api.js';
import type { FieldCache } from './fields.js';
import type { ProgramSink } from './kindprog.js';
import { renderOutput } from './output.js';
import { plansFor, type KindPlan, type Plans } from './plan.js';
import { internals, type RuleImpl } from './ruleset.js';
import { WindowStore } from './window.js';

/** Returned when nothing matched (almost every event): one shared, frozen array, no allocation.
 *  Callers treat the result as read-only. */
const NONE = Object.freeze([]) as unknown as Detection[];

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
  private plans: Plans;
  private cache: FieldCache;
  private nameSlot: number;
  private argvSlot: number;
  private windows: WindowStore;
  private lastTs = 0;
  private counters = { events: 0, detections: 0, ruleErrors: 0 };
  // The event being processed, for the program's callbacks (process() is not re-entrant).
  private cur: KindPlan;
  private ev: EngineEvent | undefined;
  private now = NaN;
  private out: Detection[] | undefined;
  private sink: ProgramSink;

  constructor(readonly ruleSet: RuleSet, opts: EngineOptions = {}) {
    const { table } = internals(ruleSet);
    const maxEntries = opts.maxEntriesPerKey ?? 4096;
    for (const r of ruleSet.rules) {
      const impl = r as RuleImpl;
      if (typeof impl.fn !== 'function' || impl.ast === undefined) throw new Error(`rule ${r.id} was not compiled by loadRuleSources`);
      // (a sum or mean threshold is a value, not a number of entries)
      const need = impl.window?.count ?? (impl.window?.distinct !== undefined && impl.window.sum === undefined ? impl.window.threshold : undefined);
      if (need !== undefined && need > maxEntries) throw new Error(`rule ${r.id}: window threshold ${need} exceeds maxEntriesPerKey ${maxEntries}`);
    }
    this.plans = plansFor(ruleSet, opts.prefilter ?? true);
    this.cur = this.plans.anyKind;
    this.cache = table.newCache();
    this.nameSlot = table.resolve('proc.name')!.slot;
    this.argvSlot = table.resolve('proc.argv')!.slot;
    this.windows = new WindowStore(ruleSet.rules.length, opts.maxWindowKeys ?? 10_000, maxEntries);
    this.sink = { hit: (j, m) => this.onHit(j, m), err: () => { this.counters.ruleErrors++; } };
  }

  /** Evaluates every rule that can match this event's kind. Never throws on a malformed event.
   *  The returned array is shared and frozen when empty: treat it as read-only. */
  process(ev: EngineEvent): Detection[] {
    if (ev === null || typeof ev !== 'object') return NONE;
    this.counters.events++;
    const k = this.plans.byKind.get(ev.kind) ?? this.plans.anyKind;
    const run = k.run;
    if (run === undefined) return NONE;
    const c = this.cache.reset(ev, k.getters);
    let allow = k.always;
    if (k.byName !== undefined) {
      const name = c.g(this.nameSlot);
      if (name !== undefined) allow = k.byName.get(name as string) ?? allow;
    }
    // Prefilter: rules (and string tests) that need a literal in the command line run only if
    // one occurs. argv is scanned in place: proc.cmdline is argv joined by single spaces.
    let hits: Uint8Array | undefined;
    if (allow.scan) {
      const argv = c.g(this.argvSlot);
      hits = argv !== undefined ? k.scanner!.scanParts(argv as string[]) : k.noCmd; // undefined (non-ASCII): run them all
    }
    this.cur = k;
    this.ev = ev;
    this.now = NaN;
    run(ev, c, allow.mask, hits, this.sink);
    const out = this.out;
    if (out === undefined) return NONE;
    this.out = undefined;
    this.counters.detections += out.length;
    return out;
  }

  /** Rule j of the current kind matched (or, for a sustained window, was evaluated to m). */
  private onHit(j: number, m: boolean): void {
    const { r, i } = this.cur.entries[j]!;
    const ev = this.ev!;
    const w = r.window;
    if (w === undefined) {
      if (m) (this.out ??= []).push(this.detection(r, ev, [ev.id]));
      return;
    }
    if (!m && !w.sustained) return;
    if (this.now !== this.now) {
      let now = parseTs(ev.ts);
      if (now !== now) now = this.lastTs; else if (now > this.lastTs) this.lastTs = now;
      this.now = now;
    }
    const hit = this.windows.feed(r, i, m, ev, this.cache, this.now);
    if (hit) (this.out ??= []).push(this.detection(r, ev, hit.evidence, hit.count, hit.value));
  }

  /** Drops window state that has aged out by nowNs (all of it when omitted, e.g. at the end of a
   *  stream). Windows fire eagerly in process(), so this returns no detections today. */
  flush(nowNs?: bigint): Detection[] {
    this.windows.evict(nowNs === undefined ? undefined : Number(nowNs));
    return [];
  }

  /** Forgets the window state of a session that ended (WindowStore.forgetSession); returns how many states went. */
  forgetSession(session: string): number {
    let n = 0;
    const rules = this.ruleSet.rules as RuleImpl[];
    for (let i = 0; i < rules.length; i++) {
      const w = rules[i]!.window;
      if (w !== undefined) n += this.windows.forgetSession(i, w.key, session);
    }
    return n;
  }

  stats(): { events: number; detections: number; ruleErrors: number; windowKeys: number; windowEvictions: number } {
    return { ...this.counters, windowKeys: this.windows.size, windowEvictions: this.windows.evictions };
  }

  private detection(r: RuleImpl, ev: EngineEvent, evidence: string[], count?: number, value?: number): Detection {
    const d: Detection = {
      rule: r.id, category: r.category, severity: r.severity, attack: r.attack,
      message: renderOutput(r.out, this.cache, count, value), reason: r.reason, evidence, event: ev,
    };
    if (count !== undefined) d.count = count;
    if (value !== undefined) d.value = value;
    return d;
  }
}
