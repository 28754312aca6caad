// Why: decides, once per rule set, which rules each event kind runs and how they are skipped
// cheaply: a per-kind compiled program (kindprog.ts), a per-proc.name mask for rules that need
// particular process names, and one command-line literal scanner per kind (prefilter.ts). Plans
// are immutable and cached per RuleSet, so engines made per session cost no recompilation.
import type { RuleSet } from './api.js';
import type { Getter } from './fields.js';
import { compileKind, type KindRun, type ProgramRule } from './kindprog.js';
import type { Node } from './parse.js';
import { LiteralScanner, requiredLiterals } from './prefilter.js';
import { internals, type RuleImpl } from './ruleset.js';

export interface Entry { r: RuleImpl; i: number }

/** Which rules of a kind run for one proc.name (mask[j] !== 0), and whether any of them is gated
 *  by the literal prefilter (so the command line must be scanned at all). */
export interface Allow { mask: Uint8Array; scan: boolean }

export interface KindPlan {
  /** Rules of this kind in rule-set order; the program reports matches by index into this. */
  entries: Entry[];
  /** undefined when no rule can match this kind: the event costs a map lookup. */
  run: KindRun | undefined;
  always: Allow;
  byName: Map<string, Allow> | undefined;
  scanner: LiteralScanner | undefined;
  /** All-zero hits: an event without a command line cannot satisfy any gated rule. */
  noCmd: Uint8Array | undefined;
  getters: Getter[];
}

export interface Plans { byKind: Map<string, KindPlan>; anyKind: KindPlan }

const cache = new WeakMap<RuleSet, Map<boolean, Plans>>();

/** The plans for a rule set (built on first use, then shared by every engine over it). */
export function plansFor(rs: RuleSet, prefilter: boolean): Plans {
  let m = cache.get(rs);
  if (!m) cache.set(rs, (m = new Map()));
  let p = m.get(prefilter);
  if (!p) m.set(prefilter, (p = buildPlans(rs, prefilter)));
  return p;
}

function buildPlans(rs: RuleSet, prefilter: boolean): Plans {
  const entries: Entry[] = rs.rules.map((r, i) => ({ r: r as RuleImpl, i }));
  const kinds = new Set<string>();
  for (const e of entries) if (e.r.kinds !== 'any') for (const k of e.r.kinds) kinds.add(k);
  const byKind = new Map<string, KindPlan>();
  for (const k of kinds) byKind.set(k, kindPlan(rs, k, entries.filter((e) => e.r.kinds === 'any' || e.r.kinds.has(k)), prefilter));
  return { byKind, anyKind: kindPlan(rs, undefined, entries.filter((e) => e.r.kinds === 'any'), prefilter) };
}

/** Sustained windows must see non-matching events to reset, so they are never skipped. */
const named = (e: Entry): boolean => e.r.names !== 'any' && !e.r.window?.sustained;

function kindPlan(rs: RuleSet, kind: string | undefined, entries: Entry[], prefilter: boolean): KindPlan {
  const { table } = internals(rs);
  // Literal groups, one per distinct set of literals. A rule needing particular process names is
  // not gated as a whole (its name mask is the cheaper filter), but its string tests may be.
  const lits: string[][] = [];
  const groupOf = new Map<string, number>();
  const group = (ls: string[]): number => {
    const key = JSON.stringify([...ls].sort());
    let g = groupOf.get(key);
    if (g === undefined) { g = lits.length; lits.push(ls); groupOf.set(key, g); }
    return g;
  };
  const groups = entries.map((e) => (prefilter && !named(e) && e.r.literals !== 'any' && !e.r.window?.sustained ? group(e.r.literals) : -1));
  const guard = prefilter ? (n: Extract<Node, { t: 'str' }>) => {
    const ls = requiredLiterals(n);
    return ls === 'any' ? undefined : `(hits === undefined || hits[${group(ls)}] !== 0)`;
  } : undefined;
  // Dispatch reads proc.name and the prefilter proc.argv through the cache: the program must too.
  const cached = new Set(table.cachedSlots());
  for (const f of ['proc.name', 'proc.cmdline', 'proc.argv']) cached.add(table.resolve(f)!.slot);
  const getters = () => (kind === undefined ? table.getters : table.gettersFor(kind));
  const rules: ProgramRule[] = entries.map((e, j) => ({ r: e.r, group: groups[j]!, named: named(e) }));
  const prog = entries.length > 0 ? compileKind(table, kind, rules, getters, cached, guard) : undefined;
  const scanner = lits.length > 0 ? new LiteralScanner(lits) : undefined;
  const allow = (n: string | undefined): Allow => {
    const mask = Uint8Array.from(entries, (e) => (!named(e) || (n !== undefined && (e.r.names as Set<string>).has(n)) ? 1 : 0));
    return { mask, scan: scanner !== undefined && entries.some((_, j) => mask[j] === 1 && prog!.usesHits[j]) };
  };
  const names = new Set<string>();
  for (const e of entries) if (named(e)) for (const n of e.r.names as Set<string>) names.add(n);
  let byName: Map<string, Allow> | undefined;
  if (names.size > 0) {
    byName = new Map();
    for (const n of names) byName.set(n, allow(n));
  }
  return {
    entries, run: prog?.run, always: allow(undefined), byName, scanner,
    noCmd: scanner ? new Uint8Array(scanner.groups) : undefined, getters: getters(),
  };
}
