// Why: the daemon's socket is root-only, but a sandbox can still be handed a path to it — a
// `--socket` inside a directory given as a host workspace (its idmapped view makes the root-owned
// socket the agent's own), a read-only mount, an image root — and whoever connects may open
// sessions with any policy, host workspace or mount: an agent read a 0600 root-only host file
// through the daemon from inside its sandbox (review). Threat stopped: an agent (or anything else
// Corral runs) using the daemon to leave its sandbox. The daemon asks the kernel which process
// connected and refuses it when that process lives in a Corral cgroup (every sandboxed process,
// background ones included, is born into one and cannot leave it).
import { readFileSync } from 'node:fs';

/**
 * The Corral cgroup (under `root`, e.g. "corral") the process pid lives in, from /proc/PID/cgroup
 * (any hierarchy: cgroup2 or a v1 controller), or undefined when it lives in none. Throws when the
 * process cannot be read (gone): a caller that cannot tell must refuse.
 */
export function corralCgroupOf(pid: number, root: string): string | undefined {
  const text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  for (const line of text.split('\n')) {
    // "ID:CONTROLLERS:PATH" (the path may itself hold colons)
    const parts = line.split(':');
    if (parts.length < 3) continue;
    const path = parts.slice(2).join(':');
    if (path === `/${root}` || path.startsWith(`/${root}/`)) return path;
  }
  return undefined;
}
