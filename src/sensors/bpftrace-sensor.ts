// Why: Corral's kernel event sensor. One bpftrace process per Corral process records
// exec (full argv), exit, connect attempts and TCP source ports with the cgroup v2 id of
// the acting process. Threat stopped: an agent hiding what it ran or where it connected
// (short-lived processes, renamed binaries, nohup'd children) — the kernel sees every
// execve/connect and the cgroup id cannot be changed by the sandboxed uid, so every
// record can be attributed to the tool call that started the process.

import { enterBinary, eventsShim } from '../sandbox/launcher.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { inChildPidNs } from '../util/pid-namespace.js';
import { cpus } from 'node:os';
import { delimiter, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BPF_STRLEN, buildProgram } from './bpftrace-program.js';
import { bpftraceTracefsDir, eventListEnv, tracepointsOf } from './tracefs-event-list.js';
import { KernelBtf } from './kernel-btf.js';
import { sensorDefinitions } from './sensor-types.js';
import { cachedDefinitions, dropCachedDefinitions } from './sensor-types-cache.js';
import { RecordAssembler, type ControlLine, type SensorRecord } from './bpftrace-records.js';
import { allowedCpus, onlineCpus } from './cpu-list.js';
import { gatewayNativeFn } from '../sandbox/launcher.js';

export type { ExecRecord, ExitRecord, ConnectRecord, SynRecord, SocketDeniedRecord, UdpSourceRecord, BudgetOverflowRecord, SensorRecord } from './bpftrace-records.js';

const TRACEFS = '/sys/kernel/tracing';
const BTF = '/sys/kernel/btf/vmlinux';

function findInPath(bin: string): string | undefined {
  for (const d of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).concat(['/usr/sbin', '/usr/bin'])) {
    const p = join(d, bin);
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

/** Mounts tracefs if it is missing (tracepoints are invisible to bpftrace without it). */
export function ensureTracefs(): { ok: boolean; why?: string } {
  if (existsSync(join(TRACEFS, 'events'))) return { ok: true };
  const r = spawnSync('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { encoding: 'utf8' });
  if (r.status === 0 && existsSync(join(TRACEFS, 'events'))) return { ok: true };
  return { ok: false, why: `tracefs not mounted at ${TRACEFS} and mount failed: ${(r.stderr || r.error?.message || '').trim()}` };
}

/** Per-CPU perf ring pages: ~128 MiB in total, 256..4096 pages per CPU, a power of two. */
function defaultRbPages(): number {
  const per = Math.floor(32768 / Math.max(1, cpus().length));
  let p = 256;
  while (p * 2 <= Math.min(4096, per)) p *= 2;
  return p;
}

export interface SensorOptions {
  cgroupFilter?: (id: string) => boolean;
  /** Perf ring buffer pages per CPU (BPFTRACE_PERF_RB_PAGES). */
  perfRbPages?: number;
  bpftracePath?: string;
  /**
   * Give bpftrace small definitions of the kernel structures the program reads, written from the kernel's
   * BTF (sensor-types.ts: its compile ≈ 1.1 s → 0.2 s); default true. When bpftrace refuses them the
   * sensor starts again the old way (kernelTypes says so).
   */
  kernelTypes?: boolean;
  /** Tests only: these definitions instead of the ones written from BTF. */
  definitions?: string;
  /**
   * Corral's run directory, where the definitions written from BTF are kept for the next start
   * (sensor-types-cache.ts); default $CORRAL_RUN_DIR, else /run/corral; false: no cache.
   */
  runDir?: string | false;
  /** Start bpftrace with the short tracefs event list (tracefs-event-list.ts); default true. */
  shortEventList?: boolean;
  /** Start-up limit in ms (bpftrace compiles with LLVM; a few seconds is normal). */
  startTimeoutMs?: number;
  /** Record UDP source ports (D lines); default: when the kernel has sock:sock_send_length (Linux 6.3+). */
  udpSource?: boolean;
  /**
   * Leave out, in the kernel, the exec/exit/connect records of processes in this process's network namespace
   * that it did not start itself (the host's own work; sandboxes have their own namespaces), so host load cannot
   * fill the perf ring ahead of the sandboxes' records (bpftrace-program.ts, skipHostFor). Default false.
   */
  skipHostProcesses?: boolean;
}

type SyncMarkers = (cpus: Int32Array, lo: number, hi: number) => Int32Array;
const CPU_LIST_TTL_MS = 5000;

/** native/sync-markers.c's syncMarkers, when the addon is built with it. */
function loadSyncMarkers(): SyncMarkers | undefined {
  if (process.env.CORRAL_SYNC_EXEC_CHAIN === '1') return undefined; // (the fallback, on demand: its test)
  return gatewayNativeFn<SyncMarkers>('syncMarkers');
}

/** A barrier's marker: done once `want` exec records and its exit record came back. */
interface SyncWait { pid: number; token: string; execs: number; want: number; sawExec: boolean; sawExit: boolean; resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }

/**
 * Corral's own children the sensor still records though they start in the host's namespace: the sync
 * marker (`/bin/true <nonce>`, reached through a chain of `taskset`s: see syncChain) and the launchers
 * (corral-enter, before they join a sandbox's namespaces).
 */
function hostChildren(taskset: string | undefined): { files: string[]; comms: string[] } {
  let enter: string[] = [];
  try { enter = [enterBinary()]; } catch { /* not built: no launchers to record either */ }
  return { files: ['/bin/true', ...(taskset ? [taskset] : []), ...enter], comms: ['true', ...(taskset ? ['taskset'] : []), 'corral-enter'] };
}

/**
 * The barrier marker's command: `taskset -c C1 taskset -c C2 … /bin/true TOKEN`, one exec per allowed CPU. Each
 * taskset pins itself to its CPU and execs the next, so the exec that follows is recorded on that CPU — and a
 * per-CPU perf buffer is read in order, so once every one of those records is back, every record any CPU wrote
 * before the barrier began is back too. One marker on one CPU said nothing of another CPU's backlog (CI lost 3
 * of 4,000 records of an exec flood to a session's close that way). `want`: the exec records to wait for (the
 * first taskset's own, run wherever, and one per CPU). Without taskset or with one CPU: the plain marker.
 */
export function syncChain(cpus: number[], taskset: string | undefined, token: string): { file: string; args: string[]; want: number } {
  if (!taskset || cpus.length < 2) return { file: '/bin/true', args: [token], want: 1 };
  const args = ['-c', String(cpus[0])];
  for (const c of cpus.slice(1)) args.push(taskset, '-c', String(c));
  args.push('/bin/true', token);
  return { file: taskset, args, want: cpus.length + 1 };
}

/** Events: 'record' (a SensorRecord), 'lost' (records dropped by a full perf ring: count, running total), 'error', 'exit'. */
export class BpftraceSensor extends EventEmitter {
  /** Events the kernel could not hand to bpftrace (perf ring full). */
  lost = 0;
  /** Records emitted so far. */
  emitted = 0;
  /** Milliseconds from spawn to all probes attached. */
  startupMs = 0;
  private child?: ChildProcess;
  private assembler: RecordAssembler;
  private syncs = new Map<number, SyncWait>();
  private sweepTimer?: NodeJS.Timeout;
  private stderr = '';
  private stopped = false;
  /** taskset, which pins the barrier's marker to each CPU in turn (syncChain); util-linux has it everywhere. */
  private readonly taskset = findInPath('taskset');
  /** The native per-CPU marker (native/sync-markers.c): the barrier without a process; the exec chain without it. */
  private readonly markers = loadSyncMarkers();
  /** Barriers waiting on per-CPU markers, by token. */
  private markWaits = new Map<string, { cpus: Set<number>; resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  /** Marker lines seen (any token): a test's window on the kernel side's filter. */
  marksSeen = 0;
  /** How the last barrier was made: per-CPU markers (no process), or the taskset exec chain. */
  syncMode?: 'markers' | 'exec-chain';
  /** The online CPUs, read again at most every CPU_LIST_TTL_MS (barriers come many a second; CPUs are hot-plugged rarely). */
  private cpuList?: { cpus: Int32Array; at: number };

  private markCpus(): Int32Array {
    const now = Date.now();
    if (!this.cpuList || now - this.cpuList.at > CPU_LIST_TTL_MS) this.cpuList = { cpus: new Int32Array(onlineCpus()), at: now };
    return this.cpuList.cpus;
  }

  private constructor(private opts: SensorOptions) {
    super();
    const filter = opts.cgroupFilter;
    this.assembler = new RecordAssembler({
      keep: (cg, pid) => !filter || this.syncs.has(pid) || filter(cg),
      emit: (r) => this.onRecord(r),
      control: (c) => this.onControl(c),
    });
  }

  static available(): { ok: boolean; why?: string } {
    if (process.platform !== 'linux') return { ok: false, why: 'not Linux' };
    if (typeof process.getuid === 'function' && process.getuid() !== 0) return { ok: false, why: 'bpftrace needs root' };
    if (!findInPath('bpftrace')) return { ok: false, why: 'bpftrace not installed (Debian package `bpftrace`)' };
    if (!existsSync(BTF)) return { ok: false, why: `no kernel BTF at ${BTF}` };
    if (!existsSync(join(TRACEFS, 'events')) && !existsSync(TRACEFS)) return { ok: false, why: `no ${TRACEFS} mount point` };
    return { ok: true };
  }

  static async start(opts: SensorOptions = {}): Promise<BpftraceSensor> {
    const a = BpftraceSensor.available();
    if (!a.ok) throw new Error(`bpftrace sensor unavailable: ${a.why}`);
    const t = ensureTracefs();
    if (!t.ok) throw new Error(t.why);
    const s = new BpftraceSensor(opts);
    try {
      await s.launch();
    } catch (e) {
      // only a bpftrace that stopped before attaching can have refused the definitions (a compile error);
      // a start that timed out or failed to attach fails as it would have without them
      if (s.kernelTypes.from !== 'corral' || !(e as { beforeAttach?: boolean }).beforeAttach) throw e;
      dropCachedDefinitions(s.typesCachePath);
      // bpftrace refused Corral's definitions (a kernel or a bpftrace they do not fit): the old start, which lets it read BTF itself
      const old = new BpftraceSensor({ ...opts, kernelTypes: false });
      await old.launch();
      old.kernelTypes = { from: 'bpftrace', why: `bpftrace refused Corral's kernel type definitions: ${(e as Error).message.slice(0, 400)}` };
      return old;
    }
    return s;
  }

  /**
   * Where the program's kernel structure layouts came from: 'corral' (small definitions written from the
   * kernel's BTF, sensor-types.ts: the fast start) or 'bpftrace' (it read BTF itself; `why` says why).
   */
  kernelTypes: { from: 'corral' | 'bpftrace'; why?: string; cached?: boolean } = { from: 'bpftrace', why: 'not started' };
  /** The cache entry the definitions came from or went to (dropped when bpftrace refuses them). */
  private typesCachePath?: string;

  /** Whether bpftrace was started with the short tracefs event list (tracefs-event-list.ts). */
  shortEventList = false;
  /** The bpftrace process's id (undefined before the start or after it ended). */
  get pid(): number | undefined { return this.child?.exitCode === null ? this.child.pid : undefined; }
  /** Perf ring pages per CPU this sensor runs with (RuntimeOptions.perfRbPages, else the default). */
  get ringPagesPerCpu(): number { return this.opts.perfRbPages ?? defaultRbPages(); }
  /** The ring's size over all CPUs, in bytes (4 KiB pages). */
  get ringBytes(): number { return this.ringPagesPerCpu * 4096 * cpus().length; }

  /** The kernel type definitions to put before the program ('' when bpftrace is to read BTF itself). */
  private definitions(body: string): string {
    if (this.opts.kernelTypes === false) { this.kernelTypes = { from: 'bpftrace', why: 'turned off' }; return ''; }
    try {
      if (this.opts.definitions !== undefined) { this.kernelTypes = { from: 'corral' }; return this.opts.definitions; }
      const tracepoints = tracepointsOf(body) ?? [];
      const runDir = this.opts.runDir === false ? undefined : this.opts.runDir ?? process.env.CORRAL_RUN_DIR ?? '/run/corral';
      const r = cachedDefinitions(runDir, { btfPath: BTF, tracepoints, arch: process.arch },
        () => sensorDefinitions(KernelBtf.fromFile(BTF), bpftraceTracefsDir(), tracepoints));
      this.typesCachePath = r.path;
      this.kernelTypes = { from: 'corral', cached: r.from === 'cache' };
      return r.defs;
    } catch (e) {
      this.kernelTypes = { from: 'bpftrace', why: (e as Error).message };
      return '';
    }
  }

  private launch(): Promise<void> {
    const bin = this.opts.bpftracePath ?? findInPath('bpftrace') ?? 'bpftrace';
    const env = {
      ...process.env,
      BPFTRACE_STRLEN: String(BPF_STRLEN),
      BPFTRACE_PERF_RB_PAGES: String(this.ringPagesPerCpu),
      BPFTRACE_MAP_KEYS_MAX: '65536',
      BPFTRACE_NO_CPP_DEMANGLE: '1',
    };
    const t0 = process.hrtime.bigint();
    const hostNetns = (() => { try { return statSync('/proc/self/ns/net').ino; } catch { return 0; } })();
    // Its own process group: a terminal's Ctrl-C (SIGINT to the whole foreground group) must not stop
    // the sensor while Corral is still tearing sandboxes down and recording; Corral ends it (stop(),
    // and at exit below), and it dies of a broken pipe if Corral is killed outright.
    // (sock:sock_send_length, the DNS source-port join, exists from Linux 6.3: older kernels join DNS by time)
    const udpSource = this.opts.udpSource ?? existsSync(`${TRACEFS}/events/sock/sock_send_length`);
    const body = buildProgram({ hostNetns, udpSource, skipHostFor: this.opts.skipHostProcesses ? process.pid : undefined, hostChildren: hostChildren(this.taskset), ...(this.markers ? { syncPid: process.pid } : {}), pidNs: inChildPidNs() /* a container's: kernel pids translated to Corral's */ });
    const program = `${this.definitions(body)}${body}`;
    // bpftrace reads a short tracefs event list, answered from memory (tracefs-event-list.ts: ≈ 0.8 s less start-up)
    const listEnv = this.opts.shortEventList === false ? undefined : eventListEnv(program, eventsShim(), env);
    const child = spawn(bin, ['-f', 'json', '-B', 'line', '-e', program], { env: { ...env, ...listEnv }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    this.child = child;
    this.shortEventList = !!listEnv;
    const onExit = (): void => this.kill();
    process.once('exit', onExit);
    child.once('exit', () => process.off('exit', onExit));
    let attached = false;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (e: Error): void => { if (!settled) { settled = true; clearTimeout(timer); this.kill(); reject(e); } };
      const timer = setTimeout(() => fail(new Error(`bpftrace did not attach within ${this.opts.startTimeoutMs ?? 30000} ms: ${this.stderr.trim()}`)), this.opts.startTimeoutMs ?? 30000);
      this.readyHook = (c) => {
        if (c.type === 'attached') attached = true;
        if (c.type === 'ready' && attached && !settled) {
          settled = true;
          clearTimeout(timer);
          this.startupMs = Number(process.hrtime.bigint() - t0) / 1e6;
          this.sweepTimer = setInterval(() => this.assembler.sweep(), 1000);
          this.sweepTimer.unref();
          resolve();
        }
      };
      let buf = '';
      child.stdout!.setEncoding('latin1');
      child.stdout!.on('data', (d: string) => {
        buf += d;
        let i: number;
        let start = 0;
        while ((i = buf.indexOf('\n', start)) >= 0) {
          this.assembler.line(buf.slice(start, i));
          start = i + 1;
        }
        buf = buf.slice(start);
      });
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => {
        this.stderr = (this.stderr + d).slice(-8192);
        for (const l of d.split('\n')) {
          const m = /Lost (\d+) events/.exec(l);
          if (m) this.onControl({ type: 'lost', events: Number(m[1]) });
        }
      });
      child.on('error', (e) => fail(e));
      child.on('exit', (code, sig) => {
        const err = new Error(`bpftrace exited (code ${code}, signal ${sig}): ${this.stderr.trim().split('\n').filter((l) => !l.includes('RLIMIT_MEMLOCK')).slice(-5).join(' | ')}`);
        if (!settled) { fail(Object.assign(err, { beforeAttach: !attached })); return; }
        for (const w of [...this.syncs.values(), ...this.markWaits.values()]) { clearTimeout(w.timer); w.reject(err); }
        this.syncs.clear();
        this.markWaits.clear();
        if (!this.stopped) { this.emit('error', err); this.emit('exit', err); }
      });
    });
  }

  private readyHook?: (c: ControlLine) => void;

  private onControl(c: ControlLine): void {
    this.readyHook?.(c);
    if (c.type === 'mark') {
      this.marksSeen++;
      const w = this.markWaits.get(c.token);
      if (w && w.cpus.delete(c.cpu) && w.cpus.size === 0) { this.markWaits.delete(c.token); clearTimeout(w.timer); setImmediate(w.resolve); }
      return;
    }
    // (not an 'error': the owner decides what a loss means — the Runtime marks every open session's capture incomplete)
    if (c.type === 'lost' && c.events > 0) {
      this.lost += c.events;
      this.emit('lost', c.events, this.lost);
    }
  }

  private onRecord(r: SensorRecord): void {
    const w = this.syncs.get(r.pid);
    if (w) {
      if (r.kind === 'exec' && r.result === 'ok' && ++w.execs >= w.want) w.sawExec = true;
      if (r.kind === 'exit') w.sawExit = true;
      if (w.sawExec && w.sawExit) { this.syncs.delete(r.pid); clearTimeout(w.timer); setImmediate(w.resolve); }
      return;
    }
    this.emitted++;
    this.emit('record', r);
  }

  /**
   * Barrier: puts a marker in every online CPU's perf buffer (native/sync-markers.c: this thread pinned to each
   * in turn makes a prctl the program prints) and resolves once every one came back: each buffer is read in
   * order, so every record the kernel wrote on any CPU before the call has been emitted by then. Without the
   * addon, an exec chain that runs on every CPU (syncChain) and its exec and exit records do the same, slower.
   * Results-less execs older than the barrier are flushed as result 'unknown' only by the periodic sweep.
   */
  sync(timeoutMs = 10000): Promise<void> {
    if (!this.child || this.stopped) return Promise.reject(new Error('sensor not running'));
    if (this.markers) {
      const r = randomBytes(8);
      const lo = r.readUInt32LE(0), hi = r.readUInt32LE(4);
      const token = `${lo}:${hi}`;
      const cpus = this.markCpus();
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { this.markWaits.delete(token); reject(new Error('sensor sync timed out')); }, timeoutMs);
        this.markWaits.set(token, { cpus: new Set(), resolve, reject, timer });
      });
      // (registered before the markers are made: their lines cannot come back before this returns, but a wait must exist for them)
      const marked = this.markers(cpus, lo, hi);
      const w = this.markWaits.get(token)!;
      for (const c of marked) w.cpus.add(c);
      if (w.cpus.size > 0) { this.syncMode = 'markers'; return done; }
      this.markWaits.delete(token); clearTimeout(w.timer);
      // (no CPU could be pinned to: the exec chain below)
    }
    this.syncMode = 'exec-chain';
    const token = `corral-sensor-sync-${randomBytes(8).toString('hex')}`;
    return new Promise<void>((resolve, reject) => {
      const chain = syncChain(allowedCpus(), this.taskset, token);
      const m = spawn(chain.file, chain.args, { stdio: 'ignore' });
      const pid = m.pid;
      if (pid === undefined) { m.once('error', reject); return; }
      const timer = setTimeout(() => { this.syncs.delete(pid); reject(new Error('sensor sync timed out')); }, timeoutMs);
      this.syncs.set(pid, { pid, token, execs: 0, want: chain.want, sawExec: false, sawExit: false, resolve, reject, timer });
      // (a CPU taskset could not pin to — taken offline since — ends the chain early: said now, not at the timeout)
      m.once('exit', (code) => {
        if (code === 0 || !this.syncs.has(pid)) return;
        this.syncs.delete(pid); clearTimeout(timer);
        reject(new Error(`sensor sync marker exited with code ${code}`));
      });
    });
  }

  private kill(sig: NodeJS.Signals = 'SIGKILL'): void {
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null && c.pid) { try { process.kill(c.pid, sig); } catch { /* gone */ } }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) { this.assembler.sweep(Date.now(), true); return; }
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    // SIGKILL, not SIGINT: callers drain what they need with sync() first (sessions do on close).
    // The kernel then detaches the programs as the process's fds close, which still takes ~0.8 s
    // (an RCU grace period per tracepoint); nothing depends on it finishing, so stop() does not
    // wait for it (up to 50 ms) and the exiting process no longer holds Node's event loop open.
    this.kill('SIGKILL');
    c.unref();
    for (const st of [c.stdout, c.stderr]) { st?.removeAllListeners('data'); (st as unknown as { unref?: () => void } | null)?.unref?.(); }
    await Promise.race([exited, new Promise<void>((r) => setTimeout(r, 50))]);
    this.assembler.sweep(Date.now(), true);
  }

  /** Lines read from bpftrace so far (for throughput measurement). */
  get linesRead(): number { return this.assembler.lines; }
}
