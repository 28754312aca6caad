// Why: the per-process context that several sessions share: the cgroup layout, the
// egress gateway, the pool of network slots, the kernel sensor, the event store and the
// attribution index. It is an object (not module state), so tests and embedders can run
// several runtimes, each with its own sessions and policies. On start it also removes
// sandboxes that a crashed Corral left behind.
import { barrierCpuset, enableCpuset } from '../sandbox/cpu-confine.js';
import { ensureRunDir } from './run-dir.js';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { Cgroup, detectCgroupLayout, type CgroupLayout } from '../sandbox/cgroups.js';
import { buildSeccompFilter, encodeSeccompFilter } from '../sandbox/seccomp-filter.js';
import { NetSlotPool } from '../sandbox/net-slot-pool.js';
import { fileToolBinary, fwatchBinary, holderBinary } from '../sandbox/launcher.js';
import { FileWatch } from './file-writers.js';
import { destroyLeaseResources } from '../sandbox/net-slot.js';
import { GatewayRules, cleanupOrphanGatewayTables } from '../sandbox/gateway-rules.js';
import { GatewayRulesWatch } from '../sandbox/gateway-rules-watch.js';
import { cleanupOrphanSessionDirs } from '../sandbox/workspace-quota.js';
import { leaseSubnet, orphanedLeases } from '../sandbox/address-leases.js';
import { pidAlive } from '../util/pid-alive.js';
import { Gateway } from '../gateway/gateway.js';
import { raiseFileLimits } from '../sandbox/file-limits.js';
import { EventStore } from '../store/index.js';
import { type AddressClass, checkPolicy, type Policy } from '../policy/index.js';
import { classifyParsed } from '../policy/address-class.js';
import { parseAddr } from '../policy/ip.js';
import { HostAddressWatch } from './host-address-watch.js';
import { hostRangeList } from '../policy/address-class.js';
import type { Cidr } from '../policy/ip.js';
import { MiningNameMatcher } from '../alerts/mining-names.js';
import { AttributionIndex } from './attribution.js';
import { Session, type SessionOptions } from './session.js';
import { CaptureLoss } from './capture-loss.js';
import { BpftraceSensor, type SensorRecord } from '../sensors/bpftrace-sensor.js';
import { KmsgDropReader } from '../sensors/kmsg-drops.js';
import { nowNs, type CorralEvent } from '../events/event.js';
import { GpuMonitor } from '../gpu/gpu-monitor.js';
import { DetectionEngine, loadRuleSources, type RuleSet } from '../detect/engine/api.js';
import { readNamedFile } from '../util/read-named-file.js';

import { DiskWorkspacePool } from '../sandbox/workspace-disk-pool.js';
import { MountTemplate } from '../sandbox/mount-template.js';
import { DEFAULT_WORKSPACE_DISK } from '../policy/schema.js';
import { toolSpawner, type ToolSpawner } from './tool-spawn.js';

export interface RuntimeOptions {
  home?: string;
  runDir?: string;
  /** 'auto' starts the eBPF sensor when available (default); false disables it. */
  sensor?: boolean | 'auto';
  /** Network slots, and disk-backed workspaces of each of the two sizes last asked for, kept ready (default 2 each; 0 = none). */
  poolSize?: number;
  /**
   * Fresh network slots made ahead for the next sessions, one in place of each closed session's (which is always
   * destroyed: a slot is never handed to a second session), up to this many ready (default 64; 0 when poolSize is 0);
   * those beyond poolSize go after 30 s in which no session started.
   */
  slotRetain?: number;
  onEvent?: (ev: CorralEvent) => void;
  /** Extra rule files (YAML) that extend or override the built-in detection rules. */
  ruleFiles?: string[];
  /** Screen each tool call's command before it runs (default true). */
  commandCheck?: boolean;
  /** Period of CPU samples of live tool calls and their busiest processes, for the sustained-CPU rules (default 5000; 0 = off). */
  resourceSampleMs?: number;
  /**
   * How long the kernel's record of a connection's 4-tuple is kept for the gateway to find (default 120 000 ms);
   * a verdict later in a flow's life uses the attribution the flow got when it opened. Tests shorten it.
   */
  synTtlMs?: number;
  /** Interim flow records of open connections this often (default 10 000 ms; 0 = only when they close). */
  flowUpdateMs?: number;
  /** The sensor's perf ring, pages per CPU (default: ~128 MiB in all; see bpftrace-sensor.ts). Tests make it tiny to make it lose records. */
  perfRbPages?: number;
  /**
   * Start sandboxes from a template mount namespace without other sandboxes' mounts (default true;
   * src/sandbox/mount-template.ts). False: from the host's own, as before (benchmarks compare the two).
   */
  mountTemplate?: boolean;
  /** How long a session's close waits for the sensor to confirm its last records (ms, default 10 000). */
  sensorSyncTimeoutMs?: number;
  /**
   * Events a session stores (log, index, publication) before the bulk kinds — exec, exit, connect, dns, flow,
   * samples — are only counted (src/session/store-budget.ts): a flood must not fill the store's disk. Alerts,
   * their evidence and call boundaries are always stored. Default 1 000 000, or $CORRAL_SESSION_EVENT_CAP; at least 100.
   */
  sessionEventStoreCap?: number;
  /**
   * Close the runtime — every session's processes, sandboxes, namespaces, nft tables and workspace disks — when
   * the process gets SIGINT, SIGTERM or SIGHUP, then end by that signal as it would have. Off by default (a
   * library does not take the host program's signals); without it, a process that exits without `close()`
   * leaves them until the next `Runtime.start()` on the machine removes them, and a process that forgets
   * `close()` keeps running, as with an open server.
   */
  closeOnSignals?: boolean;
  /** Events a session keeps in memory (`Session.events`, the most recent; every event is in the store). Default 20 000; at least 100 (a smaller value is raised to 100). */
  sessionEventMemory?: number;
  /**
   * Connection-tracking entries all of this runtime's sandboxes may hold together (default: a quarter of the host's
   * nf_conntrack_max, at least 8 192; src/sandbox/nft-ruleset.ts). Each sandbox also holds at most 8 192.
   */
  conntrackTotal?: number;
}

/** The pre-execution command screen (src/detect/check.ts), loaded lazily: its parser is WebAssembly. */
export interface CommandScreen {
  check(text: string, opts: { tool?: 'bash' | 'python' }): import('../detect/check.js').CheckResult;
  /** Judges ready-made command records (a file tool's write, as `tee PATH`). */
  checkRecords(records: import('../detect/command/types.js').CommandRecord[]): import('../detect/check.js').CheckResult;
}

/** Warnings a runtime keeps for `warnings` (older ones were emitted as events and are dropped). */
export const MAX_WARNINGS = 1000;

/** What a Runtime emits: every event it records (all sessions), and each warning (a sensor lost records, a helper failed). */
export interface RuntimeEvents { event: [ev: CorralEvent]; warning: [message: string] }

export class Runtime extends EventEmitter<RuntimeEvents> {
  readonly layout: CgroupLayout;
  readonly cgroupRoot = 'corral';
  /**
   * Set when some online CPU is outside Corral's own cpuset (the sensor's barrier cannot mark it): the cpuset each
   * session's cgroup is confined to, those CPUs, and whether the cpuset controller could be turned on for them.
   */
  sessionCpuset?: { cpus: string; outside: number[]; enabled: boolean };
  readonly index: AttributionIndex;
  readonly sessions = new Map<string, Session>();
  readonly pools = new MiningNameMatcher();
  /** The host's own addresses, followed while the runtime runs (host-address-watch.ts). */
  readonly hostAddressWatch: HostAddressWatch;
  /** Period of live CPU samples per tool call and process (0 = off). */
  readonly resourceSampleMs: number;
  /** An address's class as the gateway judges it, by the live host addresses (their keys, not re-parsed per event). */
  classifyIp(ip: string): AddressClass {
    const a = parseAddr(ip);
    return a ? classifyParsed(a, this.hostAddressWatch.keys, this.hostRangeCidrs) : 'reserved';
  }
  /** Ranges that are the host's as a whole: Corral's sandbox subnet (every host-side veth address, also other Corral processes'). */
  readonly hostRanges: string[];
  readonly hostRangeCidrs: Cidr[];
  readonly runDir: string;
  seccompFile = '';
  /** Starts each tool call's launcher (posix_spawn through native/fast-spawn.c when built: no fork of this process). */
  readonly spawnTool: ToolSpawner = toolSpawner();
  /** This runtime's copy of native/corral-holder (pid 1 of its sandboxes). */
  holderFile = '';
  /** This runtime's copy of native/corral-file (bound into every sandbox for the file tools). */
  fileToolFile = '';
  /** An empty directory: the second lower layer of every sandbox's host-tree overlays (host-views.ts). */
  viewEmpty = '';
  /** `<pid>-<random>`: names this runtime's own files and cgroups. */
  readonly instance: string;
  /** Holds corral-enter's waiting parents (trusted), outside every tool call's cgroup. */
  readonly waiterCgroup: Cgroup;
  gateway!: Gateway;
  pool!: NetSlotPool;
  /** This runtime's nft table: its sandboxes' veths redirected to its gateway (gateway-rules.ts). */
  private gatewayRules?: GatewayRules;
  /** Puts the table back when another program changes it (a host firewall reload). */
  private rulesWatch?: GatewayRulesWatch;
  /** The mount namespace sandboxes start from (undefined: the host's; see mount-template.ts). */
  mountTemplate?: MountTemplate;
  /** Ready disk-backed workspaces (every Corral-made workspace is one by default). */
  diskPool!: DiskWorkspacePool;
  store!: EventStore;
  sensor?: BpftraceSensor;
  sensorError?: string;
  /** Events each session keeps in memory (RuntimeOptions.sessionEventMemory; at least 100). */
  /** Events each session stores before the bulk kinds are only counted (RuntimeOptions.sessionEventStoreCap). */
  get sessionEventStoreCap(): number {
    const env = Number(process.env.CORRAL_SESSION_EVENT_CAP);
    const v = this.opts.sessionEventStoreCap ?? (Number.isFinite(env) && env > 0 ? env : 1_000_000);
    return Math.max(100, Math.floor(v));
  }
  get sessionEventMemory(): number { return Math.max(100, Math.floor(this.opts.sessionEventMemory ?? 20_000)); }
  /** 'ebpf' while the kernel sensor runs, else 'off (why)': what summaries and health report. */
  get sensorState(): string { return this.sensor ? 'ebpf' : `off (${this.sensorError ?? 'disabled'})`; }
  /** How many times a dead sensor was restarted. */
  sensorRestarts = 0;
  /** Kernel records the sensor (all its restarts together) lost to a full perf ring. */
  sensorLost = 0;
  /** The runtime's warning about lost records, coalesced like the sessions' events (one a second at most). */
  private readonly lossWarning = new CaptureLoss(
    (p) => this.onError(`bpftrace lost ${p.records_lost} events (total ${this.sensorLost}); every open session records the loss (capture incomplete); raise perfRbPages or lower the load`),
    () => ({ ms: Date.now(), ns: '' }));
  private closing = false;
  private windowSweep?: NodeJS.Timeout;
  private kmsg?: KmsgDropReader;
  gpu?: GpuMonitor;
  /** Built-in + user detection rules, compiled once; one engine serves every session (windows are keyed per session/episode/call). */
  rules!: RuleSet;
  engine!: DetectionEngine;
  checker?: CommandScreen;
  private errors: string[] = [];

  private constructor(private opts: RuntimeOptions) {
    super();
    this.resourceSampleMs = opts.resourceSampleMs ?? 5000;
    this.index = new AttributionIndex(opts.synTtlMs);
    this.layout = detectCgroupLayout();
    this.runDir = opts.runDir ?? process.env.CORRAL_RUN_DIR ?? '/run/corral';
    this.hostAddressWatch = new HostAddressWatch();
    this.hostRanges = [leaseSubnet()];
    this.hostRangeCidrs = hostRangeList(this.hostRanges);
    // Per-runtime names: several runtimes in one process (a daemon's and a library user's, or a
    // test's) must never remove each other's waiter cgroup or seccomp file when one closes.
    this.instance = `${process.pid}-${randomBytes(3).toString('hex')}`;
    this.waiterCgroup = new Cgroup(this.layout, `${this.cgroupRoot}/${this.instance}-waiters`);
  }

  static async start(opts: RuntimeOptions = {}): Promise<Runtime> {
    if (process.getuid?.() !== 0) throw new Error('corral needs root for sandboxes (namespaces, cgroups, nftables); run `corral doctor` for details');
    const rt = new Runtime(opts);
    try {
      await rt.init();
    } catch (e) {
      await rt.close().catch(() => {});
      throw e;
    }
    if (opts.closeOnSignals) rt.closeOnSignals();
    return rt;
  }

  private signalHandlers: [NodeJS.Signals, () => void][] = [];

  /** RuntimeOptions.closeOnSignals: on the first of these signals, close, then end by it (a second one ends at once). */
  private closeOnSignals(): void {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const h = (): void => {
        this.removeSignalHandlers();
        const end = (): void => { process.kill(process.pid, sig); };
        // (the default action returns once no handler is left; a second signal meanwhile ends the process)
        void this.close().catch(() => {}).finally(() => { if (process.listenerCount(sig) === 0) end(); });
      };
      process.on(sig, h);
      this.signalHandlers.push([sig, h]);
    }
  }

  private removeSignalHandlers(): void {
    for (const [sig, h] of this.signalHandlers.splice(0)) process.off(sig, h);
  }

  private async init(): Promise<void> {
    // The store first: one that cannot record (a damaged index, an index lost next to its logs,
    // a read-only home) refuses the run before any cgroup, seccomp file or sensor exists.
    this.store = EventStore.open({ home: this.opts.home });
    ensureRunDir(this.runDir);
    await cleanupOrphans(this.layout, this.cgroupRoot, this.runDir);
    this.hostAddressWatch.start();
    new Cgroup(this.layout, this.cgroupRoot).create();
    // (Corral's cpuset narrower than the online CPUs: sessions are confined to it, so the barrier covers them; cpu-confine.ts.
    //  On a cgroup v1 host sandboxes stay in Corral's own v1 cpuset group, which holds them to its CPUs already.)
    const gap = this.layout.unifiedControllers ? barrierCpuset(this.layout.unified) : undefined;
    if (gap) this.sessionCpuset = { ...gap, enabled: enableCpuset([this.layout.unified, join(this.layout.unified, this.cgroupRoot)]) };
    this.waiterCgroup.create();
    this.seccompFile = join(this.runDir, `seccomp-${this.instance}.bpf`);
    writeFileSync(this.seccompFile, encodeSeccompFilter(buildSeccompFilter()), { mode: 0o644 });
    // A copy the sandbox uid can reach wherever Corral is installed (bwrap binds it as that uid).
    this.holderFile = join(this.runDir, `holder-${this.instance}`);
    copyFileSync(holderBinary(), this.holderFile);
    chmodSync(this.holderFile, 0o555);
    this.fileToolFile = join(this.runDir, `file-tool-${this.instance}`);
    copyFileSync(fileToolBinary(), this.fileToolFile);
    chmodSync(this.fileToolFile, 0o555);
    // (the second, empty lower layer of the overlays a sandbox sees the host's trees through: host-views.ts)
    this.viewEmpty = join(this.runDir, `view-empty-${this.instance}`);
    mkdirSync(this.viewEmpty, { mode: 0o555 });
    chmodSync(this.viewEmpty, 0o555);
    // The sensor (bpftrace compiles its program in its own process, ~2 s), the GPU probe and the
    // kernel-log reader start first and run while this process compiles rules and the grammar.
    const sensorP = this.startSensor();
    const gpuP = this.startGpu();
    const kmsgP = this.startKmsg();
    try {
      // user rule files are read once and shared by the engine and the command screen
      const userRules = (this.opts.ruleFiles ?? []).map((file) => ({ file, text: readNamedFile(file) }));
      this.rules = loadRuleSources(userRules, { builtins: true });
      this.engine = new DetectionEngine(this.rules);
      // Windows that aged out (an episode's, which outlive its sessions; a closed session's late flow
      // records) are dropped once a minute rather than kept until the engine's LRU cap.
      this.windowSweep = setInterval(() => this.engine.flush(BigInt(nowNs())), 60_000);
      this.windowSweep.unref();
      if (this.opts.commandCheck !== false) {
        try {
          const { CommandChecker } = await import('../detect/check.js');
          this.checker = CommandChecker.create({ extraRules: userRules });
          // The first screened command compiles the shell grammar's code on the event loop: pay it
          // here, before any sandbox's gateway timers run, not in some session's first call.
          this.checker.check('true', { tool: 'bash' });
        } catch (e) { this.onError(`command screening unavailable: ${(e as Error).message}`); }
      }
      for (const p of raiseFileLimits()) this.onError(p);
      this.gateway = await new Gateway({ flowUpdateMs: this.opts.flowUpdateMs }).start();
      this.gatewayRules = await GatewayRules.create(this.instance, { tcpPort: this.gateway.tcpPort, dnsPort: this.gateway.dnsPort, ctTotal: this.opts.conntrackTotal });
      this.rulesWatch = new GatewayRulesWatch(this.gatewayRules, (t) => {
        this.onError(`gateway rules: ${t.what} by another program on the host ("${t.line.slice(0, 200)}"); put back in ${t.restoredMs} ms`);
        for (const s of this.sessions.values()) s.onGatewayRulesRestored(t);
      }, (why) => this.onError(why));
      this.rulesWatch.start();
      const poolSize = this.opts.poolSize ?? 2;
      this.pool = new NetSlotPool(this.gatewayRules, poolSize, { retain: this.opts.slotRetain ?? (poolSize === 0 ? 0 : 64) });
      this.pool.fill();
      this.diskPool = new DiskWorkspacePool(this.runDir, this.opts.poolSize ?? 2);
      this.diskPool.fill(DEFAULT_WORKSPACE_DISK);
      if (this.opts.mountTemplate !== false) {
        this.mountTemplate = new MountTemplate(this.runDir, (why) => this.onError(why));
        await this.mountTemplate.start();
      }
    } finally {
      // whatever happened above, the helpers started are owned (and stopped by close())
      await Promise.allSettled([sensorP, gpuP, kmsgP]);
    }
    await sensorP;
  }

  /** Starts the eBPF sensor; rejects only when the caller demanded it (sensor: true) and it is unavailable. */
  private async startSensor(): Promise<void> {
    if (this.opts.sensor === false) return;
    const avail = BpftraceSensor.available();
    if (avail.ok) {
      try {
        this.sensor = await this.launchSensor();
      } catch (e) { this.sensorError = (e as Error).message; }
    } else {
      this.sensorError = avail.why;
    }
    if (this.opts.sensor === true && !this.sensor) throw new Error(`eBPF sensor unavailable: ${this.sensorError}`);
  }

  /** One bpftrace sensor, wired to this runtime and supervised: if it dies, it is restarted. */
  private async launchSensor(): Promise<BpftraceSensor> {
    const s = await BpftraceSensor.start({ cgroupFilter: (id) => this.index.knows(id), perfRbPages: this.opts.perfRbPages, skipHostProcesses: true, runDir: this.runDir });
    s.on('record', (r: SensorRecord) => this.onSensorRecord(r));
    s.on('lost', (n: number) => this.onSensorLoss(n));
    s.on('error', (e: Error) => this.onError(e));
    s.once('exit', (e: Error) => this.onSensorExit(s, e));
    return s;
  }

  /**
   * The sensor process died (killed, OOM, a bpftrace crash). A long-lived runtime (`corral serve`)
   * must not go on without exec/connect capture unnoticed: every open session records the gap
   * (kind 'sensor'), health shows the sensor as down, and it is restarted (0, 1, 5, 30 s, then every
   * 30 s) until it is back or the runtime closes.
   */
  private onSensorExit(s: BpftraceSensor, e: Error): void {
    if (this.closing || this.sensor !== s) return;
    this.sensor = undefined;
    this.sensorError = `stopped: ${e.message}`;
    const downNs = process.hrtime.bigint();
    for (const sess of this.sessions.values()) sess.onSensorState('down', { error: e.message });
    this.onError(`eBPF sensor stopped (${e.message}); restarting it`);
    void this.restartSensor(downNs, 0);
  }

  private async restartSensor(downNs: bigint, attempt: number): Promise<void> {
    const delay = [0, 1000, 5000][attempt] ?? 30_000;
    if (delay) await new Promise((r) => setTimeout(r, delay).unref());
    if (this.closing) return;
    try {
      const s = await this.launchSensor();
      if (this.closing) { await s.stop(); return; }
      this.sensor = s;
      this.sensorError = undefined;
      this.sensorRestarts++;
      const gapMs = Number(process.hrtime.bigint() - downNs) / 1e6;
      for (const sess of this.sessions.values()) sess.onSensorState('up', { gap_ms: Math.round(gapMs), restarts: this.sensorRestarts });
    } catch (err) {
      this.sensorError = `stopped; restart ${attempt + 1} failed: ${(err as Error).message}`;
      void this.restartSensor(downNs, attempt + 1);
    }
  }

  private async startGpu(): Promise<void> {
    this.gpu = await GpuMonitor.start({
      unifiedRoot: this.layout.unified,
      labelsForCgroupId: (id) => this.index.labels(id),
      policyFor: (a) => {
        const g = this.sessions.get(a.session)?.opts.policy.gpu;
        if (!g) return {};
        return { expected_processes: g.expected_processes, util_threshold_pct: g.util_threshold_pct, sustain_s: g.sustain_s, gpu_task: g.task ?? g.expected_processes.length > 0 };
      },
      onResource: (a, pid, payload) => this.sessions.get(a.session)?.onGpuResource(a, pid, payload),
      onDetection: (d) => this.sessions.get(d.attribution.session)?.onGpuDetection(d),
      onProblem: (m) => this.onError(m),
    }).catch((e) => { this.onError(e); return undefined; });
  }

  private async startKmsg(): Promise<void> {
    try {
      this.kmsg = await KmsgDropReader.start();
      this.kmsg.on('error', (e: unknown) => this.onError(e));
      this.kmsg.on('warning', (w: string) => this.onError(w));
      // (the kernel overwrote log records before they were read: dropped packets of unknown sandboxes went unrecorded)
      this.kmsg.on('overrun', () => { for (const s of this.sessions.values()) s.onDropLogOverrun(); });
      this.kmsg.on('drop', (d) => {
        for (const s of this.sessions.values()) if (s.leaseId === d.sandbox && s.ownsDropAt(d.tsUs)) s.onDrop(d);
      });
    } catch (e) { this.onError(e); }
  }

  /**
   * The sensor's perf ring overflowed and `n` records were dropped. Whose they were cannot be known,
   * so every open session records the loss (its capture is incomplete), and a warning says so.
   */
  private onSensorLoss(n: number): void {
    this.sensorLost += n;
    for (const sess of this.sessions.values()) sess.onSensorLoss(n);
    this.lossWarning.add(n);
  }

  private onSensorRecord(r: SensorRecord): void {
    if (r.kind === 'syn') { this.index.onSyn(r.saddr, r.sport, r.daddr, r.dport, { pid: r.pid, cgroupId: r.cgroupId, tsNs: r.tsNs }); return; }
    const l = this.index.labels(r.cgroupId);
    const s = l && this.sessions.get(l.session);
    if (s) s.onSensor(r);
  }

  private syncing?: { startedNs: bigint; done: Promise<boolean> };

  /**
   * Resolves once every sensor record produced before `afterNs` has been processed: true, or false
   * when the sensor did not confirm it in time (its sync marker was not seen; said once per runtime).
   * Concurrent callers share one sync when it started late enough to cover them.
   */
  async sensorBarrier(afterNs: bigint): Promise<boolean> {
    if (!this.sensor) return true;
    if (this.syncing && this.syncing.startedNs >= afterNs) return this.syncing.done;
    if (this.syncing) await this.syncing.done;
    if (this.syncing && this.syncing.startedNs >= afterNs) return this.syncing.done;
    const startedNs = process.hrtime.bigint();
    const done = this.sensor.sync(this.opts.sensorSyncTimeoutMs).then(() => true, (e: unknown) => {
      this.warnOnce('sensor-sync', `the kernel sensor did not confirm its records in time (${(e as Error).message}): sessions closed meanwhile are marked capture-incomplete`);
      return false;
    });
    this.syncing = { startedNs, done };
    void done.finally(() => { if (this.syncing?.done === done) this.syncing = undefined; });
    return done;
  }

  onEvent(ev: CorralEvent): void {
    this.opts.onEvent?.(ev);
    this.emit('event', ev);
  }

  onError(e: unknown): void {
    const msg = e instanceof Error ? e.message : String(e);
    this.errors.push(msg);
    // a long-lived runtime (corral serve, a trainer) keeps the recent ones: a warning that repeats per session must not grow memory for ever
    if (this.errors.length > 2 * MAX_WARNINGS) this.errors.splice(0, this.errors.length - MAX_WARNINGS);
    this.emit('warning', msg);
  }

  private warned = new Set<string>();

  /** A warning that would repeat for every session (a host without a feature): said once per runtime. */
  private fileWatchStarting?: Promise<FileWatch | undefined>;

  /** The runtime's file-writer watcher (file-writers.ts), started with the first session that needs it; undefined when unavailable. */
  fileWatch(): Promise<FileWatch | undefined> {
    this.fileWatchStarting ??= FileWatch.start(fwatchBinary(), (e) => this.warnOnce('fwatch', e.message));
    return this.fileWatchStarting;
  }

  warnOnce(key: string, msg: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.onError(msg);
  }

  /** The most recent warnings (at least the last MAX_WARNINGS); every one is also emitted as a 'warning' event. */
  get warnings(): string[] { return this.errors; }

  createSession(opts: SessionOptions): Promise<Session> {
    // (a library caller's mistakes get a clear error, not a sandbox that cannot run or a TypeError deep inside)
    if (this.closing) return Promise.reject(new Error('createSession: this runtime is closed'));
    if (typeof opts !== 'object' || opts === null || typeof opts.policy !== 'object' || opts.policy === null) {
      return Promise.reject(new TypeError('createSession: opts.policy is required (e.g. resolvePolicy(\'default\') or loadPolicyFile(path))'));
    }
    // (a policy built in code is checked as a file's would be: a PolicyError naming the field, never a sandbox other than the one written)
    let policy: Policy;
    try { policy = checkPolicy(opts.policy, `policy ${typeof (opts.policy as { name?: unknown }).name === 'string' ? (opts.policy as { name: string }).name : 'object'} (createSession)`); } catch (e) { return Promise.reject(e); }
    return Session.create(this, { ...opts, policy });
  }

  async close(): Promise<void> {
    this.closing = true;
    this.removeSignalHandlers();
    this.hostAddressWatch.close();
    clearInterval(this.windowSweep);
    await Promise.allSettled([...this.sessions.values()].map((s) => s.close()));
    // (each part may be missing when start() failed half-way)
    // (the watch first: the pool's slots leaving the set are not someone else's changes)
    this.rulesWatch?.stop();
    await this.mountTemplate?.settled();
    this.mountTemplate?.close();
    await this.pool?.close();
    await this.gatewayRules?.close();
    await this.diskPool?.close();
    await this.gateway?.close();
    this.kmsg?.stop();
    this.gpu?.stop();
    (await this.fileWatchStarting)?.close();
    await this.sensor?.stop();
    this.lossWarning.flush();
    this.store?.close();
    await this.waiterCgroup.remove();
    rmSync(this.seccompFile, { force: true });
    if (this.holderFile) rmSync(this.holderFile, { force: true });
    if (this.fileToolFile) rmSync(this.fileToolFile, { force: true });
    if (this.viewEmpty) rmSync(this.viewEmpty, { force: true, recursive: true });
  }
}

/**
 * Removes sandboxes whose owning Corral process is gone: net slots by lease, session dirs (and their
 * capped workspace mounts), seccomp files and cgroups by owner pid.
 */
export async function cleanupOrphans(layout: CgroupLayout, root: string, runDir?: string): Promise<number> {
  let n = 0;
  for (const lease of orphanedLeases()) { await destroyLeaseResources(lease); n++; }
  n += await cleanupOrphanGatewayTables();
  if (runDir) {
    n += await cleanupOrphanSessionDirs(runDir);
    // seccomp programs, holder and file-tool copies of runtimes whose process is gone (killed `corral run`s)
    for (const f of readdirSync(runDir)) {
      const m = /^seccomp-(\d+)(?:-[0-9a-f]+)?\.bpf$/.exec(f) ?? /^(?:holder|file-tool|view-empty)-(\d+)-[0-9a-f]+$/.exec(f);
      if (m && !pidAlive(Number(m[1]))) { rmSync(join(runDir, f), { force: true, recursive: true }); n++; }
    }
  }
  // Every hierarchy is looked at, not only the unified one: on a hybrid host a v1 controller's
  // directory can outlive the unified one (a call's dir busy at teardown) and must go too.
  const names = new Set<string>();
  for (const h of [layout.unified, ...Object.values(layout.v1)]) {
    const base = h ? join(h, root) : '';
    if (!base || !existsSync(base)) continue;
    for (const e of readdirSync(base, { withFileTypes: true })) if (e.isDirectory()) names.add(e.name);
  }
  for (const name of names) {
    const pid = Number(name.split('-')[0]);
    if (!pid || pidAlive(pid)) continue;
    await new Cgroup(layout, `${root}/${name}`).remove();
    n++;
  }
  return n;
}


export type { Policy };
