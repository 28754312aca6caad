// Why: a recursive-descent parser for rule conditions (not > and > or), type-checking every
// predicate against its field at load time, so a wrong rule fails with file/rule/line/column
// instead of silently never matching. Macros are inlined and lists expanded here.
import { RuleError } from './errors.js';
import type { FieldRef, FieldTable, FieldType } from './fields.js';
import type { Loc, Token } from './tokenize.js';

export type Lit = string | number | boolean;
export type StrOp = 'contains' | 'icontains' | 'startswith' | 'endswith' | 'glob' | 'regex';
export type Node =
  | { t: 'and' | 'or'; a: Node; b: Node }
  | { t: 'not'; a: Node }
  | { t: 'cmp'; f: FieldRef; op: '=' | '!=' | '<' | '<=' | '>' | '>='; v: Lit; loc: Loc }
  | { t: 'set'; f: FieldRef; op: 'in' | 'intersects'; vs: Lit[]; loc: Loc }
  | { t: 'str'; f: FieldRef; op: StrOp; v: string; loc: Loc }
  | { t: 'exists'; f: FieldRef };

export interface ParseCtx {
  fields: FieldTable;
  /** Expanded items of a list, or undefined if no such list. */
  list(name: string): string[] | undefined;
  /** Parsed body of a macro, or undefined if no such macro. May throw (cycle, error in macro). */
  macro(name: string, ref: Loc): Node | undefined;
}

const STR_OPS = new Set<string>(['contains', 'icontains', 'startswith', 'endswith', 'glob', 'regex']);
const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'intersects', 'exists', 'true', 'false', ...STR_OPS]);
/** Bare words of this shape inside in (…) must name a list (catches typos of list names). */
const LISTISH = /^[a-z][a-z0-9]*(_[a-z0-9]+)+$/;

export function errAt(loc: Loc, msg: string): RuleError {
  return new RuleError(msg, { file: loc.file, rule: loc.owner, line: loc.line, column: loc.column });
}

function describe(t: Token): string {
  return t.type === 'eof' ? 'end of condition' : t.type === 'str' ? `string "${t.value}"` : `'${t.value}'`;
}

export function parseCondition(tokens: Token[], ctx: ParseCtx): Node {
  let p = 0;
  const peek = () => tokens[p]!;
  const next = () => tokens[p++]!;
  const isWord = (t: Token, w: string) => t.type === 'word' && t.value === w;

  function orExpr(): Node {
    let left = andExpr();
    while (isWord(peek(), 'or')) { next(); left = { t: 'or', a: left, b: andExpr() }; }
    return left;
  }
  function andExpr(): Node {
    let left = unary();
    while (isWord(peek(), 'and')) { next(); left = { t: 'and', a: left, b: unary() }; }
    return left;
  }
  function unary(): Node {
    if (isWord(peek(), 'not')) { next(); return { t: 'not', a: unary() }; }
    return primary();
  }
  function primary(): Node {
    const t = next();
    if (t.type === 'lp') {
      const e = orExpr();
      const r = next();
      if (r.type !== 'rp') throw errAt(r.loc, `expected ')' to close the '(' at line ${t.loc.line} column ${t.loc.column}, found ${describe(r)}`);
      return e;
    }
    if (t.type !== 'word' || KEYWORDS.has(t.value)) throw errAt(t.loc, `expected a field, a macro or '(', found ${describe(t)}`);
    if (!t.value.includes('.')) {
      const m = ctx.macro(t.value, t.loc);
      if (!m) {
        const after = peek();
        if (after.type === 'op' || (after.type === 'word' && (STR_OPS.has(after.value) || after.value === 'in' || after.value === 'exists'))) {
          throw errAt(t.loc, `unknown field '${t.value}'`);
        }
        throw errAt(t.loc, `unknown macro '${t.value}'`);
      }
      return m;
    }
    const f = ctx.fields.resolve(t.value);
    if (!f) throw errAt(t.loc, `unknown field '${t.value}'`);
    return predicate(f, t.loc);
  }

  function predicate(f: FieldRef, loc: Loc): Node {
    const op = next();
    if (op.type === 'op') {
      const o = op.value as '=' | '!=' | '<' | '<=' | '>' | '>=';
      const vt = next();
      const v = literal(vt, f.type, f);
      if (f.type === 'strs') throw errAt(op.loc, `'${o}' does not apply to the list field ${f.name}; use contains, in or intersects`);
      if (o !== '=' && o !== '!=' && f.type !== 'num') throw errAt(op.loc, `'${o}' needs a numeric field; ${f.name} is ${typeName(f.type)}`);
      return { t: 'cmp', f, op: o, v, loc };
    }
    if (op.type === 'word' && (op.value === 'in' || op.value === 'intersects')) {
      const lp = next();
      if (lp.type !== 'lp') throw errAt(lp.loc, `expected '(' after ${op.value}, found ${describe(lp)}`);
      const vs: Lit[] = [];
      if (peek().type === 'rp') { next(); return { t: 'set', f, op: op.value, vs, loc }; }
      for (;;) {
        const it = next();
        if (it.type === 'word' && !KEYWORDS.has(it.value)) {
          const items = ctx.list(it.value);
          if (items) { for (const s of items) vs.push(coerceListItem(s, f, it.loc)); }
          else if (LISTISH.test(it.value)) throw errAt(it.loc, `unknown list '${it.value}' (quote it if you meant the string)`);
          else vs.push(literal(it, f.type, f));
        } else {
          vs.push(literal(it, f.type, f));
        }
        const sep = next();
        if (sep.type === 'rp') break;
        if (sep.type !== 'comma') throw errAt(sep.loc, `expected ',' or ')' in the ${op.value} list, found ${describe(sep)}`);
      }
      if (f.type === 'bool') throw errAt(op.loc, `'${op.value}' does not apply to the boolean field ${f.name}`);
      return { t: 'set', f, op: op.value, vs, loc };
    }
    if (op.type === 'word' && op.value === 'exists') return { t: 'exists', f };
    if (op.type === 'word' && STR_OPS.has(op.value)) {
      if (f.type !== 'str' && f.type !== 'strs') throw errAt(op.loc, `'${op.value}' needs a string field; ${f.name} is ${typeName(f.type)}`);
      const vt = next();
      if (vt.type !== 'str' && vt.type !== 'word' && vt.type !== 'num') throw errAt(vt.loc, `expected a value after ${op.value}, found ${describe(vt)}`);
      if (vt.type === 'word' && KEYWORDS.has(vt.value)) throw errAt(vt.loc, `expected a value after ${op.value}, found ${describe(vt)} (quote it if you meant the string)`);
      return { t: 'str', f, op: op.value as StrOp, v: vt.value, loc: vt.loc };
    }
    throw errAt(op.loc, `expected an operator after ${f.name} (=, !=, <, <=, >, >=, in, intersects, contains, icontains, startswith, endswith, glob, regex, exists), found ${describe(op)}`);
  }

  function literal(t: Token, type: FieldType, f: FieldRef): Lit {
    if (t.type !== 'str' && t.type !== 'num' && t.type !== 'word') throw errAt(t.loc, `expected a value, found ${describe(t)}`);
    if (t.type === 'word' && KEYWORDS.has(t.value) && t.value !== 'true' && t.value !== 'false') {
      throw errAt(t.loc, `expected a value, found keyword '${t.value}' (quote it if you meant the string)`);
    }
    if (type === 'num') {
      if (t.type === 'num') return t.num!;
      const n = Number(t.value);
      if (t.value.trim() === '' || !Number.isFinite(n)) throw errAt(t.loc, `${f.name} is numeric; '${t.value}' is not a number`);
      return n;
    }
    if (type === 'bool') {
      if (t.type === 'word' && (t.value === 'true' || t.value === 'false')) return t.value === 'true';
      throw errAt(t.loc, `${f.name} is boolean; compare it with true or false`);
    }
    return t.value;
  }

  function coerceListItem(s: string, f: FieldRef, loc: Loc): Lit {
    if (f.type !== 'num') return s;
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n)) throw errAt(loc, `${f.name} is numeric; list item '${s}' is not a number`);
    return n;
  }

  const e = orExpr();
  const rest = peek();
  if (rest.type !== 'eof') {
    throw errAt(rest.loc, `unexpected ${describe(rest)} after a complete condition (missing 'and' / 'or'?)`);
  }
  return e;
}

function typeName(t: FieldType): string {
  return t === 'str' ? 'a string' : t === 'num' ? 'a number' : t === 'bool' ? 'a boolean' : 'a list of strings';
}

/**
 * The values a scalar field must have for the condition to be true (from `field = v` and
 * `field in (…)` tests combined through and/or), or 'any' when the condition does not constrain
 * it. The engine indexes rules by evt.kind and proc.name with this, so an event is only tested
 * against rules that can match it.
 */
export function valuesOf(n: Node, field: string): Set<string> | 'any' {
  switch (n.t) {
    case 'and': {
      const a = valuesOf(n.a, field), b = valuesOf(n.b, field);
      if (a === 'any') return b;
      if (b === 'any') return a;
      return new Set([...a].filter((k) => b.has(k)));
    }
    case 'or': {
      const a = valuesOf(n.a, field), b = valuesOf(n.b, field);
      if (a === 'any' || b === 'any') return 'any';
      return new Set([...a, ...b]);
    }
    case 'cmp':
      return n.f.name === field && n.op === '=' ? new Set([String(n.v)]) : 'any';
    case 'set':
      return n.f.name === field && n.f.type !== 'strs' ? new Set(n.vs.map(String)) : 'any';
    default:
      return 'any';
  }
}

/** Event kinds a condition can match: from evt.kind tests in its conjunctions, or 'any'. */
export function kindsOf(n: Node): Set<string> | 'any' {
  return valuesOf(n, 'evt.kind');
}

/** Field names a condition reads. */
export function fieldsOf(n: Node, out = new Set<string>()): Set<string> {
  switch (n.t) {
    case 'and': case 'or': fieldsOf(n.a, out); fieldsOf(n.b, out); break;
    case 'not': fieldsOf(n.a, out); break;
    default: out.add(n.f.name);
  }
  return out;
}
