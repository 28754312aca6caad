// Why: `corral dashboard` starts the live web view of this machine (src/web/) next to a running
// `corral serve` — or of the whole fleet from NATS (--nats) —, prints its tokenised address, and
// runs until SIGINT/SIGTERM.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { UsageError, type CliIO } from './io.js';
import { safeText } from './style.js';
import { NATS_FLAG_OPTIONS, NATS_FLAGS_USAGE, natsSecurityFlags } from './nats-flags.js';

export const DASHBOARD_USAGE = `Usage: corral dashboard [--listen HOST:PORT] [--socket PATH | --nats URL [NATS security]] [--json]
  Serves a live web page of this machine's sandboxes — sessions, tool calls, alerts by category
  and the latest events, refreshed every second — from a running \`corral serve\` (its socket:
  --socket, else $CORRAL_SOCKET, else /run/corral/corral.sock). Listens on 127.0.0.1 and a free
  port unless --listen says otherwise; the printed address carries a random token (keep it private;
  anything else answers 404). --json prints {"url": …} instead of a sentence. Stops on Ctrl-C.
  --nats URL: the whole fleet instead, live from the NATS that every \`corral serve --publish\`
  writes to (a machine column; messages that are not events are counted, never shown).
${NATS_FLAGS_USAGE}
  Exit: 0 stopped, 2 usage (also: no corral serve on the socket, a --listen address that is taken
  or not this machine's).`;

export async function dashboardCommand(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseArgs({
    args: argv, strict: true, allowPositionals: false,
    options: { listen: { type: 'string' }, socket: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, nats: { type: 'string' }, ...NATS_FLAG_OPTIONS },
  });
  if (values.help) { io.stdout.write(`${DASHBOARD_USAGE}\n`); return 0; }
  let host = '127.0.0.1', port = 0;
  if (values.listen !== undefined) {
    const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(values.listen);
    if (!m || Number(m[2]) > 65535) throw new UsageError(`--listen must be HOST:PORT (e.g. 127.0.0.1:8787), got "${safeText(values.listen)}"`);
    host = m[1]!.replace(/^\[|\]$/g, ''); port = Number(m[2]);
  }
  if (values.nats !== undefined && values.socket !== undefined) throw new UsageError('--socket shows one machine, --nats the fleet: give one of them');
  const security = natsSecurityFlags(values, io.env, values.nats);
  if (values.nats !== undefined) {
    const { redactNatsUrl } = await import('../store/nats-options.js');
    const d = await startServer({ nats: { url: values.nats, security }, host, port, machine: 'fleet' });
    if (values.json) io.stdout.write(`${JSON.stringify({ url: d.url, nats: redactNatsUrl(values.nats) })}\n`);
    else io.stdout.write(`corral dashboard: ${d.url} (the fleet, from ${safeText(redactNatsUrl(values.nats))})\n`);
    return serveUntilStopped(d, host, io);
  }
  const { DEFAULT_SOCKET, daemonRequest, noDaemon } = await import('../server/daemon-client.js');
  const socket = values.socket ?? io.env.CORRAL_SOCKET ?? DEFAULT_SOCKET;
  try {
    await daemonRequest(socket, 'GET', '/v1/health');
  } catch (e) {
    io.stderr.write(`corral dashboard: shows a running corral serve; ${noDaemon(e) ? `none listens on ${socket}` : safeText((e as Error).message)} (start one with: corral serve)\n`);
    return 2;
  }
  const d = await startServer({ socket, host, port, machine: hostname() });
  if (values.json) io.stdout.write(`${JSON.stringify({ url: d.url, socket })}\n`);
  else io.stdout.write(`corral dashboard: ${d.url}\n`);
  return serveUntilStopped(d, host, io);
}

/** Starts the page's server; an address it cannot listen on is the asker's to fix (a usage error, exit 2). */
async function startServer(o: import('../web/dashboard-server.js').DashboardOptions & { host: string; port: number }): Promise<import('../web/dashboard-server.js').DashboardServer> {
  const { DashboardServer } = await import('../web/dashboard-server.js');
  try {
    return await DashboardServer.start(o);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const where = `--listen ${safeText(o.host.includes(':') ? `[${o.host}]` : o.host)}:${o.port}`;
    if (code === 'EADDRINUSE') throw new UsageError(`${where}: port ${o.port} is taken (another program listens there); give another port, or no --listen for a free one`);
    if (code === 'EADDRNOTAVAIL') throw new UsageError(`${where}: ${safeText(o.host)} is not an address of this machine`);
    if (code === 'EACCES') throw new UsageError(`${where}: not allowed to listen on port ${o.port} (below 1024 needs privileges)`);
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') throw new UsageError(`${where}: cannot resolve ${safeText(o.host)}; give an IP address`);
    throw e;
  }
}

/** Warns about a non-loopback listener, then serves until SIGINT/SIGTERM. */
async function serveUntilStopped(d: { close(): Promise<void> }, host: string, io: CliIO): Promise<number> {
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) io.stderr.write(`corral dashboard: listening on ${safeText(host)} — anyone who learns the address sees the agents' activity; prefer 127.0.0.1 with an SSH tunnel\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => { process.off('SIGINT', stop); process.off('SIGTERM', stop); resolve(); };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await d.close();
  return 0;
}
