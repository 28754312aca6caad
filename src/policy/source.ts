// Why: which preset or policy file a `--policy` argument names is decided by one rule everywhere (see
// resolvePolicy in load.ts for the threat it stops: a file named like a preset in a writable workspace
// standing in for the preset). `corral run` through a daemon needs only that decision, not the YAML
// parser and schema that loading needs (≈ 45 ms of imports per call), so the rule lives here alone.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where presets live: <package root>/policies. Compiled code is dist/src/policy, sources src/policy. */
export function presetDir(): string {
  const candidates = [new URL('../../../policies/', import.meta.url), new URL('../../policies/', import.meta.url)];
  for (const c of candidates) {
    const p = fileURLToPath(c);
    if (existsSync(resolve(p, 'default.yaml'))) return p;
  }
  return fileURLToPath(candidates[0] as URL);
}

/** The names of the presets shipped in policies/. */
export function listPresets(): string[] {
  const dir = presetDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

/** Where a policy spec points: a preset by name, or a policy file (as given). */
export type PolicySource = { preset: string } | { file: string };

/** resolvePolicy's rule, without loading: which preset or file `spec` names (`corral run` sends it to a daemon). */
export function policySource(spec: string | undefined): PolicySource {
  if (spec === undefined || spec === '') return { preset: 'default' };
  const pathLike = spec.includes('/') || /\.ya?ml$/i.test(spec);
  if (!pathLike && listPresets().includes(spec)) return { preset: spec };
  if (pathLike || (existsSync(spec) && statSync(spec).isFile())) return { file: spec };
  return { preset: spec }; // (an unknown name: loading it says which presets there are)
}
