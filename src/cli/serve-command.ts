// Why: `corral serve` runs the warm daemon (src/server/daemon.ts) in the foreground, for
// systemd or a terminal: `corral run` then costs tens of milliseconds, and trainers in any
// language drive sessions over HTTP on its Unix socket (docs/daemon.md).
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { UsageError, type CliIO } from './io.js';
import { makeStyle, safeText } from './style.js';
import { NATS_FLAG_OPTIONS, NATS_FLAGS_USAGE, natsSecurityFlags } from './nats-flags.js';
import { redactNatsUrl } from '../store/nats-options.js';
import { urlForError } from '../store/url-for-errors.js';
import { SENSOR_RING_USAGE, sensorRuntimeOptions } from './sensor-ring-flag.js';
import type { RequestLogEntry } from '../server/daemon.js';
import type { Unpublished } from '../store/nats-publisher.js';

export const SERVE_USAGE = `Usage: corral serve [--socket PATH] [--home DIR] [--pool N] [--max-sessions N] [--session-idle DUR] [--no-sensor] [--sensor-ring SIZE]
                    [--alert-webhook URL [--webhook-min-severity low|medium|high|critical]]
                    [--publish nats://HOST:PORT [--host-id NAME] [--nats-ca FILE] [--nats-cert FILE --nats-key FILE]
                    [--nats-nkey FILE]] [--flow-update DUR] [--quiet] [--json]
  Keeps a warm Corral (eBPF sensor, netns pool, gateway, event store) and serves its API on a
  Unix socket (default $CORRAL_SOCKET, else /run/corral/corral.sock; created 0600; a path that
  exists and is not a socket is refused, never replaced). Stops on SIGINT/SIGTERM/SIGHUP, killing
  every sandbox it holds. Prints a "ready" line, then one line per
  answered request (JSON lines with --json; --quiet: only the ready line). --alert-webhook POSTs
  every alert (default: all severities) as JSON to URL when it is raised (docs/daemon.md); a URL
  that holds a secret (a Slack-style hook, user:password@) goes in $CORRAL_ALERT_WEBHOOK instead:
  a command line is readable by every user of the machine (/proc/PID/cmdline).
  --publish sends every event to NATS JetStream (stream CORRAL_EVENTS, subjects
  corral.events.<host>.<kind>) for \`corral collect\` to gather the fleet's events into PostgreSQL;
  default $CORRAL_PUBLISH: a URL with user:password@ or token@ goes there, not on the command line.
  --host-id names this machine there (default: the hostname). A NATS outage never blocks a
  call: events wait in a bounded queue (docs/fleet.md). --flow-update: how often an open
  connection gets an interim flow record (bytes so far; default 10s, 0 = only when it closes).
  ${SENSOR_RING_USAGE}
${NATS_FLAGS_USAGE}`;

export async function serveCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: {
      socket: { type: 'string' }, home: { type: 'string' }, pool: { type: 'string' }, 'max-sessions': { type: 'string' },
      'session-idle': { type: 'string' }, 'no-sensor': { type: 'boolean' }, 'sensor-ring': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' },
      quiet: { type: 'boolean' }, 'alert-webhook': { type: 'string' }, 'webhook-min-severity': { type: 'string' },
      publish: { type: 'string' }, 'host-id': { type: 'string' }, 'flow-update': { type: 'string' }, ...NATS_FLAG_OPTIONS,
    },
  });
  if (values.help) { io.stdout.write(`${SERVE_USAGE}\n`); return 0; }
  const int = (name: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${v}"`);
    return Number(v);
  };
  const pool = int('pool', values.pool, 0);
  const maxSessions = int('max-sessions', values['max-sessions'], 1);
  const sensorOpts = sensorRuntimeOptions(values);
  const { parseDuration } = await import('../policy/units.js');
  let sessionIdleMs: number | undefined;
  if (values['session-idle'] !== undefined) {
    const d = parseDuration(values['session-idle']);
    if (!d.ok) throw new UsageError(`--session-idle: ${d.error}`);
    sessionIdleMs = d.value;
  }
  let flowUpdateMs: number | undefined;
  if (values['flow-update'] !== undefined) {
    if (values['flow-update'] === '0') flowUpdateMs = 0;
    else {
      const d = parseDuration(values['flow-update']);
      if (!d.ok) throw new UsageError(`--flow-update: ${d.error}`);
      if (d.value < 100) throw new UsageError('--flow-update must be 0 or at least 100ms');
      flowUpdateMs = d.value;
    }
  }
  // (the environment is readable by root only; the command line by every user: ps, /proc/PID/cmdline)
  const hookUrl = values['alert-webhook'] ?? (io.env.CORRAL_ALERT_WEBHOOK || undefined);
  const sev = values['webhook-min-severity'];
  if (sev !== undefined && !['low', 'medium', 'high', 'critical'].includes(sev)) throw new UsageError(`--webhook-min-severity must be low, medium, high or critical, got "${sev}"`);
  if (sev !== undefined && hookUrl === undefined) throw new UsageError('--webhook-min-severity needs --alert-webhook URL (or $CORRAL_ALERT_WEBHOOK)');
  // (like the webhook: NATS credentials in the URL belong in the environment, not on the command line)
  const publishUrl = values.publish ?? (io.env.CORRAL_PUBLISH || undefined);
  const publishName = values.publish === undefined ? '$CORRAL_PUBLISH' : '--publish';
  if (values['host-id'] !== undefined && publishUrl === undefined) throw new UsageError('--host-id needs --publish nats://HOST:PORT (or $CORRAL_PUBLISH)');
  if (publishUrl !== undefined && !/^(nats|tls):\/\/[^\s/]+$/.test(publishUrl)) throw new UsageError(`${publishName} must be nats://HOST:PORT or tls://HOST:PORT, got ${safeText(urlForError(publishUrl))}`);
  const natsSecurity = natsSecurityFlags(values, io.env, publishUrl);
  const { webhookUrlProblem } = await import('../server/alert-webhook.js');
  const hookWhy = hookUrl === undefined ? undefined : webhookUrlProblem(hookUrl);
  if (hookWhy) throw new UsageError(`${values['alert-webhook'] === undefined ? '$CORRAL_ALERT_WEBHOOK' : '--alert-webhook'}: ${hookWhy}`);
  const { CorralDaemon, DEFAULT_SOCKET, checkSocketPath } = await import('../server/daemon.js');
  const socketPath = values.socket ?? io.env.CORRAL_SOCKET ?? DEFAULT_SOCKET;
  // A path that cannot be ours (not a socket, too long, a live daemon's) is refused before the
  // runtime starts (sensor, pool, orphan cleanup: seconds); CorralDaemon.start checks it again.
  await checkSocketPath(socketPath);
  const st = makeStyle(io.stdout as NodeJS.WriteStream, io.env);
  const quiet = { on: false };
  const onRequest = values.quiet ? undefined : (e: RequestLogEntry): void => {
    if (quiet.on) return;
    if (values.json) { io.stdout.write(`${JSON.stringify(e)}\n`); return; }
    const status = e.status === 200 ? st.dim(String(e.status)) : st.red(String(e.status));
    const what = [e.session && `session ${e.session}`, e.exit_code !== undefined && `exit ${e.exit_code}`,
      e.alerts ? st.yellow(`${e.alerts} alert(s)`) : undefined, e.error && safeText(e.error)].filter(Boolean).join('  ');
    io.stdout.write(`${st.dim(e.ts)} ${status} ${e.method.padEnd(6)} ${e.path.padEnd(32)} ${String(e.ms).padStart(6)} ms  ${what}\n`);
  };
  const d = await CorralDaemon.start({
    socketPath, maxSessions, sessionIdleMs, onRequest,
    publish: publishUrl === undefined ? undefined : { url: publishUrl, host: values['host-id'] ?? hostname(), security: natsSecurity },
    alertWebhook: hookUrl === undefined ? undefined : { url: hookUrl, minSeverity: sev as 'low' | 'medium' | 'high' | 'critical' | undefined },
    runtime: { home: values.home, ...sensorOpts, ...(pool !== undefined ? { poolSize: pool } : {}), ...(flowUpdateMs !== undefined ? { flowUpdateMs } : {}) },
  });
  // SIGHUP (the terminal of `corral serve &` closed) stops it like SIGTERM: with teardown, socket removed.
  // (listening before the ready line: a signal sent as soon as it is read must not find the default action)
  const stopSignals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    const stop = (sig: NodeJS.Signals): void => { for (const s of stopSignals) process.off(s, stop); resolve(sig); };
    for (const s of stopSignals) process.on(s, stop);
  });
  const sensor = d.runtime.sensorState;
  const ringPages = d.runtime.sensor?.ringPagesPerCpu;
  const ringBytes = d.runtime.sensor?.ringBytes;
  io.stdout.write(values.json
    ? `${JSON.stringify({ ready: true, socket: socketPath, pid: process.pid, sensor, ...(ringPages !== undefined ? { sensor_ring: { pages_per_cpu: ringPages, bytes: ringBytes } } : {}), home: d.runtime.store.home })}\n`
    : `corral serve: ready on ${socketPath} (pid ${process.pid}, sensor ${sensor}${ringBytes !== undefined ? `, ring ${Math.round(ringBytes / 1024 ** 2)} MiB` : ''}, events in ${d.runtime.store.home})\n`);
  const got = await stopped;
  // (after a hang-up the terminal is gone: writing to it could fail, so the teardown writes nothing more)
  if (got === 'SIGHUP') quiet.on = true;
  if (!values.json && !quiet.on) io.stderr.write('corral serve: stopping (killing the sandboxes it holds)\n');
  await d.close();
  const lost = d.unpublished;
  if (lost && lost.total > 0 && publishUrl !== undefined && !quiet.on) io.stderr.write(`${unpublishedMessage(lost, redactNatsUrl(publishUrl), d.runtime.store.home)}\n`);
  return 0;
}

/** What a stop leaves unpublished, and where those events still are (each is stored before it is queued). */
function unpublishedMessage(u: Unpublished, url: string, home: string): string {
  const parts = [u.queued && `${u.queued} still queued`, u.dropped && `${u.dropped} dropped when the queue was full`, u.rejected && `${u.rejected} NATS could never take`].filter(Boolean);
  return `corral serve: ${u.total} event(s) were not published to NATS at ${safeText(url)} (${parts.join(', ')}${u.lastError !== undefined ? `; last error: ${safeText(u.lastError)}` : ''}); `
    + `this machine's store in ${safeText(home)} still has them (corral events --home ${safeText(home)}), \`corral collect\` will not see them`;
}
