// Why: a trace written in local time but marked UTC (or a firewall exporting in the sensor's zone)
// shifts every call against every alert by whole hours: the link step then quietly finds nothing,
// or blames whatever call happens to sit at the shifted time. Such a mistake shows in the data:
// alerts from agent sources fall inside tool calls far more often at one whole offset (a zone's
// difference, in quarter hours) than at zero. This check measures that on a sample of alerts and,
// when one offset clearly beats zero, says so — a note naming the offset and --tz; it never
// shifts anything itself. Threat stopped: a zone mistake silently turning an investigation into
// a wrong blame or a false all-clear.
import type { KeyAlerts } from './alert-table.js';
import { lowerBound } from './columns.js';
import type { LinkState } from './linker.js';

/** Alerts looked at, at most (evenly spread over the sources): enough to see a peak, cheap at fleet scale. */
const SAMPLE = 4000;
/** Offsets tried: every quarter hour from −14 h to +14 h (every zone's difference from UTC). */
const STEP_MS = 15 * 60_000, SPAN_MS = 14 * 3_600_000;
/** The best offset must cover this many sampled alerts, and this many times zero's and the median offset's. */
const MIN_HITS = 10, FACTOR = 3;

export interface ClockCheck { offsetMs: number; hits: number; hitsAtZero: number; sampled: number }

/**
 * The offset (ms to add to the traces' times) at which sampled alerts fall inside tool-call windows
 * of their own source far more often than at zero, or undefined when zero is as good as any.
 */
export function clockOffset(state: LinkState, alertsOf: (key: string) => KeyAlerts | undefined): ClockCheck | undefined {
  const keys: { starts: Float64Array; ends: Float64Array; ts: Float64Array }[] = [];
  let total = 0;
  for (const x of state.exposure) {
    const ka = alertsOf(x.key);
    if (!ka || ka.ts.length === 0 || x.starts.length === 0) continue;
    const sorted = x.sorted === true;
    keys.push({ starts: sorted ? x.starts : Float64Array.from(x.starts).sort(), ends: sorted ? x.ends : Float64Array.from(x.ends).sort(), ts: ka.ts });
    total += ka.ts.length;
  }
  if (total < MIN_HITS) return undefined;
  // The sample, taken once: evenly spread alerts, each with its own source's windows.
  const every = Math.max(1, Math.ceil(total / SAMPLE));
  const sample: { k: (typeof keys)[number]; t: number }[] = [];
  for (let seen = 0, k = 0; k < keys.length; k++) {
    for (let j = 0; j < keys[k]!.ts.length; j++, seen++) if (seen % every === 0) sample.push({ k: keys[k]!, t: keys[k]!.ts[j]! });
  }
  // Windows covering t − o: those started by then minus those ended before (starts and ends each sorted).
  const covered = (o: number): number => sample.reduce((n, { k, t }) => n + (upperBound(k.starts, t - o) - lowerBound(k.ends, t - o) > 0 ? 1 : 0), 0);
  // Zero first: when a third of the sample or more is inside calls as it is, no offset can reach
  // FACTOR times that, and the other offsets are not tried (the usual case, at fleet scale too).
  if (FACTOR * covered(0) >= sample.length) return undefined;
  const offsets: number[] = [];
  for (let o = -SPAN_MS; o <= SPAN_MS; o += STEP_MS) offsets.push(o);
  const hits = offsets.map(covered);
  const sampled = sample.length;
  const zero = hits[offsets.indexOf(0)]!;
  let best = 0;
  for (let i = 1; i < hits.length; i++) if (hits[i]! > hits[best]!) best = i;
  const median = [...hits].sort((a, b) => a - b)[hits.length >> 1]!;
  const top = hits[best]!;
  if (offsets[best] === 0 || top < MIN_HITS || top < FACTOR * Math.max(zero, 1) || top < FACTOR * Math.max(median, 1)) return undefined;
  return { offsetMs: offsets[best]!, hits: top, hitsAtZero: zero, sampled };
}

/** Index of the first value > x in a sorted array. */
function upperBound(a: Float64Array, x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) { const m = (lo + hi) >>> 1; if (a[m]! <= x) lo = m + 1; else hi = m; }
  return lo;
}

/** The note for a check's result: which way to shift, by how much, and the option that does it. */
export function clockOffsetNote(c: ClockCheck): string {
  const h = Math.abs(c.offsetMs) / 3_600_000;
  const amount = Number.isInteger(h) ? `${h} h` : `${Math.floor(h)} h ${Math.round((h % 1) * 60)} min`;
  return `clock check: ${c.hits} of ${c.sampled} sampled alerts fall inside a tool call of their source when the traces' times are moved ${c.offsetMs > 0 ? 'later' : 'earlier'} by ${amount}, ${c.hitsAtZero} as they are: one side's times are probably in the wrong zone (a local time marked UTC, or a sensor's zone); re-run with --log-tz or --trace-tz for the side written without a zone, or fix the export — nothing was shifted`;
}
