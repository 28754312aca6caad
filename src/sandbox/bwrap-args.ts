// Why: the filesystem and namespace view of a session, as a pure bwrap argv builder.
// Threats: reading the host's secrets (~/.ssh, cloud credentials, Corral's own store),
// modifying the host (root is read-only; only /workspace and a private /tmp are writable),
// and seeing host processes (own pid namespace), IPC, hostname. The session "holder"
// process keeps the namespaces alive between tool calls; tool calls join them.
import { existsSync, lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';

/** Top-level directories visible (read-only) inside a sandbox. Everything else (/root, /home, /mnt, /srv, /boot, ...) is absent. */
export const VISIBLE_ROOT_DIRS = ['usr', 'etc', 'opt', 'var', 'sys'];

export interface BwrapSpec {
  workspace: string;
  resolvConf: string;
  hostsFile: string;
  hide: string[];
  /** Host paths shown read-only at their own paths in the sandbox (checked by the caller: hostMountProblem). */
  mounts?: { host: string; path: string }[];
  hostname?: string;
  /** Root listing to mirror symlinks from (tests may pass another). */
  rootDir?: string;
}

export function buildBwrapArgs(spec: BwrapSpec, holder: string[]): string[] {
  const a = [
    'bwrap',
    '--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    '--die-with-parent', '--hostname', spec.hostname ?? 'corral',
  ];
  const root = spec.rootDir ?? '/';
  for (const name of readdirSync(root)) {
    const p = `${root === '/' ? '' : root}/${name}`;
    let st;
    try { st = lstatSync(p); } catch { continue; }
    if (st.isSymbolicLink()) {
      const target = readlinkSync(p);
      // mirror merged-/usr links (/bin -> usr/bin) but never links into hidden places
      if (VISIBLE_ROOT_DIRS.some((d) => target === d || target.startsWith(`${d}/`))) a.push('--symlink', target, `/${name}`);
    } else if (st.isDirectory() && VISIBLE_ROOT_DIRS.includes(name)) {
      a.push('--ro-bind', p, `/${name}`);
    }
  }
  a.push('--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--tmpfs', '/dev/shm', '--tmpfs', '/run');
  a.push('--ro-bind', spec.resolvConf, '/etc/resolv.conf', '--ro-bind', spec.hostsFile, '/etc/hosts');
  for (const h of spec.hide) {
    if (!existsSync(h)) continue;
    if (!VISIBLE_ROOT_DIRS.some((d) => h.startsWith(`/${d}/`))) continue; // not mounted anyway
    if (statSync(h).isDirectory()) a.push('--tmpfs', h);
    else a.push('--ro-bind', '/dev/null', h);
  }
  for (const m of spec.mounts ?? []) a.push('--ro-bind', m.host, m.path);
  a.push('--bind', spec.workspace, '/workspace', '--chdir', '/workspace', '--', ...holder);
  return a;
}
