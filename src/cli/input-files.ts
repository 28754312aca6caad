// Why: the logs a fleet keeps come as directories of rotated files (Zeek's logs/2024-05-01/
// conn.00:00:00-01:00:00.log.gz, an S3 prefix synced to disk, /var/log/suricata/): naming
// every file is friction. A directory given as an input stands for the regular files under it,
// recursively, in path order; hidden entries are skipped and symlinked directories are not
// followed (no loops). Each file's format is still detected on its own, so a Zeek day directory
// may hold dns.log.gz and http.log.gz next to conn logs: they are read and skipped as not conn.
// A file named twice (a directory and a file in it, a symlink and its target) is read once, with a
// note: read twice, its alerts would count double and inflate every confidence.
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './io.js';
import { safeText } from './style.js';

/**
 * The files the input paths stand for: each itself, or the regular files under a directory; a file
 * reached a second time is left out and a note about it added to notes.
 */
export function expandInputs(paths: readonly string[], notes?: string[]): string[] {
  const out: string[] = [];
  const seen = new Map<string, string>();
  const add = (p: string): void => {
    let key = p;
    try { key = realpathSync(p); } catch { /* (reported when read) */ }
    const first = seen.get(key);
    if (first === undefined) { seen.set(key, p); out.push(p); return; }
    notes?.push(first === p ? `${p} is given more than once: read once` : `${p} is ${first} (given twice): read once`);
  };
  for (const p of paths) {
    let st;
    try { st = statSync(p); } catch { throw new UsageError(`cannot read ${safeText(p)}: no such file`); }
    if (st.isFile()) { add(p); continue; }
    if (!st.isDirectory()) throw new UsageError(`cannot read ${safeText(p)}: not a regular file`);
    const found = filesUnder(p);
    if (!found.length) throw new UsageError(`cannot read ${safeText(p)}: the directory holds no files`);
    found.forEach(add);
  }
  return out;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile() || (e.isSymbolicLink() && isFile(p))) out.push(p);
  }
  return out;
}

function isFile(p: string): boolean {
  try { return statSync(p).isFile(); } catch { return false; }
}
