// Why: a host workspace is shown to the agent with its owner's files as the agent's own (an
// idmapped mount), so naming the wrong directory hands the agent that directory. Threat: a typo or
// a careless policy (`workspace: /`, `/etc`, `/usr`) giving a sandbox write access to the system;
// such paths are refused wherever a workspace is named (policy, API, `corral run --workspace`).
import { lstatSync, readlinkSync, statSync } from 'node:fs';

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

/**
 * Why a host directory cannot be a sandbox's root filesystem (filesystem.root), or undefined when
 * it can: an image's root (an exported container), never the host's own system directories or a
 * place holding hidden paths, and one that looks like a root (etc/ and usr/ or bin/), its etc a real
 * directory (not a link: Corral writes into it as root).
 * Threat: `root: /` or `root: /home` (or a typo) showing the host's files the default view hides.
 */
export function hostRootProblem(path: string, hidden: string[]): string | undefined {
  if (!path.startsWith('/') || path.split('/').includes('..')) return 'must be an absolute path without ..';
  const parts = path.split('/').filter(Boolean);
  // (an image may live anywhere below the top level, /var/lib/… included: it is shown read-only)
  if (parts.length < 2 || ['proc', 'sys', 'dev', 'run'].includes(parts[0]!)) return "must not be the host's / , a top-level directory (/usr, /var, /home, …) or under /proc, /sys, /dev or /run";
  const inside = (a: string, b: string): boolean => a === b || a.startsWith(`${b.replace(/\/+$/, '')}/`);
  const h = hidden.find((x) => inside(path, x) || inside(x, path));
  if (h !== undefined) return `would show the hidden path ${h}`;
  let st;
  try { st = statSync(path); } catch { return 'no such directory on this host'; }
  if (!st.isDirectory()) return 'not a directory';
  // (etc must be a real directory, never a link: Corral makes resolv.conf and hosts there as root,
  // and the sandbox's /etc is built from its entries; `etc -> /etc` would be the host's)
  let etc;
  try { etc = lstatSync(`${path}/etc`); } catch { etc = undefined; }
  if (etc?.isSymbolicLink()) {
    let to = '?';
    try { to = readlinkSync(`${path}/etc`); } catch { /* gone since: the link is refused all the same */ }
    return `its etc is a symbolic link (to ${JSON.stringify(to.slice(0, 200))}), not a directory: an image's /etc must be a real directory (Corral writes its resolver files there)`;
  }
  const dir = (name: string): boolean => { try { return statSync(`${path}/${name}`).isDirectory(); } catch { return false; } };
  if (!etc?.isDirectory() || !(dir('usr') || dir('bin'))) return "does not look like a root filesystem (it needs etc/ and usr/ or bin/: an exported image, e.g. `docker export C | tar -x -C DIR`)";
  return undefined;
}

/** Top-level places of the sandbox the workspace may not cover (its system view and Corral's own). */
const WORKSPACE_PATH_REFUSED = new Set(['bin', 'boot', 'dev', 'etc', 'lib', 'lib32', 'lib64', 'libx32', 'proc', 'run', 'sbin', 'sys', 'tmp', 'usr']);

/**
 * Why a sandbox path cannot be where the workspace appears (filesystem.workspace_path: /testbed for
 * an SWE-style image whose environment expects the repository there), or undefined when it can.
 * Threat: a workspace mounted over the sandbox's /etc or /usr, making the agent's writable files its
 * system (a planted /etc/ld.so.preload, a replaced /usr/bin/python3).
 */
export function workspacePathProblem(p: string): string | undefined {
  if (!/^(\/[A-Za-z0-9._@+-]+)+$/.test(p) || p.split('/').some((x) => x === '.' || x === '..') || p.length > 256) {
    return `must be an absolute path of plain names (letters, digits, . _ @ + -), without . or .., got ${JSON.stringify(p.slice(0, 80))}`;
  }
  const top = p.split('/')[1]!;
  if (WORKSPACE_PATH_REFUSED.has(top)) return `must not be under /${top} (the sandbox's system view or Corral's own places)`;
  return undefined;
}
