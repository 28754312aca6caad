// Why: a session is one episode's ordered sequence of tool calls: step N, then step N+1. Two calls
// running at once in one session share its "current call": a connection the gateway judges, a
// persistence file found when a call ends and the screen's pending findings would be pinned on
// whichever call the timing picked, and the recorded order would not be the order things ran. The
// daemon answers a second exec on a busy session with 409 `busy`; the library refuses it the same
// way, with this error, rather than queueing it behind a call whose result its caller has not seen
// (a queued step would run in a sandbox changed by a step the caller may still want to judge).
// Sessions of their own run concurrently: one per rollout.

/** What a refused call's session is running (when known). */
export interface RunningCall { step?: number; toolCallId?: string }

/** A tool call (exec or file) started on a session while another of its calls still runs. */
export class SessionBusyError extends Error {
  override readonly name = 'SessionBusyError';
  /** Stable for callers that match on codes (the daemon's answer to the same mistake is 409 `busy`). */
  readonly code = 'SESSION_BUSY';

  constructor(readonly session: string, readonly running: RunningCall = {}) {
    const which = running.step !== undefined ? ` (step ${running.step}${running.toolCallId ? `, tool call ${running.toolCallId}` : ''})` : '';
    super(`session ${session} is running a tool call${which}; calls in a session run in order: await its result before the next call, or open another session to run calls side by side`);
  }
}
