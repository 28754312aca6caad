// Why: the HTML report embeds its data, and an investigation can hold 100 000s of alerts.
// This picks what the page shows (the top incidents, their alerts and calls, the lanes of the
// timeline) under fixed caps, and says what it left out, so the file stays small enough for
// a browser and nothing is dropped silently.
import { showInvisible } from '../../util/invisible-text.js';
import { episodeKey } from '../analysis/episode-key.js';
import type { AlertOut, CallRef, Incident, InvestigationResult } from '../analysis/model.js';

export const HTML_LIMITS = { incidents: 300, alertsPerIncident: 400, lanes: 80 } as const;

export interface Lane {
  /** Source key (ip:… / host:…). */
  source: string;
  /** One row of bars per episode (run and name: two runs' episode "0" are two rows) that ran under this source. */
  rows: { episode: string; run?: string; calls: number[] }[];
  alerts: number[];
}

export interface ReportData {
  generated: string;
  result: Omit<InvestigationResult, 'incidents' | 'alerts' | 'calls'>;
  incidents: Incident[];
  alerts: AlertOut[];
  calls: CallRef[];
  lanes: Lane[];
  truncated: string[];
}

/** Builds the page's data: incidents (capped), with alert and call numbers remapped to the kept arrays. */
export function reportData(r: InvestigationResult, now = new Date()): ReportData {
  const truncated: string[] = [];
  const incidents = r.incidents.slice(0, HTML_LIMITS.incidents);
  if (r.incidents.length > incidents.length) truncated.push(`showing the top ${incidents.length} of ${r.incidents.length} incidents`);
  const alertMap = new Map<number, number>();
  const callMap = new Map<number, number>();
  const alerts: AlertOut[] = [];
  const calls: CallRef[] = [];
  const keepCall = (c: number): number => {
    let k = callMap.get(c);
    if (k === undefined) { k = calls.length; calls.push({ ...r.calls[c]!, n: r.calls[c]!.n }); callMap.set(c, k); }
    return k;
  };
  let cut = 0;
  const outIncidents = incidents.map((inc) => {
    const kept = inc.alerts.slice(0, HTML_LIMITS.alertsPerIncident);
    cut += inc.alerts.length - kept.length;
    const mine = kept.map((a) => {
      let k = alertMap.get(a);
      if (k === undefined) {
        const src = r.alerts[a]!;
        k = alerts.length;
        alerts.push({ ...src, i: k, candidates: src.candidates.map((e) => ({ ...e, call: keepCall(e.call) })) });
        alertMap.set(a, k);
      }
      return k;
    });
    return {
      ...inc, alerts: mine, calls: inc.calls.map(keepCall),
      attributed: inc.attributed.map((a) => ({ ...a, call: keepCall(a.call) })),
      runnerUp: inc.runnerUp ? { ...inc.runnerUp, call: keepCall(inc.runnerUp.call) } : undefined,
    };
  });
  if (cut) truncated.push(`${cut} alerts of very large incidents are not drawn (the counts include them)`);

  // Lanes: one per source, rows per episode; sources of the best-ranked incidents first.
  const lanes = new Map<string, { rows: Map<string, { run?: string; episode: string; calls: Set<number> }>; alerts: number[] }>();
  for (const inc of outIncidents) {
    let lane = lanes.get(inc.source);
    if (!lane) {
      if (lanes.size >= HTML_LIMITS.lanes) continue;
      lane = { rows: new Map(), alerts: [] };
      lanes.set(inc.source, lane);
    }
    lane.alerts.push(...inc.alerts);
    for (const c of inc.calls) {
      const { run, episode } = calls[c]!;
      const key = episodeKey(run, episode);
      let row = lane.rows.get(key);
      if (!row) { row = { ...(run !== undefined ? { run } : {}), episode, calls: new Set<number>() }; lane.rows.set(key, row); }
      row.calls.add(c);
    }
  }
  if (outIncidents.some((i) => !lanes.has(i.source))) truncated.push(`the timeline shows the ${HTML_LIMITS.lanes} sources of the best-ranked incidents`);
  const { incidents: _i, alerts: _a, calls: _c, ...rest } = r;
  return {
    generated: now.toISOString(), result: rest, incidents: outIncidents, alerts, calls, truncated,
    lanes: [...lanes].map(([source, l]) => ({ source, alerts: l.alerts, rows: [...l.rows.values()].map((row) => ({ ...row, calls: [...row.calls] })) })),
  };
}

/** JSON that is safe inside a <script> element: no '<', '>', '&' or line separators survive literally. */
export function scriptSafeJson(v: unknown): string {
  // (every string's bidi and zero-width characters become visible \uXXXX text: the page shows them with textContent)
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'string' ? showInvisible(x) : x)).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  // (bidi overrides and zero-width characters become visible \uXXXX: they would reorder what people read)
  // (control bytes other than tab and line ends too: a browser shows nothing for them, so text that
  //  hides part of itself behind one would read differently from what was recorded)
  return showInvisible(s.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`))
    .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
