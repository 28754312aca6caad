// Why: agents repeat commands (about 40 % of benign tool calls repeat an earlier one), and
// screening the same (text, tool) again gives the same findings, so CommandChecker reuses recent
// results from this bounded LRU instead of re-parsing. Threat it stops: none by itself; it keeps
// screening cheap enough to run before every call. It must never change an answer, so results
// are reused only when no rule reads per-call identifiers (evt.id, evt.session, evt.tool_call —
// the only event fields that differ between two checks of the same text), and every answer
// handed out is a fresh copy a caller may mutate freely.
import type { Finding } from './check.js';
import type { RuleSet } from './engine/api.js';
import { internals } from './engine/ruleset.js';

export interface CheckerOptions {
  /** Recent (text, tool) results to reuse; 0 disables the cache. Default DEFAULT_CACHE_SIZE. */
  cacheSize?: number;
}

export const DEFAULT_CACHE_SIZE = 1024;
/** Longer texts are not cached (bounds memory at about cacheSize × this many UTF-16 units). */
export const MAX_CACHED_TEXT = 16_384;

/** Fields whose value differs between two checks of the same text (see toEvents in check.ts). */
const PER_CALL_FIELDS = ['evt.id', 'evt.session', 'evt.tool_call'];

/** True when no rule, output template or window of `rules` reads a per-call field. */
export function cacheable(rules: RuleSet): boolean {
  let resolved: Set<string>;
  try { resolved = internals(rules).table.resolved; } catch { return false; }
  return !PER_CALL_FIELDS.some((f) => resolved.has(f));
}

/** The policy-independent part of a check result (the verdict is recomputed per call). */
export interface CachedResult { findings: Finding[]; parseErrors: string[]; unwrapped: string[] }

export function cloneFinding(f: Finding): Finding {
  return { ...f, attack: f.attack.slice(), span: [f.span[0], f.span[1]], chain: f.chain.slice() };
}

/** Least-recently-used map from (tool, text) to a result; Map order is recency order. */
export class ResultCache {
  private readonly map = new Map<string, CachedResult>();
  constructor(private readonly max: number) {}

  get size(): number { return this.map.size; }

  get(text: string, tool: string): CachedResult | undefined {
    if (text.length > MAX_CACHED_TEXT) return undefined;
    const k = `${tool}\u0000${text}`;
    const v = this.map.get(k);
    if (v !== undefined) { this.map.delete(k); this.map.set(k, v); }
    return v;
  }

  set(text: string, tool: string, v: CachedResult): void {
    if (text.length > MAX_CACHED_TEXT) return;
    const k = `${tool}\u0000${text}`;
    this.map.delete(k);
    this.map.set(k, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
}
