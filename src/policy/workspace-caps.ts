// Why: a Corral-made workspace has one size cap, in memory (resources.workspace_size: a tmpfs) or on
// disk (resources.workspace_disk: an ext4 image). A policy that names both was accepted when it loaded
// (`corral serve`, `corral run --policy`, the daemon's API) and refused only when a session started,
// with a sentence naming no file or line — in an `extends` chain, no clue which file said which. It is
// now a policy error at load, at the field's file:line:column, like every other policy mistake.
// (Under `extends` a child writing one cap drops the other one inherited: merge.ts.)
import { formatPath } from './errors.js';
import { fieldPlace, policyFieldError } from './field-source.js';
import type { Policy } from './schema.js';

const SIZE = ['resources', 'workspace_size'] as const;
const DISK = ['resources', 'workspace_disk'] as const;

/** Throws a PolicyError when the policy caps the workspace both in memory and on disk (workspace_disk: unlimited is no cap). */
export function refuseTwoWorkspaceCaps(p: Policy): void {
  const r = p.resources;
  if (r.workspace_size === undefined || typeof r.workspace_disk !== 'number') return;
  const size = fieldPlace(p, SIZE), disk = fieldPlace(p, DISK);
  // (named where the second of the two is written; the first is shown by its line)
  const sizeLater = !!size && !!disk && size.file === disk.file && (size.line - disk.line || size.column - disk.column) > 0;
  const [path, at, otherPath, otherAt, how, otherHow] = sizeLater ? [SIZE, size, DISK, disk, 'in memory', 'on disk'] : [DISK, disk, SIZE, size, 'on disk', 'in memory'];
  const where = !otherAt ? '' : at?.file === otherAt.file ? ` (line ${otherAt.line})` : ` (${otherAt.file}:${otherAt.line})`;
  throw policyFieldError(p, path, `a workspace has one size cap: ${formatPath(otherPath)}${where} caps it ${otherHow}, this one ${how}; keep one`);
}
