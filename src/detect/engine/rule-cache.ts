// Why: every Corral process that screens or watches (`corral check --hook` runs once per agent
// tool call) loads the built-in rules, and parsing their YAML with source positions is about
// half of that (≈150 ms of a ≈0.6 s hook call). The build writes the loaded built-in store
// (lists, macros, rule drafts) as JSON next to the compiled code, keyed by a hash of the rule
// files; a process whose rule files still match that hash starts from the JSON instead of the
// YAML. Positions survive: each condition piece's offset→(line, column) map is stored as the
// runs where it advances by one column per character, which reproduces the YAML mapping exactly
// for every offset (checked when the cache is written, and by test/rule-cache.test.ts).
// Threat stopped: none by itself; a stale or edited cache can never be used (hash mismatch →
// YAML), so it cannot change what the rules detect.
import { createHash } from 'node:crypto';
import type { RuleSource } from './api.js';
import type { CondPiece, Store } from './loader.js';
import type { PosFn } from './yaml-pos.js';

export const RULE_CACHE_VERSION = 1;

/** Hash of one rule file's text (with the cache version, so a format change invalidates old caches). */
export function textHash(text: string): string {
  return createHash('sha256').update(`corral-rule-cache-${RULE_CACHE_VERSION}\0`).update(text).digest('hex');
}

/** A PosFn as runs [offset, line, column, …]: within a run the column grows by one per character. */
export function posRuns(pos: PosFn, length: number): number[] {
  const out: number[] = [];
  let prev: { line: number; column: number } | undefined;
  for (let i = 0; i <= length; i++) {
    const p = pos(i);
    if (prev && p.line === prev.line && p.column === prev.column + 1) { prev = p; continue; }
    out.push(i, p.line, p.column);
    prev = p;
  }
  return out;
}

/** The PosFn a run list describes (offsets past the end map like the last one did). */
export function posFromRuns(runs: readonly number[]): PosFn {
  return (offset: number) => {
    let lo = 0, hi = runs.length / 3 - 1;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (runs[mid * 3]! <= offset) lo = mid; else hi = mid - 1; }
    const at = runs[lo * 3]!;
    return { line: runs[lo * 3 + 1]!, column: runs[lo * 3 + 2]! + Math.max(0, offset - at) };
  };
}

/** One rule file's items as loaded into an empty store. */
interface FileEntry { hash: string; lists: unknown[]; macros: unknown[]; rules: unknown[] }
interface CacheFile { version: number; files: Record<string, FileEntry> }

/**
 * The stores of rule files (each loaded alone into an empty store) as JSON. Every condition
 * piece's position map is stored as runs; throws if a run list does not reproduce the original
 * map at every offset up to one past the text.
 */
export function serializeFileStores(files: { file: string; text: string; store: Store }[]): string {
  const replacer = function (this: Record<string, unknown>, key: string, value: unknown): unknown {
    if (key === 'pos' && typeof value === 'function') {
      const piece = this as unknown as CondPiece;
      const runs = posRuns(piece.pos, piece.text.length + 1);
      const back = posFromRuns(runs);
      for (let i = 0; i <= piece.text.length + 1; i++) {
        const x = piece.pos(i), y = back(i);
        if (x.line !== y.line || x.column !== y.column) throw new Error(`rule cache: position map of ${piece.owner} differs at offset ${i}`);
      }
      return { runs };
    }
    if (typeof value === 'function') throw new Error(`rule cache: cannot store a function at '${key}'`);
    return value;
  };
  const out: CacheFile = { version: RULE_CACHE_VERSION, files: {} };
  for (const f of files) out.files[f.file] = { hash: textHash(f.text), lists: [...f.store.lists], macros: [...f.store.macros], rules: [...f.store.rules] };
  return JSON.stringify(out, replacer);
}

/** Cached rule files (serializeFileStores' JSON); an unreadable or other-version cache holds nothing. */
export class RuleCache {
  private constructor(private readonly files: Record<string, FileEntry>) {}

  static parse(json: string | undefined): RuleCache {
    if (json === undefined) return new RuleCache({});
    try {
      const file = JSON.parse(json, (key, value: unknown) => {
        if (key === 'pos' && value !== null && typeof value === 'object' && Array.isArray((value as { runs?: unknown }).runs)) return posFromRuns((value as { runs: number[] }).runs);
        return value;
      }) as CacheFile;
      return new RuleCache(file?.version === RULE_CACHE_VERSION && file.files && typeof file.files === 'object' ? file.files : {});
    } catch { return new RuleCache({}); }
  }

  /**
   * Adds the cached items of src to the store when the cache holds this very text and none of its
   * names is in the store yet (what loadSource would do for a file that only defines); false when
   * the caller must load it from YAML (not cached, changed, or a name clash to be reported).
   */
  apply(store: Store, src: RuleSource): boolean {
    const e = Object.hasOwn(this.files, src.file) ? this.files[src.file] : undefined;
    if (!e || e.hash !== textHash(src.text)) return false;
    const lists = e.lists as [string, never][], macros = e.macros as [string, never][], rules = e.rules as [string, never][];
    if (lists.some(([k]) => store.lists.has(k)) || macros.some(([k]) => store.macros.has(k)) || rules.some(([k]) => store.rules.has(k))) return false;
    // Each file's items are handed out once (a later user file's override mutates them in the
    // store): a second apply of the same file reads its YAML.
    delete this.files[src.file];
    for (const [k, v] of lists) store.lists.set(k, v);
    for (const [k, v] of macros) store.macros.set(k, v);
    for (const [k, v] of rules) store.rules.set(k, v);
    return true;
  }
}
