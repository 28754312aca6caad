// Why: a miner split over processes that different tool calls left running (two background loops at ≈ 37 %
// each) stays under every per-call and per-process threshold: the per-process rule counts each call's busiest
// process, the per-call rule sums one call only (a red-team leftover, session 41). This sums, at each resource
// sample, the CPU of the unexpected processes that calls which have ended left running, across calls, so the
// session-keyed rule background_compute_split sees the total. Threat: T1496.001, compute hijacking split across
// tool calls to stay under per-call limits.
import type { ProcSample } from './resource-sampler.js';
import type { EngineEvent, RuleSet } from '../detect/engine/api.js';
import { compileFilter } from '../detect/engine/ruleset.js';

/** What decides whether a process is expected to burn CPU, as the per-process rule decides it. */
export interface ComputeExpectations { expected(p: ProcSample): boolean }

/**
 * The per-process rule's own test (macros expected_compute_proc and young_system_program in rules/lists.yaml),
 * evaluated on the process sample the session would send for `p`: a user's override of those macros, of
 * system_executable or of the list reaches the sum too. `inWorkspace`: whether an executable path lies in the
 * sandbox's workspace (exe_writable, as the session marks it).
 */
export function expectationsOf(rules: RuleSet, inWorkspace: (exe: string) => boolean): ComputeExpectations {
  const test = compileFilter(rules, 'expected_compute_proc or young_system_program');
  return {
    expected: (p) => test({ id: '', ts: '0', session: '', kind: 'resource', pid: p.pid, payload: processSamplePayload(p, inWorkspace) } as EngineEvent),
  };
}

/** The payload of a process's resource sample (exe: where the binary lives as the sandbox sees it — comm alone is the agent's to choose). */
export function processSamplePayload(p: ProcSample, inWorkspace: (exe: string) => boolean): Record<string, unknown> {
  return { scope: 'process', comm: p.comm, ...(p.exe ? { exe: p.exe } : {}), ...(p.exe && inWorkspace(p.exe) ? { exe_writable: true } : {}), cpu_pct: p.cpuPct, ...(p.young ? { young: true } : {}) };
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

/**
 * The unexpected CPU that ended calls' processes use at one moment, when at least two calls contribute (one call
 * alone is the per-process and per-call rules' to judge); undefined otherwise.
 */
export function backgroundCompute(procs: readonly BackgroundProc[], e: ComputeExpectations): BackgroundCompute | undefined {
  const counted = procs.filter((p) => p.cpuPct > 0 && !e.expected(p));
  const byCall = new Map<string, number>();
  for (const p of counted) byCall.set(p.call, (byCall.get(p.call) ?? 0) + p.cpuPct);
  if (byCall.size < 2) return undefined;
  const calls = [...byCall].map(([call, cpuPct]) => ({ call, cpuPct: Math.round(cpuPct * 10) / 10 })).sort((a, b) => b.cpuPct - a.cpuPct);
  const top = counted.reduce((a, b) => (b.cpuPct > a.cpuPct ? b : a));
  return { cpuPct: Math.round(calls.reduce((n, c) => n + c.cpuPct, 0) * 10) / 10, calls, top };
}
