// Why: on a fleet, each machine's `corral serve` records events in its own SQLite store; the
// team needs them in one place as they happen. This publishes every event to a NATS JetStream
// stream (`corral.events.<host>.<kind>`, the event id as the message id so the stream drops
// duplicates of a retried publish), from which `corral collect` fills PostgreSQL. The local
// store stays the source of truth: a NATS outage never blocks or fails a tool call — events
// wait in a bounded queue (dropped ones are counted and shown in health) and go out on
// reconnection.
import { connect, headers, RetentionPolicy, StorageType, type JetStreamClient, type NatsConnection, type StreamConfig } from 'nats';
import { explainNatsError, natsConnectOptions, redactNatsUrl, type NatsSecurity } from './nats-options.js';
import { isStorageExceeded, storageRoom, StreamStorageError } from './stream-room.js';
import type { CorralEvent } from '../events/event.js';

export const EVENT_STREAM = 'CORRAL_EVENTS';
export const SUBJECT_ROOT = 'corral.events';
/** How long JetStream remembers message ids to drop a duplicate publish. */
const DUPLICATE_WINDOW_NS = 10 * 60 * 1e9;

/** A subject token: NATS tokens cannot hold '.', '*', '>' or blanks. */
export function subjectToken(s: string): string {
  const t = s.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
  return t === '' ? '_' : t;
}

export const subjectFor = (host: string, ev: CorralEvent): string => `${SUBJECT_ROOT}.${subjectToken(host)}.${subjectToken(ev.kind)}`;

/** How long and how much the stream keeps (0 or absent: no limit). */
export interface StreamLimits { maxAgeMs?: number; maxBytes?: number }

/**
 * Creates the stream if it does not exist (file storage, limits retention, duplicate window);
 * with limits, also sets them on an existing stream (the oldest events go first when one is hit).
 * Returns the stream's limits as they are now. A byte limit the server has no room for throws a
 * StreamStorageError with what would fit (store/stream-room.ts).
 */
export async function ensureEventStream(nc: NatsConnection, limits?: StreamLimits): Promise<{ maxAgeMs: number; maxBytes: number }> {
  const jsm = await nc.jetstreamManager();
  const want: Partial<StreamConfig> = {};
  if (limits?.maxAgeMs !== undefined) want.max_age = limits.maxAgeMs * 1e6;
  if (limits?.maxBytes !== undefined) want.max_bytes = limits.maxBytes === 0 ? -1 : limits.maxBytes;
  let cfg: StreamConfig;
  let held = 0; // bytes the existing stream already has reserved (an update needs only the difference)
  try {
    try {
      cfg = (await jsm.streams.info(EVENT_STREAM)).config;
      held = cfg.storage === StorageType.File && cfg.max_bytes > 0 ? cfg.max_bytes : 0;
      if ((want.max_age !== undefined && want.max_age !== cfg.max_age) || (want.max_bytes !== undefined && want.max_bytes !== cfg.max_bytes)) {
        cfg = (await jsm.streams.update(EVENT_STREAM, { ...cfg, ...want })).config;
      }
    } catch (e) {
      if (!/stream not found/i.test((e as Error).message)) throw e;
      cfg = (await jsm.streams.add({
        name: EVENT_STREAM, subjects: [`${SUBJECT_ROOT}.>`], storage: StorageType.File,
        retention: RetentionPolicy.Limits, duplicate_window: DUPLICATE_WINDOW_NS, ...want,
      })).config;
    }
  } catch (e) {
    if (!isStorageExceeded(e) || want.max_bytes === undefined || want.max_bytes <= 0) throw e;
    const room = await storageRoom(jsm, want.max_bytes - held);
    throw new StreamStorageError(EVENT_STREAM, want.max_bytes, room === undefined ? undefined : room + held, e);
  }
  return { maxAgeMs: cfg.max_age / 1e6, maxBytes: cfg.max_bytes < 0 ? 0 : cfg.max_bytes };
}

/** Errors no retry can fix. */
function unpublishable(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return code === 'MAX_PAYLOAD_EXCEEDED' || e instanceof TypeError; // TypeError: JSON.stringify of a BigInt or a cycle
}

export interface PublisherStats {
  url: string; host: string; connected: boolean;
  /** Acknowledged by JetStream (a duplicate the stream dropped counts too: it is stored once). */
  published: number;
  queued: number;
  /** Dropped because the queue was full (NATS unreachable for long). */
  dropped: number;
  /** Publish attempts that failed and were retried. */
  retries: number;
  /** Events NATS can never take (over max_payload, not serialisable): dropped, counted. */
  rejected: number;
  lastError?: string;
}

export interface PublisherOptions {
  /** Names this machine in subjects and in the central store (default: the hostname). */
  host: string;
  /** Events held while NATS is unreachable (default 200 000). */
  maxQueue?: number;
  /** Publishes in flight at once (default 256). */
  window?: number;
  /** TLS and NKEY files (store/nats-options.ts); a user:password@ or token@ may be in the URL. */
  security?: NatsSecurity;
}

export class NatsEventPublisher {
  private nc?: NatsConnection;
  private js?: JetStreamClient;
  private queue: CorralEvent[] = [];
  private head = 0;
  private sending = false;
  private closed = false;
  private readonly counters: Omit<PublisherStats, 'url' | 'host' | 'connected' | 'queued'> = { published: 0, dropped: 0, retries: 0, rejected: 0 };
  private readonly ready: Promise<void>;
  /** Ends the current pause early (close()). */
  private wake?: () => void;

  /** Starts connecting in the background (retrying forever); publish() may be called at once. */
  constructor(private readonly url: string, private readonly opts: PublisherOptions) {
    this.ready = this.start();
  }

  private async start(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      try {
        const nc = await connect(natsConnectOptions(this.url, this.opts.security ?? {}, `corral-serve@${this.opts.host}`));
        await ensureEventStream(nc);
        if (this.closed) { await nc.close(); return; }
        this.nc = nc; this.js = nc.jetstream();
        void this.pump();
        return;
      } catch (e) {
        this.counters.lastError = explainNatsError(e);
        await this.pause(1000);
      }
    }
  }

  /** Queues one event (never blocks, never throws). */
  publish(ev: CorralEvent): void {
    if (this.closed) return;
    if (this.queue.length - this.head >= (this.opts.maxQueue ?? 200_000)) { this.counters.dropped++; return; }
    this.queue.push(ev);
    if (this.js && !this.sending) void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.sending || !this.js) return;
    this.sending = true;
    try {
      while (this.head < this.queue.length && this.js && !this.nc?.isClosed()) {
        const batch = this.queue.slice(this.head, this.head + (this.opts.window ?? 256));
        const results = await Promise.allSettled(batch.map(async (ev) => {
          const h = headers();
          h.set('Corral-Host', this.opts.host);
          return this.js!.publish(subjectFor(this.opts.host, ev), JSON.stringify(ev), { msgID: ev.id, headers: h, timeout: 5000 });
        }));
        // Keep the events from the first failure on (ids make a second publish of the others
        // harmless); an event NATS can never take (over the server's max_payload, unserialisable)
        // is dropped and counted instead, so it cannot hold the queue up forever.
        let done = 0;
        for (; done < batch.length; done++) {
          const r = results[done]!;
          if (r.status === 'fulfilled') { this.counters.published++; continue; }
          if (!unpublishable(r.reason)) break;
          this.counters.rejected++;
          this.counters.lastError = `event ${batch[done]!.id} not publishable: ${String((r.reason as Error)?.message ?? r.reason)}`;
        }
        const failed = done < batch.length ? done : -1;
        this.head += done;
        if (this.head > 65_536 && this.head * 2 > this.queue.length) { this.queue = this.queue.slice(this.head); this.head = 0; }
        if (failed >= 0) {
          this.counters.retries++;
          this.counters.lastError = String((results[failed] as PromiseRejectedResult).reason?.message ?? (results[failed] as PromiseRejectedResult).reason);
          if (this.closed) break;
          await this.pause(500);
        }
      }
    } finally {
      this.sending = false;
    }
    if (!this.closed && this.head < this.queue.length) setTimeout(() => void this.pump(), 500).unref();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => { this.wake = undefined; r(); }, ms);
      this.wake = () => { clearTimeout(t); this.wake = undefined; r(); };
    });
  }

  stats(): PublisherStats {
    return { url: redactNatsUrl(this.url), host: this.opts.host, connected: !!this.nc && !this.nc.isClosed(), queued: this.queue.length - this.head, ...this.counters };
  }

  /**
   * Sends what is queued (waiting at most timeoutMs), then closes the connection: a drain bounded
   * by DRAIN_MS (with NATS away a drain waits for a server that never answers), then a plain close.
   * Returns what never went out, so the caller can say so.
   */
  async close(timeoutMs = 5000): Promise<Unpublished> {
    const deadline = Date.now() + timeoutMs;
    while (this.nc && this.head < this.queue.length && Date.now() < deadline) {
      void this.pump();
      await new Promise((r) => setTimeout(r, 50));
    }
    this.closed = true;
    this.wake?.();
    await within(this.ready.catch(() => {}), Math.max(0, deadline - Date.now()) + DRAIN_MS);
    const nc = this.nc;
    if (nc && !nc.isClosed()) {
      await within(nc.drain().catch(() => {}), DRAIN_MS);
      // (a drain that failed to flush still resolves, leaving the connection reconnecting forever)
      if (!nc.isClosed()) await within(nc.close().catch(() => {}), DRAIN_MS);
    }
    const queued = this.queue.length - this.head;
    const { dropped, rejected, lastError } = this.counters;
    return { total: queued + dropped + rejected, queued, dropped, rejected, ...(lastError !== undefined ? { lastError } : {}) };
  }
}

/** How long close() lets a drain (and then a close) of the connection take. */
const DRAIN_MS = 2000;

/** Events that never reached NATS: still queued at close, dropped (queue full) or rejected (never publishable). */
export interface Unpublished { total: number; queued: number; dropped: number; rejected: number; lastError?: string }

/** p's value, or undefined once ms have passed (p goes on unobserved). */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((r) => { t = setTimeout(() => r(undefined), ms); t.unref(); })]).finally(() => clearTimeout(t));
}
