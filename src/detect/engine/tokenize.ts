// Why: a hand-written tokenizer for rule conditions, so every token knows the file, line and
// column it came from and a malformed rule is reported precisely instead of misread.
import { RuleError } from './errors.js';

export interface Loc { file: string; owner: string; line: number; column: number }
export type TokType = 'lp' | 'rp' | 'comma' | 'op' | 'str' | 'num' | 'word' | 'eof';
export interface Token { type: TokType; value: string; num?: number; loc: Loc }

/** Maps an offset in the condition text to a file position. */
export type PosFn = (offset: number) => { line: number; column: number };

const SIZE_UNITS: Record<string, number> = {
  '': 1, k: 1024, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4,
  KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4,
};
const NUMBER = /^(-?\d+(?:\.\d+)?)(k|K|M|G|T|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$/;
const WORD_STOP = new Set([' ', '\t', '\n', '\r', '(', ')', ',', '"', "'", '=', '<', '>', '!']);

/** Parses a number literal with an optional byte-size suffix; undefined if it is not one. */
export function parseNumber(s: string): number | undefined {
  const m = NUMBER.exec(s);
  if (!m) return undefined;
  return Number(m[1]) * SIZE_UNITS[m[2] ?? '']!;
}

export function tokenize(text: string, file: string, owner: string, pos: PosFn): Token[] {
  const out: Token[] = [];
  const at = (i: number): Loc => ({ file, owner, ...pos(i) });
  const fail = (msg: string, i: number): never => {
    const l = at(i);
    throw new RuleError(msg, { file, rule: owner, line: l.line, column: l.column });
  };
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') { i++; continue; }
    const start = i;
    if (c === '(') { out.push({ type: 'lp', value: c, loc: at(i++) }); continue; }
    if (c === ')') { out.push({ type: 'rp', value: c, loc: at(i++) }); continue; }
    if (c === ',') { out.push({ type: 'comma', value: c, loc: at(i++) }); continue; }
    if (c === '=' || c === '<' || c === '>' || c === '!') {
      const two = text.slice(i, i + 2);
      if (two === '==' || two === '!=' || two === '<=' || two === '>=') { out.push({ type: 'op', value: two === '==' ? '=' : two, loc: at(i) }); i += 2; continue; }
      if (c === '!') fail("unexpected '!' (did you mean '!=' or 'not'?)", i);
      out.push({ type: 'op', value: c, loc: at(i++) });
      continue;
    }
    if (c === '"' || c === "'") {
      let v = '';
      i++;
      for (;;) {
        if (i >= n) fail('unterminated string', start);
        const ch = text[i]!;
        if (ch === c) { i++; break; }
        if (ch === '\\' && c === '"') {
          const e = text[i + 1];
          if (e === undefined) fail('unterminated string', start);
          if (e === 'x' || e === 'u') {
            const len = e === 'x' ? 2 : 4;
            const hex = text.slice(i + 2, i + 2 + len);
            if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(hex)) fail(`bad \\${e} escape`, i);
            v += String.fromCharCode(parseInt(hex, 16));
            i += 2 + len;
            continue;
          }
          const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '0': '\0', '"': '"', '\\': '\\' };
          // Unknown escapes keep the backslash, so regex "\d+" means what a reader expects.
          v += map[e!] ?? `\\${e}`;
          i += 2;
          continue;
        }
        v += ch;
        i++;
      }
      out.push({ type: 'str', value: v, loc: at(start) });
      continue;
    }
    while (i < n && !WORD_STOP.has(text[i]!)) i++;
    const w = text.slice(start, i);
    const num = parseNumber(w);
    if (num !== undefined) out.push({ type: 'num', value: w, num, loc: at(start) });
    else out.push({ type: 'word', value: w, loc: at(start) });
  }
  out.push({ type: 'eof', value: '', loc: at(n) });
  return out;
}
