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
/** A runner-up with this share of the best call's posterior makes the attribution ambiguous. */
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
 * Incident-level attribution. Hypothesis H_S: the calls in S caused the incident's alerts
 * (each alert by the best of them), and any alert none of them explains is noise. Its
 * likelihood is Π_i (max_{c∈S} score_ic + noise_i). The best single call is chosen first;
 * more calls join S greedily while each raises the log-likelihood enough (CO_CAUSE_MIN_GAIN,
 * CO_CAUSE_REL): a scan spread over three calls needs all three; a NAT neighbour that merely
 * overlapped the same alerts, or one beacon of a long series, adds little. Confidence of the first call = its posterior among all
 * single-call hypotheses and "noise only"; of a co-cause = the logistic of its gain.
 */
function describe(group: number[], alerts: AlertOut[], calls: CallRef[]): Incident {
  const first = alerts[group[0]!]!;
  const explains = new Map<number, number>();
  const timing = new Map<number, { inside: number; after: number; mention: number; rule: number }>();
  const perCall = new Map<number, Map<number, number>>(); // call → alert position → score
  const noise: number[] = [];
  let severity: number | undefined, rarity = 0, start = Infinity, end = -Infinity;
  group.forEach((i, pos) => {
    const a = alerts[i]!;
    start = Math.min(start, a.ts); end = Math.max(end, a.ts);
    if (a.severity !== undefined) severity = severity === undefined ? a.severity : Math.min(severity, a.severity);
    rarity = Math.max(rarity, a.rarity);
    noise.push(a.noiseWeight);
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
  const n = group.length;
  // Gain in log-likelihood of adding call c to the current per-alert best scores.
  const best = new Float64Array(n);
  const gain = (c: number): number => {
    let g = 0;
    for (const [pos, sc] of perCall.get(c)!) if (sc > best[pos]!) g += Math.log(sc + noise[pos]!) - Math.log(best[pos]! + noise[pos]!);
    return g;
  };
  const singles = [...perCall.keys()].map((c) => ({ c, g: gain(c) }))
    .sort((a, b) => b.g - a.g || explains.get(b.c)! - explains.get(a.c)! || calls[a.c]!.start - calls[b.c]!.start);
  // Posterior among single-call hypotheses and "all noise" (log-likelihood gain 0).
  const maxG = Math.max(0, singles[0]?.g ?? 0);
  const z = Math.exp(-maxG) + singles.reduce((s, x) => s + Math.exp(x.g - maxG), 0);
  const posterior = (g: number): number => Math.exp(g - maxG) / z;
  const attr = (c: number, confidence: number): Attribution => ({ call: c, explains: explains.get(c)!, confidence, reasons: reasons(calls[c]!, timing.get(c)!, n, first) });

  const attributed: Attribution[] = [];
  const chosen = new Set<number>();
  const take = (c: number): void => { chosen.add(c); for (const [pos, sc] of perCall.get(c)!) if (sc > best[pos]!) best[pos] = sc; };
  if (singles[0]) { attributed.push(attr(singles[0].c, posterior(singles[0].g))); take(singles[0].c); }
  for (;;) {
    let bestC = -1, bestG = Math.max(CO_CAUSE_MIN_GAIN, CO_CAUSE_REL * (singles[0]?.g ?? 0));
    for (const { c } of singles) { if (chosen.has(c)) continue; const g = gain(c); if (g > bestG) { bestG = g; bestC = c; } }
    if (bestC < 0) break;
    attributed.push(attr(bestC, 1 / (1 + Math.exp(-bestG))));
    take(bestC);
  }
  const ru = singles.find((x) => !chosen.has(x.c));
  const runnerUp = ru ? attr(ru.c, posterior(ru.g)) : undefined;
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
