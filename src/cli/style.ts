// Why: tiny terminal styling for Corral's CLI that respects NO_COLOR, TERM=dumb and non-TTY
// output, plus an aligned table. Threat stopped: terminal escape injection — text the agent
// controls (argv, DNS names, messages) could carry ANSI/OSC sequences that rewrite or hide lines
// in an operator's terminal; `safeText` escapes control characters before anything is printed.
import { INVISIBLE_FORMAT, showInvisible } from '../util/invisible-text.js';

export interface Style {
  enabled: boolean;
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
  cyan(s: string): string;
}

type Stream = NodeJS.WritableStream | NodeJS.WriteStream;

/** Colour only on a TTY, unless NO_COLOR is set (non-empty) or TERM=dumb; FORCE_COLOR (≠ "0") forces it on. */
export function colorEnabled(stream: Stream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '') return env.FORCE_COLOR !== '0';
  if (env.TERM === 'dumb') return false;
  return 'isTTY' in stream && stream.isTTY === true;
}

export function makeStyle(stream: Stream, env: NodeJS.ProcessEnv = process.env): Style {
  const enabled = colorEnabled(stream, env);
  const wrap = (open: number, close: number) => (s: string): string => (enabled ? `\x1b[${open}m${s}\x1b[${close}m` : s);
  return {
    enabled,
    red: wrap(31, 39),
    yellow: wrap(33, 39),
    green: wrap(32, 39),
    cyan: wrap(36, 39),
    dim: wrap(2, 22),
    bold: wrap(1, 22),
  };
}

// SGR sequences only: that is all this module emits, and all visibleWidth needs to skip.
const SGR = /\x1b\[[0-9;]*m/g;

/** Printed width of a string, ignoring SGR colour codes. */
export function visibleWidth(s: string): number {
  return [...s.replace(SGR, '')].length;
}

/** Escape C0/C1 control characters (ESC, CR, BEL, …) so untrusted text cannot drive the terminal, and bidi/zero-width ones (util/invisible-text.ts). */
export function safeText(s: string): string {
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  }).replace(INVISIBLE_FORMAT, showInvisible);
}

/** Aligned columns (two spaces apart, no trailing padding); widths ignore ANSI colour codes. */
export function table(rows: string[][], header: string[]): string {
  const all = [header, ...rows];
  return tableLines(all, fitWidths(all));
}

/**
 * Column widths that fit `rows`, grown from `widths` (never narrowed): a table written page by
 * page keeps its alignment unless a later page holds a wider cell. (Loops, not Math.max(...rows):
 * spreading 150 000 rows as arguments overflows the stack.)
 */
export function fitWidths(rows: readonly string[][], widths: number[] = []): number[] {
  const out = [...widths];
  for (const r of rows) {
    for (let c = 0; c < r.length; c++) {
      const w = visibleWidth(r[c] ?? '');
      if (w > (out[c] ?? 0)) out[c] = w;
    }
  }
  for (let c = 0; c < out.length; c++) out[c] ??= 0;
  return out;
}

/** `rows` as lines padded to `widths` (the last column unpadded), each ending in a newline. */
export function tableLines(rows: readonly string[][], widths: readonly number[]): string {
  let out = '';
  for (const r of rows) {
    const cells: string[] = [];
    for (let c = 0; c < widths.length; c++) {
      const cell = r[c] ?? '';
      cells.push(c === widths.length - 1 ? cell : cell + ' '.repeat(Math.max(0, (widths[c] ?? 0) - visibleWidth(cell))));
    }
    out += `${cells.join('  ').replace(/ +$/, '')}\n`;
  }
  return out;
}
