// Why: the shapes an investigation produces (incidents, their evidence, the enrichment test,
// the fleet view). The terminal summary, `--json` and the HTML report all render these, so
// they are plain JSON-safe data with no methods and no cycles.
import type { InputStats } from '../types.js';
import type { RateTest } from './stats.js';
import type { RuleHit } from './command-evidence.js';

/** A tool call, as shown in evidence (only calls that matter are materialised). */
export interface CallRef {
  /** Ordinal of the call: its trace file's index × 2^32 + the calls before it in that file (the same whatever the number of threads). */
  n: number;
  tool_call_id: string; episode: string; run?: string; step?: number; tool?: string; command?: string;
  start: number; end: number; endKnown: boolean; host?: string; sandbox?: string;
  file: string; line: number;
  /** The command with its variable parts replaced (see commandPattern). */
  pattern: string;
  /** The command visibly starts work that can outlive the call (nohup, &, setsid …). */
  detached: boolean;
  rules: RuleHit[];
}

export type Timing = 'inside' | 'skew' | 'after';

/** Why a call is a candidate for an alert, and how strongly. */
export interface LinkEvidence {
  call: number;
  timing: Timing;
  /** ms before the call's start (negative) or after its end (positive); 0 inside. */
  offsetMs: number;
  /** The command names the alert's address or its uncommon port. */
  mention?: 'address' | 'port';
  /** Detection rules the command matched, and whether one has the alert's category. */
  ruleMatch: 'category' | 'other' | 'none';
  via: string;
  /** Unnormalised score (product of the factors) and the normalised probability among this alert's explanations. */
  score: number;
  p: number;
}

export interface AlertOut {
  i: number; ts: number; src: string; dst: string; dport?: number; proto?: string;
  category: string; kind: string; rule?: string; severity?: number; action?: string; host?: string;
  file: string; line: number;
  /** Some candidate window contains the alert without lag (the enrichment's "inside"). */
  inside: boolean;
  rarity: number;
  /** Probability that none of the candidates caused it (noise), and the weight behind it. */
  pNoise: number;
  noiseWeight: number;
  /** The best candidates (at most MAX_CANDIDATES_PER_ALERT, score.ts), by p. */
  candidates: LinkEvidence[];
  /** Candidates not listed (beyond the cap): how many, their summed p and score. */
  omitted?: { candidates: number; p: number; score: number };
}

export interface Attribution {
  call: number;
  /** Expected number of the incident's connections this call explains (its posterior summed over them; the records of one connection count once). */
  explains: number;
  /** Posterior probability that this call caused (part of) the incident. */
  confidence: number;
  reasons: string[];
}

export interface Incident {
  id: string; rank: number; score: number;
  category: string; kind: string; source: string;
  start: number; end: number; alertCount: number; severity?: number; rarity: number;
  episodes: string[];
  /** Calls blamed, best first. */
  attributed: Attribution[];
  /** The best call not blamed, shown when attribution is ambiguous (e.g. shared NAT). */
  runnerUp?: Attribution;
  ambiguous: boolean;
  /** The best call's confidence reaches LIKELY (2/3): counted as an attributed incident (exit code 3). */
  likely: boolean;
  /** Alert numbers (index into InvestigationResult.alerts). */
  alerts: number[];
  /** Every call that is a candidate for one of its alerts (index into calls). */
  calls: number[];
}

export interface KeyEnrichment extends RateTest { key: string }

export interface Enrichment { fleet: RateTest; pooled: RateTest; perKey: KeyEnrichment[]; perHost: KeyEnrichment[] }

export interface PatternRow {
  pattern: string; incidents: number; alerts: number; episodes: number; calls: number;
  categories: string[]; firstSeen: number; firstEpisode: string; firstRun?: string; firstStep?: number;
  steps: number[]; runs: string[]; example: string;
}

export interface FleetView {
  patterns: PatternRow[];
  /** Per episode (run + episode) with likely-blamed calls; first: when the earliest of them started. */
  episodes: { episode: string; run?: string; incidents: number; alerts: number; steps: number[]; first: number; categories: string[] }[];
  byRun: { run: string; episodes: number; incidents: number }[];
  /** Steps within episodes at which attributed calls ran: step → calls. */
  steps: { step: number; calls: number }[];
  /** The earliest likely-blamed call (ts: when it started), its incident, episode and pattern. */
  firstAppeared?: { ts: number; incident: string; episode?: string; run?: string; step?: number; pattern?: string };
  /** Incidents per hour bucket (for the trend line). */
  timeline: { from: number; incidents: number; alerts: number }[];
}

export interface InvestigationOptions { skewMs: number; lagMs: number; graceMs: number; gapMs: number; jobs: number }

export interface InvestigationResult {
  version: 1;
  options: InvestigationOptions;
  inputs: { net: InputStats[]; traces: InputStats[]; placements: number; placementFiles: InputStats[] };
  counts: { records: number; alerts: number; toolCalls: number; episodes: number; candidates: number; linkedAlerts: number; unlinkedAlerts: number };
  /** Alert-like records without any candidate call (not from an agent, or outside every window), by source and kind. */
  unattributed: { source: string; kind: string; alerts: number; first: number; last: number }[];
  enrichment: Enrichment;
  incidents: Incident[];
  alerts: AlertOut[];
  calls: CallRef[];
  fleet: FleetView;
  episodes: { episode: string; run?: string; host?: string; sandbox?: string; start: number; end: number; calls: number }[];
  notes: string[];
  /** What makes the result itself doubtful (the alerts and calls days apart, a zone offset found): shown first. */
  warnings: string[];
  timings: Record<string, number>;
}
