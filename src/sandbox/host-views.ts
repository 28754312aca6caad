// Why: on the host's root the sandbox saw /usr, /etc, /opt and /var, and every --mount dataset (and a
// read-only image root the whole image), as read-only binds of the host's own trees, so a unix socket in them that a host service listens on
// (/var/lib/mysql/mysql.sock, SSSD's /var/lib/sss/pipes/nss) took a sandbox's connect() around the
// network namespace and the gateway, and a fifo in them was shared by every sandbox and the host.
// Threat it stops: both. corral-enter shows each such tree as read-only overlays of its mounts in
// the sandbox's own mount namespace (native/host-views.c show_views), where a socket or fifo is
// an inode of that sandbox's own; this file says which trees, and reads what corral-enter refused.
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { VISIBLE_ROOT_DIRS } from './bwrap-args.js';
import { atOrUnder } from './mount-template.js';

/** The host root's trees bwrap binds (real directories of VISIBLE_ROOT_DIRS; /sys is not a tree of files). */
export function hostRootTrees(root = '/'): string[] {
  const out: string[] = [];
  for (const d of VISIBLE_ROOT_DIRS) {
    if (d === 'sys') continue;
    const p = `${root === '/' ? '' : root}/${d}`;
    try { if (lstatSync(p).isDirectory()) out.push(p); } catch { /* not on this host */ }
  }
  return out;
}

/**
 * What corral-enter --view is given for a session: the host root's trees, or a read-only image
 * root (`image`; a writable one is an overlay of the session's already), then each dataset
 * directory not already inside one of them (`keep`, the run dir, stays as it is, so a dataset view
 * inside it is its own).
 */
export function sandboxViews(hostRoot: boolean, datasets: string[], keep: string, image?: string): string[] {
  const real = (p: string): string => { try { return realpathSync(p); } catch { return p; } };
  const trees = hostRoot ? hostRootTrees().map(real) : image !== undefined ? [real(image)] : [];
  const out = [...trees];
  for (const d of datasets.map(real)) {
    let dir = false;
    try { dir = statSync(d).isDirectory(); } catch { /* gone: bwrap says so */ }
    if (!dir || out.includes(d)) continue;
    if (trees.some((t) => atOrUnder(d, t)) && !atOrUnder(d, keep)) continue;
    out.push(d);
  }
  return out;
}

/** A line of corral-enter's saying a view was refused: the path and the kernel's reason. */
export function viewRefusal(text: string): { path: string; why: string } | undefined {
  const m = /^corral-enter: view (.+): shown as it lies \((.*)\)$/m.exec(text);
  return m ? { path: m[1]!, why: m[2]! } : undefined;
}
