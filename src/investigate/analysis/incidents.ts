// Why: people act on incidents, not on thousands of alert rows. This groups linked alerts
// (same source, same kind of destination, close in time), decides which tool call(s) explain
// each group from the per-alert probabilities, flags ambiguous attributions (shared NAT) with
// the runner-up, and ranks the incidents by severity, size, rarity and confidence.
import type { AlertOut, Attribution, CallRef, Incident } from './model.js';

export interface IncidentOptions {
  /** Alerts further apart than this start a new incident. */
  gapMs: number;
}

/** A further call is blamed when it raises the incident's log-likelihood by this much (odds 20:1) … */
export const CO_CAUSE_MIN_GAIN = Math.log(20);
/** … and by at least this share of the first call's gain (a bystander that overlapped one beacon of a long series is not a co-cause). */
export const CO_CAUSE_REL = 0.25;
/** A runner-up with this share of the best call's confidence makes the attribution ambiguous. */
export const AMBIGUOUS_SHARE = 0.5;

const CATEGORY_WEIGHT: Record<string, number> = {
  mining: 1.5, tunnel: 1.5, reverse_shell: 1.5, metadata_access: 1.5, exfiltration: 1.4, sandbox_escape: 1.5,
  internal_probe: 1.2, persistence: 1.2, defense_evasion: 1.2,
};

export function buildIncidents(alerts: AlertOut[], calls: CallRef[], opts: IncidentOptions): Incident[] {
  const sourceOf = (a: AlertOut): string => a.candidates[0]?.via ?? `ip:${a.src}`;
  const order = alerts.map((a) => a.i).sort((x, y) => {
    const a = alerts[x]!, b = alerts[y]!;
    const sa = sourceOf(a), sb = sourceOf(b);
    if (sa !== sb) return sa < sb ? -1 : 1;
    if (a.kind !== b.kind) return a.kind < b.kind ? -1 : 1;
    return a.ts - b.ts || x - y;
  });
  const groups: number[][] = [];
  let cur: number[] = [];
  for (const i of order) {
    const prev = cur.length ? alerts[cur[cur.length - 1]!]! : undefined;
    const a = alerts[i]!;
    if (prev && (sourceOf(prev) !== sourceOf(a) || prev.kind !== a.kind || a.ts - prev.ts > opts.gapMs)) { groups.push(cur); cur = []; }
    cur.push(i);
  }
  if (cur.length) groups.push(cur);

  const incidents = groups.map((g) => describe(g, alerts, calls));
  incidents.sort((a, b) => b.score - a.score || a.start - b.start);
  incidents.forEach((inc, k) => { inc.rank = k + 1; inc.id = `INC-${String(k + 1).padStart(4, '0')}`; });
  return incidents;
}

/**
 * Incident-level attribution. Each alert is explained by the best of a set S of calls, or by
 * noise when that is likelier: L(S) = Π_i max(noise_i, max_{c∈S} score_ic). The best single
 * call is chosen first; more calls join S greedily while each raises log L enough
 * (CO_CAUSE_MIN_GAIN, CO_CAUSE_REL): a scan spread over three calls needs all three; a NAT
 * neighbour that merely overlapped the same alerts, or one beacon of a long series, adds little.
 * Confidence of c ∈ S is a posterior over the alternatives "S with c replaced by another
 * candidate d" and "S without c": L(S) / (L(S) + Σ_d L(S−c+d) + L(S−c)). It is 1/2 for a
 * perfect tie (shared NAT, no other evidence) and s/(s+noise) for a lone candidate.
 */
function describe(group: number[], alerts: AlertOut[], calls: CallRef[]): Incident {
  const first = alerts[group[0]!]!;
  const explains = new Map<number, number>();
  const timing = new Map<number, { inside: number; after: number; mention: number; rule: number }>();
  const perCall = new Map<number, Map<number, number>>(); // call → alert position → score
  const n = group.length;
  const noise = new Float64Array(n);
  let severity: number | undefined, rarity = 0, start = Infinity, end = -Infinity;
  group.forEach((i, pos) => {
    const a = alerts[i]!;
    start = Math.min(start, a.ts); end = Math.max(end, a.ts);
    if (a.severity !== undefined) severity = severity === undefined ? a.severity : Math.min(severity, a.severity);
    rarity = Math.max(rarity, a.rarity);
    noise[pos] = a.noiseWeight;
    for (const e of a.candidates) {
      explains.set(e.call, (explains.get(e.call) ?? 0) + e.p);
      const m = perCall.get(e.call) ?? new Map<number, number>();
      m.set(pos, Math.max(m.get(pos) ?? 0, e.score));
      perCall.set(e.call, m);
      const t = timing.get(e.call) ?? { inside: 0, after: 0, mention: 0, rule: 0 };
      if (e.timing === 'after') t.after++; else t.inside++;
      if (e.mention) t.mention++;
      if (e.ruleMatch !== 'none') t.rule++;
      timing.set(e.call, t);
    }
  });
  // best[pos]: how well the chosen set explains alert pos (noise at least).
  const best = Float64Array.from(noise);
  const gainOver = (base: Float64Array, c: number): number => {
    let g = 0;
    for (const [pos, sc] of perCall.get(c)!) if (sc > base[pos]!) g += Math.log(sc) - Math.log(base[pos]!);
    return g;
  };
  const singles = [...perCall.keys()].map((c) => ({ c, g: gainOver(best, c) }))
    .sort((a, b) => b.g - a.g || explains.get(b.c)! - explains.get(a.c)! || calls[a.c]!.start - calls[b.c]!.start);
  const chosen: number[] = [];
  const take = (c: number): void => { chosen.push(c); for (const [pos, sc] of perCall.get(c)!) if (sc > best[pos]!) best[pos] = sc; };
  if (singles[0]) take(singles[0].c);
  const minGain = Math.max(CO_CAUSE_MIN_GAIN, CO_CAUSE_REL * (singles[0]?.g ?? 0));
  for (;;) {
    let bestC = -1, bestG = minGain;
    for (const { c } of singles) { if (chosen.includes(c)) continue; const g = gainOver(best, c); if (g > bestG) { bestG = g; bestC = c; } }
    if (bestC < 0) break;
    take(bestC);
  }
  // Swap posteriors.
  const swaps = (c: number): { conf: number; alt: { d: number; w: number }[] } => {
    const without = Float64Array.from(noise);
    for (const o of chosen) if (o !== c) for (const [pos, sc] of perCall.get(o)!) if (sc > without[pos]!) without[pos] = sc;
    const removal = -gainOver(without, c); // log L(S−c) − log L(S)
    const alt = singles.filter((x) => !chosen.includes(x.c)).map((x) => ({ d: x.c, w: Math.exp(removal + gainOver(without, x.c)) }));
    const conf = 1 / (1 + Math.exp(removal) + alt.reduce((s, a) => s + a.w, 0));
    return { conf, alt: alt.map((a) => ({ d: a.d, w: a.w * conf })).sort((x, y) => y.w - x.w) };
  };
  const attr = (c: number, confidence: number): Attribution => ({ call: c, explains: explains.get(c)!, confidence, reasons: reasons(calls[c]!, timing.get(c)!, n, first) });
  const attributed: Attribution[] = [];
  let runnerUp: Attribution | undefined;
  chosen.forEach((c, k) => {
    const sw = swaps(c);
    attributed.push(attr(c, sw.conf));
    if (k === 0 && sw.alt[0]) runnerUp = attr(sw.alt[0].d, sw.alt[0].w);
  });
  const ambiguous = runnerUp !== undefined && attributed[0] !== undefined && runnerUp.confidence >= AMBIGUOUS_SHARE * attributed[0].confidence;
  const episodes = [...new Set(attributed.map((a) => calls[a.call]!.episode))];
  const sevW = severity === undefined ? 2 : 5 - Math.min(4, Math.max(1, severity));
  const conf = attributed[0]?.confidence ?? 0;
  const score = sevW * (CATEGORY_WEIGHT[first.category] ?? 1) * (1 + Math.log2(1 + n)) * (0.5 + rarity) * (0.3 + 0.7 * conf);
  return {
    id: '', rank: 0, score, category: first.category, kind: first.kind, source: first.candidates[0]?.via ?? `ip:${first.src}`,
    start, end, alertCount: n, severity, rarity, episodes, attributed, runnerUp, ambiguous, alerts: group,
    calls: singles.map((x) => x.c),
  };
}

function reasons(call: CallRef, t: { inside: number; after: number; mention: number; rule: number }, n: number, a: AlertOut): string[] {
  const out: string[] = [];
  if (t.inside) out.push(`${t.inside}/${n} alerts while the call ran (± skew)`);
  if (t.after) out.push(`${t.after}/${n} alerts after it ended${call.detached ? ', and it left a process running' : ''}`);
  if (t.mention) out.push(`its command names the destination (${t.mention}/${n} alerts)`);
  if (call.rules.length) out.push(`command matches rule${call.rules.length > 1 ? 's' : ''} ${call.rules.map((r) => r.rule).join(', ')}`);
  if (!call.endKnown) out.push('call end unknown (assumed duration)');
  if (a.rarity > 0.8) out.push('destination is rare across the fleet');
  return out;
}
