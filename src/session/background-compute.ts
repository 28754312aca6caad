// Why: a miner split over processes that different tool calls left running (two background loops at ≈ 37 %
// each) stays under every per-call and per-process threshold: the per-process rule counts each call's busiest
// process, the per-call rule sums one call only (a red-team leftover, session 41). This sums, at each resource
// sample, the CPU of the unexpected processes that calls which have ended left running, across calls, so the
// session-keyed rule background_compute_split sees the total. Threat: T1496.001, compute hijacking split across
// tool calls to stay under per-call limits.
import type { ProcSample } from './resource-sampler.js';

/** The sandbox's read-only system directories (mirrors the rules' system_executable macro). */
const SYSTEM_DIR = /^\/(usr|opt|bin|sbin|lib|lib32|lib64)\//;
/** The dynamic loader runs whatever program it is handed (mirrors the rules' loader_executable macro). */
const LOADER = /\/ld-(linux|musl)[^/]*\.so[.0-9]*$/;

/** What decides whether a process is expected to burn CPU, as the per-process rule decides it. */
export interface ComputeExpectations {
  /** Names in the rules' expected_compute_processes list. */
  expected: ReadonlySet<string>;
  /** Whether an executable path lies in the sandbox's workspace (never a system file, wherever it is shown). */
  inWorkspace(exe: string): boolean;
}

/** A process of an ended call, as one sample saw it. */
export interface BackgroundProc extends ProcSample { call: string }

/** One moment's CPU of unexpected background processes, split by the call that started each. */
export interface BackgroundCompute {
  cpuPct: number;
  /** Calls with their share, largest first. */
  calls: { call: string; cpuPct: number }[];
  /** The busiest process counted. */
  top: BackgroundProc;
}

/** Whether the per-process rule would let this process pass: an expected name running a system program, or a fresh system tool. */
export function expectedCompute(p: ProcSample, e: ComputeExpectations): boolean {
  const system = p.exe !== undefined && SYSTEM_DIR.test(p.exe) && !p.exe.endsWith(' (deleted)') && !e.inWorkspace(p.exe) && !LOADER.test(p.exe);
  if (p.young && system) return true;
  return e.expected.has(p.comm) && (system || p.exe === undefined);
}

/**
 * The unexpected CPU that ended calls' processes use at one moment, when at least two calls contribute (one call
 * alone is the per-process and per-call rules' to judge); undefined otherwise.
 */
export function backgroundCompute(procs: readonly BackgroundProc[], e: ComputeExpectations): BackgroundCompute | undefined {
  const counted = procs.filter((p) => p.cpuPct > 0 && !expectedCompute(p, e));
  const byCall = new Map<string, number>();
  for (const p of counted) byCall.set(p.call, (byCall.get(p.call) ?? 0) + p.cpuPct);
  if (byCall.size < 2) return undefined;
  const calls = [...byCall].map(([call, cpuPct]) => ({ call, cpuPct: Math.round(cpuPct * 10) / 10 })).sort((a, b) => b.cpuPct - a.cpuPct);
  const top = counted.reduce((a, b) => (b.cpuPct > a.cpuPct ? b : a));
  return { cpuPct: Math.round(calls.reduce((n, c) => n + c.cpuPct, 0) * 10) / 10, calls, top };
}
