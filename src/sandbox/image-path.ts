// Why: filesystem.workspace_path names a place in the sandbox's /, and bwrap binds the writable
// workspace there after the root's own directories and links are in place, so it follows the
// root's symbolic links: an image holding `testbed -> usr` (or `testbed -> /etc`, or
// `opt/app -> ../../lib`) turns `workspace_path: /testbed` into a writable workspace over the
// sandbox's /usr. workspacePathProblem judges the string only. Threat it stops: an image (or a
// policy naming a path through one of its links) making the agent's writable files its system
// (a planted /etc/ld.so.preload, a replaced /usr/bin/python3). The path is resolved inside the
// root the sandbox is made from, one component at a time, each link read (never followed by the
// host's kernel) and taken relative to that root, never to the host's /.
import { lstatSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { workspacePathProblem } from './host-workspace.js';

/** Top-level places of an image root the sandbox gets from Corral instead of from the image. */
export const IMAGE_RESERVED = new Set(['dev', 'proc', 'sys', 'tmp', 'run', 'workspace']);

/** Links followed in one path before it is refused (the kernel's own limit). */
const MAX_LINKS = 40;

/**
 * Where `path` (absolute, in the sandbox) lands in the root filesystem at host directory `root`,
 * its links resolved inside that root; the rest of a path that does not exist (yet) is taken as
 * written. `image`: top-level places the sandbox gets from Corral, not the image, are not looked up.
 */
export function resolveInRoot(root: string, path: string, image = true): { path: string } | { problem: string } {
  const done: string[] = [];
  let todo = path.split('/').filter(Boolean);
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') { done.pop(); continue; }
    const rest = (): { path: string } | { problem: string } => todo.includes('..')
      ? { problem: `leads through ${'/' + [...done, part].join('/')}, which does not exist, and then ..` }
      : { path: '/' + [...done, part, ...todo.filter((x) => x !== '.')].join('/') };
    if (image && done.length === 0 && IMAGE_RESERVED.has(part)) return rest();
    let st;
    try { st = lstatSync(join(root, ...done, part)); } catch { return rest(); }
    if (st.isSymbolicLink()) {
      if (++links > MAX_LINKS) return { problem: 'leads through too many symbolic links' };
      const target = readlinkSync(join(root, ...done, part));
      if (target.startsWith('/')) done.length = 0;
      todo = [...target.split('/').filter(Boolean), ...todo];
      continue;
    }
    if (!st.isDirectory() && todo.length) return { problem: `leads through ${'/' + [...done, part].join('/')}, which is not a directory` };
    done.push(part);
  }
  return { path: '/' + done.join('/') };
}

/**
 * What `path` (absolute, in the sandbox) is in the root at host directory `root`, its links
 * resolved inside that root: 'dir', 'file' (anything else), or undefined when it does not exist
 * there. Corral's own looks into an image (is there a bash? is a hidden path a directory?) go
 * through here: the host's kernel following an image's absolute link would answer about the host.
 */
export function pathKindInRoot(root: string, path: string): 'dir' | 'file' | undefined {
  const r = resolveInRoot(root, path, false);
  if ('problem' in r) return undefined;
  try {
    const st = lstatSync(join(root, r.path));
    return st.isDirectory() ? 'dir' : st.isSymbolicLink() ? undefined : 'file';
  } catch { return undefined; }
}

/**
 * Why a workspace_path cannot be used in the root at host directory `root` (an image, or the
 * host's `/`), or undefined when it can: it must resolve there (through the root's own links) to
 * a place workspacePathProblem allows, never `/` itself or a system directory.
 */
export function workspacePathInRootProblem(root: string, workspacePath: string, image = root !== '/'): string | undefined {
  const r = resolveInRoot(root, workspacePath, image);
  if ('problem' in r) return `in the root filesystem it ${r.problem}`;
  if (r.path === workspacePath) return workspacePathProblem(r.path);
  const via = `in the root filesystem it is ${r.path} (through a symbolic link)`;
  if (r.path === '/') return `${via}: the workspace must not cover the sandbox's /`;
  const why = workspacePathProblem(r.path);
  return why ? `${via}, which ${why}` : undefined;
}
