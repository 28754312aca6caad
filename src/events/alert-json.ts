// Why: one public JSON form for an alert, shared by `corral run --json`, `corral replay --json`,
// `corral report` and the daemon's API, so evaluation tools parse a single shape.
import type { AlertEvent, AlertPayload } from './event.js';

export type AlertJson = ReturnType<typeof alertJson>;

/**
 * An alert's public JSON form. An alert read back from a session log is untrusted input (a log can
 * be damaged or written by another tool): each field is given its type here — a missing ATT&CK list
 * is empty, a missing category `unknown` — so no renderer fails on it.
 */
export function alertJson(a: AlertEvent) {
  const p = (a.payload ?? {}) as Partial<AlertPayload> & Record<string, unknown>;
  const text = (v: unknown, dflt = ''): string => (typeof v === 'string' ? v : v === undefined || v === null ? dflt : String(v));
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : []);
  return {
    rule: text(p.rule, 'unknown'), category: text(p.category, 'unknown') as AlertPayload['category'], severity: text(p.severity, 'unknown') as AlertPayload['severity'],
    attack: list(p.attack), message: text(p.message), reason: text(p.reason), action: text(p.action, 'observed') as AlertPayload['action'],
    layer: typeof p.layer === 'string' ? p.layer : undefined, count: typeof p.count === 'number' ? p.count : undefined,
    pid: a.pid, episode: a.episode, step: a.step, tool_call: a.tool_call, ts: a.ts, evidence: list(p.evidence),
    co_culprit: coCulprit(p.co_culprit),
  };
}

/** The other call to blame (it wrote the code the alert's process ran), when the record holds a well-formed one. */
type CodeWriterJson = { tool_call: string; step?: number; file: string };

function coCulprit(v: unknown): (CodeWriterJson & { loaded?: true; also?: CodeWriterJson[] }) | undefined {
  const w = codeWriter(v);
  if (!w) return undefined;
  const c = v as Record<string, unknown>;
  const also = Array.isArray(c.also) ? c.also.map(codeWriter).filter((x): x is CodeWriterJson => x !== undefined) : [];
  return { ...w, ...(c.loaded === true ? { loaded: true as const } : {}), ...(also.length ? { also } : {}) };
}

/** One writer of code from a stored payload (a co-culprit, or one of its `also`), checked and reduced to its fields; undefined when it is not one. */
export function codeWriter(v: unknown): CodeWriterJson | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const c = v as Record<string, unknown>;
  if (typeof c.tool_call !== 'string' || typeof c.file !== 'string') return undefined;
  return { tool_call: c.tool_call, ...(typeof c.step === 'number' && Number.isFinite(c.step) ? { step: c.step } : {}), file: c.file };
}
