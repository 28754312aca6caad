// Why: `exec` over the API answers when the call ends, so a trainer or a coding agent's UI sees
// nothing of a ten-minute `npm test` until it is over, and learns of an alert (a miner the call
// started) only then. With `stream: true` the answer is NDJSON written as the call runs: its
// output as it is read, every alert of the session as it is raised (with the tool call it is
// attributed to, which may be an earlier one: a background process), then the result — the same
// object a plain exec answers. A trainer can stop a rollout on the first critical alert instead of
// waiting for the step to finish. Output is sent at most up to the call's max_output per stream,
// as it is captured; a slow reader costs memory only up to that cap.
import type http from 'node:http';
import { alertJson } from '../events/alert-json.js';
import type { AlertEvent, CorralEvent } from '../events/event.js';

export type ExecStreamLine =
  | { type: 'stdout' | 'stderr'; data: string }
  | { type: 'alert'; alert: ReturnType<typeof alertJson> }
  | ({ type: 'result' } & Record<string, unknown>)
  | { type: 'error'; error: { kind: string; message: string } };

/** One streamed exec answer: headers at once, a JSON line per piece, closed by a result or an error. */
export class ExecStream {
  private unsubscribe: () => void = () => {};

  constructor(private readonly res: http.ServerResponse) {
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
    // (headers now, so a client sees the call accepted before its first output)
    res.flushHeaders();
  }

  /** Forwards the session's alerts while the call runs (`subscribe` returns its unsubscribe). */
  watchAlerts(session: string, subscribe: (fn: (ev: CorralEvent) => void) => () => void): void {
    this.unsubscribe = subscribe((ev) => {
      if (ev.kind === 'alert' && ev.session === session) this.line({ type: 'alert', alert: alertJson(ev as unknown as AlertEvent) });
    });
  }

  output(stream: 'stdout' | 'stderr', data: string): void {
    if (data !== '') this.line({ type: stream, data });
  }

  /** The last line: the call's result, or why it could not be run or answered. */
  end(last: ExecStreamLine): void {
    this.unsubscribe();
    this.line(last);
    if (!this.res.writableEnded) this.res.end();
  }

  private line(l: ExecStreamLine): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    this.res.write(`${JSON.stringify(l)}\n`);
  }
}
