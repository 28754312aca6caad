// Why: a host workspace is shown to the agent with its owner's files as the agent's own (an
// idmapped mount), so naming the wrong directory hands the agent that directory. Threat: a typo or
// a careless policy (`workspace: /`, `/etc`, `/usr`) giving a sandbox write access to the system;
// such paths are refused wherever a workspace is named (policy, API, `corral run --workspace`).

const SYSTEM_DIRS = new Set(['', 'bin', 'boot', 'dev', 'etc', 'lib', 'lib32', 'lib64', 'libx32', 'proc', 'root', 'run', 'sbin', 'sys', 'usr', 'var']);

/** Why a path cannot be a host workspace, or undefined when it can. */
export function hostWorkspaceProblem(path: string): string | undefined {
  if (!path.startsWith('/') || path.split('/').includes('..')) return 'must be an absolute path without ..';
  const parts = path.split('/').filter(Boolean);
  if (!parts.length || SYSTEM_DIRS.has(parts[0]!) || (parts.length === 1 && ['home', 'tmp', 'mnt', 'opt', 'srv', 'media'].includes(parts[0]!))) {
    return 'must not be a system directory or a top-level directory (/, /etc, /usr, /var, /home, /tmp, …)';
  }
  return undefined;
}
