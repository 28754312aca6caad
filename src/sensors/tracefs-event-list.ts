// Why: the sensor's start is most of what a `corral run` without a daemon waits for, and a large
// part of it was bpftrace 0.17 re-reading tracefs's `available_events` — a 60 KB list the kernel
// generates on every read — once per probe per compiler pass (860 reads, ≈ 0.8 s here). This
// takes the lines of the tracepoints the program names from the real list, and gives bpftrace
// alone the environment under which native/tracefs-events-shim.c (preloaded) answers its opens of
// that file with them from memory. bpftrace then finds exactly the tracepoints it would have found
// (the sensor names its tracepoints exactly; a wildcard would expand over the short list, so a
// program with one gets the real list); nothing else, on the host or in bpftrace, changes. (A mount
// namespace with the list bound over the file was the first way; it pinned every mount that existed
// when bpftrace started for as long as it ran, on hosts whose mounts do not propagate, and needed a
// file in a shared temporary directory.)
import { accessSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where bpftrace 0.17 reads tracefs from: debugfs's tracing directory when it exists, else /sys/kernel/tracing (its src/tracefs.cpp). */
export function bpftraceTracefsDir(): string {
  try { accessSync('/sys/kernel/debug/tracing'); return '/sys/kernel/debug/tracing'; } catch { return '/sys/kernel/tracing'; }
}

/** The `category:event` names of the program's tracepoint probes; undefined when one is a wildcard (only the whole list answers that). */
export function tracepointsOf(program: string): Set<string> | undefined {
  const names = new Set<string>();
  for (const m of program.matchAll(/\btracepoint:([^\s,{/]+)/g)) {
    const name = m[1]!;
    if (!/^[A-Za-z0-9_]+:[A-Za-z0-9_]+$/.test(name)) return undefined;
    names.add(name);
  }
  return names;
}

/** The lines of the real list that name one of `wanted`, in the real list's order. */
export function shortEventList(realList: string, wanted: Set<string>): string {
  return realList.split('\n').filter((l) => wanted.has(l.trim())).map((l) => `${l.trim()}\n`).join('');
}

/**
 * The variables that make the preloaded shim answer bpftrace's reads of the event list with the
 * program's lines; undefined (bpftrace reads the real list) when the program or the machine does not
 * allow it. An LD_PRELOAD already in `env` is kept, after the shim.
 */
export function eventListEnv(program: string, shim: string | undefined, env: NodeJS.ProcessEnv = process.env): Record<string, string> | undefined {
  const wanted = tracepointsOf(program);
  if (!shim || !wanted || wanted.size === 0) return undefined;
  const path = join(bpftraceTracefsDir(), 'available_events');
  let real: string;
  try { real = readFileSync(path, 'latin1'); } catch { return undefined; }
  const list = shortEventList(real, wanted);
  if (!list || list.includes('\0')) return undefined;
  return { LD_PRELOAD: env.LD_PRELOAD ? `${shim} ${env.LD_PRELOAD}` : shim, CORRAL_EVENTS_PATH: path, CORRAL_EVENTS_LIST: list };
}
