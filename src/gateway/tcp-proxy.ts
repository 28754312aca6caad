// Why: the only TCP path out of a sandbox. Every connection a sandbox opens is redirected
// here by nft; the proxy recovers the destination the agent asked for, decides on address,
// port and the name the sandbox resolved, sniffs the first client bytes (TLS SNI, HTTP
// Host, SSH banner, Stratum/mining JSON-RPC) and decides again, then splices or refuses.
// Threats: reverse SSH tunnels and mining pools, including over 443 to an allowed address;
// domain fronting; internal probing and metadata access. Refusals are fast (RST, or an
// HTTP 403 whose body names the rule) so the agent is never left hanging.
import net from 'node:net';
import type { GatewayNative, OriginalDst } from '../sandbox/launcher.js';
import { randomBytes } from 'node:crypto';
import { sniff, MiningRpcScanner, MAX_HTTP_HEAD, parseHttpRequest, parseSshBanner, SshIdScanner, TlsRecordWalker, type SniffResult } from './sniff/index.js';
import { sshIdentificationAt } from './sniff/ssh-banner.js';
import { WebSocketUnmasker, WebSocketSshCheck, type FramePiece } from './sniff/websocket-frames.js';
import { WebSocketInflater } from './sniff/websocket-inflate.js';
import { CompressedBody } from './sniff/compressed-body.js';
import { DecodedStreamScan, type DecodedHit } from './sniff/decoded-scan.js';
import { UploadRpcScan, type RpcHit } from './sniff/mining-skeleton.js';
import { HttpRequestStream, type RequestHead } from './sniff/http-stream.js';
import { H2cRequestStream } from './sniff/h2c-stream.js';
import type { Decision, Protocol } from '../policy/index.js';
import { FLOW_LIMIT_RULE, UNREAD_RULE, type SandboxNet, type ConnectReport, type FlowReport } from './types.js';

/** Cleartext HTTP/2 request bodies read at once on one connection (a client's usual limit is 100 open streams). */
const MAX_H2_BODIES = 256;

export interface ProxyOptions {
  /** How long to wait for client-first bytes before treating the protocol as server-first. */
  firstBytesMs: number;
  /** How long a denied connection waits for bytes (to classify it and answer HTTP readably). */
  deniedBytesMs: number;
  /**
   * How long a client whose first bytes are an unfinished prefix of a protocol the sniff knows (`SSH`,
   * `G`, half a TLS ClientHello) is held, nothing forwarded, for the rest. Past it the connection is
   * judged as the protocol the prefix begins (ssh, http, tls), never as unclassified `other`: a pause
   * after the first bytes was a way past the sniff (a review, session 23).
   */
  incompleteBytesMs: number;
  /**
   * Upload bytes of a non-TLS connection are scanned for mining JSON-RPC and for an SSH identification
   * line for the whole flow (a pool login after 64 KiB of padding is still seen; ~1.2 GB/s on one core);
   * a TLS connection's upload is walked record by record, and what is not a record is judged as what it
   * is (sniff/tls-records.ts). 0 turns both off.
   */
  scanBytes: number;
  native: GatewayNative;
  /** Move the download direction with kernel splice (else Node's pipe). */
  kernelSplice: boolean;
  /**
   * An allowed connection still open gets a flow record (bytes so far) this often, so detection
   * (a 50 MiB upload) and responses do not wait for it to close; 0 = only at the end.
   */
  flowUpdateMs: number;
  /**
   * Connections one sandbox may hold open through the gateway at once, and all sandboxes together.
   * Each relayed flow costs the Corral process six descriptors (two sockets, two dups, a pipe): without
   * a cap, one sandbox opening 3 400 connections took a 20 000-descriptor limit and other sandboxes'
   * tool calls failed to start (a review, session 23). Past a cap a connection is reset and reported
   * (rule `limit:flows`, a resource_abuse alert), so the rest of the runtime keeps its descriptors.
   */
  maxFlowsPerSandbox: number;
  maxFlowsTotal: number;
}

/** First bytes held for the sniff at most: above an HTTP request head's limit (MAX_HTTP_HEAD), so a long head is read whole. */
const MAX_SNIFF = 2 * MAX_HTTP_HEAD;

/**
 * The HTTP/1.x request heads that begin in this upload chunk — at its start or right after a blank
 * line (the end of a head or of a body) — as the first-bytes sniff reads them: each one's Host, and
 * where WebSocket frames begin when it asks for `Upgrade: websocket`. One pass over the chunk serves
 * both checks. Without message framing this is a heuristic: a body that embeds a request head is
 * judged as one too.
 */
function requestHeads(chunk: Buffer): RequestHead[] {
  const heads: RequestHead[] = [];
  for (let pos = 0, n = 0; pos >= 0 && pos < chunk.length && n < 64; n++) {
    const b = chunk[pos]!;
    const next = chunk.indexOf('\r\n\r\n', pos);
    if (b >= 0x41 && b <= 0x5a) {
      const r = parseHttpRequest(chunk.subarray(pos, pos + MAX_HTTP_HEAD));
      if (r.status === 'done' && r.protocol === 'http') {
        const upgrade = next >= 0 && next - pos <= MAX_HTTP_HEAD && /\r\nupgrade:[^\r\n]*\bwebsocket\b/i.test(chunk.toString('latin1', pos, next));
        heads.push({ ...(r.host ? { host: r.host } : {}), ambiguous: r.hostAmbiguous === true, ...(r.connectPort !== undefined ? { connectPort: r.connectPort } : {}), ...(upgrade ? { framesAt: next + 4 } : {}) });
      }
    }
    pos = next < 0 ? -1 : next + 4;
  }
  return heads;
}

/**
 * What first bytes are judged as once their time is up: a finished sniff as itself, an unfinished one
 * as the protocol its bytes begin (`SSH` is ssh), so a client cannot pass a protocol check by pausing
 * inside its first message.
 */
function tentative(r: SniffResult, waitedMs: number): SniffResult {
  if (r.status === 'done') return r;
  const judged: SniffResult = { status: 'done', protocol: r.protocol, ...(r.protocol === 'other' ? {} : { detail: `unfinished ${r.protocol} first message` }) };
  // A ClientHello or request head cut off by a pause names no host any rule can match: the SNI or
  // Host it was about to send would never be read (a review, session 34: 20 bytes of a hello, a
  // 5.6 s pause, then the rest with `pool.example` in its SNI, passed as TLS to the allowed name).
  if (r.protocol === 'tls' || r.protocol === 'http') {
    const what = r.protocol === 'tls' ? 'TLS ClientHello' : 'HTTP request head';
    return { ...judged, hostAmbiguous: true, ambiguousWhy: `The ${what} was not finished within ${(waitedMs / 1000).toFixed(1)} s, so its host cannot be read` };
  }
  return judged;
}

function stripV6(a: string | undefined): string {
  return (a ?? '').replace(/^::ffff:/, '');
}

export class TcpProxy {
  private server: net.Server;
  private sockets = new Set<net.Socket>();
  /** Open connections by sandbox address, and in all. */
  private readonly open = new Map<string, number>();
  private openTotal = 0;
  constructor(private lookup: (ip: string) => SandboxNet | undefined, private opts: ProxyOptions) {
    this.server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => this.onConnection(s));
  }

  async listen(): Promise<number> {
    await new Promise<void>((res, rej) => {
      this.server.once('error', rej);
      this.server.listen({ port: 0, host: '0.0.0.0', backlog: 4096 }, () => res());
    });
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private onConnection(client: net.Socket): void {
    const sb = this.lookup(stripV6(client.remoteAddress));
    const fd = (client as unknown as { _handle?: { fd?: number } })._handle?.fd;
    const dst = sb && typeof fd === 'number' ? this.opts.native.originalDst(fd) : null;
    if (!sb || !dst) { client.destroy(); return; }
    if (this.overLimit(sb, client, dst)) return;
    this.sockets.add(client);
    this.open.set(sb.ip, (this.open.get(sb.ip) ?? 0) + 1);
    this.openTotal++;
    client.on('close', () => {
      this.sockets.delete(client);
      this.openTotal--;
      const n = (this.open.get(sb.ip) ?? 1) - 1;
      if (n > 0) this.open.set(sb.ip, n); else this.open.delete(sb.ip);
    });
    const flow = new ProxiedFlow(sb, client, dst, this.opts, (s) => { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); });
    sb.track?.(flow.decidedPromise);
    sb.flowOpened?.(flow.reportedPromise);
    flow.start();
  }

  /** Resets and reports a connection past the sandbox's or the gateway's cap of open connections (in observe mode too). */
  private overLimit(sb: SandboxNet, client: net.Socket, dst: OriginalDst): boolean {
    const mine = this.open.get(sb.ip) ?? 0;
    const per = this.opts.maxFlowsPerSandbox, total = this.opts.maxFlowsTotal;
    if (mine < per && this.openTotal < total) return false;
    const why = mine >= per ? `this sandbox already holds ${mine} open connections (at most ${per})` : `the gateway holds ${this.openTotal} open connections for all sandboxes (at most ${total})`;
    const name = sb.names.get(dst.address);
    const { addressClass } = sb.policy.decideConnect({ ip: dst.address, port: dst.port, name });
    sb.report({
      kind: 'connect', flowId: randomBytes(6).toString('hex'), sport: dst.sourcePort ?? client.remotePort ?? 0, dst: { ip: dst.address, port: dst.port }, name,
      decision: { verdict: 'deny', rule: FLOW_LIMIT_RULE, reason: `Too many open connections: ${why}; close some before opening more.`, addressClass },
      observed: false, tsNs: process.hrtime.bigint(),
    });
    client.resetAndDestroy();
    return true;
  }
}

class ProxiedFlow {
  private readonly id = randomBytes(6).toString('hex');
  private readonly t0 = process.hrtime.bigint();
  private readonly sport: number;
  private readonly name?: string;
  private buf: Buffer[] = [];
  private bufLen = 0;
  private sniffed?: SniffResult;
  private decision!: Decision;
  private decided = false;
  private scanner = new MiningRpcScanner();
  private sshIds?: SshIdScanner;
  private tlsWalk?: TlsRecordWalker;
  private tlsSsh?: SshIdScanner;
  /** Set after the client asked for a WebSocket upgrade: its frames' payloads are unmasked and scanned. */
  private ws?: WebSocketUnmasker;
  private wsScanner = new MiningRpcScanner();
  private wsSsh?: { frames: WebSocketSshCheck; stream: SshIdScanner };
  /** A permessage-deflate client's messages, inflated to be scanned (sniff/websocket-inflate.ts), with their own scanners. */
  private wsInflate?: { inflater: WebSocketInflater; scan: DecodedStreamScan };
  /** The current HTTP request body when it is compressed (`Content-Encoding`), decoded to be scanned (sniff/stream-inflate.ts). */
  private body?: CompressedBody;
  /** Cleartext HTTP/2 request bodies being read, by stream (scanH2Data). */
  private h2Bodies?: Map<number, { raw: DecodedStreamScan; coded?: CompressedBody; start: boolean }>;
  /** What decoded bytes showed, judged after the push that decoded them (as rpcHit). */
  private decodedHit?: DecodedHit & { where: string };
  /** Parts of the upload the scanners could not read (a coding not decoded, a bound reached): on the flow record. */
  private uninspected = new Set<string>();
  /** The upload read as JSON structure, so padding cannot hide a pool login (sniff/mining-skeleton.ts). */
  private rpc = new UploadRpcScan();
  /** A pool message found in bytes a framing callback saw (an HTTP body, a TLS record body), judged after the push. */
  private rpcHit?: RpcHit;
  /** The client's HTTP requests, followed by their framing (cleartext HTTP flows). */
  private http?: HttpRequestStream;
  /** Cleartext HTTP/2 after its preface (h2c-stream.ts). */
  private h2?: H2cRequestStream;
  /** Decided before the client sent anything (server-first, or a client holding back its first bytes). */
  private clientSilent = false;
  /** A silent client's late first bytes, held until they are classified. */
  private late: Buffer[] = [];
  private lateLen = 0;
  private lateTimer?: NodeJS.Timeout;
  private piped = false;
  private relayId?: number;
  private spliced = false;
  /** The first upload reason the scanners could not read what the far end may (unreadable()); cut once. */
  private unreadWhy?: string;
  private unreadCut = false;
  private splicedDown = 0;
  private upstream?: net.Socket;
  private connectLatencyUs?: number;
  private error?: string;
  private reportedFlow = false;
  private updateTimer?: NodeJS.Timeout;
  /** Bytes each way at the last flow record. */
  private lastUp = 0;
  private lastDown = 0;
  /** Entries of `uninspected` at the last flow record (a record that adds one says so, once). */
  private lastUninspected = 0;
  private markDecided!: () => void;
  readonly decidedPromise = new Promise<void>((r) => { this.markDecided = r; });
  private markReported!: () => void;
  /** Resolves when the flow record (bytes each way, duration) has been reported. */
  readonly reportedPromise = new Promise<void>((r) => { this.markReported = r; });

  constructor(private sb: SandboxNet, private client: net.Socket, private dst: OriginalDst,
    private opts: ProxyOptions, private track: (s: net.Socket) => void) {
    // (the port the agent's socket has, which the kernel sensor recorded: a reused one may arrive as another)
    this.sport = dst.sourcePort ?? client.remotePort ?? 0;
    this.name = sb.names.get(dst.address);
  }

  start(): void {
    const pre = this.sb.policy.decideConnect({ ip: this.dst.address, port: this.dst.port, name: this.name });
    const wait = pre.verdict === 'allow' ? this.opts.firstBytesMs : this.opts.deniedBytesMs;
    let held = false;
    const waited = (): void => {
      // (bytes that begin a protocol but do not finish its first message yet: held, then judged as what they begin)
      const r = this.bufLen > 0 ? sniff(Buffer.concat(this.buf)) : undefined;
      if (r?.status !== 'incomplete') { this.decide(pre); return; }
      if (held || pre.verdict !== 'allow') { this.sniffed = tentative(r, wait + (held ? this.opts.incompleteBytesMs : 0)); this.decide(pre); return; }
      held = true;
      timer = setTimeout(waited, this.opts.incompleteBytesMs);
    };
    let timer = setTimeout(waited, wait);
    this.client.on('error', (e) => { this.error ??= e.message; this.finish(); });
    this.client.on('close', () => { clearTimeout(timer); if (!this.decided) this.decide(pre); this.finish(); });
    this.client.on('end', () => { if (this.decided) { this.releaseLate(); this.upstream?.end(); } });
    this.client.on('data', (chunk: Buffer) => {
      if (this.decided) { this.forward(chunk); return; }
      this.buf.push(chunk);
      this.bufLen += chunk.length;
      const all = Buffer.concat(this.buf);
      const r = sniff(all);
      if (r.status === 'done' || this.bufLen >= MAX_SNIFF) {
        this.sniffed = r.status === 'done' ? r : { status: 'done', protocol: 'other' };
        clearTimeout(timer);
        this.decide(pre);
      }
    });
  }

  private protocol(): Protocol | undefined {
    if (this.sniffed) return this.sniffed.protocol;
    if (this.bufLen > 0) return 'other';
    return undefined;
  }

  private decide(pre: Decision): void {
    if (this.decided) return;
    this.decided = true;
    const protocol = this.protocol();
    const d = protocol === undefined ? pre : this.sb.policy.decideConnect({
      ip: this.dst.address, port: this.dst.port, name: this.name, protocol, sniHost: this.sniffed?.host, tls: this.sniffed?.tls, hostAmbiguous: this.sniffed?.hostAmbiguous, ambiguousWhy: this.sniffed?.ambiguousWhy, connectPort: this.sniffed?.connectPort,
    });
    this.decision = d;
    this.clientSilent = protocol === undefined;
    const blocked = d.verdict === 'deny' && !this.sb.observe;
    this.report(d, false);
    this.markDecided();
    if (blocked) { this.refuse(d); return; }
    this.connectUpstream();
  }

  /**
   * Decides again now that the protocol is known mid-flow (late first bytes, a server's SSH banner,
   * mining JSON-RPC later in the upload). A denial is reported (midstream) and, in enforce mode,
   * cuts both sides: returns true when the flow was cut.
   */
  private redecide(sniffed: SniffResult): boolean {
    this.sniffed = sniffed;
    const d = this.sb.policy.decideConnect({
      ip: this.dst.address, port: this.dst.port, name: this.name, protocol: sniffed.protocol, sniHost: sniffed.host, tls: sniffed.tls, hostAmbiguous: sniffed.hostAmbiguous, ambiguousWhy: sniffed.ambiguousWhy, connectPort: sniffed.connectPort,
    });
    this.decision = d;
    if (d.verdict !== 'deny') return false;
    return this.cut(d);
  }

  /** A midstream denial: reported, and in enforce mode both sides cut (true). */
  private cut(d: Decision): boolean {
    this.decision = d;
    this.report(d, true);
    if (this.sb.observe) return false;
    // A download still moving on the splice thread holds dups of both sockets: it is aborted with
    // resets, so the agent reads ECONNRESET (not a clean end) and the far host a reset too.
    if (this.relayId !== undefined) this.opts.native.spliceCancel(this.relayId, true);
    this.client.resetAndDestroy();
    const up = this.upstream;
    // (a connect still in progress is abandoned: resetAndDestroy would wait for it to complete)
    if (up && !up.destroyed) { if (up.connecting) up.destroy(); else up.resetAndDestroy(); }
    return true;
  }

  private report(d: Decision, midstream: boolean): void {
    const r: ConnectReport = {
      kind: 'connect', flowId: this.id, sport: this.sport, dst: { ip: this.dst.address, port: this.dst.port },
      name: this.name, protocol: this.protocol(), sniHost: this.sniffed?.host, detail: this.sniffed?.detail, tls: this.sniffed?.tls,
      decision: d, midstream, observed: d.verdict === 'deny' && this.sb.observe, tsNs: process.hrtime.bigint(),
    };
    this.sb.report(r);
  }

  private refuse(d: Decision): void {
    if (this.sniffed?.protocol === 'http' && !this.client.destroyed) {
      const body = `Blocked by Corral: ${d.reason} (rule: ${d.rule})\n`;
      this.client.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nX-Corral-Rule: ${d.rule}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
      setTimeout(() => this.client.destroy(), 1000).unref();
    } else {
      this.client.resetAndDestroy();
    }
  }

  private connectUpstream(): void {
    const c0 = process.hrtime.bigint();
    const up = net.connect({ host: this.dst.address, port: this.dst.port, noDelay: true, allowHalfOpen: true });
    this.upstream = up;
    this.track(up);
    up.on('connect', () => {
      this.connectLatencyUs = Number((process.hrtime.bigint() - c0) / 1000n);
      if (this.opts.flowUpdateMs > 0 && !this.reportedFlow) {
        this.updateTimer = setInterval(() => this.update(), this.opts.flowUpdateMs);
        this.updateTimer.unref();
      }
    });
    // Download direction: nothing to inspect — except the first bytes of a server that speaks first
    // to a client that had said nothing (an SSH server's banner to a tunnel client waiting for it,
    // which would otherwise pass a tls-only rule unclassified); those flows use Node's pipe. The
    // kernel splice relay carries the rest when available, else Node's own pipe (with its backpressure).
    if (this.clientSilent) {
      up.once('data', (first: Buffer) => {
        if (!this.sniffed) {
          // TLS and HTTP are client-first: a server speaking first to a silent client is another
          // protocol — SSH when a line of it is an identification string (RFC 4253 allows lines
          // before it), else 'other' — and is judged as that, before its bytes reach the sandbox.
          const at = first.indexOf('SSH-');
          const r: SniffResult = at >= 0 && (at === 0 || first[at - 1] === 0x0a) ? parseSshBanner(first.subarray(at)) : { status: 'done', protocol: 'other' };
          if (this.redecide(r)) return;
          this.releaseLate();
        }
        if (!this.client.destroyed) this.client.write(first);
        up.pipe(this.client);
      });
    } else if (this.opts.kernelSplice) {
      up.pause();
      up.once('connect', () => this.spliceDownload(up));
    } else {
      up.pipe(this.client);
    }
    up.on('error', (e) => { this.error ??= e.message; this.client.resetAndDestroy(); });
    up.on('close', () => { if (!this.client.destroyed) this.client.end(); this.finish(); });
    const first = Buffer.concat(this.buf);
    this.buf = [];
    if (first.length) this.forward(first);
    // the client may have half-closed while we were still deciding (e.g. `printf … | nc host 80`)
    if (this.client.readableEnded) up.end();
  }

  /**
   * Upload bytes the scanners could not read: named on the flow record; when the far end may read them (UNREAD_RULE), once the
   * chunk that showed it has been scanned, the flow is cut before that chunk leaves — a login after 16 MiB of gzip-ed
   * junk, or in zstd, passed with a low alert before (the compressed-body analogue of a red team's padded login past
   * the old JSON budget, session 40). Observe mode records the denial and lets it through.
   */
  private unreadable(reason: string, farEndReads = true): void {
    this.uninspected.add(reason);
    if (farEndReads) this.unreadWhy ??= reason;
  }

  /** The cut for unreadable upload bytes, at most once; true when the flow was cut. */
  private takeUnreadCut(): boolean {
    const why = this.unreadWhy;
    if (why === undefined || this.unreadCut) return false;
    this.unreadCut = true;
    return this.cut({
      verdict: 'deny', rule: UNREAD_RULE, addressClass: this.decision?.addressClass ?? 'public',
      reason: `This connection sent data Corral's gateway cannot inspect (${why}); uploads are read in full or not passed. Send it uncompressed or as gzip, deflate or br, in one HTTP/2 stream at a time.`,
    });
  }

  private forward(chunk: Buffer): void {
    const up = this.upstream;
    if (!up) return;
    if (this.clientSilent && !this.sniffed) {
      // A client that held back its first bytes past the sniff wait (e.g. SSH behind a slow
      // ProxyCommand) is classified now, before any of them leaves: the late bytes are held until
      // the sniff is done, then the connection is decided again with the protocol they show.
      this.late.push(chunk);
      this.lateLen += chunk.length;
      const all = Buffer.concat(this.late);
      const r = sniff(all);
      if (r.status !== 'done' && this.lateLen < MAX_SNIFF) {
        // (a client that sends a few bytes and waits for an answer is not held forever)
        this.lateTimer ??= setTimeout(() => this.releaseLate(), this.opts.incompleteBytesMs);
        return;
      }
      clearTimeout(this.lateTimer);
      this.late = [];
      if (this.redecide(r.status === 'done' ? r : { status: 'done', protocol: 'other' })) return;
      chunk = all;
    }
    const p = this.sniffed?.protocol;
    if (p === 'tls' && this.opts.scanBytes > 0) {
      // Encrypted, but it must stay TLS records: cleartext after a (fake) ClientHello is judged as what it is.
      const bad = (this.tlsWalk ??= new TlsRecordWalker()).push(chunk, (body) => {
        this.rpcHit ??= this.rpc.raw(body);
        // (an identification line at the start of a record body — after a record header, never at a line start of
        //  the raw bytes — or at a line start of the bodies read as one stream)
        const at = sshIdentificationAt(body);
        const id = at >= 0 ? parseSshBanner(body.subarray(at)).detail : (this.tlsSsh ??= new SshIdScanner()).push(body);
        if (id !== undefined) this.decodedHit ??= { ssh: id, where: ' inside TLS record bodies' };
      });
      if (bad < 0) {
        // Record bodies are scanned too: a pool login or an SSH stream carried in well-formed records
        // (cleartext in application_data, or after the hello inside its own record) reached a lenient
        // far end unseen (a review, session 34). Real ciphertext holds these markers with negligible odds.
        // (the skeleton lexer reads the record bodies without their headers: a header in a padded string
        //  could otherwise end it early)
        if (this.scanPoolAndSsh(chunk, ' inside TLS records', false)) return;
        if (this.takeRpcHit(' inside TLS records') || this.takeDecodedHit()) return;
        if (!up.write(chunk)) { this.client.pause(); up.once('drain', () => this.client.resume()); }
        return;
      }
      const r = sniff(chunk.subarray(bad));
      // (never 'tls' again: a second hello where a record should be is not a TLS stream either)
      const as: SniffResult = r.status === 'done' && r.protocol !== 'other' && r.protocol !== 'tls' ? r : { status: 'done', protocol: 'other', detail: 'not TLS after its ClientHello' };
      if (this.redecide({ ...as, host: as.host ?? this.sniffed?.host })) return;
      this.forward(chunk); // (now scanned as what it is)
      return;
    }
    const scanning = this.opts.scanBytes > 0 && p !== 'mining' && p !== 'tls' && p !== 'ssh';
    if (!scanning && !this.piped) {
      // Nothing to inspect (SSH a policy allows, or scanning off): hand the upload direction to pipe().
      this.piped = true;
      this.client.removeAllListeners('data');
      if (!up.write(chunk)) this.client.pause();
      this.client.pipe(up);
      return;
    }
    if (scanning) {
      const http = this.sniffed?.protocol === 'http';
      // (an HTTP stream that can be framed has its bodies read as JSON, de-chunked, through the framing's callback)
      if (http && !this.h2) {
        this.http ??= new HttpRequestStream((piece, start, end, coding) => {
          if (piece.length > 0) this.rpcHit ??= this.rpc.body(piece, start);
          if (start) this.body = undefined;
          if (coding !== '') this.scanCompressedBody(piece, start, end, coding);
        }, (head) => {
          // (a request head read as JSON too: a line-based far end reads a login written as one of its lines)
          const hit = this.rpc.raw(head);
          if (hit) this.decodedHit ??= { rpc: hit, where: ' in an HTTP request head' };
        });
      }
      // (the raw stream is read as JSON where HTTP's framing cannot follow it: not HTTP, or no longer — WebSocket
      //  frames included: a masked frame whose bytes on the wire are the login, for a far end that ignored the
      //  upgrade, passed when frames were read only unmasked; a review, session 39)
      const raw = (): boolean => !http || (this.http !== undefined && this.http.opaque);
      const wasRaw = raw();
      if (this.scanPoolAndSsh(chunk, '', wasRaw)) return;
      if (http) {
        // A keep-alive connection's later requests are judged by their own Host (fronting: an allowed
        // first request, then `Host: pool.example` on the same connection), found by HTTP's framing
        // across writes (http-stream.ts; a stream it cannot frame falls back to a per-chunk look);
        // after a WebSocket upgrade the frames that follow are unmasked and scanned, and the framing
        // is still followed until they come (a server that ignored the upgrade reads more requests);
        // cleartext HTTP/2 requests are judged by their `:authority` (h2c-stream.ts).
        if (this.h2) { if (this.judgeHeads(this.h2.push(chunk)) || this.takeDecodedHit()) return; }
        else {
          if (this.ws && this.scanWebSocket(chunk)) return;
          const stream = this.http!;
          const heads = stream.opaque ? (this.ws ? [] : requestHeads(chunk)) : stream.push(chunk);
          if (this.takeRpcHit(' in an HTTP body') || this.takeDecodedHit()) return;
          for (const head of heads) {
            if (this.judgeHeads([head])) return;
            if (head.framesAt !== undefined && !this.ws) {
              this.ws = new WebSocketUnmasker();
              if (this.scanWebSocket(chunk.subarray(head.framesAt))) return;
              continue;
            }
            if (head.h2At !== undefined) {
              this.h2 = new H2cRequestStream(true, (stream, piece, start, end, coding) => this.scanH2Data(stream, piece, start, end, coding));
              if (this.judgeHeads(this.h2.push(chunk.subarray(head.h2At))) || this.takeDecodedHit()) return;
              break;
            }
          }
          // The stream stopped being HTTP or WebSocket inside this chunk (raw JSON after a request, or after an
          // upgrade the server ignored): the chunk is read raw too — the next ones are (a red-team review, session 39).
          if (!wasRaw && raw() && !this.h2) {
            this.rpcHit ??= this.rpc.raw(chunk);
            if (this.takeRpcHit('')) return;
          }
        }
      }
    }
    if (this.takeUnreadCut()) return;
    if (!up.write(chunk)) { this.client.pause(); up.once('drain', () => this.client.resume()); }
  }

  /** Each request's host judged against the connection's: a different or ambiguous one decides the flow again. True when it was cut. */
  private judgeHeads(heads: RequestHead[]): boolean {
    for (const head of heads) {
      const sniffed = this.sniffed!;
      if (head.ambiguous && this.redecide({ ...sniffed, host: undefined, hostAmbiguous: true, ambiguousWhy: head.why })) return true;
      const moved = (head.host !== undefined && head.host !== sniffed.host) || (head.connectPort !== undefined && head.connectPort !== sniffed.connectPort);
      if (!head.ambiguous && moved && this.redecide({ ...sniffed, host: head.host ?? sniffed.host, hostAmbiguous: false, ambiguousWhy: undefined, connectPort: head.connectPort })) return true;
    }
    return false;
  }

  /**
   * Upload bytes scanned for a pool login (mining JSON-RPC) and an SSH identification line — SSH after
   * other bytes (a benign request first, blank lines) is a tunnel behind a far-end relay that strips
   * them. `where` ends the detail (" inside TLS records"). True when the flow was cut.
   */
  private scanPoolAndSsh(chunk: Buffer, where: string, skeleton = true): boolean {
    const line = this.scanner.push(chunk);
    const hit = line ? { method: line.method, detail: line.method } : skeleton ? this.rpc.raw(chunk) : undefined;
    if (hit && this.cutMining(hit, where)) return true;
    const id = (this.sshIds ??= new SshIdScanner()).push(chunk);
    return id !== undefined && this.cutSsh(`${id}${where}`);
  }

  /**
   * An SSH identification line seen mid-flow decides the flow again as ssh. True when it was cut; allowed, the flow
   * stays what it was and is scanned on (an identification line must not turn inspection off).
   */
  private cutSsh(detail: string): boolean {
    const was = this.sniffed;
    if (this.redecide({ status: 'done', protocol: 'ssh', detail, host: was?.host })) return true;
    this.sniffed = was;
    return false;
  }

  /** A pool message (mining JSON-RPC) decides the flow again as mining. True when it was cut. */
  private cutMining(hit: RpcHit, where: string): boolean {
    return this.redecide({ status: 'done', protocol: 'mining', detail: `${hit.detail}${where}`, method: hit.method, host: this.sniffed?.host });
  }

  private takeRpcHit(where: string): boolean {
    const hit = this.rpcHit;
    this.rpcHit = undefined;
    return hit !== undefined && this.cutMining(hit, where);
  }

  /**
   * After `Upgrade: websocket` the client's payloads are masked: scanned once unmasked — as lines, as
   * JSON structure (each message, and the messages' concatenation a relay makes of them), and for SSH
   * (a data frame that begins with an identification string, or one at a line start of the data). True
   * when the flow was cut.
   */
  private scanWebSocket(frames: Buffer): boolean {
    const ssh = (this.wsSsh ??= { frames: new WebSocketSshCheck(), stream: new SshIdScanner() });
    for (const p of this.ws!.pushFrames(frames)) {
      if (p.opcode >= 8) continue; // (ping, pong, close: no stream data)
      // (a compressed message is scanned as it inflates, once whole; its raw bytes are scanned below too)
      if (p.compressed && this.scanInflated(p)) return true;
      const h = this.wsScanner.push(p.data);
      const hit = h ? { method: h.method, detail: h.method } : this.rpc.ws(p.data, p.frameStart && p.opcode !== 0);
      if (hit && this.cutMining(hit, ' in WebSocket frames')) return true;
      const id = ssh.frames.push(p) ?? ssh.stream.push(p.data);
      if (id !== undefined && this.cutSsh(`${id} in WebSocket frames`)) return true;
    }
    return false;
  }

  /** A compressed WebSocket message, inflated as it streams: scanned as lines, as JSON structure and for SSH. True when cut. */
  private scanInflated(p: FramePiece): boolean {
    const z = (this.wsInflate ??= { inflater: new WebSocketInflater(), scan: new DecodedStreamScan() });
    const text = z.inflater.push(p);
    // (a corrupt stream is named only: the far end cannot read it either)
    if (z.inflater.exhausted) this.unreadable(`compressed WebSocket messages (${z.inflater.why === 'bound' ? 'past the inflate bound' : 'corrupt stream'})`, z.inflater.why === 'bound');
    // (its own scanners: the inflated messages are a stream of their own, not the raw frames')
    const hit = text && z.scan.push(text.data, text.start, 'message');
    if (!hit) return false;
    this.decodedHit = { ...hit, where: ' in compressed WebSocket frames' };
    return this.takeDecodedHit();
  }

  /**
   * A compressed HTTP request body (`Content-Encoding`), decoded as it streams and scanned as lines, as JSON structure
   * and for SSH; a hit waits in decodedHit for the push to finish. A coding it cannot decode, or a bound, is recorded.
   */
  private scanCompressedBody(piece: Buffer, start: boolean, end: boolean, coding: string): void {
    if (start) this.body = new CompressedBody(coding);
    const b = this.body;
    if (!b) return;
    const hit = b.push(piece, end);
    if (hit) this.decodedHit ??= { ...hit, where: ` in an HTTP body (${b.label})` };
    if (b.unread) this.unreadable(b.unread, b.unreadable);
  }

  /**
   * A cleartext HTTP/2 stream's request body (its DATA payloads, padding off): scanned as lines, as JSON structure and
   * for SSH, per stream — a login split over DATA frames had their 9-byte headers inside it — and decoded first when
   * the stream's headers name a `content-encoding`. A hit waits in decodedHit for the push to finish.
   */
  private scanH2Data(stream: number, piece: Buffer, start: boolean, end: boolean, coding: string): void {
    const bodies = (this.h2Bodies ??= new Map());
    let b = bodies.get(stream);
    if (start || !b) {
      if (bodies.size >= MAX_H2_BODIES) { this.unreadable(`HTTP/2 request bodies beyond ${MAX_H2_BODIES} open streams`); return; }
      b = { raw: new DecodedStreamScan(), ...(coding !== '' ? { coded: new CompressedBody(coding) } : {}), start: true };
      bodies.set(stream, b);
    }
    const hit = piece.length > 0 ? b.raw.push(piece, b.start, 'body') : undefined;
    b.start = false;
    if (hit) this.decodedHit ??= { ...hit, where: ' in an HTTP/2 body' };
    if (b.coded) {
      const h = b.coded.push(piece, end);
      if (h) this.decodedHit ??= { ...h, where: ` in an HTTP/2 body (${b.coded.label})` };
      if (b.coded.unread) this.unreadable(b.coded.unread, b.coded.unreadable);
    }
    if (end) bodies.delete(stream);
  }

  /** A pool message or SSH line that decoded bytes showed: the flow decided again. True when it was cut. */
  private takeDecodedHit(): boolean {
    const h = this.decodedHit;
    this.decodedHit = undefined;
    if (!h) return false;
    if (h.rpc && this.cutMining(h.rpc, h.where)) return true;
    return h.ssh !== undefined && this.cutSsh(`${h.ssh}${h.where}`);
  }

  /**
   * Late first bytes still held (the sniff wait ran out on an incomplete prefix, the client ended, or
   * the server spoke first and settled the protocol): decided as what they are so far, then sent.
   */
  private releaseLate(): void {
    clearTimeout(this.lateTimer);
    this.lateTimer = undefined;
    if (this.late.length === 0) return;
    const all = Buffer.concat(this.late);
    this.late = [];
    this.lateLen = 0;
    if (!this.sniffed && this.redecide(tentative(sniff(all), this.opts.incompleteBytesMs))) return;
    this.forward(all);
  }

  /**
   * Gives the download direction (upstream -> sandbox) to a native splice thread: the bytes
   * move in the kernel, never through JavaScript. Node never reads the upstream socket (it
   * is paused before its connect completes), so no byte can be stranded in a JS buffer. The
   * upload direction stays in Node, where it is inspected.
   */
  private spliceDownload(up: net.Socket): void {
    const client = this.client;
    const fd = (s: net.Socket) => (s as unknown as { _handle?: { fd?: number } })._handle?.fd ?? -1;
    try {
      this.relayId = this.opts.native.spliceOneWay(fd(up), fd(client), (err, bytes) => {
        this.relayId = undefined;
        this.splicedDown = bytes;
        if (err) this.error ??= `relay: ${err}`;
        // upstream finished sending (or failed): end the sandbox side like pipe() would
        if (client.readableEnded || client.destroyed || err) { client.destroy(); up.destroy(); }
        else { client.once('end', () => { client.destroy(); up.destroy(); }); client.end(); }
        this.finish(); // the flow record waited for this count (see finish())
      });
      this.spliced = true;
      const cancel = () => { if (this.relayId !== undefined) this.opts.native.spliceCancel(this.relayId); };
      client.once('close', cancel);
      up.once('close', cancel);
    } catch (e) {
      this.error ??= (e as Error).message;
      up.pipe(client);
      up.resume();
    }
  }

  /** Bytes received from upstream so far (the splice relay's running count while it runs). */
  private bytesDown(): number {
    if (!this.spliced) return this.upstream?.bytesRead ?? 0;
    if (this.relayId === undefined) return this.splicedDown;
    const moved = this.opts.native.spliceMoved?.(this.relayId) ?? -1;
    return moved >= 0 ? moved : this.lastDown;
  }

  /** An interim flow record of a connection still open, when anything moved since the last. */
  private update(): void {
    if (this.reportedFlow) return;
    const up = this.upstream?.bytesWritten ?? 0, down = this.bytesDown();
    if (up === this.lastUp && down === this.lastDown && this.uninspected.size === this.lastUninspected) return;
    this.sb.report(this.flowRecord(up, down, true));
    this.lastUp = up; this.lastDown = down; this.lastUninspected = this.uninspected.size;
  }

  /** A flow record with the bytes each way (so far, when interim) and those of the record before. */
  private flowRecord(up: number, down: number, interim: boolean): FlowReport {
    return {
      kind: 'flow', flowId: this.id, sport: this.sport, dst: { ip: this.dst.address, port: this.dst.port },
      name: this.name, protocol: this.protocol(), sniHost: this.sniffed?.host, tls: this.sniffed?.tls, decision: this.decision,
      bytesUp: up, bytesDown: down, bytesUpPrev: this.lastUp, bytesDownPrev: this.lastDown, ...(interim ? { interim } : {}),
      ...(this.uninspected.size > 0 ? { uninspected: [...this.uninspected] } : {}),
      ...(this.uninspected.size > this.lastUninspected ? { uninspectedNew: true } : {}),
      durationMs: Number(process.hrtime.bigint() - this.t0) / 1e6, connectLatencyUs: this.connectLatencyUs,
      ...(interim ? {} : { error: this.error }), tsNs: process.hrtime.bigint(),
    };
  }

  private finish(): void {
    if (this.reportedFlow || !this.decided) return;
    // A download relay still running (being cancelled: a killed process's socket) reports its
    // byte count in its callback, which calls finish() again; reporting now would say 0 bytes.
    if (this.relayId !== undefined) return;
    if (this.upstream && !this.upstream.destroyed && !this.client.destroyed) return;
    if (this.upstream && !this.upstream.destroyed) { this.upstream.destroy(); }
    this.reportedFlow = true;
    clearInterval(this.updateTimer);
    clearTimeout(this.lateTimer);
    this.sb.report(this.flowRecord(this.upstream?.bytesWritten ?? 0, this.spliced ? this.splicedDown : this.upstream?.bytesRead ?? 0, false));
    this.markReported();
  }
}
