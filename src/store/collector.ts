// Why: the central half of the fleet pipeline: a durable JetStream consumer that moves the
// events every machine's `corral serve` published into PostgreSQL, in batches, acknowledging a
// message only after its row is committed (a crash re-delivers, the id makes the insert
// idempotent). Several collectors may share one durable name to split the work.
// Threat stopped: a hostile or corrupt message on the stream (anyone who can publish to NATS)
// crashing the collector, wedging it in a redelivery loop, or reaching SQL: every message is
// parsed and checked like a local event (store/event-check.ts); a bad one is counted, reported
// with its stream sequence and terminated (never redelivered), and the rest go on.
import { AckPolicy, connect, DeliverPolicy, type JsMsg, type NatsConnection } from 'nats';
import { natsConnectOptions, type NatsSecurity } from './nats-options.js';
import { checkEvent } from './event-check.js';
import { ensureEventStream, EVENT_STREAM, type StreamLimits } from './nats-publisher.js';
import type { HostEvent, PgEventStore } from './pg-store.js';

export interface CollectStats {
  received: number;
  /** New rows in PostgreSQL. */
  inserted: number;
  /** Already stored (a redelivery, a second collector, a replayed stream). */
  duplicates: number;
  /** Messages that were not valid events (terminated, never stored). */
  rejected: number;
  /** The first rejections: stream sequence, subject and why. */
  problems: { seq: number; subject: string; error: string }[];
  /**
   * Messages this consumer has still to store when last asked: not yet delivered, plus delivered
   * and never acknowledged (ackPending: a crashed collector's, redelivered after ack_wait).
   */
  pending: number;
  /** Of pending: delivered, not acknowledged (they come back after the consumer's ack_wait). */
  ackPending: number;
  /** The stream's retention limits (0: none). */
  stream?: { maxAgeMs: number; maxBytes: number };
}

export interface CollectOptions {
  natsUrl: string;
  /** TLS and NKEY files; a user:password@ or token@ may be in the URL. */
  security?: NatsSecurity;
  /** Retention of stream CORRAL_EVENTS, set when given (created with them if missing). */
  limits?: StreamLimits;
  store: PgEventStore;
  /** Durable consumer name (default corral-collect); collectors sharing it split the stream. */
  durable?: string;
  /** Messages per fetch and per PostgreSQL transaction (default 500). */
  batch?: number;
  /**
   * Stop once no message arrived for this long and none is pending (backfills, tests); default:
   * run until stop(). Messages delivered and not acknowledged keep it running until redelivered.
   */
  untilIdleMs?: number;
  onProgress?: (s: CollectStats) => void;
  /**
   * Running as a service (no untilIdleMs): a failed fetch or database write is reported here and
   * retried after a pause (unacknowledged messages come back); without it, or with untilIdleMs, it ends the run.
   */
  onRetry?: (e: Error) => void;
  signal?: AbortSignal;
}

const MAX_PROBLEMS = 20;

/** One message as an event row, or the reason it is not one. */
function decode(m: JsMsg): HostEvent | string {
  try {
    const checked = checkEvent(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(m.data)));
    return { checked, host: m.headers?.get('Corral-Host') || undefined };
  } catch (e) {
    return (e as Error).message.slice(0, 200);
  }
}

export async function collectEvents(o: CollectOptions): Promise<CollectStats> {
  const stats: CollectStats = { received: 0, inserted: 0, duplicates: 0, rejected: 0, problems: [], pending: 0, ackPending: 0 };
  const nc: NatsConnection = await connect(natsConnectOptions(o.natsUrl, o.security ?? {}, 'corral-collect'));
  try {
    stats.stream = await ensureEventStream(nc, o.limits);
    const durable = o.durable ?? 'corral-collect';
    const jsm = await nc.jetstreamManager();
    try { await jsm.consumers.info(EVENT_STREAM, durable); } catch {
      await jsm.consumers.add(EVENT_STREAM, { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, max_ack_pending: 20_000 });
    }
    const consumer = await nc.jetstream().consumers.get(EVENT_STREAM, durable);
    const size = o.batch ?? 500;
    let lastMessage = Date.now();
    while (!o.signal?.aborted) {
      let msgs: JsMsg[] = [];
      try {
        const it = await consumer.fetch({ max_messages: size, expires: 1000 });
        for await (const m of it) msgs.push(m);
        if (msgs.length === 0) {
          const info = await consumer.info();
          stats.ackPending = info.num_ack_pending;
          stats.pending = info.num_pending + info.num_ack_pending;
          o.onProgress?.(stats);
          // Idle means nothing left: messages a crashed collector took (ack pending) arrive only
          // after ack_wait, so the run waits for them rather than reporting done without them.
          if (o.untilIdleMs !== undefined && Date.now() - lastMessage >= o.untilIdleMs && stats.pending === 0) break;
          continue;
        }
        lastMessage = Date.now();
        stats.received += msgs.length;
        // (redelivered messages were counted as ack pending at the last look; they are handled now)
        stats.ackPending = Math.max(0, stats.ackPending - msgs.filter((m) => m.redelivered).length);
        const streamLeft = msgs.at(-1)!.info.pending;
        const rows: HostEvent[] = [], good: JsMsg[] = [];
        for (const m of msgs) {
          const d = decode(m);
          if (typeof d === 'string') {
            stats.rejected++;
            if (stats.problems.length < MAX_PROBLEMS) stats.problems.push({ seq: m.seq, subject: m.subject, error: d });
            m.term();
          } else { rows.push(d); good.push(m); }
        }
        msgs = good;
        await storeRows(o.store, rows, good, stats);
        msgs = [];
        stats.pending = streamLeft + stats.ackPending;
        o.onProgress?.(stats);
      } catch (e) {
        // NATS or PostgreSQL went away (service mode retries; a run with --until-idle ends here)
        if (!retrying(o, e)) throw e;
        for (const m of msgs) { try { m.nak(2000); } catch { /* the connection is down: redelivered after ack_wait */ } }
        await pause(2000, o.signal);
      }
    }
  } finally {
    await nc.drain().catch(() => {});
  }
  return stats;
}

/** In service mode (onRetry given, no untilIdleMs) an error is reported and the loop goes on. */
function retrying(o: CollectOptions, e: unknown): boolean {
  if (!o.onRetry || o.untilIdleMs !== undefined || o.signal?.aborted) return false;
  o.onRetry(e as Error);
  return true;
}

function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); r(); }, { once: true });
  });
}

/**
 * Inserts the batch, then acknowledges it. A batch PostgreSQL refuses is retried row by row so
 * one row it cannot take is terminated alone; a lost database connection throws (nothing is
 * acknowledged, JetStream redelivers after the collector restarts).
 */
async function storeRows(store: PgEventStore, rows: HostEvent[], msgs: JsMsg[], stats: CollectStats): Promise<void> {
  if (rows.length === 0) return;
  try {
    const added = await store.insert(rows);
    stats.inserted += added; stats.duplicates += rows.length - added;
    for (const m of msgs) m.ack();
    return;
  } catch (e) {
    if (isConnectionError(e)) throw e;
  }
  for (let i = 0; i < rows.length; i++) {
    try {
      const added = await store.insert([rows[i]!]);
      stats.inserted += added; stats.duplicates += 1 - added;
      msgs[i]!.ack();
    } catch (e) {
      if (isConnectionError(e)) throw e;
      stats.rejected++;
      if (stats.problems.length < MAX_PROBLEMS) stats.problems.push({ seq: msgs[i]!.seq, subject: msgs[i]!.subject, error: `PostgreSQL: ${(e as Error).message.slice(0, 200)}` });
      msgs[i]!.term();
    }
  }
}

/** Errors of the connection (not of the row): retrying the rows one by one would not help. */
function isConnectionError(e: unknown): boolean {
  const code = String((e as { code?: unknown }).code ?? '');
  return /^(ECONN|ENOTFOUND|EPIPE|ETIMEDOUT|57P|08)/.test(code) || /Connection terminated|not queryable/.test(String((e as Error).message));
}
