// Why: the sensor's start is most of what a `corral run` without a daemon waits for, and a large
// part of it was bpftrace 0.17 re-reading tracefs's `available_events` — a 60 KB list the kernel
// generates on every read — once per probe per compiler pass (860 reads, ≈ 0.8 s here). This
// writes the lines of the tracepoints the program names, taken from the real list, to a private
// file that native/corral-bind-exec binds over the real one for bpftrace alone. bpftrace then
// finds exactly the tracepoints it would have found (a probe the kernel lacks is missing from the
// short list too, and fails the same way); the host keeps the real file.
import { accessSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

export interface EventListView {
  /** The short list's file (corral-bind-exec removes it once bound). */
  src: string;
  /** The real list it is bound over. */
  target: string;
  /** Removes the short list's directory; call once bpftrace has started (or failed to). */
  cleanup(): void;
}

/** Writes the program's short event list; undefined when the program or the real list does not allow it. */
export function prepareEventList(program: string): EventListView | undefined {
  const wanted = tracepointsOf(program);
  if (!wanted || wanted.size === 0) return undefined;
  const target = join(bpftraceTracefsDir(), 'available_events');
  let real: string;
  try { real = readFileSync(target, 'latin1'); } catch { return undefined; }
  removeStaleLists();
  let dir: string;
  try { dir = mkdtempSync(join(tmpdir(), `corral-sensor-${process.pid}-`)); } catch { return undefined; }
  const src = join(dir, 'available_events');
  // (a full or read-only temporary directory only costs the faster start)
  try { writeFileSync(src, shortEventList(real, wanted), { mode: 0o600 }); } catch { rmSync(dir, { recursive: true, force: true }); return undefined; }
  let done = false;
  return { src, target, cleanup: () => { if (!done) { done = true; rmSync(dir, { recursive: true, force: true }); } } };
}

/** Short lists left by a Corral killed while its bpftrace started (their process is gone). */
function removeStaleLists(): void {
  let names: string[] = [];
  try { names = readdirSync(tmpdir()); } catch { return; }
  for (const name of names) {
    const pid = /^corral-sensor-(\d+)-/.exec(name)?.[1];
    if (!pid || Number(pid) === process.pid) continue;
    try { process.kill(Number(pid), 0); continue; } catch (e) { if ((e as NodeJS.ErrnoException).code === 'EPERM') continue; }
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}
