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
