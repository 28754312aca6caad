// Why: `corral events --follow` shows what agents do on this machine while they do it: it reads
// the live event stream of a running `corral serve` (GET /v1/events, filtered there) and prints
// one line per event (or its JSON), alerts highlighted, until Ctrl-C (exit 0) or until the daemon
// stops (said on stderr, exit 1: a script can tell the two apart).
import { daemonRequest, daemonStream, DEFAULT_SOCKET, noDaemon } from '../server/daemon-client.js';
import { nsToIso, type CorralEvent } from '../events/event.js';
import { summarizeEvent } from '../store/summary.js';
import { makeStyle, safeText } from './style.js';
import { severityColor } from './io.js';
import { explainNatsError, natsConnectOptions, redactNatsUrl, type NatsSecurity } from '../store/nats-options.js';

export interface FollowOptions {
  socket?: string; json?: boolean;
  filter: { session?: string; run?: string; episode?: string; step?: number; tool_call?: string; kind?: string[]; category?: string[] };
}

/** One readable line per event (alerts highlighted; host first for the fleet view). */
function eventLine(ev: CorralEvent, st: ReturnType<typeof makeStyle>, host?: string): string {
  const where = [ev.session.slice(0, 12), ev.episode ?? '-', ev.step ?? '-', ev.tool_call ?? '-'].join(' ');
  const text = safeText(summarizeEvent(ev)).slice(0, 200);
  const kind = ev.kind === 'alert' ? severityColor(st, String(ev.payload.severity), st.bold(`ALERT ${String(ev.payload.category)}`)) : ev.kind;
  return `${st.dim(nsToIso(ev.ts).slice(11, 23))} ${host !== undefined ? `${st.cyan(safeText(host))} ` : ''}${safeText(where)} ${kind}${ev.pid !== undefined ? ` pid ${ev.pid}` : ''}  ${text}\n`;
}

/**
 * `--follow --nats URL`: the whole fleet live, from the subjects every `corral serve --publish`
 * writes (host and kind filtered by subject, the rest here). Messages are checked like the
 * collector checks them; ones that are not events are skipped and counted, never printed raw.
 */
export async function followFleet(o: FollowOptions & { natsUrl: string; host?: string; security?: NatsSecurity }, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv }): Promise<number> {
  const { connect } = await import('nats');
  const { SUBJECT_ROOT, subjectToken } = await import('../store/nats-publisher.js');
  const { consumeFleet } = await import('../store/fleet-feed.js');
  const { matches } = await import('../server/event-stream.js');
  let nc;
  try {
    nc = await connect(natsConnectOptions(o.natsUrl, o.security ?? {}, 'corral-events-follow'));
  } catch (e) {
    io.stderr.write(`corral events: cannot reach NATS at ${safeText(redactNatsUrl(o.natsUrl))}: ${safeText(explainNatsError(e))}\n`);
    return 1;
  }
  const f = o.filter;
  const kind = f.kind?.length === 1 ? subjectToken(f.kind[0]!) : '*';
  const subject = `${SUBJECT_ROOT}.${o.host !== undefined ? subjectToken(o.host) : '*'}.${kind}`;
  const filter = { session: f.session, run: f.run, episode: f.episode, step: f.step, tool_call: f.tool_call, kinds: f.kind ? new Set<string>(f.kind) : undefined, categories: f.category ? new Set<string>(f.category) : undefined };
  const st = makeStyle(io.stdout as NodeJS.WriteStream, io.env);
  if (!o.json) io.stderr.write(`corral events: following the fleet on ${safeText(redactNatsUrl(o.natsUrl))} (${subject}); Ctrl-C to stop\n`);
  const sub = nc.subscribe(subject);
  const stop = (): void => sub.unsubscribe();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let bad = 0;
  try {
    bad = await consumeFleet(sub, (ev, host) => {
      if (o.host !== undefined && host !== o.host) return;
      if (!matches(filter, ev)) return;
      io.stdout.write(o.json ? `${JSON.stringify(host === undefined ? ev : { ...ev, host })}\n` : eventLine(ev, st, host ?? '?'));
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await nc.drain().catch(() => {});
  }
  if (bad && !o.json) io.stderr.write(`corral events: skipped ${bad} message(s) that were not Corral events\n`);
  return 0;
}

export async function followEvents(o: FollowOptions, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv }): Promise<number> {
  const socket = o.socket ?? io.env.CORRAL_SOCKET ?? DEFAULT_SOCKET;
  try {
    await daemonRequest(socket, 'GET', '/v1/health');
  } catch (e) {
    io.stderr.write(`corral events: --follow reads a running corral serve; ${noDaemon(e) ? `none listens on ${socket}` : (e as Error).message} (start one with: corral serve)\n`);
    return 2;
  }
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(o.filter)) if (v !== undefined) q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  const st = makeStyle(io.stdout as NodeJS.WriteStream, io.env);
  // (the filter as the user wrote it: `kind=toolcall.start,alert`, not the URL's `%2C`)
  const shown = [...q].map(([k, v]) => `${k}=${v}`).join(' ');
  if (!o.json) io.stderr.write(`corral events: following ${safeText(socket)}${shown ? ` (${safeText(shown)})` : ''}; Ctrl-C to stop\n`);
  const s = daemonStream(socket, `/v1/events${q.size ? `?${q}` : ''}`, (type, data) => {
    if (type === 'dropped') { io.stderr.write(`corral events: ${(data as { dropped: number }).dropped} event(s) dropped (reader too slow)\n`); return; }
    const ev = data as CorralEvent;
    io.stdout.write(o.json ? `${JSON.stringify(ev)}\n` : eventLine(ev, st));
  });
  let stopped = false; // by Ctrl-C / SIGTERM (or a reader that left): the one quiet, successful end
  const stop = (): void => { stopped = true; s.stop(); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await s.done;
  } catch (e) {
    if (!stopped && (e as { code?: string }).code !== 'ECONNRESET' && !/aborted|socket hang up/.test((e as Error).message)) {
      io.stderr.write(`corral events: ${(e as Error).message}\n`);
      return 1;
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  if (stopped) return 0;
  // The daemon went away (stopped, restarted, crashed). Not retried: its stream is live only, so
  // a reconnect would hide the events of the gap; a supervisor can restart this, and the store
  // has the gap (the dashboard, a view of current state, reconnects instead).
  io.stderr.write(`corral events: the daemon on ${safeText(socket)} stopped (its event stream ended); follow again once corral serve is back (corral events --since DUR shows what was recorded in between)\n`);
  return 1;
}
