// Why: `corral collect` — the central end of the fleet pipeline (docs/fleet.md): gathers the
// events every machine's `corral serve --publish` sent to NATS JetStream into PostgreSQL, where
// `corral events --postgres` queries the whole fleet. Runs until SIGINT/SIGTERM (a service), or
// with --until-idle until the stream has been quiet that long (backfills, cron, tests).
import { parseArgs } from 'node:util';
import { UsageError, type CliIO } from './io.js';
import { makeStyle, safeText } from './style.js';
import { NATS_FLAG_OPTIONS, NATS_FLAGS_USAGE, natsSecurityFlags } from './nats-flags.js';
import { formatBytes } from '../store/summary.js';
import { postgresUrlProblem } from '../store/pg-url.js';

export const COLLECT_USAGE = `Usage: corral collect --nats nats://HOST:PORT --postgres postgres://USER@HOST:PORT/DB
                      [--durable NAME] [--batch N] [--until-idle DUR] [--stream-max-age DUR]
                      [--stream-max-bytes SIZE] [--nats-ca FILE] [--nats-cert FILE --nats-key FILE]
                      [--nats-nkey FILE] [--json]
  Moves the events of stream CORRAL_EVENTS (published by \`corral serve --publish\`) into the
  PostgreSQL table corral_events (created if missing), acknowledging each message after its row
  is committed; a message that is not a valid event is reported and never stored. Collectors
  sharing --durable (default corral-collect) split the work. --nats / --postgres default to
  $CORRAL_NATS / $CORRAL_POSTGRES: a URL with a password goes there, not on the command line
  (every user of the machine reads that: /proc/PID/cmdline). Progress on stderr; a summary on stdout (--json: one object).
  Running as a service (no --until-idle), a lost NATS or PostgreSQL connection is reported and
  retried every 2 s (unacknowledged messages are redelivered). --until-idle DUR ends the run once
  no message came for DUR and none is pending — messages a stopped collector took and never
  acknowledged count as pending: the run waits the consumer's ack_wait for their redelivery.
  --stream-max-age / --stream-max-bytes set how long / how much the stream keeps (0: no limit;
  the oldest events go first; default: no limit), on a new or an existing stream.
${NATS_FLAGS_USAGE}
  Exit: 0 done (messages rejected are in the summary), 1 NATS or PostgreSQL failed, 2 usage
  (also a --postgres that is not a postgres:// URL, a --stream-max-bytes the NATS server has no room for).`;

export async function collectCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      nats: { type: 'string' }, postgres: { type: 'string' }, durable: { type: 'string' }, batch: { type: 'string' },
      'until-idle': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      'stream-max-age': { type: 'string' }, 'stream-max-bytes': { type: 'string' }, ...NATS_FLAG_OPTIONS,
    },
  });
  if (values.help) { io.stdout.write(`${COLLECT_USAGE}\n`); return 0; }
  const natsUrl = values.nats ?? io.env.CORRAL_NATS;
  const pgUrl = values.postgres ?? io.env.CORRAL_POSTGRES;
  if (!natsUrl) throw new UsageError('--nats nats://HOST:PORT (or $CORRAL_NATS) is needed');
  if (!pgUrl) throw new UsageError('corral collect needs --postgres postgres://USER@HOST:PORT/DB (or $CORRAL_POSTGRES)');
  const pgProblem = postgresUrlProblem(pgUrl);
  if (pgProblem) throw new UsageError(`${values.postgres !== undefined ? '--postgres' : '$CORRAL_POSTGRES'} ${safeText(pgProblem)}`);
  if (values.durable !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(values.durable)) throw new UsageError(`--durable must be 1-64 of A-Z a-z 0-9 _ -, got "${safeText(values.durable)}"`);
  let batch: number | undefined;
  if (values.batch !== undefined) {
    if (!/^\d+$/.test(values.batch) || Number(values.batch) < 1 || Number(values.batch) > 10_000) throw new UsageError(`--batch must be an integer 1..10000, got "${safeText(values.batch)}"`);
    batch = Number(values.batch);
  }
  let untilIdleMs: number | undefined;
  if (values['until-idle'] !== undefined) {
    const { parseDuration } = await import('../policy/units.js');
    const d = parseDuration(values['until-idle']);
    if (!d.ok) throw new UsageError(`--until-idle: ${d.error}`);
    untilIdleMs = d.value;
  }
  const limits: { maxAgeMs?: number; maxBytes?: number } = {};
  if (values['stream-max-age'] !== undefined || values['stream-max-bytes'] !== undefined) {
    const { parseDuration, parseSize } = await import('../policy/units.js');
    if (values['stream-max-age'] !== undefined) {
      const d = values['stream-max-age'] === '0' ? { ok: true as const, value: 0 } : parseDuration(values['stream-max-age']);
      if (!d.ok) throw new UsageError(`--stream-max-age: ${d.error}`);
      limits.maxAgeMs = d.value;
    }
    if (values['stream-max-bytes'] !== undefined) {
      const b = values['stream-max-bytes'] === '0' ? { ok: true as const, value: 0 } : parseSize(values['stream-max-bytes']);
      if (!b.ok) throw new UsageError(`--stream-max-bytes: ${b.error}`);
      limits.maxBytes = b.value;
    }
  }
  const security = natsSecurityFlags(values, io.env, natsUrl);
  const { PgEventStore, redact } = await import('../store/pg-store.js');
  const { redactNatsUrl, explainNatsError } = await import('../store/nats-options.js');
  const { collectEvents } = await import('../store/collector.js');
  const { StreamStorageError } = await import('../store/stream-room.js');
  const st = makeStyle(io.stderr as NodeJS.WriteStream, io.env);
  let store;
  try {
    store = await PgEventStore.open(pgUrl);
  } catch (e) {
    io.stderr.write(`corral collect: ${safeText((e as Error).message)}\n`);
    return 1;
  }
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let lastShown = 0;
  try {
    const stats = await collectEvents({
      natsUrl, security, limits, store, durable: values.durable, batch, untilIdleMs, signal: ac.signal,
      onRetry: (e) => io.stderr.write(`corral collect: ${safeText(e.message)}; retrying in 2 s\n`),
      onProgress: (s) => {
        const now = Date.now();
        if (now - lastShown < 1000) return;
        lastShown = now;
        io.stderr.write(values.json
          ? `${JSON.stringify({ progress: { received: s.received, inserted: s.inserted, duplicates: s.duplicates, rejected: s.rejected, pending: s.pending, ack_pending: s.ackPending } })}\n`
          : `${st.dim('corral collect:')} ${s.received} received, ${s.inserted} stored, ${s.duplicates} already stored, ${s.rejected} rejected, ${s.pending} pending${s.ackPending ? ` (${s.ackPending} delivered, not acknowledged: back after the consumer's ack_wait)` : ''}\n`);
      },
    });
    const summary = { ...stats, nats: redactNatsUrl(natsUrl), postgres: redact(pgUrl), table: 'corral_events', total_rows: await store.count() };
    if (values.json) io.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      io.stdout.write(`corral collect: ${stats.received} message(s) received, ${stats.inserted} stored, ${stats.duplicates} already stored, ${stats.rejected} rejected; ${summary.total_rows} event(s) in ${summary.postgres} corral_events\n`);
      for (const p of stats.problems) io.stdout.write(`  ${st.yellow('rejected')} stream seq ${p.seq} (${safeText(p.subject)}): ${safeText(p.error)}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof StreamStorageError) throw new UsageError(storageMessage(e, values['stream-max-bytes'] ?? String(e.requested)));
    io.stderr.write(`corral collect: NATS ${safeText(redactNatsUrl(natsUrl))}: ${safeText(explainNatsError(e))}\n`);
    return 1;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await store.close().catch(() => {});
  }
}

/** --stream-max-bytes asks more than the NATS server can reserve: the flag, and what would fit. */
function storageMessage(e: import('../store/stream-room.js').StreamStorageError, asked: string): string {
  const left = e.available === undefined ? 'less than that (how much less could not be measured)' : `at most ${formatBytes(e.available)} (${e.available} bytes)`;
  return `--stream-max-bytes ${safeText(asked)}: the NATS server can reserve ${left} for stream ${e.stream} — JetStream reserves a stream's byte `
    + 'limit on the server\'s disk (up to its jetstream max_file_store, by default 75% of the disk free when nats-server started); give a smaller --stream-max-bytes or the server more storage';
}
