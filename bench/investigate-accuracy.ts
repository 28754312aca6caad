// Why: `corral investigate` is only useful if its attributions are right. This generates RL
// fleets with planted incidents (tunnels, background miners that beacon later, internal scans,
// metadata reads) at several noise and clock-skew levels with the fleet simulator, runs the
// investigation on the written files, and scores attribution at the tool-call level against
// the ground truth: precision = blamed calls that really caused an incident / all blamed
// calls, recall = causing calls that were blamed / all
// causing calls (at the product's "likely" threshold, 2/3; the P/R @0.5 column shows a
// laxer one). Goal: ≥ 0.95 each at realistic noise. A fleet with nothing planted checks that
// pure noise blames nobody and that its enrichment p-value is not small. `--seeds A-B` repeats
// every scenario over seeds A..B and prints the worst and mean per scenario (one seed proves
// little). Lab/.test addresses only; no sockets.
//
// Run: node dist/bench/investigate-accuracy.js [--quick] [--episodes 1500] [--per-kind 10] [--seed 11 | --seeds 1-8] [--keep DIR]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateFleet, type GroundTruth } from '../src/investigate/generate/index.js';
import { investigate, type InvestigationResult } from '../src/investigate/investigate.js';
import { LIKELY } from '../src/investigate/analysis/incidents.js';
import { formatP } from '../src/investigate/analysis/stats.js';
import { fmt, nowMs, printTable } from './bench-util.js';

const argv = process.argv.slice(2);
const num = (name: string, dflt: number): number => { const i = argv.indexOf(`--${name}`); const v = i >= 0 ? Number(argv[i + 1]) : NaN; return Number.isFinite(v) ? v : dflt; };
const quick = argv.includes('--quick');
const keepAt = argv.indexOf('--keep');
const keep = keepAt >= 0 ? argv[keepAt + 1] : undefined;

interface Scenario {
  name: string; noise: number; genSkewMs: number; skewMs: number; natShare: number; traceIps: boolean; rules: 'auto' | 'off';
  /** Plant no incident (pure noise): every blamed call is a false one. */
  none?: boolean;
}

const SCENARIOS: Scenario[] = [
  { name: 'realistic', noise: 2, genSkewMs: 1500, skewMs: 2000, natShare: 0.25, traceIps: true, rules: 'auto' },
  { name: 'realistic, no analyzer', noise: 2, genSkewMs: 1500, skewMs: 2000, natShare: 0.25, traceIps: true, rules: 'off' },
  { name: 'realistic, IPs from placements', noise: 2, genSkewMs: 1500, skewMs: 2000, natShare: 0.25, traceIps: false, rules: 'auto' },
  { name: 'no noise, no skew', noise: 0, genSkewMs: 0, skewMs: 2000, natShare: 0.25, traceIps: true, rules: 'auto' },
  { name: 'noisy (10/h/host)', noise: 10, genSkewMs: 1500, skewMs: 2000, natShare: 0.25, traceIps: true, rules: 'auto' },
  { name: 'very noisy (50/h/host)', noise: 50, genSkewMs: 1500, skewMs: 2000, natShare: 0.25, traceIps: true, rules: 'auto' },
  { name: 'skew 5 s, --skew 2s (too small)', noise: 2, genSkewMs: 5000, skewMs: 2000, natShare: 0.25, traceIps: true, rules: 'auto' },
  { name: 'skew 5 s, --skew 6s', noise: 2, genSkewMs: 5000, skewMs: 6000, natShare: 0.25, traceIps: true, rules: 'auto' },
  { name: 'skew -30 s, --skew 45s', noise: 2, genSkewMs: -30_000, skewMs: 45_000, natShare: 0.25, traceIps: true, rules: 'auto' },
  { name: 'heavy NAT (75%)', noise: 2, genSkewMs: 1500, skewMs: 2000, natShare: 0.75, traceIps: true, rules: 'auto' },
  { name: 'nothing planted (pure noise)', noise: 2, genSkewMs: 1500, skewMs: 2000, natShare: 0.25, traceIps: true, rules: 'auto', none: true },
];

export interface Score {
  precision: number; recall: number; tp: number; fp: number; fn: number;
  incidentsPlanted: number; incidentsFound: number; falseIncidents: number; alertTop1: number; ambiguous: number;
}

/** Tool-call-level precision/recall of one investigation against the simulator's ground truth. */
export function scoreAgainstTruth(r: InvestigationResult, truth: GroundTruth, dir: string, threshold = LIKELY): Score {
  const truthCalls = new Set(truth.incidents.flatMap((i) => i.tool_call_ids));
  const blamed = new Set<string>();
  let falseIncidents = 0, ambiguous = 0;
  for (const inc of r.incidents) {
    const likely = inc.attributed.filter((a) => a.confidence >= threshold).map((a) => r.calls[a.call]!.tool_call_id);
    for (const id of likely) blamed.add(id);
    if (likely.length && !likely.some((id) => truthCalls.has(id))) falseIncidents++;
    if (inc.ambiguous) ambiguous++;
  }
  let tp = 0;
  for (const id of blamed) if (truthCalls.has(id)) tp++;
  const fp = blamed.size - tp, fn = truthCalls.size - tp;
  // Alert level: for each planted alert, is the most likely candidate a causing call?
  const byPlace = new Map(r.alerts.map((a) => [`${a.file}:${a.line}`, a]));
  let alertsTotal = 0, alertsRight = 0;
  for (const inc of truth.incidents) {
    for (const ta of inc.alerts) {
      alertsTotal++;
      const a = byPlace.get(`${join(dir, ta.file)}:${ta.line}`);
      const top = a?.candidates[0];
      if (top && inc.tool_call_ids.includes(r.calls[top.call]!.tool_call_id)) alertsRight++;
    }
  }
  const found = truth.incidents.filter((i) => i.tool_call_ids.some((id) => blamed.has(id))).length;
  return {
    precision: blamed.size ? tp / blamed.size : 1, recall: truthCalls.size ? tp / truthCalls.size : 1, tp, fp, fn,
    incidentsPlanted: truth.incidents.length, incidentsFound: found, falseIncidents, alertTop1: alertsTotal ? alertsRight / alertsTotal : 1, ambiguous,
  };
}

interface Run { sc: Scenario; s: Score; half: Score; p: string; toolCalls: number; ms: number; analyzer?: string }

async function runScenario(sc: Scenario, seed: number, episodes: number, perKind: number, root: string): Promise<Run> {
  const dir = join(root, `${sc.name.replace(/[^a-z0-9]+/gi, '-')}-${seed}`);
  const k = sc.none ? 0 : perKind;
  const truth = await generateFleet({
    hosts: 4, sandboxesPerHost: 8, episodes, toolCallsPerEpisode: 20, natShare: sc.natShare, noiseAlertsPerHour: sc.noise,
    benignFlowsPerCall: 0.5, clockSkewMs: sc.genSkewMs, incidents: { tunnel: k, minerBeacon: k, internalScan: k, metadata: k },
    seed, otlp: false, traceIps: sc.traceIps,
  }, dir);
  const t = nowMs();
  const r = await investigate({
    logs: truth.files.network.map((f) => ({ path: join(dir, f.path), format: f.format })),
    traces: [{ path: join(dir, 'traces/canonical.jsonl'), format: 'canonical-jsonl' }],
    placements: sc.traceIps ? [] : [join(dir, truth.files.placements)],
    skewMs: sc.skewMs, jobs: 1, rules: sc.rules,
  });
  const ms = nowMs() - t;
  if (!keep) rmSync(dir, { recursive: true, force: true });
  return {
    sc, s: scoreAgainstTruth(r, truth, dir), half: scoreAgainstTruth(r, truth, dir, 0.5), p: formatP(r.enrichment.fleet), toolCalls: truth.counts.toolCalls, ms,
    analyzer: sc.rules === 'auto' ? r.notes.find((n) => n.startsWith('command analyzer')) : undefined,
  };
}

async function main(): Promise<void> {
  const episodes = num('episodes', quick ? 600 : 1500);
  const perKind = num('per-kind', quick ? 5 : 12);
  const seedsAt = argv.indexOf('--seeds');
  const range = seedsAt >= 0 ? /^(\d+)-(\d+)$/.exec(argv[seedsAt + 1] ?? '') : null;
  if (seedsAt >= 0 && !range) throw new Error('--seeds needs A-B');
  const seeds = range ? Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, i) => Number(range[1]) + i) : [num('seed', 11)];
  const scenarios = quick ? SCENARIOS.filter((s) => ['realistic', 'no noise, no skew', 'noisy (10/h/host)', 'skew 5 s, --skew 2s (too small)', 'nothing planted (pure noise)'].includes(s.name)) : SCENARIOS;
  const root = keep ?? mkdtempSync(join(tmpdir(), 'corral-inv-acc-'));
  const runs: Run[] = [];
  try {
    for (const seed of seeds) for (const sc of scenarios) runs.push(await runScenario(sc, seed, episodes, perKind, root));
  } finally {
    if (!keep) rmSync(root, { recursive: true, force: true });
  }
  const analyzer = runs.find((x) => x.analyzer)?.analyzer ?? '';
  const meets = (x: Run): boolean => x.s.precision >= 0.95 && x.s.recall >= 0.95;
  if (seeds.length === 1) {
    const rows = runs.map(({ sc, s, half, p, toolCalls, ms }) => [sc.name, sc.noise, sc.genSkewMs, sc.skewMs, `${Math.round(sc.natShare * 100)}%`, fmt(s.precision, 3), fmt(s.recall, 3), `${s.tp}/${s.fp}/${s.fn}`,
      `${s.incidentsFound}/${s.incidentsPlanted}`, s.falseIncidents, fmt(s.alertTop1, 3), `${fmt(half.precision, 2)}/${fmt(half.recall, 2)}`, s.ambiguous, p, toolCalls, fmt(ms / 1000, 1)]);
    printTable(`corral investigate: attribution accuracy (${episodes} episodes × 20 calls, ${perKind} incidents of each of 4 kinds, seed ${seeds[0]})`, rows,
      ['scenario', 'noise/h/host', 'gen skew ms', '--skew ms', 'NAT', 'precision', 'recall', 'TP/FP/FN', 'incidents found', 'false incidents', 'alert top-1', 'P/R @0.5', 'ambiguous', 'enrichment p', 'tool calls', 'time s']);
  } else {
    const rows = scenarios.map((sc) => {
      const xs = runs.filter((x) => x.sc === sc);
      const mean = (f: (x: Run) => number): string => fmt(xs.reduce((a, x) => a + f(x), 0) / xs.length, 3);
      const min = (f: (x: Run) => number): string => fmt(Math.min(...xs.map(f)), 3);
      const ps = xs.map((x) => Number(x.p.replace(/^< /, ''))).sort((a, b) => a - b);
      return [sc.name, mean((x) => x.s.precision), min((x) => x.s.precision), mean((x) => x.s.recall), min((x) => x.s.recall),
        xs.reduce((a, x) => a + x.s.falseIncidents, 0), `${xs.filter((x) => !meets(x)).length}/${xs.length}`, `${formatP({ p: ps[0]!, log10p: Math.log10(ps[0]!) })}…${formatP({ p: ps[ps.length - 1]!, log10p: Math.log10(ps[ps.length - 1]!) })}`];
    });
    printTable(`corral investigate: attribution accuracy over seeds ${seeds[0]}–${seeds[seeds.length - 1]} (${episodes} episodes × 20 calls, ${perKind} incidents of each of 4 kinds)`, rows,
      ['scenario', 'mean precision', 'worst precision', 'mean recall', 'worst recall', 'false incidents (all seeds)', 'seeds below 0.95', 'enrichment p (min…max)']);
  }
  console.log(`\n${analyzer}`);
  const real = runs.filter((x) => x.sc.name === 'realistic');
  const worst = { precision: Math.min(...real.map((x) => x.s.precision)), recall: Math.min(...real.map((x) => x.s.recall)) };
  console.log(`goal ≥ 0.95 precision and recall at realistic noise${seeds.length > 1 ? ` (worst of ${seeds.length} seeds)` : ''}: precision ${fmt(worst.precision, 3)}, recall ${fmt(worst.recall, 3)} → ${worst.precision >= 0.95 && worst.recall >= 0.95 ? 'met' : 'NOT met'}`);
  const none = runs.filter((x) => x.sc.none);
  if (none.length) console.log(`nothing planted: ${none.reduce((a, x) => a + x.s.fp, 0)} calls blamed in ${none.length} fleet(s) (should be 0)`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
}
