// Why: condition errors must point at the exact line and column in the rule file, but YAML
// folds, quotes and indents scalars. This maps an offset in a scalar's parsed value back to an
// offset in the file by walking both texts in step (exact for plain and quoted single-line
// scalars; whitespace-tolerant for folded and literal blocks).
import type { LineCounter, Scalar } from 'yaml';

export type PosFn = (offset: number) => { line: number; column: number };

export function scalarPosFn(text: string, node: Scalar, lc: LineCounter): PosFn {
  const range = node.range ?? [0, 0, 0];
  const value = String(node.value ?? '');
  let start = range[0];
  const type = node.type;
  if (type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE') start += 1;
  else if (type === 'BLOCK_FOLDED' || type === 'BLOCK_LITERAL') {
    const nl = text.indexOf('\n', start);
    start = nl < 0 ? range[1] : nl + 1;
  }
  const end = range[1];
  return (offset: number) => {
    let si = start;
    let vi = 0;
    while (vi < offset && si < end) {
      const s = text[si]!;
      const v = value[vi]!;
      if (s === v) { si++; vi++; continue; }
      if (s === ' ' || s === '\t' || s === '\n' || s === '\r') { si++; continue; }
      if (s === '\\' && type === 'QUOTE_DOUBLE') { si += 2; vi++; continue; }
      si++; vi++;
    }
    // Skip indentation and line breaks the value does not contain, to land on the character itself.
    if (type !== 'QUOTE_DOUBLE' && type !== 'QUOTE_SINGLE') {
      while (si < end && value[vi] !== undefined && text[si] !== value[vi] && /\s/.test(text[si]!)) si++;
    }
    const p = lc.linePos(Math.min(si, Math.max(end, start)));
    return { line: p.line, column: p.col };
  };
}

/** Position of a node's start. */
export function nodePos(node: { range?: [number, number, number] | null } | null | undefined, lc: LineCounter): { line: number; column: number } {
  const p = lc.linePos(node?.range?.[0] ?? 0);
  return { line: p.line, column: p.col };
}
