// Why: process lineage names the tool call that started a process, but a process an earlier call left
// running (a job runner, a `while sleep 5` loop) may run a file a later call wrote. The later call planted
// the miner; the earlier call's loop started it; lineage alone blamed only the loop's call and spared the
// planter. This remembers, per process, the tool call that wrote the code it runs — its program file, or the
// script a shell or interpreter was given — when that call is not the process's own, and passes it down to
// the process's children, so an alert names both calls: the one that started it and the one that wrote it.
// The same for code a process loads after its exec — a module it imports, a shared object it opens
// (`pytest` run by step 5 importing the conftest.py step 3 planted): the writers of the modules it opened
// are remembered with it, the latest as the co-culprit and the others beside it, since which of them
// did the deed cannot be told from outside.
// The writer comes from the kernel (fanotify, file-writers.ts), not from anything the agent says.
// Threat: deferred execution (T1053-like) used to pin the blame on an innocent earlier call.
import type { AlertPayload, Attribution } from '../events/event.js';
import { codeWriter } from '../events/alert-json.js';
import { setRecent } from './recent-map.js';

/** A call that wrote code, and that file (relative to the workspace). */
export interface CodeWriter { tool_call: string; step?: number; file: string }

/**
 * The call whose process last wrote the code a process runs (`loaded`: a module it opened after its exec),
 * and the other calls whose code it loaded (`also`, oldest first).
 */
export interface CodeOrigin extends CodeWriter { loaded?: true; also?: CodeWriter[] }

/** Processes remembered at most (the oldest let go first). */
const MAX_PIDS = 8192;
/** Other calls named beside the co-culprit at most. */
const MAX_ALSO = 8;

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

  /**
   * Process `pid` opened a code file `w` wrote (a module, a shared object; another call than its own). The
   * code it exec'd stays the co-culprit; else the latest module's writer is, and the calls before it stay
   * beside it. Passed to children from here on, like an exec's.
   */
  load(pid: number, ppid: number | undefined, w: CodeWriter): void {
    const had = this.of(pid, ppid);
    const writer = (x: CodeWriter): CodeWriter => ({ tool_call: x.tool_call, ...(x.step !== undefined ? { step: x.step } : {}), file: x.file });
    let o: CodeOrigin;
    if (had === undefined) o = { ...writer(w), loaded: true };
    else if (had.tool_call === w.tool_call || had.also?.some((x) => x.tool_call === w.tool_call)) {
      if (!had.loaded || had.tool_call !== w.tool_call) return;
      o = { ...had, file: w.file }; // (the same call's latest module)
    } else if (!had.loaded) o = { ...had, also: [...(had.also ?? []), writer(w)].slice(-MAX_ALSO) };
    else o = { ...writer(w), loaded: true, also: [...(had.also ?? []), writer(had)].slice(-MAX_ALSO) };
    this.ended.delete(pid);
    setRecent(this.byPid, pid, o, MAX_PIDS);
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

/** The source of a compiled Python module (`pkg/__pycache__/m.cpython-311.opt-1.pyc` → `pkg/m.py`); undefined for other files. */
export function pycSource(rel: string): string | undefined {
  const m = /^(?:(.*)\/)?__pycache__\/([^/.]+)\.[^/]+\.pyc$/.exec(rel);
  return m ? `${m[1] !== undefined ? `${m[1]}/` : ''}${m[2]}.py` : undefined;
}

/** An event's note of the other call whose code its process runs; nothing when it is the event's own call. */
export function codeFrom(o: CodeOrigin | undefined, attr: Attribution): Record<string, unknown> {
  if (!o || o.tool_call === attr.tool_call) return {};
  const also = o.also?.filter((x) => x.tool_call !== attr.tool_call);
  return { code_from_call: o.tool_call, ...(o.step !== undefined ? { code_from_step: o.step } : {}), code_file: o.file, ...(o.loaded ? { code_loaded: true } : {}), ...(also?.length ? { code_also: also } : {}) };
}

/** The co-culprit an alert about this event names (the call that wrote its code), read back from the event's payload. */
export function coCulpritOf(payload: Record<string, unknown>): NonNullable<AlertPayload['co_culprit']> | undefined {
  const call = payload.code_from_call, step = payload.code_from_step, file = payload.code_file;
  if (typeof call !== 'string' || typeof file !== 'string') return undefined;
  const loaded = payload.code_loaded === true;
  const also = Array.isArray(payload.code_also) ? payload.code_also.map(codeWriter).filter((w): w is CodeWriter => w !== undefined) : [];
  return {
    tool_call: call, ...(typeof step === 'number' ? { step } : {}), file, ...(loaded ? { loaded: true } : {}), ...(also.length ? { also } : {}),
    why: loaded ? `wrote code this process loaded (a module it imported or a library it opened)${also.length ? '; other calls wrote code it loaded too (also)' : ''}; a process of the alert's call ran it` : 'wrote the code this process ran; a process of the alert\'s call started it',
  };
}

/** The words an alert's message ends with for a co-culprit. */
export function coCulpritText(c: NonNullable<AlertPayload['co_culprit']>): string {
  const by = (w: CodeWriter): string => `${w.step !== undefined ? `step ${w.step}, ` : ''}tool call ${w.tool_call}`;
  const also = c.also?.length ? `; it also loaded code of ${c.also.map((w) => `${by(w)} (${w.file})`).join(', ')}` : '';
  return c.loaded ? ` — it loaded code (${c.file}) written by ${by(c)}${also}` : ` — its code (${c.file}) was written by ${by(c)}${also}`;
}
