// Why: the engine's hot path. Every rule that can see one event kind is compiled into ONE function
// for that kind (new Function), so an event costs one call instead of a call per rule through a
// shared, megamorphic call site. Inside it, `evt.kind = x` is folded to a constant (the kind is
// known), and each field is read at most once per event into a local variable through a call site
// that only ever sees that field's getter (V8 can inline it). Fields other getters depend on
// (argv, exe, names) still go through the per-event FieldCache so they are computed once.
// Soundness: the generated text contains no rule-file text (literals travel in a constants array),
// getter exceptions read as "field absent" exactly as FieldCache does, and a throwing rule is
// counted and skipped, never allowed to stop the stream.
import { CodeGen, H } from './codegen.js';
import type { FieldCache, FieldTable, Getter } from './fields.js';
import type { Node } from './parse.js';
import type { RuleImpl } from './ruleset.js';

/** What a kind program reports back to the engine (the engine itself implements it). */
export interface ProgramSink {
  /** Rule `j` (index in the kind's rule list) matched, or for sustained windows was evaluated (m). */
  hit(j: number, m: boolean): void;
  /** Rule `j` threw on this event. */
  err(): void;
}

/**
 * Runs a kind's rules over the event in `c`. `allow[j] === 0` skips name-indexed rule j; a gated
 * rule j with literal group g runs only when `hits` is undefined (not judged) or `hits[g] !== 0`;
 * string tests inside a rule may be guarded the same way (a guard names a literal group).
 */
export type KindRun = (ev: unknown, c: FieldCache, allow: Uint8Array, hits: Uint8Array | undefined, E: ProgramSink) => void;

export interface ProgramRule { r: RuleImpl; /** literal group, or -1 */ group: number; /** consults allow[j] */ named: boolean }

const ABSENT = Symbol('absent');

/**
 * Compiles the rules for one kind (undefined: an unknown kind, nothing folded). `cached` lists the
 * slots to read through the FieldCache (those other getters, the prefilter or dispatch also read).
 */
export function compileKind(
  table: FieldTable, kind: string | undefined, rules: ProgramRule[], getters: () => Getter[], cached: ReadonlySet<number>,
  guard?: (n: Extract<Node, { t: 'str' }>) => string | undefined,
): { run: KindRun; usesHits: boolean[] } {
  const used = new Set<number>();
  const access = (slot: number): string => {
    if (cached.has(slot)) return `c.g(${slot})`;
    used.add(slot);
    return `(v${slot} !== U ? v${slot} : (v${slot} = f${slot}(ev, c)))`;
  };
  let guarded = false;
  const g = guard === undefined ? undefined : (n: Extract<Node, { t: 'str' }>) => { const x = guard(n); if (x !== undefined) guarded = true; return x; };
  const gen = new CodeGen(table, { access, ...(kind === undefined ? {} : { kind }), ...(g === undefined ? {} : { guard: g }) });
  const body: string[] = [];
  const usesHits: boolean[] = [];
  rules.forEach(({ r, group, named }, j) => {
    guarded = false;
    const cond = gen.condition(r.ast.cond, r.ast.excs);
    usesHits.push(guarded || group >= 0);
    const guards: string[] = [];
    if (named) guards.push(`allow[${j}] !== 0`);
    if (group >= 0) guards.push(`(hits === undefined || hits[${group}] !== 0)`);
    const report = r.window?.sustained ? `if (m !== undefined) E.hit(${j}, m);` : `if (m === true) E.hit(${j}, true);`;
    const block = `m = undefined; try { m = ${cond}; } catch { E.err(); } ${report}`;
    body.push(`/* ${j} */ ${guards.length ? `if (${guards.join(' && ')}) { ${block} }` : block}`);
  });
  const slots = [...used].sort((a, b) => a - b);
  const wrappers = slots.map((s) => `const g${s} = G[${s}]; function f${s}(ev, c) { try { return g${s}(ev, c); } catch { return undefined; } }`);
  const locals = slots.map((s) => `v${s} = U`);
  const src = `"use strict";
${wrappers.join('\n')}
return function run(ev, c, allow, hits, E) {
  let t, m${locals.length ? `, ${locals.join(', ')}` : ''};
${body.join('\n')}
};`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function('K', 'H', 'G', 'U', src) as (k: unknown[], h: typeof H, g: Getter[], u: symbol) => KindRun;
  return { run: make(gen.consts, H, getters(), ABSENT), usesHits }; // getters after codegen: it may add slots
}
