// Why: a file-writing tool call names its target as the agent typed it: `~/.bashrc`, `../../.bashrc`,
// `notes/../.git/hooks/pre-commit`, `/etc/cron.d/./x`. Threat it stops: a persistence write slipping
// past the path rules because its spelling is not the one the rules list. The path is made absolute
// (`~` and `~user` expanded, relative paths resolved against the call's cwd, `.`/`..`/`//` folded),
// and, when it lies under the home directory, also spelt `~/…`, the form the rules match whatever
// the home directory is called (they list ~, $HOME, /root and /home/NAME).
//
// Symlinks are NOT resolved, and no file is read: a write to `notes.txt` that is a symlink to
// ~/.bashrc is judged as `notes.txt`. That is a real gap, accepted here because resolving cannot
// close it: the hook runs before the tool, so the agent can plant or swap the link after the check
// (a race), and links planted by a Bash command (`ln -s ~/.bashrc notes.txt`) are for the Bash screen
// to see. The sandbox's read-only mounts and the runtime sensors are the barrier for that case.
import { posix } from 'node:path';

export interface ToolPath {
  /** Absolute, normalised path (no `.`, `..` or repeated slashes). */
  abs: string;
  /** `~/…` spelling when abs lies under the home directory (`~` for the home itself). */
  tilde?: string;
}

/** `~NAME` expands to /root for root and /home/NAME otherwise (the hook has no passwd lookup). */
function userHome(name: string): string {
  return name === 'root' ? '/root' : `/home/${name}`;
}

/**
 * Resolves a tool's path argument. `cwd` is the call's working directory (the hook payload's `cwd`);
 * `home` the home directory. Both must be absolute. Throws on an empty path or a NUL byte.
 *
 * @example resolveToolPath('../.bashrc', { cwd: '/home/a/proj', home: '/home/a' })
 *   // → { abs: '/home/a/.bashrc', tilde: '~/.bashrc' }
 */
export function resolveToolPath(raw: string, at: { cwd: string; home: string }): ToolPath {
  if (raw === '') throw new Error('the path is empty');
  if (raw.includes('\0')) throw new Error('the path holds a NUL byte');
  let p = raw;
  if (p === '~' || p.startsWith('~/')) p = at.home + p.slice(1);
  else if (p.startsWith('~')) {
    const slash = p.indexOf('/');
    const name = slash < 0 ? p.slice(1) : p.slice(1, slash);
    // `~name` only when name could be a user; otherwise it is a file called "~x" in cwd.
    if (/^[a-z_][a-z0-9_.-]*$/i.test(name)) p = userHome(name) + (slash < 0 ? '' : p.slice(slash));
  }
  const abs = posix.resolve(at.cwd, p);
  const home = posix.resolve(at.home);
  if (home !== '/' && (abs === home || abs.startsWith(`${home}/`))) return { abs, tilde: `~${abs.slice(home.length)}` };
  return { abs };
}
