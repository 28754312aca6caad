// Why: `exec` over the API answers when the call ends, so a trainer or a coding agent's UI sees
// nothing of a ten-minute `npm test` until it is over, and learns of an alert (a miner the call
// started) only then. With `stream: true` the answer is NDJSON written as the call runs: its
// output as it is read, every alert of the session as it is raised (with the tool call it is
// attributed to, which may be an earlier one: a background process), then the result — the same
// object a plain exec answers. A trainer can stop a rollout on the first critical alert instead of
// waiting for the step to finish. Output is sent at most up to the call's max_output per stream,
// as it is captured. A reader that does not keep up does not make the daemon buffer it: past
// HIGH_WATER bytes waiting to be sent, output lines are left out and counted (a `dropped` line says
// how much, once the reader catches up); alerts and the result, which carries the whole output,
// are always sent. (JSON escaping can make a line 6× its output: control bytes become \u00XX.)
// A call that prints nothing for a while still gets a `keepalive` line every KEEPALIVE_MS, so a
// client's read timeout bounds how long the *daemon* may be silent, not how long a quiet
// `pip install` may run, and a client can tell a hung daemon from a quiet call.
import type http from 'node:http';
import { alertJson } from '../events/alert-json.js';
import type { AlertEvent, CorralEvent } from '../events/event.js';

/** Bytes waiting to be sent to a slow reader past which output lines are dropped (not alerts, not the result). */
export const HIGH_WATER = 4 << 20;

/** Silence after which a `keepalive` line is sent (clients should read with a timeout above this). */
export const KEEPALIVE_MS = 5_000;

export type ExecStreamLine =
  | { type: 'stdout' | 'stderr'; data: string }
  | { type: 'dropped'; stdout: number; stderr: number }
  | { type: 'keepalive' }
  | { type: 'alert'; alert: ReturnType<typeof alertJson> }
  | ({ type: 'result' } & Record<string, unknown>)
  | { type: 'error'; error: { kind: string; message: string } };

/** One streamed exec answer: headers at once, a JSON line per piece, closed by a result or an error. */
export class ExecStream {
  private unsubscribe: () => void = () => {};
  private lastWrite = Date.now();
  private readonly keepalive: NodeJS.Timeout;

  constructor(private readonly res: http.ServerResponse, keepaliveMs = KEEPALIVE_MS) {
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
    // (headers now, so a client sees the call accepted before its first output)
    res.flushHeaders();
    const tick = Math.max(50, Math.floor(keepaliveMs / 5));
    this.keepalive = setInterval(() => {
      if (Date.now() - this.lastWrite >= keepaliveMs) this.line({ type: 'keepalive' });
    }, tick);
    this.keepalive.unref();
    res.once('close', () => clearInterval(this.keepalive));
  }

  /** Forwards the session's alerts while the call runs (`subscribe` returns its unsubscribe). */
  watchAlerts(session: string, subscribe: (fn: (ev: CorralEvent) => void) => () => void): void {
    this.unsubscribe = subscribe((ev) => {
      if (ev.kind === 'alert' && ev.session === session) this.line({ type: 'alert', alert: alertJson(ev as unknown as AlertEvent) });
    });
  }

  private dropped = { stdout: 0, stderr: 0 };

  output(stream: 'stdout' | 'stderr', data: string): void {
    if (data === '') return;
    if (this.res.writableLength > HIGH_WATER) { this.dropped[stream] += data.length; return; }
    this.sayDropped();
    this.line({ type: stream, data });
  }

  /** A `dropped` line for output left out while the reader lagged (characters per stream). */
  private sayDropped(): void {
    if (this.dropped.stdout === 0 && this.dropped.stderr === 0) return;
    this.line({ type: 'dropped', ...this.dropped });
    this.dropped = { stdout: 0, stderr: 0 };
  }

  /** The last line: the call's result, or why it could not be run or answered. */
  end(last: ExecStreamLine): void {
    clearInterval(this.keepalive);
    this.unsubscribe();
    this.sayDropped();
    this.line(last);
    if (!this.res.writableEnded) this.res.end();
  }

  private line(l: ExecStreamLine): void {
    if (this.res.writableEnded || this.res.destroyed) return;
    this.lastWrite = Date.now();
    this.res.write(`${JSON.stringify(l)}\n`);
  }
}
