// Why: `corral events --follow` shows what agents do on this machine while they do it: it reads
// the live event stream of a running `corral serve` (GET /v1/events, filtered there) and prints
// one line per event (or its JSON), alerts highlighted, until Ctrl-C.
import { daemonRequest, daemonStream, DEFAULT_SOCKET, noDaemon } from '../server/daemon-client.js';
import { nsToIso, type CorralEvent } from '../events/event.js';
import { summarizeEvent } from '../store/summary.js';
import { makeStyle, safeText } from './style.js';
import { severityColor } from './io.js';

export interface FollowOptions {
  socket?: string; json?: boolean;
  filter: { session?: string; run?: string; episode?: string; step?: number; tool_call?: string; kind?: string[]; category?: string[] };
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
  if (!o.json) io.stderr.write(`corral events: following ${socket}${q.size ? ` (${q.toString()})` : ''}; Ctrl-C to stop\n`);
  const s = daemonStream(socket, `/v1/events${q.size ? `?${q}` : ''}`, (type, data) => {
    if (type === 'dropped') { io.stderr.write(`corral events: ${(data as { dropped: number }).dropped} event(s) dropped (reader too slow)\n`); return; }
    const ev = data as CorralEvent;
    if (o.json) { io.stdout.write(`${JSON.stringify(ev)}\n`); return; }
    const where = [ev.session.slice(0, 12), ev.episode ?? '-', ev.step ?? '-', ev.tool_call ?? '-'].join(' ');
    const text = safeText(summarizeEvent(ev)).slice(0, 200);
    const kind = ev.kind === 'alert' ? severityColor(st, String(ev.payload.severity), st.bold(`ALERT ${String(ev.payload.category)}`)) : ev.kind;
    io.stdout.write(`${st.dim(nsToIso(ev.ts).slice(11, 23))} ${safeText(where)} ${kind}${ev.pid !== undefined ? ` pid ${ev.pid}` : ''}  ${text}\n`);
  });
  const stop = (): void => s.stop();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await s.done;
  } catch (e) {
    if ((e as { code?: string }).code !== 'ECONNRESET' && !/aborted|socket hang up/.test((e as Error).message)) {
      io.stderr.write(`corral events: ${(e as Error).message}\n`);
      return 1;
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return 0;
}
