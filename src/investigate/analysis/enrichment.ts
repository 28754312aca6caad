// Why: "the alerts coincide with tool use" has to be a number, not an impression. For every
// source (an IP or host that ran agent episodes and raised alerts) this compares the alert rate
// during tool calls with the rate during idle/model time of the same episodes, with an exact
// test per source and a stratified fleet-wide test. The same rates give each alert its prior
// odds of being unrelated noise, which the scoring uses.
import type { KeyAlerts } from './alert-table.js';
import { inIntervals, lowerBound, mergeIntervals, unionLength } from './columns.js';
import type { MergedLinkState } from './linker.js';
import type { Enrichment, KeyEnrichment } from './model.js';
import { ConnectionGrouper } from './same-connection.js';
import { betaQuantile, rateTest, stratifiedRateTest, type RateStratum } from './stats.js';

export interface EnrichmentResult {
  enrichment: Enrichment;
  /**
   * The null ("noise") weight of an alert with destination dst: the odds that a plain alert
   * inside a call is background, rbg / (rin − rbg). rbg is the rate of background alerts
   * (outside tool calls and not explained by a call that left a process running); rin the
   * rate of "plain" alerts inside tool calls (whose calls show no command evidence). Both are
   * for that destination over the whole fleet (pooled over sources: per source the counts are
   * tiny, and a host daemon behaves alike on every host), shrunk towards the fleet's mix, with
   * the alert's own burst left out (its source's alerts to the destination within the incident
   * gap: one scan's or one tunnel's alerts are no evidence about themselves). A destination reached as
   * often outside calls as inside (a daemon behind the NAT address) gets a high weight;
   * a miner's beacons after the call that started it do not count as background.
   */
  noiseWeight(dst: number, key: string, ts: number): number;
}

export const NOISE_WEIGHT_RANGE = [0.02, 5] as const;
/** Weight, in alerts, of the fleet's rates behind each destination's own. */
const DST_PRIOR = 2;
/**
 * The enrichment behind a noise weight is taken at this lower credible bound, not at its point
 * estimate: a dozen daemon beacons land inside calls more often than the busy fraction says
 * often enough by chance (6 of 10 where 2.5 were due: p ≈ 0.02), and at face value that made every
 * coincident beacon a likely incident on fleets with nothing planted.
 */
export const ENRICHMENT_QUANTILE = 0.05;


/**
 * @param keyAlerts   alerts per key ('ip:…' / 'host:…'), sorted by time
 * @param inside      per alert number: 1 when a tool-call window (± skew) on its key contains it
 * @param evidenced   per alert number: 1 when an alert inside a call has command evidence (rule, destination named)
 * @param explained   per alert number: 1 when an alert outside calls has a convincing lag explanation
 * @param dstOf       destination id of alert number a
 * @param connOf      alert number a's flow (source, destination, port) and sensor (file, rule): the
 *                    records of one connection count once, as one observation (same-connection.ts)
 */
/** Plain-inside and background alerts of one source to one destination (times ascending). */
interface Cell { inside: number; background: number; times: number[]; kinds: number[] }

/** Counts of a cell's plain-inside / background alerts within [from, to]. */
function countIn(c: Cell, from: number, to: number): { inside: number; background: number } {
  let lo = 0, hi = c.times.length;
  while (lo < hi) { const m = (lo + hi) >>> 1; if (c.times[m]! < from) lo = m + 1; else hi = m; }
  let inside = 0, background = 0;
  for (let i = lo; i < c.times.length && c.times[i]! <= to; i++) { if (c.kinds[i] === 1) inside++; else background++; }
  return { inside, background };
}

export function computeEnrichment(keyAlerts: Map<string, KeyAlerts>, state: MergedLinkState, inside: Uint8Array, evidenced: Uint8Array, explained: Uint8Array, skewMs: number, dstOf: (a: number) => number, connOf: (a: number) => { flow: string; sensor: string }, burstMs: number): EnrichmentResult {
  // Observation windows: the episodes that ran under each key (clipped to the key's validity).
  const windows = new Map<string, [number, number][]>();
  const hostVotes = new Map<string, Map<string, number>>();
  const t = state.table;
  for (let e = 0; e < t.count; e++) {
    const host = t.str(t.host[e]!);
    for (let j = t.keyStart[e]!; j < t.keyEnd[e]!; j++) {
      const a = Math.max(t.start[e]!, t.keyFrom[j]!) - skewMs, b = Math.min(t.end[e]!, t.keyTo[j]!) + skewMs;
      if (b < a) continue;
      const key = t.dict[t.keyIdx[j]!]!;
      const list = windows.get(key) ?? [];
      list.push([a, b]);
      windows.set(key, list);
      if (host !== undefined) {
        const v = hostVotes.get(key) ?? new Map<string, number>();
        v.set(host, (v.get(host) ?? 0) + 1);
        hostVotes.set(key, v);
      }
    }
  }
  const counted = new Uint8Array(inside.length);
  const strata: (RateStratum & { key: string })[] = [];
  const byDst = new Map<string, Map<number, Cell>>();
  // IP keys first, so an alert seen under both its IP and its host is counted once.
  const exposure = [...state.exposure].sort((a, b) => (a.key.startsWith('ip:') ? 0 : 1) - (b.key.startsWith('ip:') ? 0 : 1) || (a.key < b.key ? -1 : 1));
  for (const x of exposure) {
    const ka = keyAlerts.get(x.key);
    const win = windows.get(x.key);
    if (!ka || !win) continue;
    const merged = mergeIntervals(win);
    const observedMs = merged.reduce((s, [a, b]) => s + (b - a), 0);
    const insideMs = Math.min(observedMs, unionLength(x.starts, x.ends, x.sorted === true));
    let total = 0, ins = 0;
    const dsts = new Map<number, Cell>();
    byDst.set(x.key, dsts);
    const lo = lowerBound(ka.ts, merged[0]?.[0] ?? Infinity);
    const conns = new ConnectionGrouper();
    for (let j = lo; j < ka.ts.length; j++) {
      const a = ka.idx[j]!;
      if (counted[a] || !inIntervals(merged, ka.ts[j]!)) continue;
      counted[a] = 1;
      // (another sensor's record of a connection already counted: not a second coincidence)
      const c = connOf(a);
      if (!conns.add(c.flow, c.sensor, ka.ts[j]!).isNew) continue;
      total++;
      const d = dstOf(a);
      const dc = dsts.get(d) ?? { inside: 0, background: 0, times: [], kinds: [] };
      let kind = 0;
      if (inside[a]) { ins++; if (!evidenced[a]) { dc.inside++; kind = 1; } } else if (!explained[a]) { dc.background++; kind = 2; }
      if (kind) { dc.times.push(ka.ts[j]!); dc.kinds.push(kind); }
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

  // Null weights: background rate over inside rate per destination, fleet-wide, without the
  // alert's own burst, shrunk towards the fleet.
  // A destination's rates are per unit of exposure of the sources that reached it without a
  // command to explain it (a host daemon's beacon comes only from NAT addresses, never from
  // sandbox addresses; a sandbox whose only metadata read was a curl says nothing about daemons).
  let bgAll = 0, plainAll = 0, fleetInMs = 0, fleetOutMs = 0;
  const exposureOf = new Map(strata.map((x) => [x.key, x]));
  const fleetDst = new Map<number, { inside: number; background: number; inMs: number; outMs: number }>();
  for (const [key, dsts] of byDst) {
    const k = exposureOf.get(key)!;
    let used = false;
    for (const [d, c] of dsts) {
      if (c.inside + c.background === 0) continue;
      used = true;
      const f = fleetDst.get(d) ?? { inside: 0, background: 0, inMs: 0, outMs: 0 };
      f.inside += c.inside; f.background += c.background; bgAll += c.background; plainAll += c.inside;
      f.inMs += k.insideMs; f.outMs += k.observedMs - k.insideMs;
      fleetDst.set(d, f);
    }
    if (used) { fleetInMs += k.insideMs; fleetOutMs += k.observedMs - k.insideMs; }
  }
  // Plain inside alerts arrive at rin = background + caused; the odds that one is background
  // are rbg / (rin − rbg) = ρ / (1 − ρ) with ρ = rbg / rin. Given xIn + xBg alerts (pseudo-alerts
  // included), the share inside is Beta(xIn, xBg)-distributed and fixes ρ = (1 − q)/q · inMs/outMs;
  // q is taken at its ENRICHMENT_QUANTILE, so a small excess that chance explains gives no odds
  // against noise, while a destination seen only inside calls still does.
  // (memoised: the quantile is a 45-step bisection of the Beta CDF, and alerts of one destination
  // and burst share their counts; 10 M calls' 27 k alerts took 0.35 s without it)
  const quantiles = new Map<string, number>();
  const odds = (xIn: number, inMs: number, xBg: number, outMs: number): number => {
    const a = Math.max(xIn, 1e-6), b = Math.max(xBg, 1e-6);
    const qk = `${a}|${b}`;
    let q = quantiles.get(qk);
    if (q === undefined) { q = betaQuantile(ENRICHMENT_QUANTILE, a, b); quantiles.set(qk, q); }
    const rho = q <= 0 ? Infinity : ((1 - q) / q) * (inMs / outMs);
    return rho >= 1 ? NOISE_WEIGHT_RANGE[1] : Math.min(NOISE_WEIGHT_RANGE[1], Math.max(NOISE_WEIGHT_RANGE[0], rho / (1 - rho)));
  };
  // Gamma–Poisson estimates. Fleet: one pseudo-alert of background (so "never seen outside a
  // call" during a sliver of idle time is not taken as proof) and the inside count that keeps
  // the prior neutral (no enrichment): without data, being inside a call proves nothing.
  // Destination: DST_PRIOR pseudo-alerts at the fleet's rates.
  const noiseWeight = (dst: number, key: string, ts: number): number => {
    // Leave the alert's own burst out (its source's alerts to this destination within burstMs):
    // one scan or one tunnel's alerts are not independent evidence about the destination.
    const own = byDst.get(key)?.get(dst);
    const burst = own ? countIn(own, ts - burstMs, ts + burstMs) : { inside: 0, background: 0 };
    const ownIn = burst.inside, ownBg = burst.background;
    const k = exposureOf.get(key);
    const inF = Math.max(1, fleetInMs), outF = Math.max(1, fleetOutMs);
    const xBgF = Math.max(0, bgAll - ownBg) + 1, xInF = Math.max(0, plainAll - ownIn) + inF / outF;
    const rbgF = xBgF / outF, rinF = xInF / inF;
    const fd = fleetDst.get(dst);
    const ownUsed = own !== undefined && own.inside + own.background === ownIn + ownBg && ownIn + ownBg > 0 && k !== undefined;
    const inD = (fd?.inMs ?? 0) - (ownUsed ? k.insideMs : 0), outD = (fd?.outMs ?? 0) - (ownUsed ? k.observedMs - k.insideMs : 0);
    if (!fd || inD <= 0 || outD <= 0) return odds(xInF, inF, xBgF, outF);
    // DST_PRIOR pseudo-alerts, split between inside and background as the fleet's rates would.
    const eIn = rinF * inD, eBg = rbgF * outD;
    return odds(Math.max(0, fd.inside - ownIn) + (DST_PRIOR * eIn) / (eIn + eBg), inD, Math.max(0, fd.background - ownBg) + (DST_PRIOR * eBg) / (eIn + eBg), outD);
  };
  return { enrichment: { fleet, pooled, perKey, perHost }, noiseWeight };
}
