// Why: the lab's "far hosts" (SAFETY.md rule 2): fake external servers, internal targets and a
// metadata service that hostile scenarios aim at, living in their own netns behind a veth from
// the lab. Each counts the connections it accepts so a test can prove that exactly N (often
// zero) got through Corral. Refuses to start outside the lab, and cleans up every netns, veth,
// process and temp dir it made, even after failures (rule 5).
//
// The far netns is anonymous: far-server is started under `unshare --net` and the netns lives
// exactly as long as its processes (plus an fd this object holds), so a crashed harness can
// never leave a named netns behind in /run/netns.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertInLab, LAB_IFACE_PREFIXES } from './lab-guard.js';
import { assertIpv4, buildLink, planLink, removeLink, type LinkPlan } from './far-link.js';
import { prepareSshd } from './far-sshd.js';
import { killNetns, netnsOf, pidAlive } from './netns-procs.js';
import { serviceKey, type FarCounts, type FarHostSpec, type FromFar, type ToFar } from './far-protocol.js';

export type { FarService, FarHostSpec, FarCounts, ServiceCounts } from './far-protocol.js';

const FAR_SERVER = fileURLToPath(new URL('./far-server.js', import.meta.url));
const START_TIMEOUT_MS = 15_000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function validate(specs: FarHostSpec[]): void {
  const names = new Set<string>();
  const keys = new Set<string>();
  for (const s of specs) {
    if (names.has(s.name)) throw new Error(`duplicate far host name ${s.name}`);
    names.add(s.name);
    assertIpv4(s.ip);
    for (const svc of s.services) {
      if (!Number.isInteger(svc.port) || svc.port < 1 || svc.port > 65535) throw new Error(`bad port ${svc.port} on ${s.name}`);
      const key = serviceKey(s.ip, svc.port);
      if (keys.has(key)) throw new Error(`duplicate far service ${key}`);
      keys.add(key);
    }
  }
}

export class FarHosts {
  /** Name->ip map of the hosts, for a policy `hosts:` section. */
  readonly ips: Record<string, string>;
  /** The lab-side veth name. */
  readonly labIf: string;
  private child: ChildProcess | undefined;
  private childExited: Promise<void> = Promise.resolve();
  private nsFd: number | undefined;
  private ns: string | undefined;
  private tmpDir: string | undefined;
  private sshdPid: number | undefined;
  private link: LinkPlan | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (c: FarCounts) => void; reject: (e: Error) => void }>();
  private waiters: Array<(m: FromFar) => void> = [];
  private stopping: Promise<void> | undefined;

  private constructor(readonly specs: FarHostSpec[], prefix: string) {
    this.ips = Object.fromEntries(specs.map((s) => [s.name, s.ip]));
    this.labIf = `${prefix}${randomBytes(4).toString('hex')}a`;
  }

  static async start(specs: FarHostSpec[], opts: { prefix?: string } = {}): Promise<FarHosts> {
    assertInLab();
    validate(specs);
    const prefix = opts.prefix ?? 'lab-';
    if (!LAB_IFACE_PREFIXES.some((p) => prefix.startsWith(p)) || prefix.length > 6) {
      throw new Error(`far veth prefix must start with ${LAB_IFACE_PREFIXES.join('/')} and be at most 6 chars: ${prefix}`);
    }
    const far = new FarHosts(specs, prefix);
    try {
      await far.boot();
      return far;
    } catch (err) {
      await far.stop().catch(() => undefined);
      throw err;
    }
  }

  private async boot(): Promise<void> {
    this.tmpDir = await mkdtemp(join(tmpdir(), 'corral-lab-'));
    const sshListeners = this.specs.flatMap((s) => s.services.filter((v) => v.kind === 'ssh').map((v) => ({ ip: s.ip, port: v.port })));
    const sshdConfig = sshListeners.length > 0 ? await prepareSshd(this.tmpDir, sshListeners) : undefined;
    const hello = this.spawnServer();
    await this.expect(hello, 'hello');
    const pid = this.child?.pid;
    if (pid === undefined) throw new Error('far-server has no pid');
    // Holding the netns open pins its identity, so cleanup can never mistake another netns for it.
    this.nsFd = openSync(`/proc/${pid}/ns/net`, 'r');
    this.ns = netnsOf(pid);
    if (this.ns === undefined || this.ns === netnsOf('self')) throw new Error('far-server is not in its own netns');
    const hostIps = this.specs.map((s) => s.ip);
    this.link = await planLink(hostIps);
    await buildLink({ labIf: this.labIf, farIf: `${this.labIf.slice(0, -1)}b`, farPid: pid, plan: this.link, hostIps });
    const started = this.next();
    const tmpDir = this.tmpDir;
    this.send(sshdConfig === undefined ? { type: 'start', specs: this.specs, tmpDir } : { type: 'start', specs: this.specs, tmpDir, sshdConfig });
    const msg = await this.expect(started, 'started');
    if (msg.type === 'started') this.sshdPid = msg.sshdPid;
  }

  private spawnServer(): Promise<FromFar> {
    const first = this.next();
    const child = spawn('unshare', ['--net', '--', process.execPath, FAR_SERVER], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child = child;
    this.childExited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        const err = new Error(`far-server exited (${code ?? signal})`);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        for (const w of this.waiters.splice(0)) w({ type: 'error', message: err.message });
        resolve();
      });
      child.once('error', (e) => {
        for (const w of this.waiters.splice(0)) w({ type: 'error', message: e.message });
        resolve();
      });
    });
    child.on('message', (raw: unknown) => {
      const msg = raw as FromFar;
      if (msg.type === 'counts') {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        p?.resolve(msg.counts);
        return;
      }
      for (const w of this.waiters.splice(0)) w(msg);
    });
    return first;
  }

  private next(): Promise<FromFar> {
    return new Promise((resolve) => { this.waiters.push(resolve); });
  }

  private async expect(p: Promise<FromFar>, type: FromFar['type']): Promise<FromFar> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<FromFar>((resolve) => {
      timer = setTimeout(() => resolve({ type: 'error', message: `timed out waiting for far-server '${type}'` }), START_TIMEOUT_MS);
    });
    const msg = await Promise.race([p, timeout]);
    clearTimeout(timer);
    if (msg.type === 'error') throw new Error(`far hosts failed to start: ${msg.message}`);
    if (msg.type !== type) throw new Error(`far-server sent '${msg.type}', expected '${type}'`);
    return msg;
  }

  private send(msg: ToFar): void {
    if (!this.child?.connected) throw new Error('far-server is not running');
    this.child.send(msg);
  }

  /** The far netns as a path usable with `nsenter --net=…` while the hosts run. */
  get netnsPath(): string {
    if (this.child?.pid === undefined) throw new Error('far hosts not running');
    return `/proc/${this.child.pid}/ns/net`;
  }

  /** PIDs this object started (far-server, sshd), for leak checks. */
  pids(): number[] {
    return [this.child?.pid, this.sshdPid].filter((p): p is number => p !== undefined);
  }

  /** Every service's counters, keyed "ip:port". */
  counts(): Promise<FarCounts> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      try { this.send({ type: 'counts', id }); } catch (err) { this.pending.delete(id); reject(err as Error); }
    });
  }

  /** Connections accepted so far by the service on ip:port. */
  async accepted(ip: string, port: number): Promise<number> {
    const c = (await this.counts())[serviceKey(ip, port)];
    if (!c) throw new Error(`no far service on ${serviceKey(ip, port)}`);
    return c.accepted;
  }

  async totalAccepted(): Promise<number> {
    return Object.values(await this.counts()).reduce((n, c) => n + c.accepted, 0);
  }

  /** Polls until ip:port has accepted at least n connections; returns the count (may be < n on timeout). */
  async waitForAccepted(ip: string, port: number, n: number, timeoutMs = 5000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = await this.accepted(ip, port);
      if (got >= n || Date.now() > deadline) return got;
      await sleep(25);
    }
  }

  /** Removes processes (by PID), the veth, the netns and temp files. Idempotent; safe after failures. */
  stop(): Promise<void> {
    this.stopping ??= this.teardown();
    return this.stopping;
  }

  private async teardown(): Promise<void> {
    const errors: string[] = [];
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      if (child.connected) { try { child.send({ type: 'stop' } satisfies ToFar); } catch { /* racing exit */ } }
      else if (child.pid !== undefined) { try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ } }
      const graceful = await Promise.race([this.childExited.then(() => true), sleep(4000).then(() => false)]);
      if (!graceful && child.pid !== undefined) { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }
    }
    if (this.ns !== undefined) {
      const left = await killNetns(this.ns);
      if (left.length > 0) errors.push(`processes left in far netns: ${left.join(',')}`);
    }
    if (this.sshdPid !== undefined && pidAlive(this.sshdPid) && netnsOf(this.sshdPid) === this.ns) {
      errors.push(`sshd ${this.sshdPid} still alive`);
    }
    await this.childExited;
    try { await removeLink(this.labIf); } catch (err) { errors.push((err as Error).message); }
    if (this.nsFd !== undefined) { closeSync(this.nsFd); this.nsFd = undefined; }
    if (this.tmpDir !== undefined) await rm(this.tmpDir, { recursive: true, force: true });
    if (errors.length > 0) throw new Error(`far hosts cleanup incomplete: ${errors.join('; ')}`);
  }
}

/** Starts far hosts, runs fn, and always stops them (for tests). */
export async function withLab<T>(specs: FarHostSpec[], fn: (far: FarHosts) => Promise<T>): Promise<T> {
  const far = await FarHosts.start(specs);
  try {
    return await fn(far);
  } finally {
    await far.stop();
  }
}

/** Counters of a running FarHosts, keyed "ip:port" (alias for far.counts()). */
export function readFarCounts(far: FarHosts): Promise<FarCounts> {
  return far.counts();
}
