// Why: the process that *is* the lab's far hosts. It runs inside the far netns (started by
// FarHosts under `unshare --net`), serves the fake Stratum pool, registry, metadata service and
// sinks, supervises a real sshd, and counts every accepted connection per ip:port so tests can
// prove exactly how many hostile connections got through (SAFETY.md rule 2). It talks to its
// parent only over the Node IPC channel and exits when that channel closes, so it never outlives
// the harness.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { rmSync } from 'node:fs';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { serveStratum } from './fake-stratum.js';
import { handleMetadata, handleRegistry } from './fake-http.js';
import { serviceKey, type FarCounts, type FarHostSpec, type FromFar, type ServiceCounts, type ToFar } from './far-protocol.js';

const SSHD = '/usr/sbin/sshd';
const SSHD_CONN_RE = /Connection from \S+ port \d+ on (\S+) port (\d+)/;

class FarServer {
  private readonly counts: FarCounts = {};
  private readonly servers: Server[] = [];
  private readonly open = new Map<Socket, string>();
  private readonly closedBytes = new Map<string, number>();
  private sshd: ChildProcess | undefined;
  private stopping: Promise<void> | undefined;
  private tmpDir: string | undefined;

  async start(specs: FarHostSpec[], tmpDir: string, sshdConfig: string | undefined): Promise<number | undefined> {
    this.tmpDir = tmpDir;
    const sshAddrs: string[] = [];
    for (const host of specs) {
      for (const svc of host.services) {
        const key = serviceKey(host.ip, svc.port);
        if (this.counts[key]) throw new Error(`duplicate far service ${key}`);
        this.counts[key] = { kind: svc.kind, accepted: 0, bytesIn: 0, requests: 0 };
        if (svc.kind === 'ssh') { sshAddrs.push(key); continue; }
        await this.listen(host.ip, svc.port, this.makeServer(key, svc.kind));
      }
    }
    if (sshAddrs.length === 0) return undefined;
    if (sshdConfig === undefined) throw new Error('ssh service requested but no sshd config given');
    return this.startSshd(sshdConfig, sshAddrs.length);
  }

  private counter(key: string): ServiceCounts {
    const c = this.counts[key];
    if (!c) throw new Error(`no far service ${key}`);
    return c;
  }

  private track(key: string, socket: Socket): void {
    this.counter(key).accepted++;
    this.open.set(socket, key);
    socket.on('error', () => { /* clients may reset; counting is all we need */ });
    socket.on('close', () => {
      this.open.delete(socket);
      this.closedBytes.set(key, (this.closedBytes.get(key) ?? 0) + socket.bytesRead);
    });
  }

  private makeServer(key: string, kind: Exclude<FarHostSpec['services'][number]['kind'], 'ssh'>): Server {
    const onRequest = (): void => { this.counter(key).requests++; };
    if (kind === 'http' || kind === 'metadata') {
      const handler = kind === 'http' ? handleRegistry : handleMetadata;
      const server = createHttpServer((req: IncomingMessage, res: ServerResponse) => { onRequest(); handler(req, res); });
      server.on('connection', (s: Socket) => this.track(key, s));
      return server;
    }
    return createNetServer((socket: Socket) => {
      this.track(key, socket);
      if (kind === 'stratum') serveStratum(socket, onRequest);
      else socket.resume(); // sink: accept and read everything
    });
  }

  private listen(ip: string, port: number, server: Server): Promise<void> {
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: ip, port, exclusive: true }, () => { server.off('error', reject); resolve(); });
    });
  }

  private startSshd(config: string, listeners: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const sshd = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
      this.sshd = sshd;
      let listening = 0;
      let log = '';
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`sshd did not start listening in time: ${log}`)), 10_000);
      sshd.on('error', (err) => { clearTimeout(timer); reject(err); });
      sshd.on('exit', (code) => { clearTimeout(timer); this.sshd = undefined; reject(new Error(`sshd exited (${code}): ${log}`)); });
      sshd.stderr?.setEncoding('utf8');
      sshd.stderr?.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (log.length < 8000) log += `${line}\n`;
          const m = SSHD_CONN_RE.exec(line);
          if (m) {
            const c = this.counts[serviceKey(m[1] ?? '', Number(m[2]))];
            if (c) c.accepted++;
          } else if (line.includes('Server listening on') && ++listening === listeners) {
            clearTimeout(timer);
            resolve(sshd.pid ?? -1);
          }
        }
      });
    });
  }

  snapshot(): FarCounts {
    const live = new Map<string, number>();
    for (const [socket, key] of this.open) live.set(key, (live.get(key) ?? 0) + socket.bytesRead);
    const out: FarCounts = {};
    for (const [key, c] of Object.entries(this.counts)) {
      out[key] = { ...c, bytesIn: (this.closedBytes.get(key) ?? 0) + (live.get(key) ?? 0) };
    }
    return out;
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const socket of this.open.keys()) socket.destroy();
      await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      const sshd = this.sshd;
      if (sshd && sshd.exitCode === null && sshd.signalCode === null) {
        const gone = new Promise<void>((r) => sshd.once('exit', () => r()));
        sshd.kill('SIGTERM');
        const t = setTimeout(() => sshd.kill('SIGKILL'), 2000);
        await gone;
        clearTimeout(t);
      }
      // The harness removes it too; doing it here covers a harness that died without stop().
      if (this.tmpDir !== undefined && /corral-lab-/.test(this.tmpDir)) rmSync(this.tmpDir, { recursive: true, force: true });
    })();
    return this.stopping;
  }
}

function main(): void {
  const send = (msg: FromFar): void => { if (process.connected) process.send?.(msg); };
  if (!process.send) {
    process.stderr.write('far-server must be started by FarHosts with an IPC channel\n');
    process.exit(2);
  }
  const far = new FarServer();
  const shutdown = (): void => { void far.stop().then(() => process.exit(0)); };
  process.on('disconnect', shutdown);
  process.on('SIGTERM', shutdown);
  process.on('message', (raw: unknown) => {
    const msg = raw as ToFar;
    if (msg.type === 'start') {
      far.start(msg.specs, msg.tmpDir, msg.sshdConfig).then(
        (sshdPid) => send(sshdPid === undefined ? { type: 'started' } : { type: 'started', sshdPid }),
        (err: unknown) => send({ type: 'error', message: (err as Error).message }),
      );
    } else if (msg.type === 'counts') {
      send({ type: 'counts', id: msg.id, counts: far.snapshot() });
    } else if (msg.type === 'stop') {
      void far.stop().then(() => {
        if (process.connected) process.send?.({ type: 'stopped' } satisfies FromFar, () => process.exit(0));
        else process.exit(0);
      });
    }
  });
  send({ type: 'hello' });
}

main();
