// Why: `corral serve`, a warm Corral on one machine. A one-shot `corral run` pays ~2 s for the
// eBPF sensor to compile and attach before its command may start; a coding agent that wraps
// every tool call, or an RL trainer written in Python, cannot pay that per call and cannot
// import a Node library. The daemon keeps one Runtime (sensor, netns pool, gateway, store) and
// offers it over HTTP on a Unix socket: POST /v1/run (what `corral run` uses, with the client's
// own stdio borrowed from the kernel), and sessions (open, exec, close) for trainers.
// Threats: the socket is the only door — it is created 0600 (root only) in a 0700 directory;
// request bodies are bounded and validated (api-schema.ts); a client's identity (pid, uid) comes
// from the kernel (SO_PEERCRED/SO_PEERPIDFD), never from the request; a client that goes away
// mid-call gets its call killed, so an abandoned command cannot keep running unobserved.
// A session belongs to the user who opened it: where an operator opens the socket to more users,
// one user cannot run commands in, read files of, read the report or events of, or close another's
// session (root may: it runs the daemon).
import { stepFromLabels } from '../session/call-labels.js';
import http from 'node:http';
import net from 'node:net';
import { closeSync, lstatSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ZodType, ZodTypeDef } from 'zod';
import { Runtime, type RuntimeOptions } from '../session/runtime.js';
import { SessionSetupError, type Session, type ToolCallResult, type ToolCallSpec } from '../session/session.js';
import { SessionBusyError } from '../session/session-busy-error.js';
import { PolicyError, resolvePolicy, withExtraAllows, withExtraMounts, type Policy } from '../policy/index.js';
import { alertJson } from '../events/alert-json.js';
import { buildSessionReport, type SessionReport } from '../report/session-report.js';
import { CancelRequest, describeIssues, ExecRequest, FILE_BODY_MAX, FileRequest, RUN_BODY_MAX, RunRequest, SessionRequest } from './api-schema.js';
import { fileCallProblem, type FileCallResult, type FileCallSpec } from '../session/file-tools.js';
import { isUtf8 } from 'node:buffer';
import { loadPeerFds, type PeerFds } from './peer-fds.js';
import { corralCgroupOf } from './sandbox-peer.js';
import { DEFAULT_SOCKET, socketPathProblem } from './daemon-client.js';
import { serveEventStream, streamFilter, StreamFilterError, type StreamFilter } from './event-stream.js';
import { ExecStream } from './exec-stream.js';
import { AlertWebhook } from './alert-webhook.js';
import type { NatsEventPublisher, Unpublished } from '../store/nats-publisher.js';
import type { CorralEvent, Severity } from '../events/event.js';
import { clientAlive, clientOf, type Client } from './client-alive.js';
import { shellJoin } from '../util/shell-join.js';

export { DEFAULT_SOCKET, SOCKET_PATH_MAX, socketPathProblem } from './daemon-client.js';

const MAX_BODY = 2 * 1024 * 1024;
const REAP_EVERY_MS = 2_000;

export interface DaemonOptions {
  socketPath?: string;
  runtime?: RuntimeOptions;
  /** Sessions open at once (runs included); more get 503. */
  maxSessions?: number;
  /** API sessions unused for this long are closed (their processes killed). */
  sessionIdleMs?: number;
  /** Called once per answered request (the access log `corral serve` prints). */
  onRequest?: (entry: RequestLogEntry) => void;
  /** POST every alert (at or above minSeverity) to this URL as it is raised. */
  alertWebhook?: { url: string; minSeverity?: Severity };
  /** Publish every event to NATS JetStream (store/nats-publisher.ts) for `corral collect`; host names this machine. */
  publish?: { url: string; host: string; security?: import('../store/nats-options.js').NatsSecurity };
  /** Silence after which a streamed exec sends a `keepalive` line (exec-stream.ts; default KEEPALIVE_MS). */
  streamKeepaliveMs?: number;
  /** Event streams (GET /v1/events) open at once; more get 503 (default MAX_EVENT_STREAMS). */
  maxEventStreams?: number;
}

/**
 * Event streams open at once. Each may hold up to 1 MiB for a reader that does not read
 * (event-stream.ts) and costs every event a match and a write: a client that opened streams in a
 * loop and never read them grew the daemon — which holds every sandbox — without bound.
 */
export const MAX_EVENT_STREAMS = 256;

export interface RequestLogEntry {
  ts: string; method: string; path: string; status: number; ms: number;
  session?: string; exit_code?: number | null; alerts?: number; error?: string;
}

/**
 * The socket path cannot be served: it is not a socket (a regular file, a directory — never
 * deleted to make room), it is longer than the kernel keeps, or a live daemon answers on it.
 * The operator's to fix (another --socket), not a Corral failure: `corral serve` exits 2.
 */
export class DaemonSocketError extends Error {
  override readonly name = 'DaemonSocketError';
}

/**
 * Checks that `corral serve` may take the socket path: resolves 'free' (nothing there) or 'stale'
 * (a socket nobody answers on, left by a daemon that died); throws DaemonSocketError for a path the
 * kernel would truncate, anything that is not a socket (a file or directory named by mistake —
 * `--socket /etc/shadow` — is never deleted), and a socket a live daemon answers on.
 */
export async function checkSocketPath(path: string): Promise<'free' | 'stale'> {
  const why = socketPathProblem(path);
  if (why) throw new DaemonSocketError(why);
  let st;
  try { st = lstatSync(path); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'free';
    throw new DaemonSocketError(`cannot use ${path} as the socket: ${code ?? (e as Error).message}`);
  }
  if (!st.isSocket()) {
    const what = st.isDirectory() ? 'a directory' : st.isSymbolicLink() ? 'a symbolic link' : st.isFile() ? 'a regular file' : 'not a socket';
    throw new DaemonSocketError(`${path} exists and is ${what}, not a socket; refusing to replace it (name another --socket)`);
  }
  if (await socketAnswers(path)) throw new DaemonSocketError(`another corral daemon is listening on ${path}`);
  return 'stale';
}

/** A session's own routes: its id, and what under it (none: the session itself). */
const SESSION_ROUTE = /^\/v1\/sessions\/([0-9a-f]{1,64})(\/exec|\/files|\/report)?$/;

/** The methods a route path answers to (none: no such route). */
export function routeMethods(path: string): string[] {
  const fixed: Record<string, string[]> = { '/v1/health': ['GET'], '/v1/sessions': ['GET', 'POST'], '/v1/events': ['GET'], '/v1/run': ['POST'], '/v1/run/cancel': ['POST'] };
  if (Object.hasOwn(fixed, path)) return fixed[path]!;
  const m = SESSION_ROUTE.exec(path);
  if (!m) return [];
  return m[2] === '/report' ? ['GET'] : m[2] ? ['POST'] : ['DELETE'];
}

class HttpError extends Error {
  constructor(readonly status: number, readonly kind: string, message: string) { super(message); }
}

interface Held { session: Session; lastUsed: number; busy: boolean; client: Client | undefined; keep: boolean }

/** Why a call still running when the daemon stops was killed (its client reads it as `cancelled`). */
const STOPPING = 'the corral daemon is stopping';
/** How many closed sessions' reasons are kept for their 404s. */
const GONE_KEPT = 1000;
/** How many sessions' owners are kept (open ones always): the events of a session closed long ago are not streamed anyway. */
const OWNERS_KEPT = 4096;

export class CorralDaemon {
  readonly socketPath: string;
  private readonly held = new Map<string, Held>();
  /** The uid of the client that opened each recent session (what a non-root caller may touch). */
  private readonly owners = new Map<string, number>();
  /** Why recently closed sessions closed (the latest GONE_KEPT), so a call to one is told why it is gone, not only that it is. */
  private readonly gone = new Map<string, string>();
  /** Sessions being created (counted against --max-sessions before they are held). */
  private opening = 0;
  private readonly server: http.Server;
  private reaper?: NodeJS.Timeout;
  private closing?: Promise<void>;
  /** Requests being answered (close() lets them finish before it drops connections). */
  private answering = 0;
  /** Sessions answered as closed whose sandbox is still being torn down (close() and reports wait). */
  private readonly teardowns = new Map<string, Promise<unknown>>();
  private readonly startedAt = Date.now();
  /** Runs started with a cancel_token, while they run: POST /v1/run/cancel stops one (its client got a signal). */
  private readonly cancellable = new Map<string, { held?: Held; uid?: number; cancelled?: string }>();
  private webhook?: AlertWebhook;
  private publisher?: NatsEventPublisher;
  /** After close() with --publish: the events that never reached NATS (the local store has them). */
  unpublished?: Unpublished;

  private constructor(readonly runtime: Runtime, private readonly peer: PeerFds, private readonly opts: DaemonOptions) {
    this.socketPath = opts.socketPath ?? DEFAULT_SOCKET;
    // Nothing a client sends may end the daemon (and every session it holds): a failure in handling
    // one request is that request's 500, never an unhandled rejection.
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        this.runtime.onError(e);
        send(res, 500, { error: { kind: 'internal', message: (e as Error).message ?? String(e) } });
      });
    });
    this.server.keepAliveTimeout = 5_000;
    // A client that never finishes its request headers or body holds a descriptor: bounded in time and
    // in number (a flood of half-sent requests used up the daemon's descriptors, session 32 review).
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 60_000;
    this.server.maxConnections = maxConnections();
    // A process inside a sandbox is refused as it connects, before any byte is parsed, and its
    // descriptor is let go at once (it used to be held until its request was complete).
    this.server.prependListener('connection', (sock: net.Socket) => {
      const why = this.peerRefusal(sock);
      if (!why) return;
      const text = `${JSON.stringify({ error: { kind: 'forbidden', message: why } })}\n`;
      sock.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
      setTimeout(() => sock.destroy(), 1_000).unref();
      this.opts.onRequest?.({ ts: new Date().toISOString(), method: '?', path: '?', status: 403, ms: 0, error: why });
    });
  }

  static async start(opts: DaemonOptions = {}): Promise<CorralDaemon> {
    // a socket that cannot be ours fails here, before the runtime (sensor, pool, orphan cleanup) starts
    await checkSocketPath(opts.socketPath ?? DEFAULT_SOCKET);
    const peer = loadPeerFds();
    // a bad webhook URL fails here, before anything is started
    const hook = opts.alertWebhook ? new AlertWebhook(opts.alertWebhook.url, { minSeverity: opts.alertWebhook.minSeverity }) : undefined;
    const rt = await Runtime.start({ poolSize: 2, ...opts.runtime });
    rt.setMaxListeners(0); // one listener per `corral events --follow` reader
    const d = new CorralDaemon(rt, peer, opts);
    if (hook) { d.webhook = hook; rt.on('event', (ev: CorralEvent) => hook.offer(ev)); }
    if (opts.publish) {
      const { NatsEventPublisher } = await import('../store/nats-publisher.js');
      const pub = new NatsEventPublisher(opts.publish.url, { host: opts.publish.host, security: opts.publish.security });
      d.publisher = pub;
      rt.on('event', (ev: CorralEvent) => pub.publish(ev));
    }
    try {
      await d.listen();
    } catch (e) {
      await rt.close();
      throw e;
    }
    const idle = opts.sessionIdleMs ?? 30 * 60_000;
    d.reaper = setInterval(() => d.reap(idle), Math.min(REAP_EVERY_MS, idle)).unref();
    return d;
  }

  private async listen(): Promise<void> {
    try { mkdirSync(dirname(this.socketPath), { recursive: true, mode: 0o700 }); } catch (e) {
      throw new DaemonSocketError(`cannot create the socket's directory ${dirname(this.socketPath)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    // (checked again: the runtime took seconds to start; only a dead daemon's socket is removed)
    if (await checkSocketPath(this.socketPath) === 'stale') unlinkSync(this.socketPath);
    // created 0600 from the start: no window in which another user could connect
    const oldMask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        const failed = (e: NodeJS.ErrnoException): void => reject(e.code ? new DaemonSocketError(`cannot listen on ${this.socketPath}: ${e.code}`) : e);
        this.server.once('error', failed);
        this.server.listen(this.socketPath, () => { this.server.off('error', failed); resolve(); });
      });
    } finally { process.umask(oldMask); }
  }

  /** Stops accepting, kills every session's processes, stops the runtime, removes the socket. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.reaper);
      // no new connections; idle keep-alive ones go now, ones with a request in flight get its answer
      const stopped = new Promise<void>((r) => this.server.close(() => r()));
      this.server.closeIdleConnections();
      // running calls are killed first and allowed to finish their bookkeeping, then torn down
      const held = [...this.held.values()];
      for (const h of held) h.session.cancelRunning(STOPPING);
      for (let i = 0; i < 100 && held.some((h) => h.busy); i++) await new Promise((r) => setTimeout(r, 50));
      // a killed call's client reads what happened to it (exit code, output so far, why), not a hang-up
      for (let i = 0; i < 100 && this.answering > 0; i++) await new Promise((r) => setTimeout(r, 20));
      this.server.closeAllConnections();
      await Promise.allSettled(held.map((h) => h.session.close()));
      this.held.clear();
      await Promise.allSettled([...this.teardowns.values()]);
      await this.webhook?.drain(); // alerts raised while closing still go out (bounded wait)
      await this.runtime.close();
      this.unpublished = await this.publisher?.close(); // events of the closing sessions still go out (bounded wait)
      await stopped;
      try { unlinkSync(this.socketPath); } catch { /* already gone */ }
    })();
    return this.closing;
  }

  /**
   * Closes sessions nobody will use again: idle past --session-idle, or opened by a client process
   * that has exited (a crashed trainer must not leave its rollouts' sandboxes — and whatever they
   * left running — alive for half an hour). A call still running in such a session is killed first.
   */
  private reap(idleMs: number): void {
    const now = Date.now();
    for (const [id, h] of this.held) {
      const orphaned = !h.keep && h.client !== undefined && !clientAlive(h.client);
      if (!orphaned && (h.busy || now - h.lastUsed <= idleMs)) continue;
      this.held.delete(id);
      this.noteGone(id, orphaned
        ? `closed when the process that opened it (pid ${h.client!.pid}) exited; open it with keep_after_client_exit: true to keep it`
        : `closed after ${Math.round(idleMs / 1000)} s without use (--session-idle)`);
      if (h.busy) h.session.cancelRunning();
      void h.session.close().catch((e: unknown) => this.runtime.onError(e));
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.answering++;
    try { await this.handleCounted(req, res); } finally { this.answering--; }
  }

  private async handleCounted(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const t0 = performance.now();
    let path: string;
    // (Node's parser accepts request targets URL cannot parse, e.g. "http://[")
    try { path = new URL(req.url ?? '/', 'http://corral').pathname; } catch {
      send(res, 400, { error: { kind: 'bad_request', message: `request target: not a URL path: ${JSON.stringify((req.url ?? '').slice(0, 200))}` } });
      return;
    }
    // (who connected, from the kernel: a process inside a Corral sandbox never gets an answer)
    const refused = this.peerRefusal(req.socket);
    if (refused) {
      if (req.socket.writableEnded) return; // answered as it connected
      send(res, 403, { error: { kind: 'forbidden', message: refused } });
      this.opts.onRequest?.({ ts: new Date().toISOString(), method: req.method ?? '?', path, status: 403, ms: Math.round(performance.now() - t0), error: refused });
      return;
    }
    const answer = await this.answer(req, res, path);
    // A stream answers as it goes; a streamed exec is logged when its call ends (its body is then a
    // summary for the log), an event stream not at all.
    if (answer.streamed && answer.body === undefined) return;
    if (!answer.streamed) send(res, answer.status, answer.body);
    if (this.opts.onRequest) {
      const b = answer.body as { session?: string; exit_code?: number | null; alerts?: unknown[]; error?: { message?: string } };
      this.opts.onRequest({
        ts: new Date().toISOString(), method: req.method ?? '?', path, status: answer.status, ms: Math.round(performance.now() - t0),
        session: b.session, exit_code: b.exit_code, alerts: b.alerts?.length, error: answer.logError ?? b.error?.message,
      });
    }
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<{ status: number; body: unknown; streamed?: true; logError?: string }> {
    try {
      const m = SESSION_ROUTE.exec(path);
      let out: unknown;
      if (req.method === 'GET' && path === '/v1/health') out = this.health();
      else if (req.method === 'GET' && path === '/v1/sessions') out = this.list(req);
      else if (req.method === 'GET' && path === '/v1/events') return this.events(req, res);
      else if (req.method === 'POST' && path === '/v1/run') out = await this.run(req, res, await body(req, RunRequest, RUN_BODY_MAX));
      else if (req.method === 'POST' && path === '/v1/run/cancel') out = this.cancelRun(req, await body(req, CancelRequest));
      else if (req.method === 'POST' && path === '/v1/sessions') out = await this.open(req, await body(req, SessionRequest));
      else if (req.method === 'POST' && m?.[2] === '/exec') {
        const r = await body(req, ExecRequest);
        if (r.stream) return await this.execStreamed(this.idle(req, m[1]!), res, r);
        out = await this.exec(this.idle(req, m[1]!), res, r);
      }
      else if (req.method === 'POST' && m?.[2] === '/files') {
        const r = await body(req, FileRequest, FILE_BODY_MAX);
        out = await this.file(this.idle(req, m[1]!), res, r);
      }
      else if (req.method === 'GET' && m?.[2] === '/report') out = await this.report(req, m[1]!);
      else if (req.method === 'DELETE' && m && !m[2]) out = await this.closeSession(req, m[1]!);
      else {
        // (a known path asked with another method: 405 naming the ones it takes, as HTTP says, not a 404 that
        // reads as "no such session" to a client that sent PUT for DELETE)
        const allow = routeMethods(path);
        if (allow.length) { res.setHeader('allow', allow.join(', ')); throw new HttpError(405, 'method_not_allowed', `${path} takes ${allow.join(' or ')}, not ${req.method}`); }
        throw new HttpError(404, 'not_found', `no route ${req.method} ${path} (see docs/daemon.md)`);
      }
      return { status: 200, body: out };
    } catch (e) {
      if (e instanceof HttpError) return { status: e.status, body: { error: { kind: e.kind, message: e.message } } };
      // (the client reads the policy's problems; the access log — journald, readable beyond root — only
      // where they are: they quote the file, and a policy path may name any file root can read)
      if (e instanceof PolicyError) return { status: 400, body: { error: { kind: 'policy', message: e.message } }, logError: policyLogLine(e) };
      this.runtime.onError(e);
      return { status: 500, body: { error: { kind: 'internal', message: (e as Error).message } } };
    }
  }

  /** GET /v1/events streams open now (bounded by maxEventStreams). */
  private eventStreams = 0;

  /** Per connection: why its peer may not use the daemon (see sandbox-peer.ts), or undefined. */
  private readonly peerChecked = new WeakMap<net.Socket, string | undefined>();

  /**
   * Refuses a connection made by a process inside a Corral sandbox (its cgroup is under the
   * runtime's). The peer's pid comes from the kernel; asking the kernel for the peer's pidfd again
   * after /proc was read proves the process read is still the one that connected (a pidfd cannot
   * be had for a peer that exited, so its pid cannot have been reused meanwhile).
   */
  private peerRefusal(sock: net.Socket): string | undefined {
    if (this.peerChecked.has(sock)) return this.peerChecked.get(sock);
    let why: string | undefined;
    try {
      const fd = socketFd(sock);
      const { pid } = this.peer.borrowPeerFds(fd, []);
      const cg = corralCgroupOf(pid, this.runtime.cgroupRoot);
      this.peer.borrowPeerFds(fd, []);
      if (cg !== undefined) why = 'connections from inside a Corral sandbox are refused (the daemon runs sandboxes; it is not reachable from one)';
    } catch (e) {
      why = `cannot tell which process connected, so it is refused (${(e as Error).message ?? String(e)})`;
    }
    this.peerChecked.set(sock, why);
    return why;
  }

  private health(): Record<string, unknown> {
    return {
      ok: true, pid: process.pid, uptime_s: Math.round((Date.now() - this.startedAt) / 1000), sessions: this.held.size,
      sensor: this.runtime.sensorState, sensor_restarts: this.runtime.sensorRestarts, sensor_lost: this.runtime.sensorLost, home: this.runtime.store.home,
      // (the disk-capped workspaces kept ready; `unavailable` while the host cannot make them: workspaces then go uncapped)
      workspace_disk: { ready: this.runtime.diskPool.readyCount(), ...(this.runtime.diskPool.failed ? { unavailable: this.runtime.diskPool.failed } : {}) },
      ...(this.webhook ? { alert_webhook: this.webhook.stats() } : {}),
      ...(this.publisher ? { publish: this.publisher.stats() } : {}),
    };
  }

  private list(req: http.IncomingMessage): Record<string, unknown> {
    const now = Date.now();
    const uid = this.callerUid(req);
    return { sessions: [...this.held.values()].filter((h) => uid === 0 || h.client?.uid === uid).map((h) => ({ session: h.session.id, ...runEpisode(h.session), busy: h.busy, idle_s: Math.round((now - h.lastUsed) / 1000), client_pid: h.client?.pid })) };
  }

  /** The named policy with the request's extra allows and read-only mounts (checked as a policy's; errors are 400s). */
  private policy(spec: string | undefined, allow: string[] | undefined, mounts?: unknown[]): Policy {
    if (spec !== undefined && (spec.includes('/') || /\.ya?ml$/i.test(spec)) && !spec.startsWith('/')) throw new HttpError(400, 'bad_request', `policy: a path must be absolute (the daemon does not share your working directory): ${spec}`);
    const p = resolvePolicy(spec);
    return withExtraMounts(allow?.length ? withExtraAllows(p, allow) : p, mounts ?? []);
  }

  private async hold(policy: Policy, o: { run?: string; episode?: string; labels?: Record<string, string>; keep?: boolean; workspace?: string; root?: string; workspacePath?: string; rootWritable?: boolean; env?: Record<string, string> }, client: Held['client']): Promise<Held> {
    if (this.closing) throw new HttpError(503, 'unavailable', 'the daemon is shutting down');
    // Sessions still being created count too: concurrent opens all passed a check of held alone.
    const open = this.held.size + this.opening;
    if (open >= (this.opts.maxSessions ?? 64)) throw new HttpError(503, 'unavailable', `too many open sessions (${open}); close some or raise --max-sessions`);
    const labels = { ...o.labels, ...(client ? { client_pid: String(client.pid), client_uid: String(client.uid) } : {}) };
    let session: Session;
    this.opening++;
    try {
      session = await this.runtime.createSession({ policy, run: o.run, episode: o.episode, labels, workspace: o.workspace, root: o.root, workspacePath: o.workspacePath, rootWritable: o.rootWritable, ...(o.env ? { parentEnv: allowedEnv(o.env, policy) } : {}) });
    } catch (e) {
      // (kind `setup`, as `corral run` names it locally: a sandbox that cannot be set up as asked)
      if (e instanceof SessionSetupError) throw new HttpError(400, 'setup', e.message);
      throw e;
    } finally {
      this.opening--;
    }
    const h: Held = { session, lastUsed: Date.now(), busy: false, client, keep: o.keep ?? false };
    this.held.set(session.id, h);
    if (client) {
      this.owners.set(session.id, client.uid);
      for (const id of this.owners.keys()) { if (this.owners.size <= OWNERS_KEPT) break; if (!this.held.has(id)) this.owners.delete(id); }
    }
    return h;
  }

  private async run(req: http.IncomingMessage, res: http.ServerResponse, r: RunRequest): Promise<Record<string, unknown>> {
    const policy = this.policy(r.policy, r.allow, r.mounts);
    // who the client is comes from the kernel whatever its stdio (recorded, and checked by a cancel)
    const b = this.peer.borrowPeerFds(socketFd(req.socket), r.stdio === 'borrow' ? [0, 1, 2] : []);
    const fds = b.fds;
    const client: Held['client'] = clientOf(b);
    try {
      const labels = r.labels ?? {};
      // (one token names one run: a second run with it would take over the first's cancel and end it)
      if (r.cancel_token !== undefined && this.cancellable.has(r.cancel_token)) throw new HttpError(409, 'conflict', 'cancel_token: another run is using it (a token names one run; make a new random one)');
      const token = r.cancel_token === undefined ? undefined : { uid: client.uid } as { held?: Held; uid?: number; cancelled?: string };
      if (r.cancel_token !== undefined && token) this.cancellable.set(r.cancel_token, token);
      let h: Held;
      try {
        h = await this.hold(policy, { run: labels.run, episode: labels.episode, labels, workspace: r.workspace, root: r.root, workspacePath: r.workspace_path, rootWritable: r.root_writable, env: r.env }, client);
      } catch (e) {
        if (r.cancel_token !== undefined) this.cancellable.delete(r.cancel_token);
        throw e;
      }
      if (token) token.held = h;
      let result: ToolCallResult;
      try {
        // (a cancel that came while the sandbox was being set up: the command never starts)
        if (token?.cancelled) throw new HttpError(499, 'cancelled', token.cancelled);
        result = await this.call(h, res, {
          command: shellJoin(r.argv), argv: r.argv, step: stepFromLabels(labels), toolCallId: labels.tool_call, timeoutMs: r.timeout_ms,
          stdio: r.stdio === 'borrow' ? [fds[0]!, fds[1]!, fds[2]!] : 'pipe',
        });
      } catch (e) {
        if (e instanceof HttpError && e.kind === 'cancelled') {
          // answered like a call killed part-way: the summary of what happened so far
          result = { toolCallId: '', step: 0, exitCode: null, signal: null, durationMs: 0, timedOut: false, stdout: '', stderr: '', alerts: [], verdict: 'clean', cancelled: e.message };
        } else {
          await h.session.close().catch(() => {}); // a one-shot session never outlives its call
          throw e;
        }
      } finally {
        this.held.delete(h.session.id);
        if (r.cancel_token !== undefined) this.cancellable.delete(r.cancel_token);
      }
      const { alerts, verdict, capture } = await this.closeAnswering(h.session);
      return {
        session: h.session.id, exit_code: result.exitCode, signal: result.signal, duration_ms: Math.round(result.durationMs), timed_out: result.timedOut,
        verdict, alerts: alerts.map(alertJson), capture, sensor: this.runtime.sensorState, via: 'daemon', ...(result.cancelled ? { cancelled: result.cancelled } : {}),
        ...(r.stdio === 'capture' ? { stdout: result.stdout, stderr: result.stderr } : {}),
      };
    } finally {
      for (const fd of fds) if (fd >= 0) closeSync(fd);
    }
  }

  private async open(req: http.IncomingMessage, r: SessionRequest): Promise<Record<string, unknown>> {
    const cred = this.peer.borrowPeerFds(socketFd(req.socket), []);
    const h = await this.hold(this.policy(r.policy, r.allow, r.mounts), { ...r, keep: r.keep_after_client_exit, workspacePath: r.workspace_path, rootWritable: r.root_writable }, clientOf(cred));
    return { session: h.session.id, sandbox_ip: h.session.sandboxIp };
  }

  /**
   * POST /v1/run/cancel: the client of a run got SIGINT/SIGTERM/SIGHUP. Its call is killed (or, still
   * being set up, never started) and its request answers as usual, alerts so far included — as a local
   * `corral run` interrupted. Only the run's own user may cancel it (the token is also unguessable).
   */
  private cancelRun(req: http.IncomingMessage, r: CancelRequest): Record<string, unknown> {
    const t = this.cancellable.get(r.cancel_token);
    if (!t) return { found: false };
    const cred = this.peer.borrowPeerFds(socketFd(req.socket), []);
    if (t.uid !== undefined && cred.uid !== 0 && cred.uid !== t.uid) throw new HttpError(403, 'forbidden', 'that run belongs to another user');
    t.cancelled ??= `interrupted: the client got ${r.signal ?? 'a signal'}`;
    t.held?.session.cancelRunning(t.cancelled);
    return { found: true, running: t.held?.busy ?? false };
  }

  private noteGone(id: string, why: string): void {
    this.gone.set(id, why);
    if (this.gone.size > GONE_KEPT) this.gone.delete(this.gone.keys().next().value!);
  }

  /** The 404 for a session that is not open, saying why when this daemon closed it. */
  private notOpen(id: string): HttpError {
    const why = this.gone.get(id);
    return new HttpError(404, 'not_found', `no open session ${id}${why ? ` (${why})` : ''}`);
  }

  /** The uid of the process at the other end of the request's connection (from the kernel). */
  private callerUid(req: http.IncomingMessage): number {
    return this.peer.borrowPeerFds(socketFd(req.socket), []).uid;
  }

  /** 403 unless the caller (uid) is root or the user whose client opened the session (owner undefined: root only). */
  private mustOwn(uid: number, id: string, owner: number | undefined): void {
    if (uid !== 0 && uid !== owner) throw new HttpError(403, 'forbidden', `session ${id} belongs to another user`);
  }

  /** The caller's open session (404 / 403 otherwise). */
  private own(req: http.IncomingMessage, id: string): Held {
    const h = this.held.get(id);
    if (!h) throw this.notOpen(id);
    this.mustOwn(this.callerUid(req), id, h.client?.uid);
    return h;
  }

  /** The caller's open, idle session a call is for (404 / 403 / 409 otherwise). */
  private idle(req: http.IncomingMessage, id: string): Held {
    const h = this.own(req, id);
    if (h.busy) throw new HttpError(409, 'busy', `session ${id} is running a tool call; calls in a session run in order`);
    return h;
  }

  private async exec(h: Held, res: http.ServerResponse, r: ExecRequest): Promise<Record<string, unknown>> {
    return execJson(h.session.id, await this.call(h, res, execSpec(r)));
  }

  /** exec with `stream: true`: NDJSON lines of output and alerts as they come, then the result (exec-stream.ts). */
  private async execStreamed(h: Held, res: http.ServerResponse, r: ExecRequest): Promise<{ status: number; body: unknown; streamed: true }> {
    const id = h.session.id;
    const stream = new ExecStream(res, this.opts.streamKeepaliveMs);
    stream.watchAlerts(id, (fn) => { this.runtime.on('event', fn); return () => { this.runtime.off('event', fn); }; });
    try {
      const x = await this.call(h, res, { ...execSpec(r), onOutput: (which, text) => stream.output(which, text) });
      const result = execJson(id, x);
      stream.end({ type: 'result', ...result });
      return { status: 200, body: result, streamed: true };
    } catch (e) {
      if (!(e instanceof HttpError)) this.runtime.onError(e);
      const error = e instanceof HttpError ? { kind: e.kind, message: e.message } : { kind: 'internal', message: (e as Error).message };
      stream.end({ type: 'error', error });
      return { status: 200, body: { session: id, error }, streamed: true };
    }
  }

  private async file(h: Held, res: http.ServerResponse, r: FileRequest): Promise<Record<string, unknown>> {
    const id = h.session.id;
    const at = { step: r.step, toolCallId: r.tool_call_id, timeoutMs: r.timeout_ms };
    const spec: FileCallSpec = r.op === 'write' ? { op: 'write', path: r.path, content: r.content ?? Buffer.from(r.content_base64!, 'base64'), append: r.append, ...at }
      : r.op === 'read' ? { op: 'read', path: r.path, maxBytes: r.max_bytes, ...at }
        : r.op === 'str_replace' ? { op: 'str_replace', path: r.path, old: r.old!, new: r.new!, ...(r.replace_all ? { replaceAll: true } : {}), ...at }
          : r.op === 'multi_edit' ? { op: 'multi_edit', path: r.path, edits: r.edits!.map((e) => ({ old: e.old, new: e.new, ...(e.replace_all ? { replaceAll: true } : {}) })), ...at }
          : { op: 'insert', path: r.path, line: r.line!, text: r.text!, ...at };
    const problem = fileCallProblem(spec);
    if (problem) throw new HttpError(400, 'bad_request', problem);
    const x = await this.call(h, res, spec) as FileCallResult;
    const content = x.content === undefined ? {} : r.encoding !== 'base64' && isUtf8(x.content) ? { content: x.content.toString('utf8') } : { content_base64: x.content.toString('base64') };
    return {
      session: id, tool_call_id: x.toolCallId, step: x.step, ok: x.ok, ...(x.problem ? { problem: x.problem } : {}), path: x.path,
      ...(x.size !== undefined ? { size: x.size } : {}), ...content, ...(x.truncated !== undefined ? { truncated: x.truncated } : {}), ...(x.entries ? { entries: x.entries } : {}),
      exit_code: x.exitCode, duration_ms: Math.round(x.durationMs), timed_out: x.timedOut, alerts: x.alerts.map(alertJson), ...(x.cancelled ? { cancelled: x.cancelled } : {}),
    };
  }

  /** One tool call (a command, or a file operation) in a held session: marked busy meanwhile, killed if the client goes away. */
  private async call(h: Held, res: http.ServerResponse, spec: ToolCallSpec | FileCallSpec): Promise<ToolCallResult> {
    // (a client gone while its sandbox was being set up: its call never starts, unobserved)
    if (res.destroyed || !res.socket || res.socket.destroyed) throw new HttpError(499, 'aborted', 'the client closed the connection before its call started');
    h.busy = true;
    const cancel = (): void => { if (!res.writableEnded) h.session.cancelRunning(); };
    res.on('close', cancel);
    try {
      return 'op' in spec ? await h.session.file(spec) : await h.session.exec(spec);
    } catch (e) {
      // (the busy flag above answers first; a session also used through the library would get here)
      if (e instanceof SessionBusyError) throw new HttpError(409, 'busy', e.message);
      throw e;
    } finally {
      res.off('close', cancel);
      h.busy = false;
      h.lastUsed = Date.now();
    }
  }

  /** GET /v1/events?session=&kind=…: the runtime's events as they happen (server-sent events). */
  private events(req: http.IncomingMessage, res: http.ServerResponse): { status: number; body: unknown; streamed: true } {
    const max = this.opts.maxEventStreams ?? MAX_EVENT_STREAMS;
    if (this.eventStreams >= max) throw new HttpError(503, 'unavailable', `too many event streams open (${this.eventStreams}); close some (each corral events --follow or dashboard holds one)`);
    let filter: StreamFilter;
    try { filter = streamFilter(new URL(req.url ?? '/', 'http://corral').searchParams); } catch (e) {
      if (e instanceof StreamFilterError) throw new HttpError(400, 'bad_request', `GET /v1/events: ${e.message}`);
      throw e;
    }
    // (a user other than root sees the events of its own sessions only: not another user's commands, nor the machine's)
    const uid = this.callerUid(req);
    this.eventStreams++;
    res.once('close', () => { this.eventStreams--; });
    serveEventStream(res, filter, (fn) => {
      const mine = uid === 0 ? fn : (ev: CorralEvent): void => { if (this.owners.get(ev.session) === uid) fn(ev); };
      this.runtime.on('event', mine);
      return () => { this.runtime.off('event', mine); };
    });
    return { status: 200, body: undefined, streamed: true };
  }

  /** The session's report (src/report) from the store: open or closed sessions of this daemon's home. */
  private async report(req: http.IncomingMessage, id: string): Promise<SessionReport> {
    const uid = this.callerUid(req);
    // (checked before anything is read: a user other than root needs a session its own client opened)
    if (uid !== 0) this.mustOwn(uid, id, this.owners.get(id) ?? this.recordedOwner(id));
    await this.teardowns.get(id)?.catch(() => {}); // session.end is recorded by the teardown
    const events = this.runtime.store.query({ session: id });
    if (!events.length) throw new HttpError(404, 'not_found', `no recorded events for session ${id}`);
    return buildSessionReport(events);
  }

  /**
   * Closes a session and resolves as soon as its alerts and stats are final (processes dead, late
   * events settled); the sandbox's teardown (~a third of a one-shot run's time) goes on after the
   * client has its answer, and close() and the session's report wait for it.
   */
  private closeAnswering(session: Session): ReturnType<Session['close']> {
    return new Promise((resolve, reject) => {
      let answered = false;
      const done = session.close((r) => { answered = true; resolve(r); });
      const tracked = done.then(() => {}, (e: unknown) => { if (answered) this.runtime.onError(e); else reject(e); })
        .finally(() => { this.teardowns.delete(session.id); });
      this.teardowns.set(session.id, tracked);
    });
  }

  /** The client uid a stored session's start recorded (sessions of this home opened before this daemon). */
  private recordedOwner(id: string): number | undefined {
    const start = this.runtime.store.query({ session: id, kind: ['session.start'], limit: 1 })[0];
    const uid = (start?.payload as { labels?: Record<string, string> } | undefined)?.labels?.client_uid;
    return uid !== undefined && /^\d+$/.test(uid) ? Number(uid) : undefined;
  }

  private async closeSession(req: http.IncomingMessage, id: string): Promise<Record<string, unknown>> {
    const h = this.own(req, id);
    this.held.delete(id);
    this.noteGone(id, 'closed by DELETE');
    const { alerts, verdict, stats, capture } = await this.closeAnswering(h.session);
    return { session: id, verdict, alerts: alerts.map(alertJson), capture, cpu_ns: stats.cpuNs, memory_peak_bytes: stats.memoryPeakBytes };
  }
}

/**
 * A policy error as the access log says it: where the problems are, not what they quote. A policy
 * error quotes the file's keys and values, and a request may name any file root can read as its
 * policy: `policy: "/etc/shadow"` put every password hash into the log, one "unknown key" each.
 */
export function policyLogLine(e: PolicyError): string {
  const at = `${e.file}${e.line !== undefined ? `:${e.line}${e.column !== undefined ? `:${e.column}` : ''}` : ''}`;
  const n = e.issues.length;
  return `invalid policy ${at}${n > 1 ? ` (and ${n - 1} more problem(s))` : ''}; the client's answer has the details`;
}

/** The caller's variables the policy lets through (filesystem.env_allow); the others are never kept. */
function allowedEnv(env: Record<string, string>, policy: Policy): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of policy.filesystem.env_allow) if (Object.hasOwn(env, k)) out[k] = env[k]!;
  return out;
}


function socketFd(s: net.Socket): number {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new HttpError(400, 'bad_request', 'stdio borrowing needs a Unix-socket connection');
  return fd;
}

async function body<T>(req: http.IncomingMessage, schema: ZodType<T, ZodTypeDef, unknown>, max = MAX_BODY): Promise<T> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of req as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > max) throw new HttpError(413, 'bad_request', `body: larger than ${max} bytes`);
      chunks.push(c);
    }
  } catch (e) {
    // The connection closed before the body was complete: the client gave up (killed, timed out).
    // Its doing, not the daemon's: logged as 499 `aborted` (nginx's "client closed request"), no
    // warning; nothing was done, as nothing starts before the whole body is in.
    if (!(e instanceof HttpError) && (req.readableAborted || (e as NodeJS.ErrnoException).code === 'ECONNRESET')) {
      throw new HttpError(499, 'aborted', `body: the client closed the connection after ${n} of ${req.headers['content-length'] ?? 'an unknown number of'} bytes`);
    }
    throw e;
  }
  let raw: unknown;
  try { raw = n ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {}; } catch (e) {
    throw new HttpError(400, 'bad_request', `body: not JSON (${(e as Error).message})`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw new HttpError(400, 'bad_request', describeIssues(r.error));
  return r.data;
}

/** The tool call an exec request asks for. */
function execSpec(r: ExecRequest): ToolCallSpec {
  return { command: r.command ?? shellJoin(r.argv!), argv: r.argv, tool: r.tool, step: r.step, toolCallId: r.tool_call_id, timeoutMs: r.timeout_ms, maxOutput: r.max_output, stdin: r.stdin };
}

/** An exec's answer (the same object streamed as the last line of `stream: true`). */
function execJson(id: string, x: ToolCallResult): Record<string, unknown> {
  return {
    session: id, tool_call_id: x.toolCallId, step: x.step, exit_code: x.exitCode, signal: x.signal, duration_ms: Math.round(x.durationMs),
    // (this call's verdict from its alerts so far, as a session's: a trainer need not fold the alerts itself)
    timed_out: x.timedOut, stdout: x.stdout, stderr: x.stderr, verdict: x.verdict, alerts: x.alerts.map(alertJson), ...(x.cancelled ? { cancelled: x.cancelled } : {}),
    ...(x.outputTruncated ? { output_truncated: x.outputTruncated } : {}),
    // (bytes that were not UTF-8 became U+FFFD in stdout/stderr: the text is not the bytes)
    ...(x.outputLossy ? { output_lossy: x.outputLossy } : {}),
    // (a call Corral could not start: why, as replay's lines say it — its exit 126 is not the command's own; a user review, session 41)
    ...(x.error ? { error: x.error } : {}),
    // (a call Corral refused to run — the screen under on_finding: block, or a session stopped by response.kill)
    ...(x.refused ? { refused: x.refused } : {}),
  };
}

function send(res: http.ServerResponse, status: number, value: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  const text = `${JSON.stringify(value)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** True when something accepts connections on the socket path. */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

/** Connections served at once: half the descriptors this process may open (the rest are its sandboxes'). */
function maxConnections(): number {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return Math.max(64, Math.floor(Number(m[1]) / 2));
  } catch { /* no /proc: Node's own default (none) */ }
  return 4096;
}

/** A session's run and episode labels, for the list of open sessions (a trainer finds its rollouts by them). */
function runEpisode(s: Session): { run?: string; episode?: string } {
  const { run, episode } = s.opts;
  return { ...(run !== undefined ? { run } : {}), ...(episode !== undefined ? { episode } : {}) };
}
