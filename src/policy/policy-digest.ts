// Why: a session records which policy governed it. Its name alone does not say (two files can share
// a name; --allow and --mount widen it per run); the digest of the effective policy does, so a report
// or an audit can tell two sessions' rules apart.
import { createHash } from 'node:crypto';
import type { Policy } from './schema.js';

/** sha256 (first 16 hex digits) of the effective policy's canonical JSON (keys sorted). */
export function policyDigest(p: Policy): string {
  const canon = (v: unknown): unknown => (Array.isArray(v) ? v.map(canon) : v && typeof v === 'object'
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])])) : v);
  return createHash('sha256').update(JSON.stringify(canon(p))).digest('hex').slice(0, 16);
}
