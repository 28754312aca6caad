// Why: conditions are compiled once into a JavaScript function (new Function) with field reads
// going through the per-event cache, sets as Set.has and regexes prebuilt, so the engine never
// interprets an AST per event. The generated source contains no text from rule files: literals
// are passed in a constants array, so a hostile rule file cannot inject code.
import type { FieldCache, FieldTable } from './fields.js';
import { errAt, type Lit, type Node } from './parse.js';

export type Predicate = (c: FieldCache) => boolean;

/** Helpers the generated code calls for list-valued fields. */
export const H = {
  allIn: (a: string[] | undefined, s: Set<Lit>): boolean => {
    if (a === undefined || a.length === 0) return false;
    for (const x of a) if (!s.has(x)) return false;
    return true;
  },
  anyIn: (a: string[] | undefined, s: Set<Lit>): boolean => {
    if (a === undefined) return false;
    for (const x of a) if (s.has(x)) return true;
    return false;
  },
  anyStarts: (a: string[] | undefined, v: string): boolean => a !== undefined && a.some((x) => x.startsWith(v)),
  anyEnds: (a: string[] | undefined, v: string): boolean => a !== undefined && a.some((x) => x.endsWith(v)),
  anyRe: (a: string[] | undefined, r: RegExp): boolean => a !== undefined && a.some((x) => r.test(x)),
};

/** Glob to an anchored regex: * any run (crossing '/'), ? one char, [..] a class. */
export function globToRegex(g: string): RegExp {
  let src = '';
  for (let i = 0; i < g.length; i++) {
    const c = g[i]!;
    if (c === '*') src += '[\\s\\S]*';
    else if (c === '?') src += '[\\s\\S]';
    else if (c === '[') {
      const j = g.indexOf(']', i + 2);
      if (j < 0) { src += '\\['; continue; }
      let body = g.slice(i + 1, j);
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      src += `[${body.replace(/\\/g, '\\\\')}]`;
      i = j;
    } else src += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${src}$`, 's');
}

/** How generated code reads a field slot, and (optionally) the one event kind it will only ever
 *  see, so that `evt.kind = x` folds to a constant (see kindprog.ts). */
export interface GenOptions {
  access?: (slot: number) => string;
  kind?: string;
  /** A cheap test that must hold for this string test to be true (the literal prefilter), or undefined. */
  guard?: (n: Extract<Node, { t: 'str' }>) => string | undefined;
}

export class CodeGen {
  readonly consts: unknown[] = [];
  constructor(private readonly fields: FieldTable, private readonly opts: GenOptions = {}) {}

  private acc(slot: number): string { return this.opts.access ? this.opts.access(slot) : `c.g(${slot})`; }

  private k(v: unknown): string { this.consts.push(v); return `K[${this.consts.length - 1}]`; }

  expr(n: Node): string {
    switch (n.t) {
      case 'and': return `(${this.expr(n.a)} && ${this.expr(n.b)})`;
      case 'or': return `(${this.expr(n.a)} || ${this.expr(n.b)})`;
      case 'not': return `!${this.expr(n.a)}`;
      case 'exists': {
        const g = this.acc(n.f.slot);
        return n.f.type === 'strs' ? `((t = ${g}) !== undefined && t.length > 0)` : `(${g} !== undefined)`;
      }
      case 'cmp': {
        const kind = this.opts.kind;
        if (kind !== undefined && n.f.name === 'evt.kind' && (n.op === '=' || n.op === '!=') && typeof n.v === 'string') {
          return String((kind === n.v) === (n.op === '='));
        }
        const g = this.acc(n.f.slot);
        const lit = typeof n.v === 'string' ? this.k(n.v) : String(n.v);
        switch (n.op) {
          case '=': return `(${g} === ${lit})`;
          case '!=': return `((t = ${g}) !== undefined && t !== ${lit})`;
          default: return `(${g} ${n.op} ${lit})`; // undefined compares false
        }
      }
      case 'set': {
        if (this.opts.kind !== undefined && n.f.name === 'evt.kind') return String(n.vs.includes(this.opts.kind));
        const set = this.k(new Set(n.vs));
        const g = this.acc(n.f.slot);
        if (n.f.type === 'strs') return n.op === 'in' ? `H.allIn(${g}, ${set})` : `H.anyIn(${g}, ${set})`;
        return `${set}.has(${g})`;
      }
      case 'str': {
        const g = this.opts.guard?.(n);
        return g === undefined ? this.strOp(n) : `(${g} && ${this.strOp(n)})`;
      }
    }
  }

  private strOp(n: Extract<Node, { t: 'str' }>): string {
    const arr = n.f.type === 'strs';
    const g = (lower: boolean) => this.acc(lower ? this.fields.lowerSlot(n.f) : n.f.slot);
    switch (n.op) {
      case 'contains': return `((t = ${g(false)}) !== undefined && t.includes(${this.k(n.v)}))`;
      case 'icontains': return `((t = ${g(true)}) !== undefined && t.includes(${this.k(n.v.toLowerCase())}))`;
      case 'startswith': return arr ? `H.anyStarts(${g(false)}, ${this.k(n.v)})` : `((t = ${g(false)}) !== undefined && t.startsWith(${this.k(n.v)}))`;
      case 'endswith': return arr ? `H.anyEnds(${g(false)}, ${this.k(n.v)})` : `((t = ${g(false)}) !== undefined && t.endsWith(${this.k(n.v)}))`;
      case 'glob': case 'regex': {
        let re: RegExp;
        if (n.op === 'glob') re = globToRegex(n.v);
        else {
          const ci = n.v.startsWith('(?i)');
          try { re = new RegExp(ci ? n.v.slice(4) : n.v, ci ? 'i' : ''); } catch (e) { throw errAt(n.loc, `bad regex: ${(e as Error).message}`); }
        }
        const r = this.k(re);
        return arr ? `H.anyRe(${g(false)}, ${r})` : `((t = ${g(false)}) !== undefined && ${r}.test(t))`;
      }
    }
  }

  /** Source of `cond and not (e1 or e2 …)` as one expression (uses a scratch variable `t`). */
  condition(cond: Node, exceptions: Node[]): string {
    let body = this.expr(cond);
    if (exceptions.length) body = `${body} && !(${exceptions.map((e) => this.expr(e)).join(' || ')})`;
    return body;
  }

  /** Compiles `cond and not (e1 or e2 …)` into one function. */
  compile(cond: Node, exceptions: Node[]): Predicate {
    const body = this.condition(cond, exceptions);
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    const make = new Function('K', 'H', `"use strict"; return function rule(c) { let t; return ${body}; };`) as (k: unknown[], h: typeof H) => Predicate;
    return make(this.consts, H);
  }
}

/** Compiles one condition (and its exceptions) with a fresh constants array. */
export function compilePredicate(fields: FieldTable, cond: Node, exceptions: Node[] = []): Predicate {
  return new CodeGen(fields).compile(cond, exceptions);
}
