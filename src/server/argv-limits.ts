// Why: a command's argument list is bounded by the kernel (execve(2): each string at most
// MAX_ARG_STRLEN, all of them with their pointers at most ARG_MAX, a quarter of the stack limit),
// not by an arbitrary count. `corral run` checks it the same way whether the call runs here or
// through `corral serve`, so a command that can run locally is never refused by the daemon
// (before, 4096 words or a 2 MiB body was the daemon's limit) and one that cannot run anywhere
// gets one clear error, not E2BIG deep in a spawn. The daemon checks it again on what it is sent.
// Threat: a client sending a huge argv to wedge the daemon — the count and size stay bounded
// (by what execve could take), and the body limit of POST /v1/run follows from them.
import { readFileSync } from 'node:fs';

/** The longest single argument execve takes (MAX_ARG_STRLEN: 32 pages, its terminating NUL included). */
export const ARG_STRLEN_MAX = 32 * 4096 - 1;
/** The most ARG_MAX can be (Linux: three quarters of the 8 MiB default stack), whatever the stack limit. */
export const ARG_MAX_CAP = 6 * 1024 * 1024;
/** The room left for the command's environment and the sandbox's own words (bwrap's arguments) around the argv. */
export const ARGV_RESERVE = 64 * 1024;
/** The most words an argv can have within ARG_MAX_CAP (each costs at least its NUL and an 8-byte pointer). */
export const ARGV_COUNT_MAX = Math.floor(ARG_MAX_CAP / 9);

/** This machine's ARG_MAX as the kernel computes it: a quarter of the stack's soft limit, between 128 KiB and ARG_MAX_CAP (read once: every call asks). */
export function argMax(): number {
  argMaxCache ??= readArgMax();
  return argMaxCache;
}
let argMaxCache: number | undefined;

function readArgMax(): number {
  let stack = 8 * 1024 * 1024;
  try {
    const m = /^Max stack size\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) stack = m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch { /* not Linux's /proc: the default */ }
  return Math.max(128 * 1024, Math.min(ARG_MAX_CAP, Number.isFinite(stack) ? Math.floor(stack / 4) : ARG_MAX_CAP));
}

/** The bytes execve counts for argv: each word's UTF-8 bytes, its NUL and its pointer. */
export function argvBytes(argv: readonly string[]): number {
  let n = 8; // the terminating NULL pointer
  for (const a of argv) n += Buffer.byteLength(a) + 1 + 8;
  return n;
}

/** Why execve could not take this argv (a NUL byte, a word too long, too large in all), else undefined. */
export function argvProblem(argv: readonly string[], limit = argMax()): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.includes('\0')) return `argument ${i} contains a NUL byte, which no command can receive`;
    const n = Buffer.byteLength(a);
    if (n > ARG_STRLEN_MAX) return `argument ${i} is ${n} bytes long; the kernel takes at most ${ARG_STRLEN_MAX} bytes per argument (execve: E2BIG)`;
  }
  const total = argvBytes(argv);
  const room = limit - ARGV_RESERVE;
  if (total > room) return `the arguments take ${total} bytes (${argv.length} words); the kernel takes at most ${limit} (ARG_MAX) with the environment and the sandbox's own arguments, which leaves ${room} (execve: E2BIG)`;
  return undefined;
}
