// Why: people act on incidents, not on thousands of alert rows. This groups linked alerts
// (same source, same kind of destination, close in time), decides which tool call(s) explain
// each group from the per-alert probabilities, flags ambiguous attributions (shared NAT) with
// the runner-up, and ranks the incidents by severity, size, rarity and confidence.
import type { AlertOut, Attribution, CallRef, Incident } from './model.js';
import { ConnectionGrouper, flowKey, sensorKey } from './same-connection.js';
import { episodeKey } from './episode-key.js';

export interface IncidentOptions {
  /** Alerts further apart than this start a new incident. */
  gapMs: number;
}

/** A further call is blamed with the best one when it explains this share of what the best explains … */
export const CO_CAUSE_SHARE = 0.25;
/**
 * … or at least this many connections on its own (a second sandbox behind the same NAT address
 * that ran a miner once, next to one that beaconed all along: a small share, yet clearly a culprit) …
 */
export const CO_CAUSE_CONNECTIONS = 0.9;
/**
 * … and is likely (confidence ≥ this, odds of at least 2:1) to have caused one of the alerts.
 * Also the threshold for an incident's attribution to count as "likely" (exit code 3, the
 * accuracy benchmark); below it an incident is reported as "possible".
 */
export const LIKELY = 2 / 3;
export const EM_ITERATIONS = 25;
/** Dirichlet pseudo-count per mixture component. */
export const EM_PSEUDO = 1.5;
/** A runner-up with this share of the best call's confidence makes the attribution ambiguous. */
export const AMBIGUOUS_SHARE = 0.5;

const CATEGORY_WEIGHT: Record<string, number> = {
  mining: 1.5, tunnel: 1.5, reverse_shell: 1.5, metadata_access: 1.5, exfiltration: 1.4, sandbox_escape: 1.5,
  internal_probe: 1.2, persistence: 1.2, defense_evasion: 1.2,
};

/** The category's weight, 1 when it has none (own keys only: a category "constructor" is no weight). */
function categoryWeight(c: string | undefined): number {
  return c !== undefined && Object.hasOwn(CATEGORY_WEIGHT, c) ? CATEGORY_WEIGHT[c]! : 1;
}

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
  incidents.sort((a, b) => Number(b.likely) - Number(a.likely) || b.score - a.score || a.start - b.start);
  incidents.forEach((inc, k) => { inc.rank = k + 1; inc.id = `INC-${String(k + 1).padStart(4, '0')}`; });
  return incidents;
}

/**
 * Incident-level attribution. The alerts of one incident are a mixture: each was caused by one
 * candidate call c (likelihood ∝ its score s_ic) or is noise (∝ noise_i), with mixing weights
 * π shared by the whole incident. A few EM iterations (with a small Dirichlet pseudo-count so
 * one alert cannot make a weight 0 or 1) let a call that explains many alerts absorb them: a
 * miner started at step 3 takes every beacon, and the calls each beacon merely overlapped drop
 * out. r_ic is then the posterior that c caused alert i; a call's confidence is the
 * probability it caused at least one: 1 − Π_i (1 − r_ic). A perfect tie (shared NAT, no other
 * evidence) gives each side about half.
 */
function describe(group: number[], alerts: AlertOut[], calls: CallRef[]): Incident {
  const first = alerts[group[0]!]!;
  const timing = new Map<number, { inside: number; after: number; mention: number; rule: number }>();
  const slot = new Map<number, number>(); // call → mixture component (1..K); 0 is noise
  const links: { pos: number; k: number; s: number }[][] = [];
  const n = group.length;
  const noise = new Float64Array(n), omitted = new Float64Array(n);
  let severity: number | undefined, rarity = 0, start = Infinity, end = -Infinity;
  group.forEach((i, pos) => {
    const a = alerts[i]!;
    start = Math.min(start, a.ts); end = Math.max(end, a.ts);
    if (a.severity !== undefined) severity = severity === undefined ? a.severity : Math.min(severity, a.severity);
    rarity = Math.max(rarity, a.rarity);
    noise[pos] = a.noiseWeight;
    omitted[pos] = a.omitted?.score ?? 0;
    const mine: { pos: number; k: number; s: number }[] = [];
    const mineOf = new Map<number, { pos: number; k: number; s: number }>();
    for (const e of a.candidates) {
      let k = slot.get(e.call);
      if (k === undefined) { k = slot.size + 1; slot.set(e.call, k); }
      const dup = mineOf.get(k);
      if (dup) dup.s = Math.max(dup.s, e.score); else { const m = { pos, k, s: e.score }; mine.push(m); mineOf.set(k, m); }
      const t = timing.get(e.call) ?? { inside: 0, after: 0, mention: 0, rule: 0 };
      if (e.timing === 'after') t.after++; else t.inside++;
      if (e.mention) t.mention++;
      if (e.ruleMatch !== 'none') t.rule++;
      timing.set(e.call, t);
    }
    links.push(mine);
  });
  // The EM's observations are connections, not log lines (same-connection.ts): the records of one
  // connection become one observation, each call's likelihood its best over those records.
  const grouper = new ConnectionGrouper();
  const conn = group.map((i) => { const a = alerts[i]!; return grouper.add(flowKey(a.src, a.dst, a.dport), sensorKey(a.file, a.rule), a.ts).id; });
  const m = grouper.count;
  const obsNoise = new Float64Array(m), obsOmitted = new Float64Array(m), obsRecords = new Float64Array(m);
  const obsLinks: { k: number; s: number }[][] = Array.from({ length: m }, () => []);
  const obsOf: Map<number, { k: number; s: number }>[] = Array.from({ length: m }, () => new Map());
  for (let pos = 0; pos < n; pos++) {
    const o = conn[pos]!;
    obsNoise[o]! += noise[pos]!; obsOmitted[o]! += omitted[pos]!; obsRecords[o]! += 1;
    for (const l of links[pos]!) {
      const have = obsOf[o]!.get(l.k);
      if (have) have.s = Math.max(have.s, l.s); else { const x = { k: l.k, s: l.s }; obsLinks[o]!.push(x); obsOf[o]!.set(l.k, x); }
    }
  }
  for (let o = 0; o < m; o++) { obsNoise[o] = obsNoise[o]! / obsRecords[o]!; obsOmitted[o] = obsOmitted[o]! / obsRecords[o]!; }
  const K = slot.size;
  let pi = new Float64Array(K + 1).fill(1 / (K + 1));
  const resp = new Float64Array(K + 1); // Σ_i r_ik
  const logNone = new Float64Array(K + 1); // Σ_i log(1 − r_ik)
  for (let it = 0; it <= EM_ITERATIONS; it++) {
    resp.fill(0); logNone.fill(0);
    let piCall = 0;
    for (let k = 1; k <= K; k++) piCall += pi[k]!;
    piCall = K > 0 ? piCall / K : 0;
    for (let o = 0; o < m; o++) {
      // Candidates beyond the listed ones (score.ts MAX_CANDIDATES_PER_ALERT) are calls too: their
      // summed score counts in each denominator with the mean weight of the calls listed.
      let z = pi[0]! * obsNoise[o]! + piCall * obsOmitted[o]!;
      for (const l of obsLinks[o]!) z += pi[l.k]! * l.s;
      resp[0]! += (pi[0]! * obsNoise[o]!) / z;
      for (const l of obsLinks[o]!) {
        const r = (pi[l.k]! * l.s) / z;
        resp[l.k]! += r;
        logNone[l.k]! += Math.log1p(-Math.min(r, 1 - 1e-15));
      }
    }
    if (it === EM_ITERATIONS) break;
    const next = new Float64Array(K + 1);
    for (let k = 0; k <= K; k++) next[k] = (resp[k]! + EM_PSEUDO) / (m + EM_PSEUDO * (K + 1));
    pi = next;
  }
  const calledBy = [...slot].map(([call, k]) => ({ call, k, explains: resp[k]!, confidence: -Math.expm1(logNone[k]!) }))
    .sort((a, b) => b.explains - a.explains || b.confidence - a.confidence || calls[a.call]!.start - calls[b.call]!.start);
  const attr = (x: { call: number; explains: number; confidence: number }): Attribution => ({ call: x.call, explains: x.explains, confidence: x.confidence, reasons: reasons(calls[x.call]!, timing.get(x.call)!, n, first) });
  const attributed: Attribution[] = [];
  let runnerUp: Attribution | undefined;
  const top = calledBy[0];
  for (const x of calledBy) {
    if (x === top || (x.explains >= Math.min(CO_CAUSE_SHARE * top!.explains, CO_CAUSE_CONNECTIONS) && x.confidence >= LIKELY)) attributed.push(attr(x));
    else if (!runnerUp) runnerUp = attr(x);
  }
  const ambiguous = runnerUp !== undefined && attributed[0] !== undefined && runnerUp.confidence >= AMBIGUOUS_SHARE * attributed[0].confidence;
  // Episodes are run + episode (two runs both have an episode "0"): one entry per such episode.
  const seen = new Set<string>();
  const episodes: string[] = [];
  for (const a of attributed) { const c = calls[a.call]!, k = episodeKey(c.run, c.episode); if (!seen.has(k)) { seen.add(k); episodes.push(c.episode); } }
  const sevW = severity === undefined ? 2 : 5 - Math.min(4, Math.max(1, severity));
  const conf = attributed[0]?.confidence ?? 0;
  const score = sevW * categoryWeight(first.category) * (1 + Math.log2(1 + n)) * (0.5 + rarity) * (0.3 + 0.7 * conf);
  return {
    id: '', rank: 0, score, category: first.category, kind: first.kind, source: first.candidates[0]?.via ?? `ip:${first.src}`,
    start, end, alertCount: n, severity, rarity, episodes, attributed, runnerUp, ambiguous, likely: conf >= LIKELY, alerts: group,
    calls: calledBy.map((x) => x.call),
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
