// Why: one incident is a story; the fleet view is the pattern an RL team needs to act on:
// which command patterns precede alerts, which episodes, runs and steps show the behaviour,
// and when it first appeared (a policy learning to mine shows up as a trend, not one event).
// It counts only likely attributions (confidence ≥ LIKELY): a "possible" incident's best guess,
// or a runner-up, is no evidence that a command pattern precedes alerts. Episodes are run +
// episode (episode-key.ts). "First appeared" is the earliest blamed call, by when it started —
// the call that showed the behaviour — not the first alert of the earliest incident.
import type { CallRef, FleetView, Incident, PatternRow } from './model.js';
import { LIKELY } from './incidents.js';
import { episodeKey } from './episode-key.js';

const HOUR = 3_600_000;

type EpisodeRow = FleetView['episodes'][number];

export function buildFleetView(incidents: Incident[], calls: CallRef[]): FleetView {
  const patterns = new Map<string, PatternRow & { eps: Set<string>; stepSet: Set<number>; runSet: Set<string>; catSet: Set<string>; callSet: Set<number> }>();
  const episodes = new Map<string, Omit<EpisodeRow, 'steps' | 'categories'> & { steps: Set<number>; categories: Set<string> }>();
  const steps = new Map<number, number>();
  const runs = new Map<string, { eps: Set<string>; incidents: number }>();
  const blamedCalls = new Set<number>();
  let first: { c: CallRef; inc: Incident } | undefined;
  const buckets = new Map<number, { incidents: number; alerts: number }>();
  for (const inc of incidents) {
    const likely = inc.attributed.filter((at) => at.confidence >= LIKELY);
    if (likely.length === 0) continue;
    const b = Math.floor(inc.start / HOUR) * HOUR;
    const cur = buckets.get(b) ?? { incidents: 0, alerts: 0 };
    cur.incidents++; cur.alerts += inc.alertCount;
    buckets.set(b, cur);
    const seenEp = new Set<string>();
    for (const at of likely) {
      const c = calls[at.call]!;
      const ek = episodeKey(c.run, c.episode);
      if (!first || c.start < first.c.start) first = { c, inc };
      let row = patterns.get(c.pattern);
      if (!row) {
        row = { pattern: c.pattern, incidents: 0, alerts: 0, episodes: 0, calls: 0, categories: [], firstSeen: c.start, firstEpisode: c.episode, ...(c.run !== undefined ? { firstRun: c.run } : {}), firstStep: c.step, steps: [], runs: [], example: c.command ?? '',
          eps: new Set(), stepSet: new Set(), runSet: new Set(), catSet: new Set(), callSet: new Set() };
        patterns.set(c.pattern, row);
      }
      row.incidents++;
      row.alerts += at.explains;
      row.eps.add(ek); row.catSet.add(inc.category); row.callSet.add(at.call);
      if (c.step !== undefined) row.stepSet.add(c.step);
      if (c.run !== undefined) row.runSet.add(c.run);
      if (c.start < row.firstSeen) { row.firstSeen = c.start; row.firstEpisode = c.episode; row.firstRun = c.run; row.firstStep = c.step; row.example = c.command ?? ''; }
      if (!blamedCalls.has(at.call)) {
        blamedCalls.add(at.call);
        if (c.step !== undefined) steps.set(c.step, (steps.get(c.step) ?? 0) + 1);
      }
      let ep = episodes.get(ek);
      if (!ep) { ep = { episode: c.episode, run: c.run, incidents: 0, alerts: 0, steps: new Set<number>(), first: c.start, categories: new Set<string>() }; episodes.set(ek, ep); }
      ep.first = Math.min(ep.first, c.start);
      if (c.step !== undefined) ep.steps.add(c.step);
      if (seenEp.has(ek)) continue;
      seenEp.add(ek);
      ep.incidents++; ep.alerts += inc.alertCount; ep.categories.add(inc.category);
      if (c.run !== undefined) {
        const r = runs.get(c.run) ?? { eps: new Set<string>(), incidents: 0 };
        r.eps.add(ek); r.incidents++;
        runs.set(c.run, r);
      }
    }
  }
  const rows: PatternRow[] = [...patterns.values()].map(({ eps, stepSet, runSet, catSet, callSet, ...r }) => ({
    ...r, alerts: Math.round(r.alerts * 10) / 10, episodes: eps.size, calls: callSet.size, categories: [...catSet].sort(),
    steps: [...stepSet].sort((a, b) => a - b), runs: [...runSet].sort(),
  }));
  rows.sort((a, b) => b.incidents - a.incidents || b.alerts - a.alerts || a.firstSeen - b.firstSeen);
  return {
    patterns: rows,
    episodes: [...episodes.values()].map((e) => ({ ...e, steps: [...e.steps].sort((a, b) => a - b), categories: [...e.categories].sort() }))
      .sort((a, b) => b.incidents - a.incidents || a.first - b.first),
    byRun: [...runs].map(([run, r]) => ({ run, episodes: r.eps.size, incidents: r.incidents })).sort((a, b) => (a.run < b.run ? -1 : 1)),
    steps: [...steps].map(([step, n]) => ({ step, calls: n })).sort((a, b) => a.step - b.step),
    firstAppeared: first ? { ts: first.c.start, incident: first.inc.id, episode: first.c.episode, run: first.c.run, step: first.c.step, pattern: first.c.pattern } : undefined,
    timeline: [...buckets].map(([from, v]) => ({ from, ...v })).sort((a, b) => a.from - b.from),
  };
}
