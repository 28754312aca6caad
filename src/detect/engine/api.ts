// Why: the one public surface of Corral's detection engine. Detections are data (YAML rule files,
// Falco-style), compiled once into JS closures and run over every event Corral records (exec,
// connect, dns, flow, resource …) and over the `command` events the command analyzer derives from a
// tool call before it runs. Threats it stops: an agent going rogue at runtime (mining, tunnels,
// reverse shells, internal probing, metadata access, exfiltration, persistence, evasion) being
// missed because a detection lived in ad-hoc code nobody could read, test or extend.
// Everything a caller needs is re-exported here; keep these names stable (other modules code to them).
import type { AlertCategory, AlertDraft, AlertPayload, CorralEvent, EventKind, Severity } from '../../events/event.js';

export type { AlertCategory, Severity } from '../../events/event.js';

/** Event kinds the engine understands: Corral's own, plus `command` (a pre-execution command
 *  derived by the command analyzer from a tool call's text; never produced by a sensor). */
export type EngineEventKind = EventKind | 'command';

/** What the engine consumes: a CorralEvent whose kind may also be 'command'. */
export type EngineEvent = Omit<CorralEvent, 'kind'> & { kind: EngineEventKind };

/** Payload of a `command` event (one simple command found in a tool call's text, after unwrapping). */
export interface CommandPayload {
  /** argv of the simple command after unwrapping and deobfuscation (argv[0] is the program). */
  argv: string[];
  /** The unwrapped text of this command (what a person or model should read). */
  text: string;
  /** How many unwrapping layers lie above it (0 = typed directly). */
  depth: number;
  /** Wrapper chain, outermost first, e.g. 'bash -c > base64'. */
  via?: string;
  /** Inline interpreter code (python -c, node -e, perl -e, heredoc …) and its language. */
  inline_lang?: string;
  inline_code?: string;
  cwd?: string;
  /** Character span [start, end) in the original tool-call text. Passed through untouched. */
  span?: [number, number];
  [k: string]: unknown;
}

/** One rule file. `file` is used only for error messages and provenance. */
export interface RuleSource { file: string; text: string }

export type WindowKey = 'session' | 'episode' | 'tool_call';

/** Stateful detection. Exactly one of count / distinct+threshold / sustained / mean+threshold. */
export interface WindowSpec {
  key: WindowKey;
  /** Window length in nanoseconds (parsed from '60s', '5m', '500ms' …). */
  overNs: number;
  /** Fire when this many matching events fall within `over`. */
  count?: number;
  /** Fire when `threshold` distinct values of this field are seen within `over` (with `sum`: when
   *  the numeric field `sum`, taken once per distinct value, adds up to `threshold`). */
  distinct?: string;
  sum?: string;
  threshold?: number;
  /** Fire when the condition held on every sample (of the rule's kinds) for at least `over`. */
  sustained?: boolean;
  /** Fire when the matching events have covered `over` and the time-weighted mean of this numeric
   *  field over the last `over` is at least `threshold`. Each event's value stands for the time
   *  since the previous one (the first of a run: the interval to the second), at most `stepNs`
   *  (default `over`); longer gaps count as 0. */
  mean?: string;
  stepNs?: number;
  /** Separate state per value of this field (e.g. net.dst.ip for beaconing). */
  group_by?: string;
}

/** A rule example: a (shorthand) event, a sequence of events, or a command string that the
 *  command analyzer expands into `command` events (see runRuleExamples' expandCommand). */
export interface ExampleEvent {
  kind: EngineEventKind;
  payload?: Record<string, unknown>;
  id?: string; pid?: number; ppid?: number; session?: string; episode?: string; step?: number; tool_call?: string;
  cgroup?: string; run?: string;
  /** Offset from the start of the example ('0s', '1.5s', '200ms'); default: after the previous event by `every`. */
  at?: string;
  /** Repeat this event N times ({i} in any string of the payload becomes 0..N-1). */
  repeat?: number;
  /** Time between repeats (default 1s). */
  every?: string;
}
export type RuleExample = string | ExampleEvent | { sequence: ExampleEvent[] };

export interface ExceptionSpec { name: string; condition: string }

export interface CompiledRule {
  id: string;
  desc: string;
  category: AlertCategory;
  severity: Severity;
  /** ATT&CK technique ids, as written (T1562.001 and T1685 both accepted). */
  attack: string[];
  /** Kinds the condition can match (static analysis of evt.kind tests), or 'any'. */
  kinds: Set<string> | 'any';
  /** The final condition text after overrides (for display). */
  condition: string;
  output: string;
  reason: string;
  exceptions: ExceptionSpec[];
  window?: WindowSpec;
  tags: string[];
  examples: { match: RuleExample[]; nomatch: RuleExample[] };
  /** Where the rule was first defined. */
  source: { file: string; line: number };
  /** Fields the condition and exceptions read. */
  fields: string[];
  /** Stateless test of one event (condition and no exception). Slow path: no shared field cache. */
  matches(ev: EngineEvent): boolean;
}

export interface RuleSet {
  rules: CompiledRule[];
  /** Final list contents after overrides (items as strings). */
  lists: Map<string, string[]>;
  /** Final macro conditions after overrides. */
  macros: Map<string, string>;
  /** Rules present but disabled with `enabled: false`. */
  disabled: string[];
}

/** message is the rule's output template with %field substituted (values sanitised and truncated). */
export interface Detection extends AlertDraft {
  /** Ids of the events that caused it (one for stateless rules; the window's events, capped, for windows). */
  evidence: string[];
  /** For windows: matching events (count, mean) or distinct values (distinct) in the window when it fired. */
  count?: number;
  /** For sum and mean windows: the sum or the mean that crossed the threshold (%window.value). */
  value?: number;
  /** The triggering event; attribution (session, episode, step, tool_call, pid) comes from it. */
  event: EngineEvent;
}

export interface EngineOptions {
  /** Most window keys held at once (oldest evicted first). Default 10000. */
  maxWindowKeys?: number;
  /** Most entries (events or distinct values) held per window key. Default 4096. */
  maxEntriesPerKey?: number;
  /** Skip command-line rules whose required literals do not occur (Aho–Corasick). Default true. */
  prefilter?: boolean;
}

export interface ExampleResult { rule: string; kind: 'match' | 'nomatch'; index: number; ok: boolean; error?: string; skipped?: boolean }

export interface ExampleOptions {
  /** Turns a command string into the `command` events the analyzer would produce. Without it,
   *  string examples are reported as skipped (ok: true, skipped: true). */
  expandCommand?: (text: string) => EngineEvent[];
}

export { RuleError } from './errors.js';
export { DetectionEngine } from './engine.js';
export { loadRuleSources, builtinRuleSources, loadBuiltinRules, compileFilter } from './ruleset.js';
export { runRuleExamples } from './examples.js';
export { FIELDS, type FieldInfo } from './fields.js';

/** Turns a detection into the payload of an `alert` event. */
export function toAlertPayload(d: Detection, action: AlertPayload['action']): AlertPayload {
  const p: AlertPayload = {
    rule: d.rule, category: d.category, severity: d.severity, attack: d.attack,
    message: d.message, reason: d.reason, evidence: d.evidence, action,
  };
  if (d.count !== undefined) p.count = d.count;
  return p;
}
