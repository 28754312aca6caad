// Why: one public JSON form for an alert, shared by `corral run --json`, `corral replay --json`,
// `corral report` and the daemon's API, so evaluation tools parse a single shape.
import type { AlertEvent } from './event.js';

export type AlertJson = ReturnType<typeof alertJson>;

/** An alert's public JSON form. */
export function alertJson(a: AlertEvent) {
  const p = a.payload;
  return { rule: p.rule, category: p.category, severity: p.severity, attack: p.attack, message: p.message, reason: p.reason, action: p.action, layer: p.layer, count: p.count, pid: a.pid, episode: a.episode, step: a.step, tool_call: a.tool_call, ts: a.ts, evidence: p.evidence };
}
