// Why: "the alerts coincide with tool use" has to be a number, not an impression. For every
// source (an IP or host that ran agent episodes and raised alerts) this compares the alert rate
// during tool calls with the rate during idle/model time of the same episodes, with an exact
// test per source and a stratified fleet-wide test. The same rates give each alert its prior
// odds of being unrelated noise, which the scoring uses.
import type { KeyAlerts } from './alert-table.js';
import { inIntervals, lowerBound, mergeIntervals, unionLength } from './columns.js';
import type { LinkState } from './linker.js';
import type { Enrichment, KeyEnrichment } from './model.js';
import { rateTest, stratifiedRateTest, type RateStratum } from './stats.js';

export interface EnrichmentResult {
  enrichment: Enrichment;
  /**
   * The null ("noise") weight of an alert on key with destination dst: the alert rate outside
   * tool calls over the rate inside them, for that source and destination, shrunk towards the
   * source's rates, which are shrunk towards the fleet's. A destination a source reaches all
   * day long whatever the agent does (a host daemon behind the NAT address) gets a high weight.
   */
  noiseWeight(key: string, dst: number): number;
}

/** Pseudo-exposure (ms) at the parent's rates added before estimating a source's (or source+destination's) own rates. */
const SHRINK_MS = 3_600_000;
export const NOISE_WEIGHT_RANGE = [0.02, 2] as const;

/**
 * @param dstOf  destination id of alert number a
 */

/**
 * @param keyAlerts   alerts per key ('ip:…' / 'host:…'), sorted by time
 * @param inside      per alert number: 1 when a tool-call window (± skew) on its key contains it
 */
export function computeEnrichment(keyAlerts: Map<string, KeyAlerts>, state: LinkState, inside: Uint8Array, skewMs: number, dstOf: (a: number) => number): EnrichmentResult {
  // Observation windows: the episodes that ran under each key (clipped to the key's validity).
  const windows = new Map<string, [number, number][]>();
  const hostVotes = new Map<string, Map<string, number>>();
  for (const ep of state.episodes) {
    for (const k of ep.keys) {
      const a = Math.max(ep.start, k.from) - skewMs, b = Math.min(ep.end, k.to) + skewMs;
      if (b < a) continue;
      const list = windows.get(k.key) ?? [];
      list.push([a, b]);
      windows.set(k.key, list);
      if (ep.host !== undefined) {
        const v = hostVotes.get(k.key) ?? new Map<string, number>();
        v.set(ep.host, (v.get(ep.host) ?? 0) + 1);
        hostVotes.set(k.key, v);
      }
    }
  }
  const counted = new Uint8Array(inside.length);
  const strata: (RateStratum & { key: string })[] = [];
  const byDst = new Map<string, Map<number, { inside: number; total: number }>>();
  // IP keys first, so an alert seen under both its IP and its host is counted once.
  const exposure = [...state.exposure].sort((a, b) => (a.key.startsWith('ip:') ? 0 : 1) - (b.key.startsWith('ip:') ? 0 : 1) || (a.key < b.key ? -1 : 1));
  for (const x of exposure) {
    const ka = keyAlerts.get(x.key);
    const win = windows.get(x.key);
    if (!ka || !win) continue;
    const merged = mergeIntervals(win);
    const observedMs = merged.reduce((s, [a, b]) => s + (b - a), 0);
    const insideMs = Math.min(observedMs, unionLength(x.starts, x.ends));
    let total = 0, ins = 0;
    const dsts = new Map<number, { inside: number; total: number }>();
    byDst.set(x.key, dsts);
    const lo = lowerBound(ka.ts, merged[0]?.[0] ?? Infinity);
    for (let j = lo; j < ka.ts.length; j++) {
      const a = ka.idx[j]!;
      if (counted[a] || !inIntervals(merged, ka.ts[j]!)) continue;
      counted[a] = 1;
      total++;
      const d = dstOf(a);
      const dc = dsts.get(d) ?? { inside: 0, total: 0 };
      dc.total++;
      if (inside[a]) { ins++; dc.inside++; }
      dsts.set(d, dc);
    }
    strata.push({ key: x.key, inside: ins, total, insideMs, observedMs });
  }
  const fleet = stratifiedRateTest(strata);
  const sum = strata.reduce((s, x) => ({ inside: s.inside + x.inside, total: s.total + x.total, insideMs: s.insideMs + x.insideMs, observedMs: s.observedMs + x.observedMs }), { inside: 0, total: 0, insideMs: 0, observedMs: 0 });
  const pooled = rateTest(sum);
  const perKey: KeyEnrichment[] = strata.filter((s) => s.total > 0).map((s) => ({ key: s.key, ...rateTest(s) }));
  perKey.sort((a, b) => a.log10p - b.log10p || b.total - a.total);

  const byHost = new Map<string, RateStratum>();
  for (const s of strata) {
    const votes = hostVotes.get(s.key);
    const host = s.key.startsWith('host:') ? s.key.slice(5) : votes ? [...votes.entries()].sort((a, b) => b[1] - a[1])[0]![0] : undefined;
    if (host === undefined) continue;
    const h = byHost.get(host) ?? { inside: 0, total: 0, insideMs: 0, observedMs: 0 };
    h.inside += s.inside; h.total += s.total; h.insideMs += s.insideMs; h.observedMs += s.observedMs;
    byHost.set(host, h);
  }
  const perHost: KeyEnrichment[] = [...byHost].filter(([, s]) => s.total > 0).map(([host, s]) => ({ key: `host:${host}`, ...rateTest(s) }));
  perHost.sort((a, b) => a.log10p - b.log10p || b.total - a.total);

  // Null weight per key: how likely an alert inside a call is just noise, from the key's own
  // rates shrunk towards the fleet's (a source with 3 alerts says little on its own).
  const fleetIn = sum.insideMs > 0 ? sum.inside / sum.insideMs : 0;
  const outMs = sum.observedMs - sum.insideMs;
  const fleetOut = outMs > 0 ? (sum.total - sum.inside) / outMs : 0;
  const keyRates = new Map<string, { rin: number; rout: number; s: RateStratum }>();
  for (const s of strata) {
    const rin = (s.inside + fleetIn * SHRINK_MS) / (s.insideMs + SHRINK_MS);
    const rout = (s.total - s.inside + fleetOut * SHRINK_MS) / (s.observedMs - s.insideMs + SHRINK_MS);
    keyRates.set(s.key, { rin, rout, s });
  }
  const clamp = (r: number): number => Math.min(NOISE_WEIGHT_RANGE[1], Math.max(NOISE_WEIGHT_RANGE[0], r));
  const fallback = fleetIn > 0 ? clamp(fleetOut / fleetIn) : 0.3;
  const noiseWeight = (key: string, dst: number): number => {
    const k = keyRates.get(key);
    if (!k) return fallback;
    const d = byDst.get(key)?.get(dst);
    if (!d) return clamp(k.rin > 0 ? k.rout / k.rin : 1);
    // The source's rates, scaled to this destination's share of its alerts, are the prior.
    const share = d.total / Math.max(1, k.s.total);
    const rin = (d.inside + share * k.rin * SHRINK_MS) / (k.s.insideMs + SHRINK_MS);
    const rout = (d.total - d.inside + share * k.rout * SHRINK_MS) / (k.s.observedMs - k.s.insideMs + SHRINK_MS);
    return clamp(rin > 0 ? rout / rin : NOISE_WEIGHT_RANGE[1]);
  };
  return { enrichment: { fleet, pooled, perKey, perHost }, noiseWeight };
}
