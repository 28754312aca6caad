// Why: policy mistakes are reported as file:line:column plus the field (errors.ts), so they can be
// fixed in one look. Most are found when the file loads; a few only when a session starts, because
// they depend on what the run adds: `filesystem.root_writable: true` with no image root is fine when
// the API or `corral run --root` gives the session one, and a mistake when nothing does. A loaded
// policy remembers where its fields were written, so such an error still names the file, line and
// field instead of a bare sentence that leaves people guessing which policy of an `extends` chain said it.
import { formatPath, PolicyError } from './errors.js';
import type { Policy } from './schema.js';

export interface FieldPlace { file: string; line: number; column: number }

/** Where a field (['filesystem', 'root_writable']) was written: the file of the `extends` chain whose value counts. */
export type FieldLocator = (path: readonly (string | number)[]) => FieldPlace | undefined;

// (a symbol key: left out of JSON, so of the policy digest; copied by object spread, so by withExtraAllows and withExtraMounts)
const WHERE = Symbol('corral.policy.fieldSource');

type Located = Policy & { [WHERE]?: FieldLocator };

/** The policy, remembering where its fields were written. */
export function withFieldSource(p: Policy, at: FieldLocator): Policy {
  (p as Located)[WHERE] = at;
  return p;
}

/** `to`, remembering where `from`'s fields were written (a policy validated again: check.ts). */
export function keepFieldSource(from: Policy, to: Policy): Policy {
  const at = (from as Located)[WHERE];
  return at ? withFieldSource(to, at) : to;
}

/** Where the policy's field was written, if it was loaded from a file that writes it. */
export function fieldPlace(p: Policy, path: readonly (string | number)[]): FieldPlace | undefined {
  return (p as Located)[WHERE]?.(path);
}

/** A PolicyError at the field's place in its file (without one, e.g. a policy built in code: named by the policy's name). */
export function policyFieldError(p: Policy, path: readonly (string | number)[], message: string): PolicyError {
  const field = formatPath(path);
  const at = fieldPlace(p, path);
  return at ? new PolicyError(at.file, { line: at.line, column: at.column, field, message }) : new PolicyError(`policy ${p.name}`, { field, message });
}
