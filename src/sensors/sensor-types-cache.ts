// Why: writing the sensor's kernel type definitions (sensor-types.ts) reads the 5–6 MB kernel BTF and
// walks it: ≈ 65 ms of main-thread time at every sensor start, so at every `corral run` without a
// daemon. What it writes depends only on the running kernel (this boot), the tracepoints the program
// uses, the architecture and the code that writes it, so it is kept in Corral's run directory
// (/run/corral: a tmpfs, emptied at reboot) under a key of all of those.
// Threat stopped: a local user planting definitions that bpftrace, as root, compiles into the sensor —
// wrong member offsets would make it read the wrong fields and go blind to an agent's processes. A
// cached file is used only when it, its directory and the run directory are owned by this user (or
// root) and writable by nobody else, opened without following links and checked on the open
// descriptor; anything else is ignored and the definitions are written from BTF as before.
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Larger than any definitions the sensor has (≈ 3 KB): a bigger file is not ours. */
const MAX_BYTES = 256 * 1024;

export interface TypesCacheKey { btfPath: string; tracepoints: Iterable<string>; arch: string }

export interface CachedDefinitions { defs: string; from: 'cache' | 'btf'; path?: string }

/** The code that writes the definitions: a changed Corral (same boot) must not reuse an old one's. */
function codeDigest(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const h = createHash('sha256');
  for (const f of ['sensor-types.js', 'kernel-btf.js', 'sensor-types-cache.js']) {
    try { h.update(readFileSync(join(here, f))); } catch { h.update(`missing ${f}`); }
  }
  return h.digest('hex');
}

/** The cache key: this boot, the BTF file as the kernel shows it, the tracepoints, the architecture, the code. */
export function typesCacheKey(k: TypesCacheKey): string {
  let boot = '';
  try { boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(); } catch { /* no boot id: no cache */ }
  if (!boot) return '';
  const st = statSync(k.btfPath);
  return createHash('sha256')
    .update(JSON.stringify([boot, k.btfPath, st.size, st.mtimeMs, st.ino, [...k.tracepoints].sort(), k.arch, codeDigest()]))
    .digest('hex').slice(0, 32);
}

/** A directory or file only this user (or root) can have written: not a link, not group/world-writable. */
function trusted(st: Stats, dir: boolean): boolean {
  const uid = process.getuid?.() ?? 0;
  if (st.uid !== uid && st.uid !== 0) return false;
  if ((st.mode & 0o022) !== 0) return false;
  return dir ? st.isDirectory() && !st.isSymbolicLink() : st.isFile();
}

function trustedDir(path: string): boolean {
  try { return trusted(lstatSync(path), true); } catch { return false; }
}

function readTrusted(path: string): string | undefined {
  let fd: number;
  try { fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK); } catch { return undefined; }
  try {
    const st = fstatSync(fd);
    if (!trusted(st, false) || st.size === 0 || st.size > MAX_BYTES) return undefined;
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n <= 0) break;
      got += n;
    }
    return got === buf.length ? buf.toString('utf8') : undefined;
  } finally { closeSync(fd); }
}

/**
 * The sensor's definitions: from `runDir`/sensor-types when a trusted entry for `key` is there, else
 * `write()` (which may throw: nothing is cached then), stored for the next start. The cache is only
 * ever a shortcut: any failure to read or store it falls back to, or keeps, the written definitions.
 */
export function cachedDefinitions(runDir: string | undefined, key: TypesCacheKey, write: () => string): CachedDefinitions {
  let name = '';
  try { name = runDir ? typesCacheKey(key) : ''; } catch { name = ''; }
  const dir = runDir ? join(runDir, 'sensor-types') : '';
  const path = name ? join(dir, `${name}.h`) : undefined;
  if (path && trustedDir(runDir!) && trustedDir(dir)) {
    const defs = readTrusted(path);
    if (defs !== undefined) return { defs, from: 'cache', path };
  }
  const defs = write();
  if (path) store(runDir!, dir, path, defs);
  return { defs, from: 'btf', path };
}

function store(runDir: string, dir: string, path: string, defs: string): void {
  try {
    // (the run directory as the runtime makes it, searchable: sandboxes' launchers pass through it; the cache's own is private)
    mkdirSync(runDir, { recursive: true, mode: 0o755 });
    mkdirSync(dir, { mode: 0o700 });
  } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') return; }
  if (!trustedDir(runDir) || !trustedDir(dir)) return;
  // a new name per writer, renamed into place: a concurrent reader sees the old entry or the whole new one
  const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, defs, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, path);
  } catch { rmSync(tmp, { force: true }); }
  prune(dir);
}

/** Keeps the newest KEEP entries (a Corral upgraded or rebuilt within one boot leaves its old ones). */
const KEEP = 16;
function prune(dir: string): void {
  try {
    const entries = readdirSync(dir).filter((f) => f.endsWith('.h'))
      .map((f) => ({ f, t: lstatSync(join(dir, f)).mtimeMs })).sort((a, b) => b.t - a.t);
    for (const e of entries.slice(KEEP)) rmSync(join(dir, e.f), { force: true });
  } catch { /* a shortcut only */ }
}

/** Forgets a cached entry (bpftrace refused the definitions it held). */
export function dropCachedDefinitions(path: string | undefined): void {
  if (path) rmSync(path, { force: true });
}
