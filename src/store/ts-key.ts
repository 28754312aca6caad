// Why: the index orders and range-filters events by time with plain text comparison, so every
// timestamp (epoch-ns decimal string, or ISO 8601 as the architecture also allows) becomes one
// zero-padded, fixed-width nanosecond string.

/** Width of the padded key: 20 digits holds any unsigned 64-bit nanosecond value. */
export const TS_KEY_WIDTH = 20;

const DIGITS = /^\d{1,20}$/;
/** ISO 8601 as the architecture allows it: a date and time with a zone (Date.parse alone takes `-5` as 2001 in local time). */
const ISO = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** Convert an event timestamp to its sortable key, or throw if it is not a timestamp. */
export function tsKey(ts: unknown): string {
  if (typeof ts !== 'string' || ts === '') throw new Error('ts must be a non-empty string');
  if (DIGITS.test(ts)) return ts.padStart(TS_KEY_WIDTH, '0');
  const ms = ISO.test(ts) ? Date.parse(ts) : NaN;
  if (!Number.isFinite(ms) || ms < 0) throw new Error(`ts is neither epoch nanoseconds nor ISO 8601 with a zone: ${JSON.stringify(ts.slice(0, 40))}`);
  return (BigInt(ms) * 1_000_000n).toString().padStart(TS_KEY_WIDTH, '0');
}

/** Orders two event timestamps in time (epoch-ns strings of any width, or ISO 8601). */
export function compareTs(a: string, b: string): number {
  const x = tsKey(a), y = tsKey(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Undo the padding: back to a plain epoch-ns decimal string. */
export function keyToNs(key: string): string {
  return BigInt(key).toString();
}
