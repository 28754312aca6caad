// Why: a replayed episode ends with its last recorded step, and closing its session kills every
// process still running. A payload delayed past that step (`nohup sh -c 'sleep 1; connect …' &` as
// the last call) was killed before it did anything, and the episode was reported clean: the
// threat is an agent that times its misbehaviour to land after the trajectory ends, where a replay
// never looks. Here, before the session closes, an episode that still has background processes is
// given a short linger (`corral replay --linger`) so what they do is observed and attributed to the
// call that started them; those still running after it are counted per call, so the replay's output
// says they were killed unobserved instead of passing the episode as clean.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Runtime } from '../session/runtime.js';
import type { Session } from '../session/session.js';

/** The default linger: long enough for a `sleep 1` before a payload, short enough to add little to a replay. */
export const DEFAULT_LINGER_MS = 2000;
/** The longest linger accepted (a replay of thousands of episodes must not stall on each). */
export const MAX_LINGER_MS = 60_000;

/** The processes still in each tool call's cgroup of a session, by tool call id (the call that started them). */
export function backgroundProcesses(s: Session, rt: Runtime): Map<string, number> {
  const out = new Map<string, number>();
  let root: string;
  try { root = s.cgroup.unifiedDir; } catch { return out; }
  let dirs: string[];
  try { dirs = readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => join(root, d.name)); } catch { return out; }
  for (const dir of dirs) {
    const n = procsUnder(dir, 0);
    if (!n) continue;
    let call = 'unknown call';
    try { call = rt.index.labels(String(statSync(dir).ino))?.tool_call ?? call; } catch { /* gone meanwhile */ }
    out.set(call, (out.get(call) ?? 0) + n);
  }
  return out;
}

/** The processes of a cgroup and the cgroups below it (bounded depth: the tree is Corral's own). */
function procsUnder(dir: string, depth: number): number {
  let n = 0;
  try { n = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).length; } catch { return 0; }
  if (depth < 4) {
    try {
      for (const d of readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) n += procsUnder(join(dir, d.name), depth + 1);
    } catch { /* gone meanwhile */ }
  }
  return n;
}

/**
 * Waits up to lingerMs while the session still has background processes, then says which are
 * still running (they are killed when the session closes): by tool call id, with how many.
 */
export async function lingerThenCount(s: Session, rt: Runtime, lingerMs: number, stopped: () => boolean = () => false): Promise<Map<string, number>> {
  const until = Date.now() + lingerMs;
  let left = backgroundProcesses(s, rt);
  while (left.size && Date.now() < until && !stopped()) {
    await new Promise((r) => setTimeout(r, Math.min(100, Math.max(1, until - Date.now()))));
    left = backgroundProcesses(s, rt);
  }
  return left;
}
