// Why: a detection's message is built from a template with %field placeholders. Field values come
// from hostile sources (argv, DNS names), so each is stripped of control characters and truncated:
// a crafted argv must not forge log lines or terminal escapes in an operator's console.
import { RuleError } from './errors.js';
import type { FieldCache, FieldTable } from './fields.js';
import type { CondPiece } from './loader.js';

type Part = string | { slot: number } | { window: 'count' | 'value' };
export interface OutputTemplate { parts: Part[] }

const PLACEHOLDER = /%%|%([a-z_]+(?:\.[a-z_]+)+(?:\[\d{1,4}\])?)/g;
const MAX_VALUE = 200;

export function compileOutput(piece: CondPiece, fields: FieldTable): OutputTemplate {
  const parts: Part[] = [];
  let last = 0;
  for (const m of piece.text.matchAll(PLACEHOLDER)) {
    const i = m.index ?? 0;
    if (i > last) parts.push(piece.text.slice(last, i));
    last = i + m[0].length;
    if (m[0] === '%%') { parts.push('%'); continue; }
    const name = m[1]!;
    if (name === 'window.count') { parts.push({ window: 'count' }); continue; }
    if (name === 'window.value') { parts.push({ window: 'value' }); continue; }
    const f = fields.resolve(name);
    if (!f) {
      const p = piece.pos(i);
      throw new RuleError(`unknown field '%${name}' in output`, { file: piece.file, rule: piece.owner, line: p.line, column: p.column });
    }
    parts.push({ slot: f.slot });
  }
  if (last < piece.text.length) parts.push(piece.text.slice(last));
  return { parts };
}

/** Makes a value safe to show: no control or bidi characters, bounded length. */
export function safeValue(v: unknown): string {
  let s = v === undefined ? '<none>' : Array.isArray(v) ? v.join(' ') : String(v);
  // eslint-disable-next-line no-control-regex
  s = s.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE)}…` : s;
}

/** Stands for a field with no value while rendering (safeValue escapes a real NUL, so no value can forge it). */
const ABSENT = '\u0000';

/**
 * The alert text. A field with no value is `<none>`, except when it is the whole of a parenthesised
 * aside — "to 203.0.113.5:9999 (%net.name)" without a name — which is left out instead.
 */
export function renderOutput(t: OutputTemplate, c: FieldCache, count?: number, value?: number): string {
  let out = '';
  for (const p of t.parts) {
    if (typeof p === 'string') out += p;
    else if ('slot' in p) { const v = c.g(p.slot); out += v === undefined ? ABSENT : safeValue(v); }
    else {
      const n = p.window === 'count' ? count : value;
      out += n === undefined ? ABSENT : String(n);
    }
  }
  return out.indexOf(ABSENT) < 0 ? out : out.replace(/ ?\(\u0000\)/g, '').replace(/\u0000/g, '<none>');
}
