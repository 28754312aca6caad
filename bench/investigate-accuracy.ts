// Why: `corral investigate` is only useful if its attributions are right. This generates RL
// fleets with planted incidents (tunnels, background miners that beacon later, internal scans,
// metadata reads) at several noise and clock-skew levels with the fleet simulator, runs the
// investigation on the written files, and scores attribution at the tool-call level against
// the ground truth: precision = blamed calls that really caused an incident / all blamed
// calls, recall = causing calls that were blamed / all
// causing calls (at the product's "likely" threshold, 2/3; the P/R @0.5 column shows a
// laxer one). Goal: ≥ 0.95 each at realistic noise. Lab/.test addresses only; no sockets.
//
// Run: node dist/bench/investigate-accuracy.js [--quick] [--episodes 1500] [--per-kind 10] [--seed 11] [--keep DIR]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateFleet, type GroundTruth } from '../src/investigate/generate/index.js';
import { investigate, type InvestigationResult } from '../src/investigate/investigate.js';
import { LIKELY } from '../src/investigate/analysis/incidents.js';
import { fmt, nowMs, printTable } from './bench-util.js';

const argv = process.argv.slice(2);
const num = (name: string, dflt: number): number => { const i = argv.indexOf(`--${name}`); const v = i >= 0 ? Number(argv[i + 1]) : NaN; return Number.isFinite(v) ? v : dflt; };
const quick = argv.includes('--quick');
const keepAt = argv.indexOf('--keep');
const keep = keepAt >= 0 ? argv[keepAt + 1] : undefined;

interface Scenario {
  name: string; noise: number; genSkewMs: number; skewMs: number; natShare: number; traceIps: boolean; rules: 'auto' | 'off';
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

async function main(): Promise<void> {
  const episodes = num('episodes', quick ? 600 : 1500);
  const perKind = num('per-kind', quick ? 5 : 12);
  const seed = num('seed', 11);
  const scenarios = quick ? SCENARIOS.filter((s) => ['realistic', 'no noise, no skew', 'noisy (10/h/host)', 'skew 5 s, --skew 2s (too small)'].includes(s.name)) : SCENARIOS;
  const root = keep ?? mkdtempSync(join(tmpdir(), 'corral-inv-acc-'));
  const rows: (string | number)[][] = [];
  let worst = { precision: 1, recall: 1 };
  let analyzer = '';
  try {
    for (const sc of scenarios) {
      const dir = join(root, sc.name.replace(/[^a-z0-9]+/gi, '-'));
      const truth = await generateFleet({
        hosts: 4, sandboxesPerHost: 8, episodes, toolCallsPerEpisode: 20, natShare: sc.natShare, noiseAlertsPerHour: sc.noise,
        benignFlowsPerCall: 0.5, clockSkewMs: sc.genSkewMs, incidents: { tunnel: perKind, minerBeacon: perKind, internalScan: perKind, metadata: perKind },
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
      if (sc.rules === 'auto') analyzer = r.notes.find((n) => n.startsWith('command analyzer')) ?? analyzer;
      const s = scoreAgainstTruth(r, truth, dir);
      const half = scoreAgainstTruth(r, truth, dir, 0.5);
      if (sc.name === 'realistic') worst = { precision: s.precision, recall: s.recall };
      rows.push([sc.name, sc.noise, sc.genSkewMs, sc.skewMs, `${Math.round(sc.natShare * 100)}%`, fmt(s.precision, 3), fmt(s.recall, 3), `${s.tp}/${s.fp}/${s.fn}`,
        `${s.incidentsFound}/${s.incidentsPlanted}`, s.falseIncidents, fmt(s.alertTop1, 3), `${fmt(half.precision, 2)}/${fmt(half.recall, 2)}`, s.ambiguous, truth.counts.toolCalls, fmt(ms / 1000, 1)]);
      if (!keep) rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    if (!keep) rmSync(root, { recursive: true, force: true });
  }
  printTable(`corral investigate: attribution accuracy (${episodes} episodes × 20 calls, ${perKind} incidents of each of 4 kinds, seed ${seed})`, rows,
    ['scenario', 'noise/h/host', 'gen skew ms', '--skew ms', 'NAT', 'precision', 'recall', 'TP/FP/FN', 'incidents found', 'false incidents', 'alert top-1', 'P/R @0.5', 'ambiguous', 'tool calls', 'time s']);
  console.log(`\n${analyzer}`);
  console.log(`goal ≥ 0.95 precision and recall at realistic noise: precision ${fmt(worst.precision, 3)}, recall ${fmt(worst.recall, 3)} → ${worst.precision >= 0.95 && worst.recall >= 0.95 ? 'met' : 'NOT met'}`);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
}
