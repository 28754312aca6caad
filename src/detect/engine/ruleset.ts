// Why: turns loaded rule drafts into a RuleSet of compiled rules. Macros and lists are resolved
// after every file is loaded, so a user's `override: append` on a built-in list changes every
// rule using it. Every macro is parsed even when unused, so a broken one is reported at load.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CompiledRule, EngineEvent, RuleSet, RuleSource, WindowSpec } from './api.js';
import { compilePredicate, type Predicate } from './codegen.js';
import { FieldTable } from './fields.js';
import { emptyStore, loadSource, type CondPiece, type RuleDraft, type Store } from './loader.js';
import { RuleCache } from './rule-cache.js';
import { compileOutput, type OutputTemplate } from './output.js';
import { errAt, fieldsOf, kindsOf, parseCondition, valuesOf, type Node, type ParseCtx } from './parse.js';
import { requiredLiterals } from './prefilter.js';
import { tokenize, type Loc, type Token } from './tokenize.js';
import { parseWindow } from './window-spec.js';

export interface RuleImpl extends CompiledRule {
  fn: Predicate;
  out: OutputTemplate;
  /** proc.name values the rule needs (engine index), or 'any'. */
  names: Set<string> | 'any';
  /** Literals one of which proc.cmdline must contain for the rule to match (prefilter), or 'any'. */
  literals: string[] | 'any';
  /** Cache slots of window.distinct, window.sum, window.mean and window.group_by. */
  distinctSlot?: number;
  sumSlot?: number;
  meanSlot?: number;
  groupSlot?: number;
  /** The parsed condition and exceptions, for per-kind programs (kindprog.ts). */
  ast: { cond: Node; excs: Node[] };
}
interface Internals { table: FieldTable; ctx: ParseCtx }
const INTERNAL = Symbol('corral.ruleset');
type RuleSetImpl = RuleSet & { [INTERNAL]: Internals };

export function internals(rs: RuleSet): Internals {
  const i = (rs as Partial<RuleSetImpl>)[INTERNAL];
  if (!i) throw new Error('this RuleSet was not made by loadRuleSources');
  return i;
}

/** A RuleSet holding a subset of another's rules (same field table). */
export function subset(rs: RuleSet, rules: CompiledRule[]): RuleSet {
  const out: RuleSetImpl = { rules, lists: rs.lists, macros: rs.macros, disabled: rs.disabled, [INTERNAL]: internals(rs) };
  return out;
}

/** Package root: this file is dist/src/detect/engine/ruleset.js (or src/… under a TS runner). */
function packageRoot(): string {
  return fileURLToPath(new URL('../../../../', import.meta.url));
}

/** The rule files shipped in <package>/rules: lists.yaml first, then the rest by name. */
export function builtinRuleSources(): RuleSource[] {
  const dir = `${packageRoot()}rules`;
  let names: string[];
  try { names = readdirSync(dir).filter((n) => n.endsWith('.yaml') || n.endsWith('.yml')); } catch { return []; }
  names.sort((a, b) => (a === 'lists.yaml' ? -1 : b === 'lists.yaml' ? 1 : a < b ? -1 : a > b ? 1 : 0));
  return names.map((n) => ({ file: `rules/${n}`, text: readFileSync(`${dir}/${n}`, 'utf8') }));
}

/** Where the build writes the parsed built-in rule files (scripts/build-rule-cache.mjs; see rule-cache.ts). */
export function ruleCachePath(): string { return `${packageRoot()}dist/rules-cache.json`; }

function readRuleCache(): RuleCache {
  let json: string | undefined;
  try { json = readFileSync(ruleCachePath(), 'utf8'); } catch { /* no cache: every file from YAML */ }
  return RuleCache.parse(json);
}

/**
 * Loads rule files in order into one store and compiles it. A file whose exact text the build
 * cached (the built-in files) is taken from the cache instead of its YAML (same items, same
 * positions); any other file, or a cached one whose names clash, is parsed as usual.
 * cache: false parses every file from YAML.
 */
export function loadRuleSources(sources: RuleSource[], opts: { builtins?: boolean; cache?: boolean } = {}): RuleSet {
  const all = [...(opts.builtins ? builtinRuleSources() : []), ...sources];
  const cache = all.length && opts.cache !== false ? readRuleCache() : RuleCache.parse(undefined);
  const store = emptyStore();
  for (const s of all) if (!cache.apply(store, s)) loadSource(store, s);
  return compileStore(store);
}

export function loadBuiltinRules(): RuleSet { return loadRuleSources([], { builtins: true }); }

function piecesTokens(pieces: CondPiece[]): Token[] {
  let acc: Token[] = [];
  let eof: Token | undefined;
  for (const [i, p] of pieces.entries()) {
    const toks = tokenize(p.text, p.file, p.owner, p.pos);
    eof = toks.pop();
    if (i === 0) { acc = toks; continue; }
    const loc = toks[0]?.loc ?? eof!.loc;
    acc = [{ type: 'lp', value: '(', loc }, ...acc, { type: 'rp', value: ')', loc }, ...toks];
  }
  return [...acc, eof!];
}

function piecesText(pieces: CondPiece[]): string {
  return pieces.reduce((acc, p, i) => (i === 0 ? p.text.trim() : `(${acc}) ${p.text.trim()}`), '');
}

function makeCtx(store: Store, table: FieldTable): ParseCtx {
  const macroAst = new Map<string, Node>();
  const inProgress: string[] = [];
  const listCache = new Map<string, string[]>();
  const expandList = (name: string, seen: string[]): string[] | undefined => {
    const hit = listCache.get(name);
    if (hit) return hit;
    const def = store.lists.get(name);
    if (!def) return undefined;
    if (seen.includes(name)) throw errAt({ file: def.at.file, owner: def.at.owner, line: def.at.line, column: def.at.column }, `list cycle: ${[...seen, name].join(' -> ')}`);
    const out: string[] = [];
    for (const it of def.items) {
      const sub = it !== name && store.lists.has(it) ? expandList(it, [...seen, name]) : undefined;
      if (sub) out.push(...sub); else out.push(it);
    }
    listCache.set(name, out);
    return out;
  };
  const ctx: ParseCtx = {
    fields: table,
    list: (name) => expandList(name, []),
    macro: (name, ref: Loc) => {
      const hit = macroAst.get(name);
      if (hit) return hit;
      const def = store.macros.get(name);
      if (!def) return undefined;
      if (inProgress.includes(name)) throw errAt(ref, `macro cycle: ${[...inProgress, name].join(' -> ')}`);
      inProgress.push(name);
      try {
        const ast = parseCondition(piecesTokens(def.pieces), ctx);
        macroAst.set(name, ast);
        return ast;
      } finally { inProgress.pop(); }
    },
  };
  return ctx;
}

function compileStore(store: Store): RuleSet {
  const table = new FieldTable();
  const ctx = makeCtx(store, table);
  for (const [name, def] of store.macros) ctx.macro(name, { file: def.at.file, owner: def.at.owner, line: def.at.line, column: def.at.column });
  const rules: CompiledRule[] = [];
  const disabled: string[] = [];
  for (const d of store.rules.values()) {
    if (!d.enabled) { disabled.push(d.id); continue; }
    rules.push(compileRule(d, ctx, table));
  }
  const lists = new Map<string, string[]>();
  for (const name of store.lists.keys()) lists.set(name, ctx.list(name)!);
  const macros = new Map<string, string>();
  for (const [name, def] of store.macros) macros.set(name, piecesText(def.pieces));
  const rs: RuleSetImpl = { rules, lists, macros, disabled, [INTERNAL]: { table, ctx } };
  return rs;
}

function compileRule(d: RuleDraft, ctx: ParseCtx, table: FieldTable): RuleImpl {
  const cond = parseCondition(piecesTokens(d.condition), ctx);
  const excs = d.exceptions.map((e) => parseCondition(piecesTokens(e.pieces), ctx));
  const fn = compilePredicate(table, cond, excs);
  const kinds = kindsOf(cond);
  const fields = new Set<string>();
  fieldsOf(cond, fields);
  for (const e of excs) fieldsOf(e, fields);
  let window: WindowSpec | undefined;
  let distinctSlot: number | undefined;
  let sumSlot: number | undefined;
  let meanSlot: number | undefined;
  let groupSlot: number | undefined;
  if (d.window) {
    window = parseWindow(d.window.raw, d.window.at, d.id);
    const at = { ...d.window.at, owner: d.id };
    const slot = (name: string) => {
      const f = table.resolve(name);
      if (!f) throw errAt(at, `window: unknown field '${name}'`);
      if (f.type === 'strs') throw errAt(at, `window: '${name}' is a list field; pick a scalar field`);
      fields.add(name);
      return f.slot;
    };
    const numSlot = (name: string, key: string) => {
      const f = table.resolve(name);
      if (f && f.type !== 'num') throw errAt(at, `window: ${key} needs a numeric field; '${name}' is not one`);
      return slot(name);
    };
    if (window.distinct) distinctSlot = slot(window.distinct);
    if (window.sum) sumSlot = numSlot(window.sum, 'sum');
    if (window.mean) meanSlot = numSlot(window.mean, 'mean');
    if (window.group_by) groupSlot = slot(window.group_by);
    if (window.sustained && kinds === 'any') throw errAt(at, 'a sustained window needs a condition that names its event kinds (evt.kind = … / in (…))');
  }
  const matches = (ev: EngineEvent) => fn(table.newCache().reset(ev));
  const rule: RuleImpl = {
    id: d.id, desc: d.desc.trim(), category: d.category, severity: d.severity, attack: d.attack, kinds,
    condition: piecesText(d.condition), output: d.output.text, reason: d.reason.trim(),
    exceptions: d.exceptions.map((e) => ({ name: e.name, condition: piecesText(e.pieces) })),
    tags: d.tags, examples: d.examples, source: { file: d.at.file, line: d.at.line }, fields: [...fields],
    matches, fn, ast: { cond, excs }, out: compileOutput(d.output, table), names: valuesOf(cond, 'proc.name'), literals: requiredLiterals(cond),
  };
  if (window) rule.window = window;
  if (distinctSlot !== undefined) rule.distinctSlot = distinctSlot;
  if (sumSlot !== undefined) rule.sumSlot = sumSlot;
  if (meanSlot !== undefined) rule.meanSlot = meanSlot;
  if (groupSlot !== undefined) rule.groupSlot = groupSlot;
  return rule;
}

/** Compiles an ad-hoc condition (e.g. a query filter) against a rule set's lists and macros. */
export function compileFilter(rs: RuleSet, condition: string): (ev: EngineEvent) => boolean {
  const { table, ctx } = internals(rs);
  const toks = tokenize(condition, '<filter>', 'filter', (i) => ({ line: 1, column: i + 1 }));
  const fn = compilePredicate(table, parseCondition(toks, ctx));
  const cache = table.newCache();
  return (ev) => fn(cache.reset(ev));
}
