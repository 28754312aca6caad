// Why: reads rule files (YAML lists of list/macro/rule items) into drafts with source positions,
// applying user overrides (append/replace/enabled) to built-ins in file order. Unknown keys,
// bad enums and malformed ATT&CK ids are errors naming file, item, line and column, so a typo
// can never silently disable a detection.
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YNode, type Scalar, type YAMLMap } from 'yaml';
import { ALERT_CATEGORIES, type AlertCategory, type Severity } from '../../events/event.js';
import type { RuleExample, RuleSource } from './api.js';
import { RuleError, RuleErrors } from './errors.js';
import { nodePos, scalarPosFn, type PosFn } from './yaml-pos.js';

export interface Located { file: string; owner: string; line: number; column: number }
export interface CondPiece { text: string; file: string; owner: string; pos: PosFn }
export interface ListDef { name: string; items: string[]; at: Located }
export interface MacroDef { name: string; pieces: CondPiece[]; at: Located }
export interface ExceptionDef { name: string; pieces: CondPiece[] }
export interface RuleDraft {
  id: string; desc: string; condition: CondPiece[]; severity: Severity; category: AlertCategory; attack: string[];
  output: CondPiece; reason: string; exceptions: ExceptionDef[]; window?: { raw: Record<string, unknown>; at: Located };
  enabled: boolean; tags: string[]; examples: { match: RuleExample[]; nomatch: RuleExample[] }; at: Located;
}
export interface Store { lists: Map<string, ListDef>; macros: Map<string, MacroDef>; rules: Map<string, RuleDraft> }

const SEVERITIES = new Set(['low', 'medium', 'high', 'critical']);
const CATEGORIES = new Set<string>(ALERT_CATEGORIES);
const ATTACK = /^T\d{4}(\.\d{3})?$/;
const ID = /^[A-Za-z0-9_.-]+$/;
const LIST_KEYS = new Set(['list', 'items', 'override']);
const MACRO_KEYS = new Set(['macro', 'condition', 'override']);
const RULE_KEYS = new Set(['rule', 'desc', 'condition', 'severity', 'category', 'attack', 'output', 'reason', 'exceptions', 'window', 'enabled', 'tags', 'examples', 'override']);
const RULE_FIELDS = ['desc', 'condition', 'severity', 'category', 'attack', 'output', 'reason', 'exceptions', 'window', 'tags', 'examples'] as const;
const APPENDABLE = new Set(['condition', 'exceptions', 'attack', 'tags', 'desc']);
const REQUIRED = ['desc', 'condition', 'severity', 'category', 'attack', 'output', 'reason'] as const;

export function emptyStore(): Store { return { lists: new Map(), macros: new Map(), rules: new Map() }; }

/** Adds one file's items to the store (in order). Throws RuleError. */
export function loadSource(store: Store, src: RuleSource): void {
  const lc = new LineCounter();
  const doc = parseDocument(src.text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const p = lc.linePos(e.pos[0]);
    const first = e.message.split('\n')[0]!;
    const hint = /compact mappings|Implicit map keys|Nested mappings/.test(first) ? " (quote text that contains ': ', or fold it with '>')" : '';
    throw new RuleError(`YAML: ${first}${hint}`, { file: src.file, line: p.line, column: p.col });
  }
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) return;
  if (!isSeq(root)) throw new RuleError('a rule file is a YAML list of list/macro/rule items', { file: src.file, ...nodePos(root as YNode, lc) });
  // Each item's first problem is collected, so one run names every broken item of a file, not only the first
  // (a review, session 40: a rule author fixed desc, then attack, then condition, one run each).
  const problems: RuleError[] = [];
  for (const item of root.items) {
    try {
      if (!isMap(item)) throw new RuleError('each item must be a map with a list, macro or rule key', { file: src.file, ...nodePos(item as YNode, lc) });
      new ItemReader(src, lc, item).apply(store);
    } catch (e) {
      if (!(e instanceof RuleError)) throw e;
      problems.push(e);
    }
  }
  if (problems.length === 1) throw problems[0]!;
  if (problems.length > 1) throw new RuleErrors(problems);
}

class ItemReader {
  private owner = '?';
  constructor(private src: RuleSource, private lc: LineCounter, private item: YAMLMap) {}

  private at(node?: unknown): Located {
    return { file: this.src.file, owner: this.owner, ...nodePos((node ?? this.item) as YNode, this.lc) };
  }
  private fail(msg: string, node?: unknown): never {
    const a = this.at(node);
    throw new RuleError(msg, { file: a.file, rule: a.owner, line: a.line, column: a.column });
  }
  private node(key: string): YNode | undefined { return this.item.get(key, true) as YNode | undefined; }
  private has(key: string): boolean { return this.item.has(key); }
  private keys(): string[] {
    return this.item.items.map((p) => (isScalar(p.key) ? String(p.key.value) : this.fail('keys must be plain strings', p.key)));
  }
  private str(key: string, opts: { allowEmpty?: boolean } = {}): string {
    const n = this.node(key);
    if (!isScalar(n) || (typeof n.value !== 'string' && typeof n.value !== 'number') || (!opts.allowEmpty && String(n.value).trim() === '')) {
      this.fail(`'${key}' must be a non-empty string`, n);
    }
    return String((n as Scalar).value);
  }
  private strList(key: string): string[] {
    const n = this.node(key);
    if (!isSeq(n)) this.fail(`'${key}' must be a list`, n);
    return (n as { items: unknown[] }).items.map((x) => {
      if (!isScalar(x) || x.value === null || typeof x.value === 'object') this.fail(`items of '${key}' must be strings or numbers`, x);
      return String((x as Scalar).value);
    });
  }
  private cond(key: string, node?: YNode): CondPiece {
    const n = node ?? this.node(key);
    if (!isScalar(n) || typeof n.value !== 'string' || n.value.trim() === '') this.fail(`'${key}' must be a non-empty string`, n);
    const s = n as Scalar;
    return { text: String(s.value), file: this.src.file, owner: this.owner, pos: scalarPosFn(this.src.text, s, this.lc) };
  }
  private checkKeys(allowed: Set<string>, what: string): void {
    for (const p of this.item.items) {
      const k = isScalar(p.key) ? String(p.key.value) : '';
      if (!allowed.has(k)) this.fail(`unknown key '${k}' in a ${what} (allowed: ${[...allowed].join(', ')})`, p.key);
    }
  }
  /** 'append' | 'replace' for the given key, from `override: append` or `override: {key: append}`. */
  private overrideFor(key: string): 'append' | 'replace' | undefined {
    const o = this.node('override');
    if (o === undefined) return undefined;
    if (isScalar(o)) {
      if (o.value === 'append' || o.value === 'replace') return o.value;
      this.fail("override must be 'append', 'replace' or a map of key: append|replace", o);
    }
    if (!isMap(o)) this.fail("override must be 'append', 'replace' or a map of key: append|replace", o);
    const v = (o as YAMLMap).get(key, true) as YNode | undefined;
    if (v === undefined) return undefined;
    if (isScalar(v) && (v.value === 'append' || v.value === 'replace')) return v.value;
    return this.fail(`override of '${key}' must be append or replace`, v);
  }

  apply(store: Store): void {
    const kinds = ['list', 'macro', 'rule'].filter((k) => this.has(k));
    if (kinds.length !== 1) this.fail('each item needs exactly one of list, macro or rule');
    const kind = kinds[0]!;
    const name = this.str(kind);
    this.owner = kind === 'rule' ? name : `${kind} ${name}`;
    if (!ID.test(name)) this.fail(`bad ${kind} name '${name}' (letters, digits, _ . - only)`, this.node(kind));
    if (kind === 'list') this.list(store, name);
    else if (kind === 'macro') this.macro(store, name);
    else this.rule(store, name);
  }

  private list(store: Store, name: string): void {
    this.checkKeys(LIST_KEYS, 'list');
    if (this.has('override') && isMap(this.node('override'))) this.checkOverrideKeys(new Set(['items']));
    const items = this.has('items') ? this.strList('items') : this.fail("a list needs 'items'");
    const prev = store.lists.get(name);
    const mode = this.overrideFor('items');
    if (mode && !prev) this.fail(`override of unknown list '${name}'`, this.node('override'));
    if (!mode && prev) this.fail(`list '${name}' is already defined at ${prev.at.file}:${prev.at.line}; use override: append or replace`);
    if (mode === 'append') prev!.items = [...prev!.items, ...items];
    else if (prev) prev.items = items;
    else store.lists.set(name, { name, items, at: this.at() });
  }

  private macro(store: Store, name: string): void {
    this.checkKeys(MACRO_KEYS, 'macro');
    if (this.has('override') && isMap(this.node('override'))) this.checkOverrideKeys(new Set(['condition']));
    const piece = this.cond('condition');
    const prev = store.macros.get(name);
    const mode = this.overrideFor('condition');
    if (mode && !prev) this.fail(`override of unknown macro '${name}'`, this.node('override'));
    if (!mode && prev) this.fail(`macro '${name}' is already defined at ${prev.at.file}:${prev.at.line}; use override: append or replace`);
    if (mode === 'append') prev!.pieces.push(piece);
    else if (prev) prev.pieces = [piece];
    else store.macros.set(name, { name, pieces: [piece], at: this.at() });
  }

  private checkOverrideKeys(allowed: Set<string>): void {
    const o = this.node('override') as YAMLMap;
    for (const p of o.items) {
      const k = isScalar(p.key) ? String(p.key.value) : '';
      if (!allowed.has(k)) this.fail(`cannot override '${k}' here (allowed: ${[...allowed].join(', ')})`, p.key);
    }
  }

  private rule(store: Store, id: string): void {
    this.checkKeys(RULE_KEYS, 'rule');
    const prev = store.rules.get(id);
    const o = this.node('override');
    const keys = this.keys().filter((k) => k !== 'rule' && k !== 'override');
    if (o === undefined || (isScalar(o) && o.value === 'replace')) {
      if (prev && o === undefined) {
        if (keys.length === 1 && keys[0] === 'enabled') { prev.enabled = this.enabled(); return; }
        this.fail(`rule '${id}' is already defined at ${prev.at.file}:${prev.at.line}; use override (or only 'enabled')`);
      }
      if (!prev && o !== undefined) this.fail(`override of unknown rule '${id}'`, o);
      if (!prev && keys.length === 1 && keys[0] === 'enabled') this.fail(`cannot enable/disable unknown rule '${id}'`);
      for (const k of REQUIRED) if (!this.has(k)) this.fail(`rule is missing '${k}'`);
      const draft: RuleDraft = {
        id, desc: '', condition: [], severity: 'low', category: 'policy_violation', attack: [], output: this.cond('output'),
        reason: '', exceptions: [], enabled: true, tags: [], examples: { match: [], nomatch: [] }, at: this.at(),
      };
      for (const k of RULE_FIELDS) if (this.has(k)) this.setField(draft, k, 'replace');
      if (this.has('enabled')) draft.enabled = this.enabled();
      store.rules.set(id, draft);
      return;
    }
    if (!prev) this.fail(`override of unknown rule '${id}'`, o);
    if (!isMap(o)) this.fail("override must be 'replace' or a map of key: append|replace", o);
    this.checkOverrideKeys(new Set(RULE_FIELDS));
    for (const k of keys) {
      if (k === 'enabled') continue;
      const mode = this.overrideFor(k);
      if (!mode) this.fail(`'${k}' is given but override does not say append or replace for it`, this.node(k));
      if (mode === 'append' && !APPENDABLE.has(k)) this.fail(`'${k}' can only be replaced, not appended`, (o as YAMLMap).get(k, true));
      this.setField(prev!, k as (typeof RULE_FIELDS)[number], mode!);
    }
    for (const p of (o as YAMLMap).items) {
      const k = String((p.key as Scalar).value);
      if (!this.has(k)) this.fail(`override names '${k}' but the item does not give it`, p.key);
    }
    if (this.has('enabled')) prev!.enabled = this.enabled();
  }

  private enabled(): boolean {
    const n = this.node('enabled');
    if (!isScalar(n) || typeof n.value !== 'boolean') this.fail("'enabled' must be true or false", n);
    return (n as Scalar<boolean>).value;
  }

  private setField(d: RuleDraft, k: (typeof RULE_FIELDS)[number], mode: 'append' | 'replace'): void {
    const app = mode === 'append';
    switch (k) {
      case 'desc': d.desc = app ? `${d.desc} ${this.str('desc')}` : this.str('desc'); break;
      case 'condition': d.condition = app ? [...d.condition, this.cond('condition')] : [this.cond('condition')]; break;
      case 'severity': {
        const s = this.str('severity');
        if (!SEVERITIES.has(s)) this.fail(`severity must be low, medium, high or critical, not '${s}'`, this.node('severity'));
        d.severity = s as Severity; break;
      }
      case 'category': {
        const c = this.str('category');
        if (!CATEGORIES.has(c)) this.fail(`category must be one of ${ALERT_CATEGORIES.join(', ')}, not '${c}'`, this.node('category'));
        d.category = c as AlertCategory; break;
      }
      case 'attack': {
        const ids = this.strList('attack');
        if (!ids.length && !app) this.fail('attack needs at least one ATT&CK technique id', this.node('attack'));
        for (const a of ids) if (!ATTACK.test(a)) this.fail(`'${a}' is not an ATT&CK technique id (T1234 or T1234.001)`, this.node('attack'));
        d.attack = app ? [...d.attack, ...ids] : ids; break;
      }
      case 'output': d.output = this.cond('output'); break;
      case 'reason': d.reason = this.str('reason'); break;
      case 'tags': d.tags = app ? [...d.tags, ...this.strList('tags')] : this.strList('tags'); break;
      case 'exceptions': d.exceptions = app ? [...d.exceptions, ...this.exceptions()] : this.exceptions(); break;
      case 'window': {
        const n = this.node('window');
        if (!isMap(n)) this.fail('window must be a map', n);
        d.window = { raw: (n as YAMLMap).toJSON() as Record<string, unknown>, at: this.at(n) }; break;
      }
      case 'examples': d.examples = this.examples(); break;
    }
  }

  private exceptions(): ExceptionDef[] {
    const n = this.node('exceptions');
    if (!isSeq(n)) this.fail('exceptions must be a list of {name, condition}', n);
    return (n as { items: unknown[] }).items.map((e) => {
      if (!isMap(e)) this.fail('an exception is a map {name, condition}', e);
      const m = e as YAMLMap;
      for (const p of m.items) {
        const k = isScalar(p.key) ? String(p.key.value) : '';
        if (k !== 'name' && k !== 'condition') this.fail(`unknown key '${k}' in an exception (name, condition)`, p.key);
      }
      const name = m.get('name');
      if (typeof name !== 'string' || !name) this.fail('an exception needs a name', e);
      return { name: name as string, pieces: [this.cond('condition', m.get('condition', true) as YNode)] };
    });
  }

  private examples(): { match: RuleExample[]; nomatch: RuleExample[] } {
    const n = this.node('examples');
    if (!isMap(n)) this.fail('examples must be a map {match: [...], nomatch: [...]}', n);
    const m = n as YAMLMap;
    for (const p of m.items) {
      const k = isScalar(p.key) ? String(p.key.value) : '';
      if (k !== 'match' && k !== 'nomatch') this.fail(`unknown key '${k}' in examples (match, nomatch)`, p.key);
      if (!isSeq(p.value)) this.fail(`examples.${k} must be a list`, p.value);
    }
    const js = m.toJSON() as { match?: RuleExample[]; nomatch?: RuleExample[] };
    return { match: js.match ?? [], nomatch: js.nomatch ?? [] };
  }
}
