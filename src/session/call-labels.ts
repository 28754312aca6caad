// Why: a one-call run — `corral run` in this process, or POST /v1/run on the daemon — is recorded
// with the step the caller's labels name (`--label step=7`, labels.step), else step 1. Both entry
// points read the label here, so they cannot disagree about what a valid step is.

/** A step label's form: a whole number (at most nine digits). */
const STEP = /^\d{1,9}$/;

/** Whether a step label value is a valid step. */
export function isStepLabel(v: string): boolean {
  return STEP.test(v);
}

/** The step a one-call run is recorded as: its valid step label, else 1. */
export function stepFromLabels(labels: Record<string, string | undefined>): number {
  const v = labels.step;
  return v !== undefined && STEP.test(v) ? Number(v) : 1;
}

/**
 * Labels the daemon sets itself from the kernel's word on who connected (SO_PEERCRED): a caller
 * naming them is refused, so a recorded session's client is never what a caller claimed.
 */
export const DAEMON_LABELS = ['client_pid', 'client_uid'] as const;

/** The API's bounds on labels (api-schema.ts), the same for `corral run` in this process. */
export const LABELS_MAX = 32;
export const LABEL_NAME_MAX = 64;
export const LABEL_VALUE_MAX = 256;

/** Labels recorded as the call's attribution (its run, episode, tool call id): each must name something. */
const NAMING_LABELS: ReadonlySet<string> = new Set(['run', 'episode', 'tool_call']);

/**
 * Why a label name cannot be recorded, or undefined when it can. Threat: `__proto__` set on a
 * labels object changes its prototype instead of adding a label: the label vanished without a word.
 */
export function labelNameProblem(name: string): string | undefined {
  if (name === '' || name.length > LABEL_NAME_MAX) return `a label name must be 1 to ${LABEL_NAME_MAX} characters (got ${name.length})`;
  if (name === '__proto__') return 'a label cannot be named __proto__';
  return undefined;
}

/** Why a label's value cannot be recorded, or undefined when it can (run, episode and tool_call must not be empty). */
export function labelValueProblem(name: string, value: string): string | undefined {
  if (value.length > LABEL_VALUE_MAX) return `a label value must be at most ${LABEL_VALUE_MAX} characters (got ${value.length})`;
  if (value === '' && NAMING_LABELS.has(name)) return `${name} must not be empty (it names the call's ${name.replace('_', ' ')})`;
  return undefined;
}
