// Why: a host workspace is shown to the agent with its owner's files as the agent's own (an
// idmapped mount), so naming the wrong directory hands the agent that directory. Threat: a typo or
// a careless policy (`workspace: /`, `/etc`, `/usr`) giving a sandbox write access to the system;
// such paths are refused wherever a workspace is named (policy, API, `corral run --workspace`).

const SYSTEM_DIRS = new Set(['', 'bin', 'boot', 'dev', 'etc', 'lib', 'lib32', 'lib64', 'libx32', 'proc', 'root', 'run', 'sbin', 'sys', 'usr', 'var']);

/**
 * Why a host path cannot be mounted read-only into a sandbox (filesystem.mounts), or undefined
 * when it can: the same system directories as a workspace, and nothing that is, holds or lies in a
 * hidden path (hidden: the policy's hide list plus Corral's own store and run directory).
 * Threat: a mount of ~ or of a parent of ~/.ssh handing the agent the secrets hide exists for.
 */
export function hostMountProblem(path: string, hidden: string[]): string | undefined {
  const why = hostWorkspaceProblem(path);
  if (why) return why;
  const inside = (a: string, b: string): boolean => a === b || a.startsWith(`${b.replace(/\/+$/, '')}/`);
  const h = hidden.find((x) => inside(path, x) || inside(x, path));
  return h === undefined ? undefined : `would show the hidden path ${h}`;
}

/** Why a path cannot be a host workspace, or undefined when it can. */
export function hostWorkspaceProblem(path: string): string | undefined {
  if (!path.startsWith('/') || path.split('/').includes('..')) return 'must be an absolute path without ..';
  const parts = path.split('/').filter(Boolean);
  if (!parts.length || SYSTEM_DIRS.has(parts[0]!) || (parts.length === 1 && ['home', 'tmp', 'mnt', 'opt', 'srv', 'media'].includes(parts[0]!))) {
    const under = parts.length > 1 ? `: it is under /${parts[0]!}` : '';
    return `must not be a system directory or a top-level directory (/, /etc, /usr, /var, /home, /tmp, …)${under}`;
  }
  return undefined;
}
