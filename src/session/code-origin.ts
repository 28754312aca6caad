// Why: process lineage names the tool call that started a process, but a process an earlier call left
// running (a job runner, a `while sleep 5` loop) may run a file a later call wrote. The later call planted
// the miner; the earlier call's loop started it; lineage alone blamed only the loop's call and spared the
// planter. This remembers, per process, the tool call that wrote the code it runs — its program file, or the
// script a shell or interpreter was given — when that call is not the process's own, and passes it down to
// the process's children, so an alert names both calls: the one that started it and the one that wrote it.
// The writer comes from the kernel (fanotify, file-writers.ts), not from anything the agent says.
// Threat: deferred execution (T1053-like) used to pin the blame on an innocent earlier call.
import type { AlertPayload, Attribution } from '../events/event.js';
import { setRecent } from './recent-map.js';

/** The call whose process last wrote the code a process runs, and that file (relative to the workspace). */
export interface CodeOrigin { tool_call: string; step?: number; file: string }

/** Processes remembered at most (the oldest let go first). */
const MAX_PIDS = 8192;

export class CodeOrigins {
  private readonly byPid = new Map<number, CodeOrigin>();
  /**
   * Of processes that have ended, until their pid runs something else: an alert about a process can come after
   * its end (the gateway joins a flow to its pid and aggregates repeats for about a second).
   */
  private readonly ended = new Map<number, CodeOrigin>();

  /** A successful exec of `pid`: its own origin (it runs another call's file), else the one its parent had. */
  exec(pid: number, ppid: number, own: CodeOrigin | undefined): CodeOrigin | undefined {
    this.ended.delete(pid);
    const o = own ?? this.byPid.get(ppid);
    if (o === undefined) { this.byPid.delete(pid); return undefined; }
    setRecent(this.byPid, pid, o, MAX_PIDS);
    return o;
  }

  /** The origin of a process's code: its own exec's, else (a child forked without exec) its parent's. */
  of(pid: number | undefined, ppid?: number): CodeOrigin | undefined {
    if (pid === undefined) return undefined;
    return this.byPid.get(pid) ?? this.ended.get(pid) ?? (ppid !== undefined ? this.byPid.get(ppid) : undefined);
  }

  /** The process ended: kept aside until its pid is reused by an exec. */
  exit(pid: number): void {
    const o = this.byPid.get(pid);
    if (o === undefined) return;
    this.byPid.delete(pid);
    setRecent(this.ended, pid, o, MAX_PIDS);
  }
}

/** An event's note of the other call whose code its process runs; nothing when it is the event's own call. */
export function codeFrom(o: CodeOrigin | undefined, attr: Attribution): Record<string, unknown> {
  return o && o.tool_call !== attr.tool_call ? { code_from_call: o.tool_call, ...(o.step !== undefined ? { code_from_step: o.step } : {}), code_file: o.file } : {};
}

/** The co-culprit an alert about this event names (the call that wrote its code), read back from the event's payload. */
export function coCulpritOf(payload: Record<string, unknown>): NonNullable<AlertPayload['co_culprit']> | undefined {
  const call = payload.code_from_call, step = payload.code_from_step, file = payload.code_file;
  if (typeof call !== 'string' || typeof file !== 'string') return undefined;
  return { tool_call: call, ...(typeof step === 'number' ? { step } : {}), file, why: 'wrote the code this process ran; a process of the alert\'s call started it' };
}

/** The words an alert's message ends with for a co-culprit. */
export function coCulpritText(c: NonNullable<AlertPayload['co_culprit']>): string {
  return ` — its code (${c.file}) was written by ${c.step !== undefined ? `step ${c.step}, ` : ''}tool call ${c.tool_call}`;
}
