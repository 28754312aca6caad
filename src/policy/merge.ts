// Why: `extends` lets a policy start from a vetted preset and add only what it needs, instead of
// copy-pasting (and drifting from) the safe defaults. Merging happens on the raw YAML values, before
// defaults, so a child only overrides what it actually writes.
// Rules: mappings merge recursively; network.allow, network.deny and network.deny_tls are
// concatenated (parent rules first, so rule indices of the parent stay stable; a child cannot drop
// a parent's denied fingerprint); network.hosts merges name by name (child wins), names compared as
// the schema compares them (case-insensitive, without a trailing dot), so a child's `Registry.Test:`
// overrides its parent's `registry.test:` instead of being "listed twice" after the merge;
// every other value, lists included, is replaced by the child's. A child can never drop a list or map
// by writing an empty value (YAML null): the schema refuses null there, in the child's own file.
// resources.workspace_size and resources.workspace_disk are one choice, a workspace's one size cap (in
// memory or on disk): a child that writes either drops the other one inherited from its parent, so a
// child of a `workspace_size` parent can say `workspace_disk: 8GiB` (and the other way round) instead
// of ending up with both, which is an error (workspace-caps.ts). A file that writes both still has both.

import { checkHostName } from './domain.js';

type Raw = Record<string, unknown>;

/** Keys of one mapping that are one choice: writing one of them drops the others inherited. */
const ONE_CHOICE: Record<string, readonly string[]> = { resources: ['workspace_size', 'workspace_disk'] };

function isPlainObject(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Two hosts maps, the child's entry winning over its parent's for the same name; the winner keeps its spelling. */
function mergeHosts(parent: Raw, child: Raw): Raw {
  const byName = new Map<string, [string, unknown]>();
  const key = (k: string): string => { const n = checkHostName(k); return n.ok ? n.value : k; };
  for (const e of [...Object.entries(parent), ...Object.entries(child)]) {
    byName.set(key(e[0]), e);
  }
  return Object.fromEntries(byName.values());
}

export function mergeRaw(parent: Raw, child: Raw, path: string[] = []): Raw {
  const out: Raw = { ...parent };
  for (const [key, cv] of Object.entries(child)) {
    const pv = parent[key];
    const here = [...path, key].join('.');
    if ((here === 'network.allow' || here === 'network.deny' || here === 'network.deny_tls') && Array.isArray(pv) && Array.isArray(cv)) {
      out[key] = [...pv, ...cv];
    } else if (here === 'network.hosts' && isPlainObject(pv) && isPlainObject(cv)) {
      out[key] = mergeHosts(pv, cv);
    } else if (isPlainObject(pv) && isPlainObject(cv)) {
      out[key] = mergeRaw(pv, cv, [...path, key]);
    } else {
      out[key] = cv;
    }
  }
  const choice = ONE_CHOICE[path.join('.')];
  if (choice?.some((k) => Object.hasOwn(child, k))) for (const k of choice) if (!Object.hasOwn(child, k)) delete out[k];
  return out;
}
