// Why: one incident is a story; the fleet view is the pattern an RL team needs to act on:
// which command patterns precede alerts, which episodes, runs and steps show the behaviour,
// and when it first appeared (a policy learning to mine shows up as a trend, not one event).
import type { CallRef, FleetView, Incident, PatternRow } from './model.js';

const HOUR = 3_600_000;

export function buildFleetView(incidents: Incident[], calls: CallRef[]): FleetView {
  const patterns = new Map<string, PatternRow & { eps: Set<string>; stepSet: Set<number>; runSet: Set<string>; catSet: Set<string>; callSet: Set<number> }>();
  const episodes = new Map<string, { episode: string; run?: string; incidents: number; alerts: number; steps: Set<number>; first: number; categories: Set<string> }>();
  const steps = new Map<number, number>();
  const runs = new Map<string, { eps: Set<string>; incidents: number }>();
  const blamedCalls = new Set<number>();
  for (const inc of incidents) {
    const seenEp = new Set<string>();
    for (const at of inc.attributed) {
      const c = calls[at.call]!;
      let row = patterns.get(c.pattern);
      if (!row) {
        row = { pattern: c.pattern, incidents: 0, alerts: 0, episodes: 0, calls: 0, categories: [], firstSeen: c.start, firstEpisode: c.episode, firstStep: c.step, steps: [], runs: [], example: c.command ?? '',
          eps: new Set(), stepSet: new Set(), runSet: new Set(), catSet: new Set(), callSet: new Set() };
        patterns.set(c.pattern, row);
      }
      row.incidents++;
      row.alerts += at.explains;
      row.eps.add(c.episode); row.catSet.add(inc.category); row.callSet.add(at.call);
      if (c.step !== undefined) row.stepSet.add(c.step);
      if (c.run !== undefined) row.runSet.add(c.run);
      if (c.start < row.firstSeen) { row.firstSeen = c.start; row.firstEpisode = c.episode; row.firstStep = c.step; row.example = c.command ?? ''; }
      if (!blamedCalls.has(at.call)) {
        blamedCalls.add(at.call);
        if (c.step !== undefined) steps.set(c.step, (steps.get(c.step) ?? 0) + 1);
      }
      if (seenEp.has(c.episode)) continue;
      seenEp.add(c.episode);
      const ep = episodes.get(c.episode) ?? { episode: c.episode, run: c.run, incidents: 0, alerts: 0, steps: new Set<number>(), first: inc.start, categories: new Set<string>() };
      ep.incidents++; ep.alerts += inc.alertCount; ep.first = Math.min(ep.first, inc.start); ep.categories.add(inc.category);
      for (const a2 of inc.attributed) { const s = calls[a2.call]!.step; if (calls[a2.call]!.episode === c.episode && s !== undefined) ep.steps.add(s); }
      episodes.set(c.episode, ep);
      if (c.run !== undefined) {
        const r = runs.get(c.run) ?? { eps: new Set<string>(), incidents: 0 };
        r.eps.add(c.episode); r.incidents++;
        runs.set(c.run, r);
      }
    }
  }
  const rows: PatternRow[] = [...patterns.values()].map(({ eps, stepSet, runSet, catSet, callSet, ...r }) => ({
    ...r, alerts: Math.round(r.alerts * 10) / 10, episodes: eps.size, calls: callSet.size, categories: [...catSet].sort(),
    steps: [...stepSet].sort((a, b) => a - b), runs: [...runSet].sort(),
  }));
  rows.sort((a, b) => b.incidents - a.incidents || b.alerts - a.alerts || a.firstSeen - b.firstSeen);

  const first = [...incidents].filter((i) => i.attributed.length > 0).sort((a, b) => a.start - b.start)[0];
  const firstCall = first ? calls[first.attributed[0]!.call] : undefined;
  const buckets = new Map<number, { incidents: number; alerts: number }>();
  for (const inc of incidents) {
    const b = Math.floor(inc.start / HOUR) * HOUR;
    const cur = buckets.get(b) ?? { incidents: 0, alerts: 0 };
    cur.incidents++; cur.alerts += inc.alertCount;
    buckets.set(b, cur);
  }
  return {
    patterns: rows,
    episodes: [...episodes.values()].map((e) => ({ ...e, steps: [...e.steps].sort((a, b) => a - b), categories: [...e.categories].sort() }))
      .sort((a, b) => b.incidents - a.incidents || a.first - b.first),
    byRun: [...runs].map(([run, r]) => ({ run, episodes: r.eps.size, incidents: r.incidents })).sort((a, b) => (a.run < b.run ? -1 : 1)),
    steps: [...steps].map(([step, n]) => ({ step, calls: n })).sort((a, b) => a.step - b.step),
    firstAppeared: first ? { ts: first.start, incident: first.id, episode: firstCall?.episode, pattern: firstCall?.pattern } : undefined,
    timeline: [...buckets].map(([from, v]) => ({ from, ...v })).sort((a, b) => a.from - b.from),
  };
}
