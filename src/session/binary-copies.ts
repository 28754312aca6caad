// Why: the process rules know programs by name (bash, nc, socat, python3 …), and a name is the one
// thing an agent controls completely: `cp /bin/bash ./.kw; ./.kw -c 'exec 3<>/dev/tcp/…'` opened a
// reverse shell that raised only a low policy alert, because no rule knew `.kw` as a shell. This
// recognises a program by its bytes instead: an executable whose size matches one of the system's
// shells, network tools or interpreters (as the sandbox sees its root) is hashed and compared, and a
// copy is reported as the program it is. Threat it stops: T1036.003 (rename system utilities) used to
// slip past name-based detection of reverse shells, tunnels and scripted payloads.
// A copy padded or altered past its code (one byte appended) no longer hashes as the original, so an
// ELF's build-id note is compared too (elf-build-id.ts).
// Cost: one stat and a read of the ELF headers per exec of any other file; a hash only on a size match,
// each file judged once (cached by device, inode, size and mtime), and at most HASH_BUDGET hashes a
// second per session so a crowd of same-sized files cannot stall Corral.
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { readBuildId } from './elf-build-id.js';

/** The programs whose copies matter: what the shell, tunnel, netcat and interpreter rules name. */
export const WATCHED_PROGRAMS = [
  '/bin/bash', '/bin/sh', '/bin/dash', '/bin/zsh', '/bin/ksh', '/bin/mksh', '/bin/busybox',
  '/usr/bin/nc', '/usr/bin/ncat', '/usr/bin/netcat', '/bin/nc.openbsd', '/bin/nc.traditional', '/usr/bin/socat',
  '/usr/bin/ssh', '/usr/bin/telnet', '/usr/bin/curl', '/usr/bin/wget',
  '/usr/bin/python3', '/usr/bin/perl', '/usr/bin/ruby', '/usr/bin/php', '/usr/bin/node', '/usr/bin/lua',
  // the dynamic loader runs any program handed to it (loader-target.ts): a copy of it is one too
  '/lib64/ld-linux-x86-64.so.2', '/lib/ld-linux-aarch64.so.1',
];
/** Hashes allowed per second (past it an exec is not compared: counted in `skipped`). */
const HASH_BUDGET = 20;
/** Files larger than this are never hashed (a 100 MB runtime is not a copy an agent runs quietly). */
const MAX_BYTES = 128 * 1024 * 1024;

interface Original { name: string; path: string; size: number; id: string; hash?: string }

/** What an executed file is: a copy of a watched program, and/or a script naming its interpreter. */
export interface FileVerdict { copy?: string; interpreter?: string }

export class BinaryCopies {
  private bySize?: Map<number, Original[]>;
  /** The originals' files (dev:ino) and their build-ids. */
  private ids = new Set<string>();
  private byBuildId = new Map<string, string>();
  private readonly seen = new Map<string, FileVerdict>();
  private budget = HASH_BUDGET;
  private budgetAt = 0;
  /** Execs not compared because the hash budget was spent. */
  skipped = 0;

  /**
   * @param root where the sandbox's root is seen from the host (`/proc/PID/root` of a process in its
   * mount namespace; '' for the host's own), undefined while there is none: the originals are the
   * sandbox's own programs, image or host.
   */
  constructor(private readonly root: () => string | undefined, private readonly defaultCwd: () => string = () => '/workspace') {}

  /**
   * The name of the watched program (bash, nc …) that the executable of `pid` is a byte-for-byte copy
   * of, when `filename` (the path it was started by, as the sandbox sees it) is not that program's own
   * path; undefined otherwise or when it cannot be read (the process is gone and so is the file).
   */
  identify(pid: number, filename: string | undefined, opts: { exeFallback?: boolean } = {}): string | undefined {
    return this.examine(pid, filename, opts).copy;
  }

  /**
   * What the file a process was started from is, from one open (every exec comes here: the per-call
   * path): `copy`, as identify(); `interpreter`, the program a script names on its `#!` line (the
   * kernel runs that program: `./x` holding `#!/bin/bash` is bash, whatever x is called). Each file
   * is judged once, cached by device, inode, size and mtime.
   */
  examine(pid: number, filename: string | undefined, opts: { exeFallback?: boolean } = {}): FileVerdict {
    let fd: number | undefined;
    try {
      fd = this.open(pid, filename, opts.exeFallback ?? true);
      if (fd === undefined) return {};
      const st = fstatSync(fd);
      // (the program itself, by any of its names — /bin/sh is dash — is neither a copy nor a script)
      if (!st.isFile() || this.ids.has(`${st.dev}:${st.ino}`)) return {};
      const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
      const known = this.seen.get(key);
      if (known !== undefined) return known;
      const head = Buffer.alloc(256);
      const interpreter = /^#![ \t]*(\/[^ \t\n\0]+)/.exec(head.toString('latin1', 0, readSync(fd, head, 0, head.length, 0)))?.[1];
      const verdict: FileVerdict = interpreter !== undefined ? { interpreter } : {};
      const originals = this.originals();
      const candidates = interpreter === undefined ? originals.get(st.size) : undefined;
      if (candidates) {
        if (!this.spend()) { this.skipped++; return verdict; }
        const hash = hashFd(fd, st.size);
        for (const o of candidates) if (this.hashOf(o) === hash) { verdict.copy = o.name; break; }
      }
      if (verdict.copy === undefined && interpreter === undefined && this.byBuildId.size) {
        const id = readBuildId(fd);
        const name = id !== undefined ? this.byBuildId.get(id) : undefined;
        if (name !== undefined) verdict.copy = name;
      }
      if (this.seen.size > 4096) this.seen.clear();
      this.seen.set(key, verdict);
      return verdict;
    } catch { return {}; } finally { if (fd !== undefined) closeSync(fd); }
  }

  /**
   * The file the process was started from: by its path inside the sandbox's root (a later exec of the
   * same process — a shell's `exec` of its last command — does not change it; the last component is
   * never followed and a FIFO never waited on), a relative path from the process's working directory,
   * else (`exeFallback`) the running program's own file, which stays readable after it was deleted;
   * a relative path of a process already gone (its record read late, under load) from the sandbox's
   * usual working directory, the workspace.
   */
  private open(pid: number, filename: string | undefined, exeFallback: boolean): number | undefined {
    const root = this.root();
    const flags = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW;
    const at = !filename ? undefined : filename.startsWith('/') ? (root !== undefined ? `${root}${filename}` : undefined) : `/proc/${pid}/cwd/${filename}`;
    if (at !== undefined) {
      try { return openSync(at, flags); } catch { /* gone, or a link */ }
    }
    if (exeFallback) {
      try { return openSync(`/proc/${pid}/exe`, constants.O_RDONLY); } catch { /* gone */ }
    }
    if (filename && !filename.startsWith('/') && root !== undefined) {
      try { return openSync(`${root}${this.defaultCwd()}/${filename}`, flags); } catch { /* not there */ }
    }
    return undefined;
  }

  private spend(): boolean {
    const now = Date.now();
    if (now - this.budgetAt >= 1000) { this.budgetAt = now; this.budget = HASH_BUDGET; }
    if (this.budget <= 0) return false;
    this.budget--;
    return true;
  }

  private hashOf(o: Original): string | undefined {
    if (o.hash !== undefined) return o.hash;
    const root = this.root();
    let fd: number | undefined;
    try {
      fd = openSync(`${root}${o.path}`, constants.O_RDONLY | constants.O_NONBLOCK);
      o.hash = hashFd(fd, o.size);
    } catch { o.hash = ''; } finally { if (fd !== undefined) closeSync(fd); }
    return o.hash || undefined;
  }

  /** The watched programs present in the sandbox's root, by size (one entry per file: /bin/sh and /bin/dash are one). */
  private originals(): Map<number, Original[]> {
    if (this.bySize) return this.bySize;
    const root = this.root();
    if (root === undefined) return new Map();
    const bySize = new Map<number, Original[]>();
    const ids = new Set<string>();
    for (const p of WATCHED_PROGRAMS) {
      try {
        const st = statSync(`${root}${p}`);
        const id = `${st.dev}:${st.ino}`;
        if (!st.isFile() || st.size > MAX_BYTES || st.size === 0 || ids.has(id)) continue;
        ids.add(id);
        bySize.set(st.size, [...(bySize.get(st.size) ?? []), { name: basename(p), path: p, size: st.size, id }]);
        const fd = openSync(`${root}${p}`, constants.O_RDONLY | constants.O_NONBLOCK);
        try { const b = readBuildId(fd); if (b !== undefined && !this.byBuildId.has(b)) this.byBuildId.set(b, basename(p)); } finally { closeSync(fd); }
      } catch { /* not installed */ }
    }
    this.ids = ids;
    this.bySize = bySize;
    return bySize;
  }
}

/** sha256 of an open file's first `size` bytes. */
function hashFd(fd: number, size: number): string {
  if (size > MAX_BYTES) throw new Error('too large');
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.min(size, 1 << 20));
  for (let pos = 0; pos < size;) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, size - pos), pos);
    if (n <= 0) break;
    h.update(buf.subarray(0, n));
    pos += n;
  }
  return h.digest('hex');
}
