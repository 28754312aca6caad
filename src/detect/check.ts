// Why: the library entry for screening a command BEFORE it runs: analyse the shell text (or
// Python source), turn every unwrapped command into a `command` event, run the rule engine over
// them, and give a verdict with findings that point at the span of the original text and show
// the unwrap chain. The sandbox calls this before each tool call; `corral check` wraps it.
// Threat it stops: an agent running a miner, tunnel, reverse shell, scan, credential grab,
// persistence, evasion or exfiltration command — caught before it executes.
// Loading the bash grammar is asynchronous (WebAssembly), so this module awaits it once at import
// (top-level await); after that, checkCommand and CommandChecker.check are synchronous.
import type { AlertDraft, Severity } from '../events/event.js';
import { CommandAnalyzer } from './command/analyzer.js';
import type { CommandRecord } from './command/types.js';
import { cacheable, cloneFinding, DEFAULT_CACHE_SIZE, ResultCache, type CheckerOptions } from './check-cache.js';
import { builtinRuleSources, DetectionEngine, loadRuleSources, type Detection, type EngineEvent, type RuleSet, type RuleSource } from './engine/api.js';

export type Verdict = 'allow' | 'warn' | 'deny';

export interface Finding extends AlertDraft {
  /** [start, end) in the original text (UTF-16 indices) of what triggered the finding. */
  span: [number, number];
  /** The unwrapped command that matched, and the chain of texts from the outermost layer to it. */
  command: string;
  chain: string[];
  via: string;
  depth: number;
  /** 'rule' = a YAML rule run by the engine; 'analyzer' = raised by the checker itself (cmd_analysis_incomplete). */
  source: 'rule' | 'analyzer';
}

export interface CheckResult {
  verdict: Verdict;
  findings: Finding[];
  parseErrors: string[];
  unwrapped: string[];
  durationUs: number;
}

export interface Policy { denyAt?: Severity; warnAt?: Severity }
export interface CheckOptions { rules?: RuleSet; tool?: 'bash' | 'python'; policy?: Policy }

export const SEVERITY_RANK: Record<Severity, number> = { low: 1, medium: 2, high: 3, critical: 4 };
const DEFAULT_POLICY: Required<Policy> = { denyAt: 'high', warnAt: 'medium' };

/**
 * The built-in rule files that can match `command` events: the shared lists and command-*.yaml.
 * (Runtime rules match exec/connect/dns… events only; compiling them too would quadruple start-up.)
 */
export function commandRuleSources(): RuleSource[] {
  return builtinRuleSources().filter((s) => /(^|\/)(lists|command-[^/]*)\.ya?ml$/.test(s.file));
}

/** Compiles the command rules plus optional user rule files (which may override built-ins). */
export function loadCommandRules(extra: RuleSource[] = []): RuleSet {
  return loadRuleSources([...commandRuleSources(), ...extra]);
}

/** Turns analyzer records into engine events (one tool call, one fresh session key). */
export function toEvents(records: CommandRecord[], callId: string): EngineEvent[] {
  return records.map((r, i) => ({ id: `${callId}.${i}`, ts: String(i + 1), kind: 'command', session: callId, tool_call: callId, payload: { ...r } }));
}

function verdictOf(findings: Finding[], p: Required<Policy>): Verdict {
  let max = 0;
  for (const f of findings) max = Math.max(max, SEVERITY_RANK[f.severity]);
  return max >= SEVERITY_RANK[p.denyAt] ? 'deny' : max >= SEVERITY_RANK[p.warnAt] ? 'warn' : 'allow';
}

/** Keeps one finding per rule and span; a finding whose span holds a tighter one of the same rule goes. */
function dedupe(fs: Finding[]): Finding[] {
  const out: Finding[] = [];
  for (const f of fs) {
    if (out.some((g) => g.rule === f.rule && g.span[0] >= f.span[0] && g.span[1] <= f.span[1])) continue;
    for (let i = out.length - 1; i >= 0; i--) {
      const g = out[i]!;
      if (g.rule === f.rule && f.span[0] >= g.span[0] && f.span[1] <= g.span[1]) out.splice(i, 1);
    }
    out.push(f);
  }
  return out.sort((a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.span[0] - b.span[0]);
}

function finding(r: CommandRecord, f: Omit<Finding, 'span' | 'command' | 'chain' | 'via' | 'depth'>): Finding {
  // attack, span and chain are copied: they belong to the rule and the record, and a caller that
  // edits a result must not change later answers.
  return { ...f, attack: f.attack.slice(), span: [r.span[0], r.span[1]], command: r.text, chain: r.chain.slice(), via: r.via, depth: r.depth };
}

/**
 * Holds a loaded analyzer and a compiled rule set, so repeated checks do no setup work.
 * Not re-entrant (the parser is single-threaded); use one per worker. Repeated (text, tool) pairs
 * are answered from a bounded LRU of copies (check-cache.ts) unless a rule reads per-call ids.
 */
export class CommandChecker {
  private readonly engine: DetectionEngine;
  private readonly policy: Required<Policy>;
  private readonly cache: ResultCache | undefined;
  private seq = 0;

  /** `cacheSize`: how many recent (text, tool) results to reuse (default 1024; 0 turns it off). */
  constructor(readonly analyzer: CommandAnalyzer, readonly rules: RuleSet, policy: Policy = {}, opts: CheckerOptions = {}) {
    this.engine = new DetectionEngine(rules);
    this.policy = { ...DEFAULT_POLICY, ...policy };
    const size = opts.cacheSize ?? DEFAULT_CACHE_SIZE;
    // Results may be reused only when no rule can tell two calls apart (see cacheable).
    this.cache = size > 0 && cacheable(rules) ? new ResultCache(size) : undefined;
  }

  /** Built-in command rules plus optional user rule files (lists/macros/rules may override built-ins). */
  static create(opts: { extraRules?: RuleSource[]; rules?: RuleSet; policy?: Policy } & CheckerOptions = {}): CommandChecker {
    const rules = opts.rules ?? loadCommandRules(opts.extraRules);
    return new CommandChecker(sharedAnalyzer, rules, opts.policy, { cacheSize: opts.cacheSize });
  }

  /** Whether results are being reused for repeated commands. */
  get caching(): boolean { return this.cache !== undefined; }

  /** The `command` events the analyzer derives from `text` (also the rule-example expander). */
  expand(text: string, tool: 'bash' | 'python' = 'bash'): EngineEvent[] {
    return toEvents(this.analyzer.analyze(text, tool).commands, `check-${++this.seq}`);
  }

  check(text: string, opts: { tool?: 'bash' | 'python'; policy?: Policy } = {}): CheckResult {
    const t0 = process.hrtime.bigint();
    const tool = opts.tool ?? 'bash';
    const policy = { ...this.policy, ...opts.policy };
    const hit = this.cache?.get(text, tool);
    if (hit !== undefined) {
      const findings = hit.findings.map(cloneFinding);
      return {
        verdict: verdictOf(findings, policy), findings, parseErrors: hit.parseErrors.slice(), unwrapped: hit.unwrapped.slice(),
        durationUs: Number(process.hrtime.bigint() - t0) / 1000,
      };
    }
    const a = this.analyzer.analyze(text, tool);
    const found = this.detect(a.commands, a.parseErrors);
    if (a.incomplete.length) {
      // Fail safe: what was not analysed cannot be called clean. When a limit that padding reaches
      // cut the analysis short (2,000 distinct commands, a 20,000-node tree), the unscreened end is
      // where a padded payload would sit: that is denied (high), not just warned.
      const cut = a.cutShort.length > 0;
      found.push({ rule: 'cmd_analysis_incomplete', category: 'policy_violation', severity: cut ? 'high' : 'medium', attack: ['T1027'],
        message: `command only partly analysed: ${a.incomplete.join('; ')}`, reason: 'This command is too large or too deeply nested to screen; split it into simpler commands.',
        span: [0, text.length], command: text, chain: [text], via: '', depth: 0, source: 'analyzer' });
    }
    const findings = dedupe(found);
    // The cache keeps its own copy, so a caller mutating the result cannot change later answers.
    this.cache?.set(text, tool, { findings: findings.map(cloneFinding), parseErrors: a.parseErrors.slice(), unwrapped: a.unwrapped.slice() });
    return {
      verdict: verdictOf(findings, policy), findings, parseErrors: a.parseErrors, unwrapped: a.unwrapped,
      durationUs: Number(process.hrtime.bigint() - t0) / 1000,
    };
  }

  /**
   * Screens command records that did not come from shell text, e.g. a file-writing tool's write
   * modelled as `tee PATH` (src/detect/write-record.ts): the same rules and policy as check(), no
   * analyzer and no cache.
   */
  checkRecords(records: CommandRecord[], opts: { policy?: Policy } = {}): CheckResult {
    const t0 = process.hrtime.bigint();
    const parseErrors: string[] = [];
    const findings = dedupe(this.detect(records, parseErrors));
    return {
      verdict: this.verdict(findings, opts.policy), findings, parseErrors, unwrapped: [],
      durationUs: Number(process.hrtime.bigint() - t0) / 1000,
    };
  }

  /** The verdict this checker's policy (overridden by `policy`) gives a set of findings. */
  verdict(findings: Finding[], policy?: Policy): Verdict {
    return verdictOf(findings, { ...this.policy, ...policy });
  }

  /** Runs the rules over records; an engine error becomes a note in `errors`, never a throw. */
  private detect(records: CommandRecord[], errors: string[]): Finding[] {
    const events = toEvents(records, `check-${++this.seq}`);
    const found: Finding[] = [];
    for (let i = 0; i < events.length; i++) {
      const r = records[i]!;
      let dets: Detection[];
      try { dets = this.engine.process(events[i]!); } catch (e) { errors.push(`rule engine error: ${(e as Error).message}`); dets = []; }
      for (const d of dets) {
        found.push(finding(r, { rule: d.rule, category: d.category, severity: d.severity, attack: d.attack, message: d.message, reason: d.reason, source: 'rule' }));
      }
    }
    return found;
  }
}

// The grammar is loaded once per process (it is immutable); rule sets are compiled on first use
// and cached per RuleSet object, so plain checkCommand() calls also do no repeated setup.
const sharedAnalyzer = await CommandAnalyzer.load();
const checkers = new WeakMap<RuleSet, CommandChecker>();
let builtin: RuleSet | undefined;

/** Screens one command (synchronous). Default rules: the built-in command rules (see commandRuleSources). */
export function checkCommand(text: string, opts: CheckOptions = {}): CheckResult {
  const rules = opts.rules ?? (builtin ??= loadCommandRules());
  let c = checkers.get(rules);
  if (!c) { c = new CommandChecker(sharedAnalyzer, rules); checkers.set(rules, c); }
  return c.check(text, { tool: opts.tool, policy: opts.policy });
}
