// Why: alerts must reach people and systems that are not watching a terminal — an on-call
// channel, a SIEM, the trainer's own service that stops a bad run. `corral serve --alert-webhook`
// POSTs every alert (at or above a severity) as JSON the moment it is raised, the way Falco's
// http_output does, with the run/episode/step/tool call that caused it.
// Threat: a slow or dead receiver must never stall sandboxes or grow memory without bound —
// delivery is asynchronous, bounded (queue of QUEUE_MAX, one request at a time, a timeout per
// request, three tries), and what could not be delivered is counted, not hidden. A full queue gives
// way by severity: a flood of low alerts (an agent can make one at will) never pushes out a critical.
import http from 'node:http';
import https from 'node:https';
import { SEVERITY_RANK, type AlertEvent, type CorralEvent, type Severity } from '../events/event.js';
import { alertJson } from '../events/alert-json.js';
import { urlForError } from '../store/url-for-errors.js';

export const QUEUE_MAX = 1000;
const TIMEOUT_MS = 5000;
const TRIES = 3;

export interface WebhookStats { sent: number; failed: number; dropped: number; queued: number; last_error?: string }

/** A webhook URL Corral cannot post to: the operator's to fix (`corral serve` exits 2, a usage error). */
export class WebhookUrlError extends Error {
  override readonly name = 'WebhookUrlError';
}

/** Why url cannot be a webhook (not a URL, not http or https), else undefined; never echoes its secrets. */
export function webhookUrlProblem(url: string): string | undefined {
  let u: URL;
  try { u = new URL(url); } catch { return 'not a URL (the value is not shown: it may hold a secret)'; }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `http or https only, got ${urlForError(url)}`;
  return undefined;
}

export class AlertWebhook {
  private readonly url: URL;
  /** Waiting deliveries, oldest first; the first is in flight while `sending`. */
  private readonly queue: { rank: number; body: Record<string, unknown> }[] = [];
  private sending = false;
  private readonly counts: WebhookStats = { sent: 0, failed: 0, dropped: 0, queued: 0 };
  private idle: (() => void)[] = [];

  constructor(url: string, private readonly opts: { minSeverity?: Severity; headers?: Record<string, string> } = {}) {
    const why = webhookUrlProblem(url);
    if (why) throw new WebhookUrlError(`--alert-webhook: ${why}`);
    this.url = new URL(url);
  }

  /** Takes any event; queues the alerts at or above the minimum severity. */
  offer(ev: CorralEvent): void {
    if (ev.kind !== 'alert') return;
    const a = ev as unknown as AlertEvent;
    if (SEVERITY_RANK[a.payload.severity] > SEVERITY_RANK[this.opts.minSeverity ?? 'low']) return;
    const rank = SEVERITY_RANK[a.payload.severity] ?? Number.MAX_SAFE_INTEGER;
    if (this.queue.length >= QUEUE_MAX) {
      // the newest of the least severe waiting (not the one in flight) makes room, if it is less severe than this one
      let victim = -1;
      for (let i = this.sending ? 1 : 0; i < this.queue.length; i++) if (this.queue[i]!.rank > rank && (victim < 0 || this.queue[i]!.rank >= this.queue[victim]!.rank)) victim = i;
      this.counts.dropped++;
      if (victim < 0) return;
      this.queue.splice(victim, 1);
    }
    this.queue.push({ rank, body: { source: 'corral', session: a.session, run: a.run, episode: a.episode, alert: alertJson(a) } });
    void this.pump();
  }

  stats(): WebhookStats { return { ...this.counts, queued: this.queue.length }; }

  /** Resolves when the queue is empty or after ms (what is left stays counted as queued). */
  drain(ms = 2000): Promise<void> {
    if (!this.sending && !this.queue.length) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.idle.push(() => { clearTimeout(t); resolve(); });
    });
  }

  private async pump(): Promise<void> {
    if (this.sending) return;
    this.sending = true;
    while (this.queue.length) {
      const body = JSON.stringify(this.queue[0]!.body);
      let ok = false;
      for (let i = 0; i < TRIES && !ok; i++) {
        try { await this.post(body); ok = true; } catch (e) {
          this.counts.last_error = (e as Error).message;
          if (i + 1 < TRIES) await new Promise((r) => setTimeout(r, 200 * 4 ** i));
        }
      }
      this.queue.shift();
      if (ok) this.counts.sent++; else this.counts.failed++;
    }
    this.sending = false;
    for (const f of this.idle.splice(0)) f();
  }

  private post(body: string): Promise<void> {
    const mod = this.url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(this.url, {
        method: 'POST', timeout: TIMEOUT_MS,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'corral-alert-webhook', ...this.opts.headers },
      }, (res) => {
        res.resume();
        res.on('end', () => ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`webhook answered ${res.statusCode}`))));
      });
      req.on('timeout', () => req.destroy(new Error(`webhook timed out after ${TIMEOUT_MS} ms`)));
      req.on('error', reject);
      req.end(body);
    });
  }
}
