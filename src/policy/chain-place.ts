// Why: a policy with `extends` is validated once more after merging, and a field's mistake found only
// then (or only when a session starts, field-source.ts) must still be fixable in one look: it names the
// file, line and column that wrote the field — the first file of the chain, child first, that writes
// it, since merging lets the child win. Before, an error found after merging had no line at all.
import type { Document, LineCounter, ParsedNode } from 'yaml';
import { type IssueLocator, locate } from './errors.js';
import type { FieldLocator } from './field-source.js';

/** One file of an `extends` chain as read: its name and parsed document. */
export interface ChainFile { file: string; p: { doc: Document.Parsed; lc: LineCounter } }

/** Where a field's value was written: the first file of the chain (child first) that writes it. */
export function fieldLocator(chain: readonly ChainFile[]): FieldLocator {
  return (path) => {
    for (const { file, p } of chain) {
      const node = p.doc.getIn(path, true) as ParsedNode | null | undefined;
      const start = node?.range?.[0];
      if (start === undefined) continue;
      const at = p.lc.linePos(start);
      return { file, line: at.line, column: at.col };
    }
    return undefined;
  };
}

/**
 * Where an issue of the merged policy points: the first file (child first) that writes its path (or
 * the unknown key under it), else the deepest part of the path some file writes.
 */
export function chainLocator(chain: readonly ChainFile[]): IssueLocator {
  return (path, unknownKey) => {
    const full = unknownKey === undefined ? [...path] : [...path, unknownKey];
    for (let n = full.length; n > 0; n--) {
      const sub = full.slice(0, n);
      for (const { file, p } of chain) {
        if (!p.doc.hasIn(sub)) continue;
        const at = locate(p.doc, p.lc, sub);
        if (at) return { file, ...at };
      }
    }
    const first = chain[0];
    const at = first && locate(first.p.doc, first.p.lc, []);
    return first && at ? { file: first.file, ...at } : undefined;
  };
}
