// Why: exec rules mostly test the command line with regexes, and most command lines are benign.
// Instead of running a dozen regexes per exec, the engine scans the command line once with an
// Aho–Corasick automaton of literals each rule *requires* (taken from its condition), and skips
// rules none of whose literals occur. Soundness matters more than speed here: a literal is only
// used when the rule provably cannot match without it, matching is case-insensitive (a superset),
// and text with non-ASCII characters bypasses the prefilter entirely.
import type { Node } from './parse.js';

/** Fields whose values are substrings of proc.cmdline (argv joined by single spaces). */
const CMDLINE_PARTS = new Set(['proc.cmdline', 'proc.args', 'proc.argv']);
const MIN_LITERAL = 3;

function isCmdlinePart(name: string): boolean {
  return CMDLINE_PARTS.has(name) || name.startsWith('proc.arg[');
}

/**
 * Literals (lower-cased) such that the condition can only be true when proc.cmdline contains at
 * least one of them, or 'any' when no such set is known.
 */
export function requiredLiterals(n: Node): string[] | 'any' {
  const r = literalsOf(n);
  // The scanner works on ASCII; a literal outside it cannot be used.
  return r !== 'any' && r.every((l) => /^[\x00-\x7f]+$/.test(l)) ? r : 'any';
}

function literalsOf(n: Node): string[] | 'any' {
  switch (n.t) {
    case 'and': {
      const a = literalsOf(n.a), b = literalsOf(n.b);
      if (a === 'any') return b;
      if (b === 'any') return a;
      return shortest(a) >= shortest(b) ? a : b; // either is necessary; prefer the more selective
    }
    case 'or': {
      const a = literalsOf(n.a), b = literalsOf(n.b);
      return a === 'any' || b === 'any' ? 'any' : [...new Set([...a, ...b])];
    }
    case 'not': case 'exists': return 'any';
    case 'cmp':
      return n.op === '=' && isCmdlinePart(n.f.name) && typeof n.v === 'string' && n.v.length >= MIN_LITERAL ? [n.v.toLowerCase()] : 'any';
    case 'set': {
      if (!isCmdlinePart(n.f.name) || n.vs.length === 0) return 'any';
      const vs = n.vs.map((v) => String(v).toLowerCase());
      return vs.every((v) => v.length >= MIN_LITERAL) ? vs : 'any';
    }
    case 'str': {
      if (!isCmdlinePart(n.f.name)) return 'any';
      if (n.op === 'regex') return regexLiterals(n.v);
      if (n.op === 'glob') return 'any';
      return n.v.length >= MIN_LITERAL ? [n.v.toLowerCase()] : 'any';
    }
  }
}

function shortest(ls: string[]): number { return ls.reduce((m, l) => Math.min(m, l.length), Infinity); }

/**
 * For a regex, one required literal per top-level alternative: the longest run of plain
 * characters outside groups and classes that every match of that alternative contains.
 */
export function regexLiterals(src: string): string[] | 'any' {
  const s = src.startsWith('(?i)') ? src.slice(4) : src;
  const branches: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') { i++; continue; }
    if (c === '[') { i = skipClass(s, i); continue; }
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) { branches.push(s.slice(start, i)); start = i + 1; }
  }
  branches.push(s.slice(start));
  const out: string[] = [];
  for (const b of branches) {
    const lit = longestRun(b);
    if (lit.length < MIN_LITERAL) return 'any';
    out.push(lit.toLowerCase());
  }
  return out;
}

function skipClass(s: string, i: number): number {
  let j = i + 1;
  if (s[j] === '^') j++;
  if (s[j] === ']') j++;
  for (; j < s.length; j++) {
    if (s[j] === '\\') { j++; continue; }
    if (s[j] === ']') return j;
  }
  return s.length;
}

const ESCAPED_LITERAL = /[^a-zA-Z0-9]/; // \. \/ \- \+ … are literal; \d \s \w \b \x.. are not
const META = new Set(['.', '^', '$', '|', '?', '*', '+', '{', '}', '(', ')', '[', ']']);

/** Longest required literal run at depth 0 of one alternative. */
function longestRun(b: string): string {
  let best = '';
  let run = '';
  const end = () => { if (run.length > best.length) best = run; run = ''; };
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    let lit: string | undefined;
    let width = 1;
    if (c === '\\') {
      const e = b[i + 1];
      if (e !== undefined && ESCAPED_LITERAL.test(e)) { lit = e; width = 2; } else {
        // \d \s \w \b …, or an escape with a payload (\xHH, \uHHHH, \u{…}, \cX, \k<name>, \1):
        // not a plain character; skip the payload so it is not mistaken for literal text.
        end();
        i += 1;
        if (e === 'x') i += 2;
        else if (e === 'u') i = b[i + 1] === '{' ? b.indexOf('}', i) : i + 4;
        else if (e === 'c') i += 1;
        else if (e === 'k' && b[i + 1] === '<') i = b.indexOf('>', i);
        else if (e !== undefined && /[0-9]/.test(e)) while (/[0-9]/.test(b[i + 1] ?? '')) i++;
        if (i < 0) i = b.length;
        continue;
      }
    } else if (c === '[') { end(); i = skipClass(b, i); lit = undefined; continue; }
    else if (c === '(') {
      end();
      let depth = 1;
      let j = i + 1;
      for (; j < b.length && depth > 0; j++) {
        if (b[j] === '\\') { j++; continue; }
        if (b[j] === '[') { j = skipClass(b, j); continue; }
        if (b[j] === '(') depth++; else if (b[j] === ')') depth--;
      }
      i = j - 1;
      continue;
    } else if (c === '{') { end(); const j = b.indexOf('}', i); i = j < 0 ? b.length : j; continue; }
    else if (META.has(c)) { end(); continue; }
    else lit = c;
    const q = b[i + width];
    if (q === '?' || q === '*' || q === '{') { end(); i += width - 1; continue; } // optional or counted: not required as is
    run += lit;
    i += width - 1;
    if (q === '+') end(); // one occurrence is required, the run cannot continue past it
  }
  end();
  return best;
}

/** Aho–Corasick over ASCII, case-insensitive; groups are the rules that registered literals. */
export class LiteralScanner {
  private alpha = new Uint8Array(128);
  private width: number;
  private delta: Uint16Array;
  private out: (number[] | undefined)[];
  private next: Int16Array | Int32Array;
  readonly groups: number;
  private hits: Uint8Array;

  constructor(groupLiterals: string[][]) {
    this.groups = groupLiterals.length;
    this.hits = new Uint8Array(this.groups);
    let next = 1;
    for (const ls of groupLiterals) for (const l of ls) for (const ch of l) {
      const c = ch.charCodeAt(0);
      if (c < 128 && this.alpha[c] === 0) this.alpha[c] = next++;
    }
    for (let c = 65; c <= 90; c++) if (this.alpha[c + 32]) this.alpha[c] = this.alpha[c + 32]!;
    this.width = next;
    // trie
    const go: Map<number, number>[] = [new Map()];
    const outs: Set<number>[] = [new Set()];
    groupLiterals.forEach((ls, g) => {
      for (const l of ls) {
        let s = 0;
        for (const ch of l) {
          const a = this.alpha[ch.charCodeAt(0)] ?? 0;
          let t = go[s]!.get(a);
          if (t === undefined) { t = go.length; go.push(new Map()); outs.push(new Set()); go[s]!.set(a, t); }
          s = t;
        }
        outs[s]!.add(g);
      }
    });
    if (go.length > 65535) throw new Error('too many prefilter literals');
    // BFS: failure links folded into a full transition table
    this.delta = new Uint16Array(go.length * this.width);
    const fail = new Uint32Array(go.length);
    const queue: number[] = [];
    for (let a = 1; a < this.width; a++) {
      const t = go[0]!.get(a);
      if (t !== undefined) { this.delta[a] = t; queue.push(t); }
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi]!;
      for (const g of outs[fail[s]!]!) outs[s]!.add(g);
      for (let a = 1; a < this.width; a++) {
        const t = go[s]!.get(a);
        if (t !== undefined) {
          fail[t] = this.delta[fail[s]! * this.width + a]!;
          this.delta[s * this.width + a] = t;
          queue.push(t);
        } else this.delta[s * this.width + a] = this.delta[fail[s]! * this.width + a]!;
      }
    }
    this.out = outs.map((o) => (o.size ? [...o] : undefined));
    // Scan table: row offsets pre-multiplied by the width (no multiply per character), and a
    // transition into a state that completes a literal stored as its bitwise complement.
    // Int16 rows keep a typical table (a few hundred states) within the L1 cache.
    this.next = go.length * this.width < 32768 ? new Int16Array(this.delta.length) : new Int32Array(this.delta.length);
    for (let k = 0; k < this.delta.length; k++) {
      const t = this.delta[k]!;
      this.next[k] = this.out[t] !== undefined ? ~(t * this.width) : t * this.width;
    }
  }

  /** Like scan(parts.join(' ')) without building the joined string (argv as proc.cmdline). */
  scanParts(parts: readonly string[]): Uint8Array | undefined {
    const hits = this.hits;
    hits.fill(0);
    const { alpha, next, width, out } = this;
    const space = alpha[32]!;
    let st = 0;
    for (let p = 0; p < parts.length; p++) {
      if (p > 0) {
        st = next[st + space]!;
        if (st < 0) { st = ~st; const o = out[st / width]!; for (let k = 0; k < o.length; k++) hits[o[k]!] = 1; }
      }
      const s = parts[p]!;
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 128) return undefined;
        st = next[st + alpha[c]!]!;
        if (st < 0) { st = ~st; const o = out[st / width]!; for (let k = 0; k < o.length; k++) hits[o[k]!] = 1; }
      }
    }
    return hits;
  }

  /** Marks the groups whose literals occur in s. Returns false when s cannot be judged (non-ASCII). */
  scan(s: string): Uint8Array | undefined {
    const hits = this.hits;
    hits.fill(0);
    const { alpha, next, width, out } = this;
    let st = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 128) return undefined;
      st = next[st + alpha[c]!]!;
      if (st < 0) {
        st = ~st;
        const o = out[st / width]!;
        for (let k = 0; k < o.length; k++) hits[o[k]!] = 1;
      }
    }
    return hits;
  }
}
