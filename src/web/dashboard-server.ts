// Why: `corral dashboard` — a live web view of one machine for the people watching a training
// run: it follows the daemon's event stream (GET /v1/events on its root-only socket), or the
// whole fleet's from NATS (the subjects `corral serve --publish` writes), and serves a page that
// refreshes every second. The daemon stays on its Unix socket; this separate process
// is the only thing listening on TCP, and it serves nothing but that page and its snapshot.
// Threats stopped: anyone else on the machine or network reading agent activity (loopback by
// default; every URL carries a 128-bit random token, compared in constant time; unknown paths
// are 404 alike), DNS rebinding against the loopback listener (the Host header must name it),
// agent text becoming script (see dashboard-page.ts; a strict CSP with a per-response nonce), and
// a local user tying up its descriptors with connections that never finish (DASHBOARD_LIMITS).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import { daemonStream } from '../server/daemon-client.js';
import type { CorralEvent } from '../events/event.js';
import { DashboardState } from './dashboard-state.js';
import { dashboardPage } from './dashboard-page.js';
import type { NatsSecurity } from '../store/nats-options.js';

export interface DashboardOptions {
  /** The daemon's socket (one machine). */
  socket?: string;
  /** Or the fleet: the NATS that every `corral serve --publish` writes to. */
  nats?: { url: string; security?: NatsSecurity };
  host?: string;
  port?: number;
  /** Names the machine on the page. */
  machine: string;
  /** For tests: a fixed token (default: 128 random bits). */
  token?: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * Anyone on the machine may connect (the token is checked once a request is in), so connections
 * are bounded: a request's headers must arrive within HEADERS_MS (checked every CHECK_MS), the
 * whole request within REQUEST_MS, and at most MAX_CONNECTIONS are open at once. With Node's
 * defaults (60 s, 300 s, checked every 30 s, no cap) a local user holding connections that never
 * finished their headers kept one descriptor each for 60-90 s, as many as they liked, until the
 * dashboard could no longer reach the daemon.
 */
export const DASHBOARD_LIMITS = { HEADERS_MS: 10_000, REQUEST_MS: 15_000, CHECK_MS: 1_000, MAX_CONNECTIONS: 256 };

export class DashboardServer {
  readonly state = new DashboardState();
  private readonly server: http.Server;
  private readonly token: string;
  private stream?: { done: Promise<void>; stop: () => void };
  private nc?: import('nats').NatsConnection;
  private closed = false;
  /** Whether the daemon's stream is connected (the page says so). */
  connected = false;
  private retry?: NodeJS.Timeout;
  port = 0;

  private constructor(private readonly o: DashboardOptions) {
    this.token = o.token ?? randomBytes(16).toString('hex');
    this.server = http.createServer({ connectionsCheckingInterval: DASHBOARD_LIMITS.CHECK_MS, headersTimeout: DASHBOARD_LIMITS.HEADERS_MS, requestTimeout: DASHBOARD_LIMITS.REQUEST_MS }, (req, res) => this.handle(req, res));
    this.server.maxConnections = DASHBOARD_LIMITS.MAX_CONNECTIONS;
  }

  static async start(o: DashboardOptions): Promise<DashboardServer> {
    const d = new DashboardServer(o);
    await new Promise<void>((resolve, reject) => {
      d.server.once('error', reject);
      d.server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => { d.server.off('error', reject); resolve(); });
    });
    d.port = (d.server.address() as { port: number }).port;
    d.follow();
    return d;
  }

  /** The page's address (holds the token). */
  get url(): string {
    const h = this.o.host ?? '127.0.0.1';
    return `http://${h.includes(':') ? `[${h}]` : h}:${this.port}/${this.token}/`;
  }

  /** Follows the daemon's events (or the fleet's); reconnects every 2 s while it is away (restarts, upgrades). */
  private follow(): void {
    if (this.closed) return;
    if (this.o.nats) { void this.followFleet(this.o.nats); return; }
    if (this.o.socket === undefined) throw new Error('DashboardServer: give socket or nats');
    this.stream = daemonStream(this.o.socket, '/v1/events', (type, data) => {
      this.connected = true;
      if (type === 'dropped') { this.state.dropped += Number((data as { dropped?: number }).dropped ?? 0); return; }
      if (type === 'message' && data && typeof data === 'object') this.state.add(data as CorralEvent);
    });
    this.connected = true;
    const again = (): void => {
      this.connected = false;
      if (!this.closed) this.retry = setTimeout(() => this.follow(), 2000);
    };
    this.stream.done.then(again, again);
  }

  /** The fleet from NATS: connects (retrying every 2 s until it can), then nats.js keeps it connected. */
  private async followFleet(o: NonNullable<DashboardOptions['nats']>): Promise<void> {
    const { connect } = await import('nats');
    const { natsConnectOptions } = await import('../store/nats-options.js');
    const { SUBJECT_ROOT } = await import('../store/nats-publisher.js');
    const { consumeFleet } = await import('../store/fleet-feed.js');
    while (!this.closed) {
      try {
        const nc = await connect(natsConnectOptions(o.url, o.security ?? {}, 'corral-dashboard'));
        if (this.closed) { await nc.close(); return; }
        this.nc = nc;
        this.connected = true;
        void (async () => {
          for await (const s of nc.status()) {
            if (s.type === 'disconnect') this.connected = false;
            else if (s.type === 'reconnect') this.connected = true;
          }
        })().catch(() => {});
        await consumeFleet(nc.subscribe(`${SUBJECT_ROOT}.>`), (ev, host) => this.state.add(ev, host), () => { this.state.rejected++; });
        return;
      } catch {
        this.connected = false;
        await new Promise((r) => { this.retry = setTimeout(r, 2000); });
      }
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const notFound = (): void => { res.writeHead(404, { 'content-type': 'text/plain' }); res.end('not found\n'); };
    if (req.method !== 'GET') { res.writeHead(405, { allow: 'GET' }); res.end(); return; }
    if (!this.hostAllowed(req.headers.host)) { res.writeHead(421, { 'content-type': 'text/plain' }); res.end('wrong Host\n'); return; }
    const path = (req.url ?? '/').split('?')[0]!;
    const m = /^\/([0-9a-zA-Z_-]{1,128})\/(state)?$/.exec(path);
    if (!m || !this.tokenOk(m[1]!)) return notFound();
    const common = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
    if (m[2] === 'state') {
      res.writeHead(200, { ...common, 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...this.state.snapshot(), daemon: this.connected ? 'connected' : 'reconnecting' }));
      return;
    }
    const nonce = randomBytes(16).toString('base64');
    res.writeHead(200, {
      ...common, 'content-type': 'text/html; charset=utf-8', 'x-frame-options': 'DENY',
      'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    });
    res.end(dashboardPage(nonce, this.o.machine, this.o.nats !== undefined));
  }

  private tokenOk(t: string): boolean {
    const a = Buffer.from(t), b = Buffer.from(this.token);
    return a.length === b.length && timingSafeEqual(a, b);
  }

  /** On loopback only this listener's own names pass (a rebinding page on another name does not). */
  private hostAllowed(host: string | undefined): boolean {
    const bind = this.o.host ?? '127.0.0.1';
    if (!LOOPBACK.has(bind)) return true;
    if (!host) return false;
    const m = /^(\[::1\]|127\.0\.0\.1|localhost):(\d+)$/.exec(host);
    return !!m && Number(m[2]) === this.port;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    this.stream?.stop();
    await this.nc?.close().catch(() => {});
    await new Promise<void>((r) => { this.server.close(() => r()); this.server.closeAllConnections(); });
  }
}
