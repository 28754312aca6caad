// Why: a session is one sandbox that runs an episode's tool calls in order. It owns the
// cgroup tree (session + one child per tool call), the namespace holder (bwrap), the
// gateway registration and the event stream, and it turns sensor records and gateway
// reports into attributed events and alerts. Threats handled here: background processes
// escaping attribution (each call's processes are born in the call's cgroup), runaway
// calls (timeout kills the call's cgroup), and leftovers (close() kills and removes all).
import { confineCgroup } from '../sandbox/cpu-confine.js';
import { canonicalExe } from '../detect/engine/fields.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { ResourceSampler } from './resource-sampler.js';
import { limitAlerts } from './limit-alerts.js';
import { CaptureLoss, captureShortfalls, captureStatus, type CaptureStatus } from './capture-loss.js';
import { StoreBudget } from './store-budget.js';
import { viewRefusal } from '../sandbox/host-views.js';
import { toolEnv } from './tool-env.js';
import { SessionFiles } from './session-files.js';
import { toolCallSpecProblem, type InternalCallSpec, type ToolCallResult, type ToolCallSpec } from './tool-call-spec.js';
import { DetectionGroups } from './session-detections.js';
import { PersistenceLook } from './session-persistence.js';
import type { CallState } from './call-state.js';
import { ATTRIBUTION_WAIT_MS, NetworkReports } from './session-network.js';
import { SessionSetupError } from './session-setup-error.js';
import { closeSync, openSync, mkdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { randomBytes } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import { Cgroup, type CgroupStats } from '../sandbox/cgroups.js';
import { buildBwrapArgs, HOLDER_PATH, tmpScratchBytes } from '../sandbox/bwrap-args.js';
import { SANDBOX_GID, SANDBOX_UID } from '../sandbox/sandbox-ids.js';
import { policyDigest } from '../policy/policy-digest.js';
import { SessionBusyError, type RunningCall } from './session-busy-error.js';
import { buildEnterArgv } from '../sandbox/launcher.js';
import type { FileWriter, FileWriters } from './file-writers.js';
import { setRecent } from './recent-map.js';
import { shellJoin } from '../util/shell-join.js';
import { workspacePathProblem } from '../sandbox/host-workspace.js';
import type { NetSlot } from '../sandbox/net-slot.js';
import { compilePolicy, type Policy, type CompiledPolicy } from '../policy/index.js';
import type { SandboxNet } from '../gateway/types.js';
import { alertForDeniedSocket, alertForUnixOutside, alertForDrop, type AlertDraft } from '../alerts/network-alerts.js';
import { monoToEpochNs, nowNs, SEVERITY_RANK, type AlertCategory, type AlertEvent, type AlertLayer, type AlertPayload, type Attribution, type CorralEvent, type EventKind, type Severity } from '../events/event.js';
import type { CommandScreen, Runtime } from './runtime.js';
import type { SensorRecord } from '../sensors/bpftrace-sensor.js';
import { execOutcome } from '../sensors/exec-outcome.js';
import type { DropRecord } from '../sensors/kmsg-drops.js';
import { buildGpuDeviceArgs, GpuGrantError, insertGpuArgs, type GpuDevicePlan } from '../gpu/gpu-devices.js';
import type { GpuDetection } from '../gpu/gpu-detect.js';
import type { CheckResult } from '../detect/check.js';
import { combineChecks, fileCallProblem, fileCallResult, fileToolCallSpec, sandboxPath, screenEditedLines, screenFileCall, type FileCallResult, type FileCallSpec } from './file-tools.js';
import { PREVIEW_MAX, previewEdit } from './edit-preview.js';
import { readPlainFile } from './plain-file.js';
import { BinaryCopies } from './binary-copies.js';
import { ProcessImages } from './process-images.js';
import { FedShells } from './fed-shells.js';
import { ProcessParents } from './process-parents.js';
import { backgroundCompute, expectationsOf, processSamplePayload, type BackgroundProc, type ComputeExpectations } from './background-compute.js';
import { pipeEnds, shellRelays } from './pipe-relays.js';
import { type Verdict, verdictOf } from '../events/verdict.js';
import { CodeOrigins, codeFrom, coCulpritOf, coCulpritText, pycSource, type CodeOrigin } from './code-origin.js';
import { interpreterScript, readShellArgv } from './shell-argv.js';
import { SHELLS } from '../detect/command/programs.js';
import type { ExecRecord } from '../sensors/bpftrace-records.js';
import { isLoader, loaderTarget } from './loader-target.js';
import type { ToolChild } from './tool-spawn.js';

/** How long a closing session waits for the flow records of the connections its killed processes held. */
const FLOW_RECORD_WAIT_MS = 2000;
/** Pipe-fed shells looked at again per resource sample, at most (see Session.pipeShells). */
const MAX_PIPE_SHELLS = 32;


export { SessionSetupError } from './session-setup-error.js';
export { realPathBelow } from './session-files.js';

export { SANDBOX_UID, SANDBOX_GID } from '../sandbox/sandbox-ids.js';

export interface SessionOptions {
  policy: Policy;
  run?: string;
  episode?: string;
  labels?: Record<string, string>;
  /** Host directory to use as /workspace (default: policy's, else a fresh temp dir). */
  workspace?: string;
  /** Host directory holding an image's root filesystem, shown read-only as / (default: the policy's filesystem.root, else the host's). */
  root?: string;
  /** Where the workspace appears in the sandbox, its working and home directory (default: the policy's filesystem.workspace_path, /workspace). */
  workspacePath?: string;
  /** The image root as a copy-on-write layer of this session (default: the policy's filesystem.root_writable). */
  rootWritable?: boolean;
  /** The environment the policy's filesystem.env_allow variables are taken from (default: this process's):
   * `corral serve` passes its client's, so a call through the daemon sees the caller's LANG, TERM, … */
  parentEnv?: Record<string, string>;
}

export { toolCallSpecProblem, type InternalCallSpec, type ToolCallResult, type ToolCallSpec } from './tool-call-spec.js';

/** The UTF-8 encoding of U+FFFD, the replacement character. */
const REPLACEMENT_UTF8 = Buffer.from('\ufffd');

/** Why an AbortSignal cancelled a call: its reason's message or text, else 'aborted'. */
function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  const text = r instanceof Error ? (r.name === 'AbortError' ? 'aborted' : r.message) : typeof r === 'string' ? r : 'aborted';
  return text || 'aborted';
}

/** A tool call as it runs: its text always set (an argv's, shell-quoted, when the caller gave none). */
type RunSpec = InternalCallSpec & { command: string };

/** A call's result before its verdict is read from its alerts (exec adds it). */
type CallOutcome = Omit<ToolCallResult, 'verdict'>;

/** How long the output pipes may stay open after a call's command exited, before a background process is taken to hold them. */
const OUTPUT_GRACE_MS = 200;
/** The longest a call waits for its pipes' end of file once no process of it runs (only an fd passed to another call's process holds them that long). */
const OUTPUT_DRAIN_MAX_MS = 5000;



export class Session {
  readonly id = randomBytes(6).toString('hex');
  readonly compiled: CompiledPolicy;
  readonly cgroup: Cgroup;
  /**
   * This session's most recent events, in the order they were recorded: at most
   * `RuntimeOptions.sessionEventMemory` (default 20 000) of them, the oldest let go first — a session
   * that lives for hours (a build of 50 000 processes) must not hold its whole history in the
   * runtime's memory. Every event is in the store (`rt.store.query({ session: s.id })`);
   * `eventsDropped` counts those no longer here.
   */
  readonly events: CorralEvent[] = [];
  /** Events let go from `events` (still in the store, unless the store budget held them back). */
  eventsDropped = 0;
  /** Events this session may store before the bulk kinds are only counted (RuntimeOptions.sessionEventStoreCap). */
  private readonly storeBudget: StoreBudget;
  readonly alertEvents: AlertEvent[] = [];
  /** The sandbox's files: its root, workspace, mounts and session directory (session-files.ts). */
  private readonly files: SessionFiles;
  /** Where the workspace appears in the sandbox: the agent's working and home directory. */
  readonly wsPath: string;
  private seq = 0;
  private stepCounter = 0;
  private calls = new Map<string, CallState>();
  private current?: CallState;
  private holder?: ChildProcess;
  /** Persistence planted in the workspace or a writable root, blamed on its writer's call (session-persistence.ts). */
  private readonly persistence: PersistenceLook;
  private nsInitPid = 0;
  private sampler = new ResourceSampler();
  private sampleTimer?: NodeJS.Timeout;
  private net?: SandboxNet;
  /** Programs recognised by their bytes (a renamed copy of bash or nc): see binary-copies.ts. */
  private readonly copies = new BinaryCopies(() => (this.nsInitPid ? `/proc/${this.nsInitPid}/root` : undefined), () => this.wsPath);
  /** pid → the program it runs and the watched program its file copies, for its later events (process-images.ts). */
  private readonly images = new ProcessImages();
  /** Shells reading commands from a pipe or pty, joined to a parent that connected out (a relayed reverse shell). */
  private readonly fedShells = new FedShells();
  /**
   * Fed shells on pipes with no feeder at their exec, looked at again at each resource sample: a relay beside the
   * shell may open its FIFOs only after the shell started (`cat in | sh | cat >out & python3 relay.py`), when the
   * exec-time walk found nobody holding them (session 44). At most MAX_PIPE_SHELLS at once.
   */
  private readonly pipeShells = new Map<number, { pin: number; pout: number; skip: number[]; attr: Attribution; name: string }>();
  /** The call that wrote the code each process runs, when it is not the process's own call (code-origin.ts). */
  private readonly origins = new CodeOrigins();
  /** Each exec'd process's parent, kept past its end (process-parents.ts). */
  private readonly parents = new ProcessParents();
  /** The per-process CPU rule's test of an expected process, for the cross-call background sum (background-compute.ts). */
  private readonly expectedCompute: ComputeExpectations;
  /** Who writes the workspace's files (file-writers.ts); undefined when not watched. */
  private writers?: FileWriters;
  private writersStarting?: Promise<FileWriters | undefined>;
  /** The call of a recently seen process (the kernel sensor's exec and exit records): a file's writer that exited before its cgroup was read. */
  private readonly pidCall = new Map<number, string>();
  private pending = new Set<Promise<unknown>>();
  /** Proxied connections whose flow record has not been reported yet (see close()). */
  private readonly openFlows = new Set<Promise<void>>();
  /** The gateway's and the kernel's network reports, attributed (session-network.ts). */
  private readonly netReports: NetworkReports;
  private closed = false;
  /** The tool call (exec or file) running now, if any: another is refused (SessionBusyError). */
  private inCall?: RunningCall;
  /** Set once close() has released the session's log fd: an event that still comes (a flow record later than the close's wait for it) is written at once and the fd released again. */
  private logReleased = false;
  /** Set when policy.response.kill with scope 'session' stopped the episode: later calls are refused. */
  private stoppedReason?: string;
  private stats: CgroupStats = {};
  private gpuEnv: Record<string, string> = {};
  /** Rule-engine detections and screen findings, grouped into alerts per call and category (session-detections.ts). */
  private readonly detections: DetectionGroups;
  /** The cgroup ids this session registered in the runtime's attribution index (forgotten at close). */
  private readonly cgroupIds: string[] = [];
  /** Kernel records the sensor lost while this session was open, written to its log at most once a second. */
  private readonly loss = new CaptureLoss((p) => this.emit('sensor', p), () => ({ ms: Date.now(), ns: nowNs() }));
  /** Times the kernel sensor went down while this session was open. */
  private sensorGaps = 0;
  /** No kernel sensor ran when the session opened. */
  private sensorOff = false;
  private sensorUnsynced = false;
  /** Online CPUs the sensor's barrier cannot mark and this session's processes could run on (cpu-confine.ts). */
  private barrierGap?: number[];
  /** Execs not compared with the watched programs because the copy check's hash budget was spent (binary-copies.ts). */
  /** Per-exec shortfalls of the capture (captureStatus). */
  private readonly shortfalls = { copiesUnchecked: 0, argvCut: 0, dropLogOverruns: 0 };
  /** Set once session.end is written: losses after it are no longer this session's. */
  private ended = false;
  /**
   * Set once session.start is written. A session refused while being set up (a mount that does not exist, a GPU
   * grant the host cannot honour) writes nothing: a log holding only its session.end read as a clean, complete
   * session and `corral report` showed it instead of the last real one (a review, session 40).
   */
  private startWritten = false;

  private constructor(private rt: Runtime, private slot: NetSlot, readonly opts: SessionOptions) {
    this.storeBudget = new StoreBudget(rt.sessionEventStoreCap);
    // (without rules no rule sums anything: nothing is counted)
    const rules = rt.rules as Runtime['rules'] | undefined;
    this.expectedCompute = rules ? expectationsOf(rules, (exe) => this.inWorkspace(exe)) : { expected: () => true };
    this.compiled = compilePolicy(opts.policy, { hostKeys: rt.hostAddressWatch.keys, hostRanges: rt.hostRanges });
    this.wsPath = opts.workspacePath ?? opts.policy.filesystem.workspace_path;
    const wsWhy = workspacePathProblem(this.wsPath);
    if (wsWhy) throw new SessionSetupError(`filesystem.workspace_path ${this.wsPath}: ${wsWhy}`);
    this.files = new SessionFiles(rt, opts, this.wsPath, slot.lease.index);
    this.cgroup = new Cgroup(rt.layout, `${rt.cgroupRoot}/${process.pid}-${this.id}`);
    this.detections = new DetectionGroups({
      engine: { process: (ev) => rt.engine.process(ev) }, onError: (e) => rt.onError(e),
      respond: (attr, category, severity, layer, why) => this.respond(attr, category, severity, layer, why),
      busy: () => this.pending.size > 0, holds: (call) => this.netReports.holds(call),
      alertEvents: this.alertEvents, events: this.events, eventsDropped: () => this.eventsDropped,
      connectEvents: (call) => this.rt.store.query({ session: this.id, tool_call: call, kind: ['connect'] }),
      alert: (attr, d, evidence, action, extra) => this.alert(attr, d, evidence, action, extra),
    });
    this.persistence = new PersistenceLook({
      wsPath: this.wsPath, files: this.files, calls: this.calls, pidCall: this.pidCall,
      writers: () => this.writers, sensorOn: () => !!this.rt.sensor, drainSensor: () => this.settle(true).catch(() => false),
      emit: (kind, payload, o) => this.emit(kind, payload, o),
      alert: (attr, d, evidence, action, extra) => this.alert(attr, d, evidence, action, extra),
      attr: (state) => this.attr(state),
    });
    // (a gateway report waits up to ≈ 2 s for a late kernel record before it is attributed: a group holds that long more)
    const hold = { busy: () => this.pending.size > 0, maxHoldMs: ATTRIBUTION_WAIT_MS + 1000 };
    this.netReports = new NetworkReports({
      sessionId: this.id, rt, lease: slot.lease, closed: () => this.closed,
      emit: (kind, payload, o) => this.emit(kind, payload, o),
      alert: (attr, d, evidence, action, extra) => this.alert(attr, d, evidence, action, extra),
      attrOf: (cgroupId) => this.attrFromCgroup(cgroupId),
      inferred: (atNs) => this.inferred(atNs),
      copyOf: (pid) => this.images.of(pid)?.copy,
    }, hold);
  }

  /** The image root (filesystem.root) on the host, when the session runs in one. */
  get imageHost(): string | undefined { return this.files.imageHost; }
  /** The size of disk workspace this session asked the runtime's pool for (it refills after the start). */
  get diskBytes(): number | undefined { return this.files.diskBytes; }
  /** Emits the rule-engine detections held back as alerts (see DetectionGroups.flush): 'all', a tool call id, or false. */
  flushDetections(force: string | boolean = 'all'): void { this.detections.flush(force); }

  get run(): string | undefined { return this.opts.run; }
  get episode(): string | undefined { return this.opts.episode; }
  get sandboxIp(): string { return this.slot.lease.sandboxIp; }
  get leaseId(): string { return this.slot.lease.id; }
  /**
   * When this session took its network slot (monotonic ns). A slot is never reused, but its lease is: a later slot may
   * get the same veth name, and what a veth of that name did before is not this session's.
   */
  private readonly slotTakenNs = process.hrtime.bigint();

  /**
   * Whether a packet the kernel logged on this session's veth at `tsUs` (µs of the monotonic clock, as the kmsg
   * reader stamps it once calibrated) is this session's: not when it was logged before the session took the slot
   * (an earlier session's flood on a veth of the same name, read late).
   */
  ownsDropAt(tsUs: number | undefined): boolean {
    return tsUs === undefined || BigInt(Math.round(tsUs)) * 1000n >= this.slotTakenNs;
  }
  /** This sandbox's own host uid and gid (seen inside as 65534): see sandbox/sandbox-ids.ts. */
  get hostId(): number { return this.files.hostId; }
  /** The host directory the agent's /workspace is (for a host workspace: that directory, not its idmapped view). */
  get workspaceDir(): string { return this.files.hostWorkspace ?? this.files.workspace; }

  static async create(rt: Runtime, opts: SessionOptions): Promise<Session> {
    const slot = await rt.pool.acquire();
    let s: Session;
    try {
      s = new Session(rt, slot, opts);
    } catch (e) {
      // (a policy that does not compile: the slot must not outlive the refusal; destroyed like any other)
      rt.pool.release(slot);
      throw e;
    }
    try {
      await s.start();
    } catch (e) {
      await s.close().catch(() => {});
      throw e;
    } finally {
      // (the disk workspace pool refills once this start is over, not during it: a moment after the
      // caller has its session, so that not even the refill's process spawns delay it)
      const bytes = s.diskBytes;
      if (bytes !== undefined) rt.diskPool.fillSoon(bytes);
    }
    return s;
  }

  private limits() {
    const r = this.opts.policy.resources;
    return { cpus: r.cpus, memoryBytes: r.memory, pids: r.pids };
  }

  /** The policy's GPU grant on this host's GPUs (undefined: none granted); a grant it cannot honour is a SessionSetupError. */
  private gpuPlan(): GpuDevicePlan | undefined {
    const grant = this.opts.policy.gpu.devices;
    if (grant === 'none') return undefined;
    try {
      return buildGpuDeviceArgs({ grant, hostGpus: this.rt.gpu?.hostGpus ?? [] });
    } catch (e) {
      if (e instanceof GpuGrantError) throw new SessionSetupError(`gpu.devices: ${e.message}`);
      throw e;
    }
  }

  private async start(): Promise<void> {
    const t0 = process.hrtime.bigint();
    // A GPU grant this host cannot honour is the asker's to fix (exit 2, HTTP 400), found before anything is set up.
    const gpuPlan = this.gpuPlan();
    this.cgroup.create(this.limits());
    const cpuset = this.rt.sessionCpuset;
    if (cpuset && !(cpuset.enabled && confineCgroup(this.cgroup.unifiedDir, cpuset.cpus))) this.barrierGap = cpuset.outside;
    this.cgroupIds.push(this.cgroup.id());
    this.rt.index.registerCgroup(this.cgroupIds[0]!, { session: this.id, run: this.run, episode: this.episode, cgroup: this.cgroup.path });
    this.rt.sessions.set(this.id, this);
    const { resolv, hosts, empty } = this.files.createDir(this.id, this.slot.lease.hostIp);
    const { hide, mounts } = await this.files.prepare();
    // Who writes the workspace's files (file-writers.ts): started now, alongside the sandbox, and in
    // place before the baseline below (nothing the agent writes is missed between them).
    this.writersStarting = this.rt.fileWatch().then((w) => w?.watch(this.files.workspace, this.wsPath));
    await this.files.showMounts(mounts);

    this.net = {
      id: this.id, ip: this.slot.lease.sandboxIp, gatewayIp: this.slot.lease.hostIp, policy: this.compiled,
      observe: this.opts.policy.mode === 'observe', names: new Map(),
      report: (r) => this.track(this.netReports.report(r)),
      track: (p) => this.track(p),
      flowOpened: (p) => { this.openFlows.add(p); void p.finally(() => this.openFlows.delete(p)); },
    };
    this.rt.gateway.register(this.net);

    // The holder is pid 1, not dumpable, under the tool calls' seccomp program (fd 3 of bwrap).
    // (an empty directory in the session's own: corral-enter mounts the sandbox's capped devpts on it)
    const ptsDir = join(this.files.dir, 'pts');
    mkdirSync(ptsDir, { mode: 0o755 });
    let bwrap = buildBwrapArgs({ workspace: this.files.workspace, workspacePath: this.wsPath, resolvConf: resolv, hostsFile: hosts, emptyFile: empty, hide, mounts, ...(this.files.image ? { image: this.files.image, imageWritable: this.files.rootUpper !== undefined } : {}), holderBinary: this.rt.holderFile, fileToolBinary: this.rt.fileToolFile, seccompFd: 3, inside: { uid: SANDBOX_UID, gid: SANDBOX_GID }, scratchBytes: tmpScratchBytes(this.opts.policy.resources.memory), ptsDir }, [HOLDER_PATH]);
    // Only granted GPUs become visible.
    if (gpuPlan) {
      bwrap = insertGpuArgs(bwrap, gpuPlan.args);
      this.gpuEnv = gpuPlan.env;
    }
    const argv = buildEnterArgv(
      { cgroupProcs: this.cgroup.procsFiles(), netns: this.slot.netnsPath, uid: this.hostId, gid: this.hostId, ...this.files.launchMounts(mounts), ...this.files.views(mounts), devpts: { at: ptsDir, max: this.opts.policy.resources.ptys } },
      bwrap,
    );
    const seccompFd = openSync(this.rt.seccompFile, 'r');
    let h: ChildProcess;
    try {
      h = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe', seccompFd], env: { PATH: '/usr/bin:/bin' } });
    } finally {
      closeSync(seccompFd);
    }
    this.holder = h;
    // Only the start of what the holder's side says is kept: a sandbox must not grow Corral's memory.
    let err = '';
    h.stderr!.on('data', (d) => {
      if (err.length < 8192) err += String(d).slice(0, 8192 - err.length);
      // (said by corral-enter before bwrap runs: a tree the kernel would not overlay, bound as it lies)
      const refused = viewRefusal(String(d));
      if (refused) this.rt.warnOnce('host-view', `${refused.path}: shown as it lies on the host, so unix sockets and fifos in it are those host processes and other sandboxes use (an overlay of it was refused: ${refused.why})`);
    });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`sandbox did not start within 10s: ${err}`)), 10_000);
      h.once('exit', (code) => { clearTimeout(t); reject(new Error(`sandbox holder exited (${code}): ${err.trim()}`)); });
      h.stdout!.once('data', () => { clearTimeout(t); resolve(); });
      h.stdin!.write('r\n');
    });
    h.removeAllListeners('exit');
    h.on('exit', () => { if (!this.closed) this.emit('session.end', { reason: 'holder exited unexpectedly', stderr: err.slice(0, 2000) }); });
    const children = readFileSync(`/proc/${h.pid}/task/${h.pid}/children`, 'utf8').trim().split(/\s+/).map(Number);
    this.nsInitPid = children[0] ?? 0;
    if (!this.nsInitPid) throw new Error('could not find the sandbox namespace init process');
    this.writers = await this.writersStarting;
    if (this.writers) this.writers.onCodeOpen = (opener, rel) => this.codeOpened(opener, rel);
    // (what a host workspace already holds is not the agent's doing)
    this.persistence.baseline();
    const every = this.rt.resourceSampleMs;
    if (every > 0) this.sampleTimer = setInterval(() => this.sampleResources(), every).unref();
    this.sensorOff = !this.rt.sensor;
    this.startWritten = true;
    this.emit('session.start', {
      // (the digest of the effective policy — after extends, --allow, mounts — tells two policies of one name apart)
      policy: this.opts.policy.name, policy_digest: policyDigest(this.opts.policy), mode: this.opts.policy.mode, sandbox_ip: this.sandboxIp, ...(this.files.imageHost ? { root: this.files.imageHost, root_writable: this.files.rootUpper !== undefined } : {}),
      workspace: this.files.workspaceFacts(),
      labels: this.opts.labels ?? {}, startup_ms: Number(process.hrtime.bigint() - t0) / 1e6,
      sensor: this.rt.sensorState,
    });
  }

  /**
   * Runs one tool call inside the session and waits for its main process to exit. One call at a
   * time: a call started while another runs is refused with SessionBusyError (session-busy-error.ts).
   */
  async exec(spec: ToolCallSpec): Promise<ToolCallResult> {
    return this.execCall(spec, false);
  }

  /** A tool call; `internal`: one of Corral's own (a file tool's), which may carry InternalCallSpec's options. */
  private async execCall(spec: InternalCallSpec, internal: boolean): Promise<ToolCallResult> {
    if (this.closed) throw new Error('session is closed');
    this.assertIdle();
    // (as fetch does: a signal aborted before the call rejects with its reason, and nothing is run or recorded)
    if (spec?.signal?.aborted) throw spec.signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
    this.inCall = {};
    try {
      const r = await this.runCall(spec, internal);
      return { ...r, verdict: verdictOf(r.alerts) };
    } finally { this.inCall = undefined; }
  }

  /** Refuses a second tool call while one runs (before it takes a step number or records anything). */
  private assertIdle(): void {
    if (this.inCall) throw new SessionBusyError(this.id, this.inCall);
  }

  private async runCall(given: InternalCallSpec, internal: boolean): Promise<CallOutcome> {
    const { step, toolCallId } = this.nextCall(given, internal);
    // (an argv without its text: the text recorded and screened is the argv, shell-quoted)
    const spec: RunSpec = { ...given, command: given.command ?? shellJoin(given.argv!) };
    this.inCall = { step, toolCallId };
    if (this.stoppedReason) return this.refuseStopped(spec, step, toolCallId);
    const cg = new Cgroup(this.rt.layout, `${this.cgroup.path}/call-${this.calls.size + 1}`).create(this.limits());
    const state: CallState = { session: this.id, run: this.run, episode: this.episode, step, tool_call: toolCallId, cgroup: cg, running: true, startedNs: process.hrtime.bigint() };
    const cgId = cg.id();
    this.cgroupIds.push(cgId);
    this.rt.index.registerCgroup(cgId, { ...this.attr(state), cgroup: cg.path });
    this.calls.set(toolCallId, state);
    this.current = state;
    const tool = spec.tool ?? 'bash';
    const startEv = this.emit('toolcall.start', { command: spec.command, tool: spec.record?.tool ?? tool, ...spec.record?.fields }, { attr: this.attr(state) });
    const screened = this.screen(spec, state, startEv);
    if (screened) return screened;

    const cmd = spec.argv ?? (tool === 'python' ? ['python3', '-c', spec.command] : [this.files.shell, '-c', spec.command]);
    if (state.screened || spec.ownRoot) state.rootArgv = cmd;
    const argv = buildEnterArgv({
      cgroupProcs: cg.procsFiles(), waiterCgroupProcs: [this.rt.waiterCgroup.unifiedProcsFile()], joinPid: this.nsInitPid, uid: SANDBOX_UID, gid: SANDBOX_GID, // (ids of the joined user namespace: this sandbox's host id there)
      seccompFile: this.rt.seccompFile, cwd: this.wsPath, setsid: true,
    }, cmd);
    const stdio = spec.stdio ?? 'pipe';
    const feed = stdio === 'pipe' && spec.stdin !== undefined;
    let child: ToolChild;
    try {
      // (posix_spawn when built, tool-spawn.ts: piped output, or a caller's own descriptors — `inherit` is this process's)
      const fds = stdio === 'pipe' ? undefined : stdio === 'inherit' ? [0, 1, 2] as const : stdio;
      child = this.rt.spawnTool(argv[0]!, argv.slice(1), { env: this.toolEnv(), stdin: feed, fds });
    } catch (e) {
      // (E2BIG: one argument over the kernel's 128 KiB) — the call fails as a shell's would (126), the session goes on
      const why = (e as NodeJS.ErrnoException).code === 'E2BIG' ? `the command is too long to run (${spec.command.length} characters; the kernel's limit for one argument is 128 KiB)` : (e as Error).message;
      state.running = false;
      state.endedNs = process.hrtime.bigint();
      if (this.current === state) this.current = undefined;
      const stderr = `corral: cannot start this tool call: ${why}\n`;
      this.emit('toolcall.end', { exit_code: 126, signal: null, duration_ms: 0, timed_out: false, stdout_bytes: 0, stderr_bytes: stderr.length, error: why }, { attr: this.attr(state) });
      return { toolCallId, step, exitCode: 126, signal: null, durationMs: 0, timedOut: false, stdout: '', stderr, alerts: this.alertsFor(toolCallId), error: why };
    }
    const max = spec.maxOutput ?? 1 << 20;
    // (a caller's callback that throws is reported, never an uncaught exception in a stream handler)
    const onOutput = spec.onOutput;
    const tell = onOutput ? (stream: 'stdout' | 'stderr', text: string): void => { try { onOutput(stream, text); } catch (e) { this.rt.onError(e); } } : undefined;
    let stdout = '';
    let stderr = '';
    let collecting = true; // (false once the call has returned: later output of its background processes is drained and dropped)
    let chunks = 0; // (output read so far, in reads: tells whether an I/O poll turn brought more)
    const bytesOut: Buffer[] = [];
    let bytesLen = 0;
    const cut = { stdout: 0, stderr: 0 }; // (output past max while the call ran: said in the result, never dropped silently)
    const lossy: { stdout?: true; stderr?: true } = {};
    // (bytes the command wrote while the call ran, kept or not: the record's stdout_bytes / stderr_bytes — it counted the
    // characters kept, 1000 for a 3 MB output, so the store could not tell output was cut; a user review, session 41)
    const produced = { stdout: 0, stderr: 0 };
    const textSink = (which: 'stdout' | 'stderr', kept: () => number, append: (part: string) => void): ((d: Buffer) => void) => {
      const utf8 = new StringDecoder('utf8');
      return (d) => {
        chunks++;
        if (!collecting) return;
        produced[which] += d.length;
        const text = utf8.write(d);
        // (a replacement character the bytes did not spell themselves: the decoder put it there)
        if (!lossy[which] && text.includes('\ufffd') && !d.includes(REPLACEMENT_UTF8)) lossy[which] = true;
        const part = text.slice(0, Math.max(0, max - kept()));
        cut[which] += text.length - part.length;
        if (part) { append(part); tell?.(which, part); }
      };
    };
    if (spec.binaryStdout && stdio === 'pipe') {
      child.stdout?.on('data', (d: Buffer) => { chunks++; if (!collecting) return; produced.stdout += d.length; const part = d.subarray(0, Math.max(0, max - bytesLen)); bytesOut.push(part); bytesLen += part.length; cut.stdout += d.length - part.length; });
    } else child.stdout?.on('data', textSink('stdout', () => stdout.length, (part) => { stdout += part; }));
    if (feed && child.stdin) {
      // (a command that exits without reading its input closes the pipe: EPIPE is its answer, not Corral's error)
      child.stdin.on('error', () => {});
      child.stdin.end(spec.stdin);
    }
    child.stderr?.on('data', textSink('stderr', () => stderr.length, (part) => { stderr += part; }));
    // (the policy's timeout is the ceiling: a call may ask for less, never more — a trainer passing the agent's own
    // requested timeout through got no limit at all; a user review, session 41)
    const timeoutMs = Math.min(spec.timeoutMs ?? Infinity, this.opts.policy.resources.timeout);
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; cg.kill(); }, timeoutMs);
    // (the caller's AbortSignal cancels this call alone, as cancelRunning does, with the signal's reason)
    const abort = spec.signal;
    const onAbort = (): void => { state.cancelled ??= abortReason(abort!); cg.kill(); };
    abort?.addEventListener('abort', onAbort, { once: true });
    const t0 = process.hrtime.bigint();
    // The call ends when its command exits, as in a shell: a background process it started (`server &`)
    // may hold the output pipes open for as long as it runs. Output written before the exit is
    // waited for briefly; the pipes are then left open (a background writer must not die of SIGPIPE)
    // and drained without being recorded.
    let heldOpen = false;
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => {
      child.on('error', (e) => { stderr += `corral: ${e.message}\n`; resolve([null, null]); });
      child.on('exit', (c, s) => {
        let finished = false;
        let wait: NodeJS.Timeout | undefined;
        const finish = (held: boolean): void => {
          if (finished) return;
          finished = true;
          clearTimeout(wait);
          heldOpen = held;
          resolve([c, s]);
        };
        child.once('close', () => finish(false));
        // The grace alone says nothing when Corral is busy (dozens of sandboxes starting at once): the
        // end of file may be read well after it. After it, the call's cgroup decides. No process of the
        // call left (they are born in it and cannot leave): nothing of it holds the pipes, their end is
        // waited for. One left: it may hold them — what is already written is read (I/O poll turns
        // until one brings nothing), then the call returns.
        wait = setTimeout(() => {
          if (!cg.populated()) { wait = setTimeout(() => finish(true), OUTPUT_DRAIN_MAX_MS); return; }
          void (async () => {
            for (let i = 0, seen = -1; i < 20 && !finished && seen !== chunks; i++) { seen = chunks; await ioPollTurn(); }
            finish(true);
          })();
        }, OUTPUT_GRACE_MS);
      });
    });
    collecting = false;
    if (heldOpen && stdio === 'pipe') stderr += `corral: a background process of this call still holds its output open; what it writes from now on is not captured (redirect it, e.g. \`server > log 2>&1 &\`)\n`;
    clearTimeout(timer);
    abort?.removeEventListener('abort', onAbort);
    if (timedOut) {
      // cgroup.kill delivers SIGKILL asynchronously: wait until the call's processes are really gone.
      for (let i = 0; i < 100 && cg.populated(); i++) await new Promise((r) => setTimeout(r, 10));
    }
    const durationMs = Number(process.hrtime.bigint() - t0) / 1e6;
    state.leftRunning = cg.populated();
    if (state.killReason && stdio === 'pipe') stderr += `corral: this tool call's processes were killed by policy (response.kill): ${state.killReason}\n`;
    state.running = false;
    state.endedNs = process.hrtime.bigint();
    if (this.current === state) this.current = undefined;
    // Connections the call completed just before it exited may still sit in the gateway's accept
    // queue: let the event loop pass one I/O poll so they are accepted (and tracked) first, else a
    // scan's last probes would miss the call's fan-out alert and become a second one.
    await ioPollTurn();
    // Gateway decisions of this call are awaited; kernel records are drained here only when
    // asked (close() always drains), keeping the per-call path short.
    await this.settle(spec.syncSensor ?? false);
    this.netReports.flushCall(toolCallId);
    // (before the detections: the screen's finding for the same write folds under the file's alert)
    await this.persistence.look(state, state, [...this.calls.values()].filter((c) => c !== state && c.cgroup.populated()));
    if (spec.postscreen && !timedOut && code === 0) this.postscreen(spec.postscreen, { stdout, stderr }, startEv);
    this.detections.flush(toolCallId);
    const st = cg.stats();
    const resEv = this.emit('resource', { scope: 'tool_call', cpu_ns: st.cpuNs, memory_peak_bytes: st.memoryPeakBytes, pids: st.pids, pids_max_hits: st.pidsMaxHits, oom_kills: st.oomKills, throttled_periods: st.throttledPeriods }, { attr: this.attr(state) });
    this.limitAlerts(state, st, timedOut, timeoutMs, [resEv.id]);
    // (a command killed by a signal: the shell's 128 + N, with `signal` naming it — corral-enter ends by the same signal)
    const exitCode = timedOut ? 124 : code ?? (signal !== null ? 128 + (osConstants.signals[signal as NodeJS.Signals] ?? 0) : null);
    this.emit('toolcall.end', { exit_code: exitCode, signal, duration_ms: durationMs, timed_out: timedOut, stdout_bytes: produced.stdout, stderr_bytes: produced.stderr, ...(state.cancelled ? { cancelled: state.cancelled } : {}) }, { attr: this.attr(state) });
    return { toolCallId, step, exitCode, signal, durationMs, timedOut, stdout, stderr, alerts: this.alertsFor(toolCallId), ...(spec.binaryStdout && stdio === 'pipe' ? { stdoutBytes: Buffer.concat(bytesOut, bytesLen) } : {}), ...(state.cancelled ? { cancelled: state.cancelled } : {}), ...(cut.stdout || cut.stderr ? { outputTruncated: { ...cut } } : {}), ...(lossy.stdout || lossy.stderr ? { outputLossy: lossy } : {}) };
  }

  /**
   * One file operation (write, read, str_replace, multi_edit, insert) as a tool call of this session: screened
   * on the path and the code it writes, then done inside the sandbox as the agent (file-tools.ts).
   * A bad request throws; an operation that does not apply (no such file, the old text twice)
   * returns ok: false with the problem as the agent should read it.
   */
  async file(spec: FileCallSpec): Promise<FileCallResult> {
    if (!this.closed) this.assertIdle();
    const problem = fileCallProblem(spec);
    if (problem) throw new TypeError(`file call: ${problem}`);
    const where = sandboxPath(spec.path, this.wsPath) as { path: string };
    let prescreen: CheckResult | undefined;
    if (this.rt.checker) {
      try {
        prescreen = screenFileCall(spec, where.path, this.rt.checker, this.wsPath);
        if (this.opts.policy.detection.on_finding === 'block') prescreen = this.withEditPreview(spec, where.path, prescreen, this.rt.checker);
      } catch (e) { this.rt.onError(e); }
    }
    const r = await this.execCall(fileToolCallSpec(spec, where.path, prescreen, this.rt.checker, this.wsPath), true);
    return fileCallResult(spec, where.path, r);
  }

  /**
   * The call that wrote the code an exec runs, when it is not the call the process belongs to: the program
   * file, or the script a shell or interpreter was given, when it lies in the workspace and the kernel saw
   * another call's process write it last. A relative script is found from the process's working directory
   * (the workspace's top when the process is gone).
   */
  private ownCodeOrigin(rec: ExecRecord, attr: Attribution, ran: string): CodeOrigin | undefined {
    if (!this.writers || attr.tool_call === undefined) return undefined;
    const name = basename(ran);
    const script = SHELLS.has(name) ? readShellArgv(rec.argv).script : interpreterScript(name, rec.argv);
    for (const f of script === undefined ? [rec.filename] : [rec.filename, script]) {
      const rel = this.workspaceRel(f, rec.pid);
      const w = rel === undefined ? undefined : this.writers.peek(rel);
      const state = w && this.persistence.callOfWriter(w);
      if (state?.tool_call !== undefined && state.tool_call !== attr.tool_call) return { tool_call: state.tool_call, ...(state.step !== undefined ? { step: state.step } : {}), file: rel! };
    }
    return undefined;
  }

  /**
   * A process opened a code file of the workspace (a module it imports, a library it loads): when another
   * call than the process's own wrote it — for a compiled module (`__pycache__/m.cpython-311.pyc`), the
   * writer of its source `m.py` if known — that call is remembered with the process (code-origin.ts).
   */
  private codeOpened(opener: FileWriter, rel: string): void {
    const state = this.persistence.callOfWriter(opener);
    if (state?.tool_call === undefined || !this.writers) return;
    const source = pycSource(rel);
    const fromSource = source !== undefined ? this.writers.peek(source) : undefined;
    const w = fromSource ?? this.writers.peek(rel);
    const writer = w && this.persistence.callOfWriter(w);
    if (writer?.tool_call === undefined || writer.tool_call === state.tool_call) return;
    this.origins.load(opener.pid, this.parents.ancestors(opener.pid, this.nsInitPid)[0], { tool_call: writer.tool_call, ...(writer.step !== undefined ? { step: writer.step } : {}), file: fromSource ? source! : rel });
  }

  /** A path as process `pid` named it, relative to the workspace's top; undefined outside the workspace. */
  private workspaceRel(path: string, pid: number): string | undefined {
    let abs = path;
    if (!path.startsWith('/')) {
      let cwd = this.wsPath;
      try { cwd = readlinkSync(`/proc/${pid}/cwd`); } catch { /* gone: the workspace's top */ }
      abs = `${cwd}/${path}`;
    }
    const p = canonicalExe(abs);
    return p !== undefined && p.startsWith(`${this.wsPath}/`) ? p.slice(this.wsPath.length + 1) : undefined;
  }

  /**
   * Pre-execution screening (issue 3's command analyser). Findings join the rule-engine
   * detections of this call (so a behaviour the gateway later blocks is one alert); with
   * `detection.on_finding: block`, a deny verdict stops the call before it runs.
   */
  private screen(spec: RunSpec, state: CallState, startEv: CorralEvent): CallOutcome | undefined {
    const checker = this.rt.checker;
    if ((!checker && !spec.prescreen) || spec.skipScreen) return undefined;
    let res = spec.prescreen;
    if (!res) try { res = checker!.check(spec.argv ? shellJoin(spec.argv) : spec.command, { tool: spec.tool ?? 'bash' }); } catch (e) { this.rt.onError(e); return undefined; }
    state.screened = true;
    if (!res.findings.length) return undefined;
    const attr = this.attr(state);
    const block = this.opts.policy.detection.on_finding === 'block' && res.verdict === 'deny';
    if (block) {
      const lines = res.findings.map((f) => `corral: blocked before running: ${f.reason} [rule ${f.rule}: ${f.command.slice(0, 200)}]`);
      for (const f of res.findings) {
        this.alert(attr, { rule: f.rule, category: f.category, severity: f.severity, attack: f.attack, message: `${f.message} (screened before running)`, reason: f.reason }, [startEv.id], 'blocked', { layer: 'command' });
      }
      state.running = false;
      state.endedNs = process.hrtime.bigint();
      if (this.current === state) this.current = undefined;
      this.emit('toolcall.end', { exit_code: 126, blocked: true, duration_ms: 0 }, { attr });
      return { toolCallId: attr.tool_call!, step: attr.step!, exitCode: 126, signal: null, durationMs: 0, timedOut: false, stdout: '', stderr: `${lines.join('\n')}\n`, alerts: this.alertsFor(attr.tool_call!), refused: { by: 'screen', reason: res.findings.map((f) => `${f.reason} [rule ${f.rule}]`).join('; ') } };
    }
    for (const f of res.findings) {
      this.detections.push({ rule: f.rule, category: f.category, severity: f.severity, attack: f.attack,
        message: `${f.message} (flagged before it ran: ${this.opts.policy.detection.on_finding === 'block'
          ? 'the screen warns about it, below the level this policy blocks at — detection.on_finding: block denies only what the screen would deny'
          : `the screen would ${res.verdict === 'deny' ? 'deny' : 'warn about'} it; this policy records findings and lets the call run — detection.on_finding: record`})`, reason: f.reason, evidence: [startEv.id], event: startEv });
    }
    return undefined;
  }

  /**
   * Block mode: an edit judged also on the lines it would leave, worked out from the file as it is
   * now (edit-preview.ts), so an edit completing a hostile line is refused before it is written.
   * Only files Corral can read safely: under the workspace, or in a writable root's layer.
   */
  private withEditPreview(spec: FileCallSpec, path: string, prescreen: CheckResult, checker: CommandScreen): CheckResult {
    const at = this.files.readableAt(path);
    const current = at && at.rel ? readPlainFile(at.root, at.rel, PREVIEW_MAX, true) : undefined;
    const preview = current ? previewEdit(spec, current) : undefined;
    const more = preview === undefined ? undefined : screenEditedLines(spec, path, preview, checker, prescreen, 'as this edit would leave it');
    return more ? combineChecks([prescreen, more]) : prescreen;
  }

  /** Findings of a call's postscreen (ToolCallSpec.postscreen), folded with the call's other detections. */
  private postscreen(judge: NonNullable<InternalCallSpec['postscreen']>, out: { stdout: string; stderr: string }, startEv: CorralEvent): void {
    let res: CheckResult | undefined;
    try { res = judge(out); } catch (e) { this.rt.onError(e); return; }
    for (const f of res?.findings ?? []) {
      this.detections.push({ rule: f.rule, category: f.category, severity: f.severity, attack: f.attack,
        message: f.message, reason: f.reason, evidence: [startEv.id], event: startEv });
    }
  }

  alertsFor(toolCallId: string): AlertEvent[] {
    return this.alertEvents.filter((a) => a.tool_call === toolCallId);
  }

  private toolEnv(): NodeJS.ProcessEnv {
    return toolEnv({ parent: this.opts.parentEnv ?? process.env, envAllow: this.opts.policy.filesystem.env_allow, workspacePath: this.wsPath, gpuEnv: this.gpuEnv });
  }

  /** Waiting pipe-fed shells (pipeShells) whose relay, found now, has connected out: a relayed shell, reported once. */
  private recheckPipeShells(): void {
    for (const shell of this.pipeShells.keys()) if (!this.fedShells.waits(shell)) this.pipeShells.delete(shell);
    if (!this.pipeShells.size) return;
    const ends = pipeEnds(this.sessionPids());
    for (const [shell, p] of this.pipeShells) {
      const found = this.fedShells.relayedBy(shell, shellRelays(shell, p.pin, p.pout, ends, new Set(p.skip)));
      if (!found) continue;
      this.pipeShells.delete(shell);
      // (an observation of its own: the shell's exec and the relay's connect were both recorded before it was known)
      this.emit('socket', { relay_found: true, comm: p.name, fed_by_pid: found.feeder, fed_by_net: found.remote }, { attr: p.attr, pid: shell });
    }
  }

  /** Periodic CPU samples of every call that still has processes (the running one and any left in the background). */
  private sampleResources(): void {
    if (this.closed) return;
    try { this.recheckPipeShells(); } catch (e) { this.rt.onError(e); }
    try {
      const calls = [...this.calls.values()].map((c) => ({ key: c.tool_call!, cgroup: c.cgroup }));
      const background: BackgroundProc[] = [];
      for (const s of this.sampler.sample(calls)) {
        const state = this.calls.get(s.key);
        if (!state) continue;
        const attr = this.attr(state);
        if (!state.running) for (const p of s.procs) background.push({ ...p, call: s.key });
        this.emit('resource', { scope: 'tool_call', sample: true, cpu_pct: s.cpuPct, cpu_ns: s.cpuNs, memory_bytes: s.memoryBytes, pids: s.pids, ...(s.idleSkipped ? { idle_skipped: s.idleSkipped } : {}) }, { attr });
        for (const p of s.procs) this.emit('resource', processSamplePayload(p, (exe) => this.inWorkspace(exe)), { attr, pid: p.pid });
      }
      // (ended calls' unexpected processes summed across calls, attributed to the call with the largest share)
      const split = backgroundCompute(background, this.expectedCompute);
      const lead = split ? this.calls.get(split.calls[0]!.call) : undefined;
      if (split && lead) {
        this.emit('resource', { scope: 'background', cpu_pct: split.cpuPct, calls: split.calls.length, split: split.calls.map((c) => `${c.call} ${c.cpuPct}%`).join(', '), comm: split.top.comm, ...(split.top.exe ? { exe: split.top.exe } : {}) }, { attr: this.attr(lead), pid: split.top.pid });
      }
    } catch (e) { this.rt.onError(e); }
  }

  private limitAlerts(state: CallState, st: CgroupStats, timedOut: boolean, timeoutMs: number, evidence: string[]): void {
    const found = limitAlerts({ before: state.statsBefore ?? {}, after: st, resources: this.opts.policy.resources, timedOut, timeoutMs, ...this.files.filledSince(this.nsInitPid) });
    for (const a of found) this.alert(this.attr(state), a.draft, evidence, a.action);
    state.statsBefore = st;
  }

  /** Waits until gateway attributions and sensor records produced so far are processed. */
  async settle(syncSensor = true): Promise<boolean> {
    const synced = syncSensor && this.rt.sensor ? await this.rt.sensorBarrier(process.hrtime.bigint()) : true;
    while (this.pending.size) await Promise.allSettled([...this.pending]);
    return synced;
  }

  private track(p: Promise<unknown>): void {
    this.pending.add(p);
    void p.catch((e) => this.rt.onError(e)).finally(() => this.pending.delete(p));
  }

  attr(state?: Attribution): Attribution {
    if (!state) return { session: this.id, run: this.run, episode: this.episode };
    return { session: this.id, run: this.run, episode: this.episode, step: state.step, tool_call: state.tool_call };
  }

  /**
   * Attribution when no kernel record names the process: the call that was running when the
   * gateway saw the traffic, else the only call with live processes. Marked as inferred.
   */
  private inferred(atNs: bigint = process.hrtime.bigint()): Attribution & { inferred: true } {
    const calls = [...this.calls.values()];
    let pick = calls.find((c) => c.startedNs <= atNs && (c.endedNs === undefined || atNs <= c.endedNs));
    // traffic is seen a little after it was sent: a call that ended just before still owns it
    pick ??= calls.filter((c) => c.endedNs !== undefined && atNs > c.endedNs && atNs - c.endedNs < 500_000_000n)
      .sort((a, b) => Number(b.endedNs! - a.endedNs!))[0];
    if (!pick) {
      const live = calls.filter((c) => c.running || c.cgroup.populated());
      pick = live.length === 1 ? live[0] : this.current;
    }
    return { ...this.attr(pick), inferred: true };
  }

  private attrFromCgroup(cgroupId: string): Attribution | undefined {
    const l = this.rt.index.labels(cgroupId);
    if (!l) return undefined;
    return { session: l.session, run: l.run, episode: l.episode, step: l.step, tool_call: l.tool_call };
  }

  emit(kind: EventKind, payload: Record<string, unknown>, o: { attr?: Attribution; pid?: number; ppid?: number; ts?: string; cgroup?: string } = {}): CorralEvent {
    const ev: CorralEvent = {
      id: `${this.id}-${(++this.seq).toString(36)}`, ts: o.ts ?? nowNs(), kind,
      ...(o.attr ?? this.attr()), pid: o.pid, ppid: o.ppid, cgroup: o.cgroup, payload,
    };
    this.events.push(ev);
    this.trimEvents();
    if (this.storeBudget.admit(ev)) {
      this.rt.store.append(ev);
      if (this.logReleased) this.rt.store.endSession(this.id);
      this.rt.onEvent(ev);
    } else if (this.storeBudget.firstRefusal()) {
      this.emit('sensor', { state: 'store_cap', cap: this.storeBudget.cap, note: `this session stored ${this.storeBudget.cap} events; from here on execs, exits, connects, DNS, flows and samples are counted, not stored (alerts and their evidence still are)` });
    }
    // Session-level events are Corral's own machinery (the namespace holder); agent activity always has a tool call.
    // (a kernel_reply — an ICMP error the sandbox's kernel sent on its own — is not the agent's either)
    if (kind !== 'alert' && ev.tool_call !== undefined && payload.kernel_reply !== true && !this.rootScreened(ev)) this.detections.detect(ev);
    return ev;
  }

  /** Stores after all the events an alert cites that the store budget held back (while they are still in memory). */
  private storeCited(ids: string[]): void {
    if (this.storeBudget.unstored === 0) return;
    const want = new Set(ids);
    for (let i = this.events.length - 1; i >= 0 && want.size > 0; i--) {
      const e = this.events[i]!;
      if (!want.delete(e.id)) continue;
      if (this.storeBudget.reclaim(e)) { this.rt.store.append(e); this.rt.onEvent(e); }
    }
  }

  /** Lets the oldest quarter of the memory's events go once it is over by a quarter (amortised: one splice per cap/4 events). */
  private trimEvents(): void {
    const cap = this.rt.sessionEventMemory;
    const slack = Math.max(1, Math.floor(cap / 4));
    if (this.events.length <= cap + slack) return;
    const drop = this.events.length - cap;
    this.events.splice(0, drop);
    this.eventsDropped += drop;
  }

  /**
   * True for the exec of the call's own root process (`bash -c TEXT`, `python3 -c CODE`, or the
   * argv a caller gave) when the command screen already read that text. The runtime rules would
   * only regex the same text again — and a regex cannot tell a command from a quotation, so a grep
   * for a pool URL, a heredoc fixture or a commit message mentioning `curl … | sh` raised critical
   * alerts the parser had rightly passed. What the text makes happen (every process it starts,
   * every connection) is still judged by the runtime rules; only this one event's text is left to
   * the screen, whose findings are recorded (or block) as before. Matched on the whole argv as the
   * kernel recorded it (a truncated argv never matches), for the call's first execs only: the root
   * may take several attempts (execvp tries each PATH directory: /usr/local/bin/bash fails, then
   * /usr/bin/bash runs); the first exec with another argv ends the window.
   */
  private rootScreened(ev: CorralEvent): boolean {
    if (ev.kind !== 'exec' || ev.tool_call === undefined) return false;
    const state = this.calls.get(ev.tool_call);
    const root = state?.rootArgv;
    if (!root) return false;
    const argv = ev.payload.argv;
    const same = Array.isArray(argv) && ev.payload.truncated !== true && argv.length === root.length && argv.every((a, i) => a === root[i]);
    if (!same) state.rootArgv = undefined;
    return same;
  }

  private alert(attr: Attribution, d: AlertDraft & { co_culprit?: AlertPayload['co_culprit'] }, evidence: string[], action: 'blocked' | 'killed' | 'observed', extra: { pid?: number; count?: number; ts?: string; layer?: AlertLayer } = {}): AlertEvent {
    // An alert is stamped with the time of its first evidence (when the behaviour happened), not when an aggregate was flushed.
    const layer = extra.layer ?? (d.rule.startsWith('limit.') || d.rule.startsWith('gpu.') ? 'resource' : 'network');
    // (the call that wrote the code the process runs, when another call's process started it: from the event the
    // alert is about, else from the process as known now — a gateway alert names a pid)
    const co = d.co_culprit ?? (extra.pid !== undefined ? coCulpritOf(codeFrom(this.origins.of(extra.pid), attr)) : undefined);
    if (co) d = { ...d, co_culprit: co, message: `${d.message}${coCulpritText(co)}` };
    const killed = this.respond(attr, d.category, d.severity, layer, d.reason);
    if (killed) {
      action = 'killed';
      d = { ...d, message: `${d.message} — ${killed}` };
    }
    this.storeCited(evidence);
    const ev = this.emit('alert', { ...d, evidence, action, count: extra.count, layer }, { attr, pid: extra.pid, ts: extra.ts }) as unknown as AlertEvent;
    this.alertEvents.push(ev);
    return ev;
  }

  // ---- sensor records (dispatched by the runtime using the cgroup id) ----
  onSensor(rec: SensorRecord): void {
    if (rec.kind === 'syn') return;
    if (rec.kind === 'udp_source') { this.netReports.connects.pushSource(rec); return; }
    if (rec.kind === 'overflow') { this.netReports.connects.pushOverflow(rec); return; }
    const attr = this.attrFromCgroup(rec.cgroupId) ?? this.attr();
    const ts = monoToEpochNs(rec.tsNs);
    if ((rec.kind === 'exec' || rec.kind === 'exit') && attr.tool_call !== undefined) {
      setRecent(this.pidCall, rec.pid, attr.tool_call, 8192);
    }
    if (rec.kind === 'exec') {
      const outcome = execOutcome(rec);
      // (a renamed copy of a watched program is named as what it is, for every rule that knows programs by name;
      // the dynamic loader run by hand is judged by the program it loads; a symbolic link to one under another
      // name is that program too: `ln -s /bin/bash k; ./k`)
      const failed = outcome.result === 'failed';
      const file = failed ? {} : this.copies.examine(rec.pid, rec.filename, { argv: rec.argv, ...(rec.exe !== undefined ? { exe: rec.exe } : {}) });
      let copy = file.copy;
      let unchecked = file.unchecked;
      const program = !failed && isLoader(rec.filename, copy) ? loaderTarget(rec.argv) : undefined;
      if (program !== undefined) {
        const loaded = this.copies.examine(rec.pid, program, { exeFallback: false });
        copy = loaded.copy;
        unchecked ||= loaded.unchecked;
      }
      // (a script's process runs its #! interpreter: its sockets are that program's, whatever the script is called)
      const interp = program === undefined ? file.interpreter : undefined;
      const ran = copy === undefined && interp !== undefined ? this.copies.examine(rec.pid, interp, { exeFallback: false }) : undefined;
      const runs = copy ?? ran?.copy;
      unchecked ||= ran?.unchecked;
      if (!failed) this.images.exec(rec.pid, { program: interp ?? program ?? rec.filename, ...(runs ? { copy: runs } : {}) }, rec.exe, program !== undefined);
      if (!failed) this.parents.exec(rec.pid, rec.ppid, rec.grandparents, this.nsInitPid);
      const code = failed ? undefined : this.origins.exec(rec.pid, rec.ppid, this.ownCodeOrigin(rec, attr, interp ?? program ?? rec.filename));
      const shellName = runs ?? basename(interp ?? program ?? rec.filename);
      // (its parents and a unix peer, read once: for the relay walk now and for the one at later samples)
      let line: number[] | undefined;
      const lineage = (): number[] => (line ??= this.parents.feeders(rec.pid, rec.ppid, rec.stdinPeer, this.nsInitPid));
      const fed = failed ? undefined : this.fedShells.exec(rec.pid, rec.ppid, shellName, rec.argv, { socket: rec.stdioSocket, pipe: rec.stdioPipe, pty: rec.stdioPty }, () => this.shellFeeders(rec, lineage()));
      if (!fed && !failed && rec.pipeIn !== undefined && rec.pipeOut !== undefined && this.fedShells.waits(rec.pid) && this.pipeShells.size < MAX_PIPE_SHELLS) {
        this.pipeShells.set(rec.pid, { pin: rec.pipeIn, pout: rec.pipeOut, skip: lineage(), attr, name: shellName });
      }
      if (unchecked) this.shortfalls.copiesUnchecked++;
      if (rec.argvCut) this.shortfalls.argvCut++;
      // (`copy_unchecked`: the file had a watched program's size but the hash budget was spent, so it was not
      // compared; the session counts these in its capture status, which is then incomplete)
      this.emit('exec', { argv: rec.argv, filename: rec.filename, ...(program !== undefined ? { program } : {}), ...(this.inWorkspace(program ?? rec.filename) ? { exe_writable: true } : {}), truncated: rec.truncated, ...outcome, ...(rec.exeUnlinked ? { exe_unlinked: true } : {}), ...(copy ? { copy_of: copy } : {}), ...(unchecked ? { copy_unchecked: true } : {}), ...(rec.argvCut ? { argv_cut: true } : {}), ...(rec.stdioSocket ? { stdio_socket: rec.stdioSocket } : {}), ...(rec.stdioPipe ? { stdio_pipe: rec.stdioPipe } : {}), ...(rec.stdioPty ? { stdio_pty: rec.stdioPty } : {}), ...(fed ? { fed_by_pid: fed.feeder, fed_by_net: fed.remote } : {}), ...codeFrom(code, attr) }, { attr, pid: rec.pid, ppid: rec.ppid, ts });
    } else if (rec.kind === 'exit') {
      this.fedShells.exit(rec.pid);
      this.pipeShells.delete(rec.pid);
      this.origins.exit(rec.pid);
      const copy = this.images.exit(rec.pid)?.copy;
      this.emit('exit', { exit_code: rec.exitCode, signal: rec.signal, comm: rec.comm, ...(copy ? { copy_of: copy } : {}) }, { attr, pid: rec.pid, ppid: rec.ppid, ts });
    } else if (rec.kind === 'connect') {
      this.netReports.connects.push(rec);
      // A datagram sender repeats its sendto() per packet: one event per (pid, destination) per second.
      if (rec.via === 'sendto' && this.netReports.connects.repeatedSend(rec)) return;
      // (judged by the program it exec'd, not by its comm, which it can rewrite)
      const img = this.images.of(rec.pid, rec.ppid, rec.exe, HOLDER_PATH);
      const copy = img?.copy;
      // (a connection out, not loopback or DNS, by a process whose child shell reads commands from a pipe it holds)
      const out = !rec.via && rec.port !== 53 && !isLocalDestination(rec.ip) && this.rt.classifyIp(rec.ip) !== 'loopback';
      const fed = out ? this.fedShells.connect(rec.pid, rec.family === 'inet6' ? `[${rec.ip}]:${rec.port}` : `${rec.ip}:${rec.port}`) : undefined;
      const ev = this.emit('connect', { source: 'syscall', ...(rec.via ? { via: rec.via } : {}), ...(img ? { program: img.program } : {}), ...(this.inWorkspace(img?.program) ? { exe_writable: true } : {}), family: rec.family, ...(rec.mapped ? { v4_mapped: true } : {}), 'network.peer.address': rec.ip, 'network.peer.port': rec.port, comm: rec.comm, ...(copy ? { copy_of: copy } : {}), ...(fed ? { feeds_shell: fed.shell } : {}), ...codeFrom(this.origins.of(rec.pid, rec.ppid), attr) }, { attr, pid: rec.pid, ppid: rec.ppid, ts });
      // (an IPv4-mapped address, ::ffff:a.b.c.d, is IPv4 on the wire: the sensor reports it as family inet)
      // (`::`, the unspecified address, reaches this host's own sockets as ::1 does: `python3 -m http.server` probing
      // its port is not an internal connection — a user review, session 41)
      if (rec.family === 'inet6' && !isLocalDestination(rec.ip)) {
        const cls = this.rt.classifyIp(rec.ip);
        const d = alertForDrop({ proto: 'IPv6', dst: rec.ip, dport: rec.port }, cls);
        this.alert(attr, { ...d, rule: d.rule.replace('drop.', 'ipv6.'), message: `${d.message} (IPv6 is disabled in sandboxes)` }, [ev.id], 'blocked', { pid: rec.pid });
      }
    } else if (rec.kind === 'unix_outside') {
      const ev = this.emit('socket', { unix_outside: true, path: rec.path, type: rec.type }, { attr, pid: rec.pid, ppid: rec.ppid, ts });
      this.alert(attr, alertForUnixOutside(rec), [ev.id], 'observed', { pid: rec.pid, layer: 'process' });
    } else if (rec.kind === 'socket_denied') {
      const ev = this.emit('socket', { denied: true, family: rec.family, type: rec.type, errno: rec.errno, comm: rec.comm }, { attr, pid: rec.pid, ppid: rec.ppid, ts });
      this.alert(attr, alertForDeniedSocket(rec), [ev.id], 'blocked', { pid: rec.pid });
    }
  }

  /** The kernel sensor went down or came back: the session's record shows the capture gap. */
  /**
   * Another program on the host changed the gateway's nft rules (a firewall reload) and the runtime put them
   * back (gateway-rules-watch.ts): recorded in every open session, whose containment had the gap.
   */
  onGatewayRulesRestored(t: { what: string; line: string; restoredMs: number }): void {
    if (this.closed) return;
    this.emit('sensor', { state: 'gateway_rules_restored', what: t.what, monitor_line: t.line.slice(0, 500), restored_ms: t.restoredMs,
      note: 'a program on the host changed Corral\'s gateway rules; until they were put back this sandbox\'s traffic was not redirected to the gateway (a host that forwards could send it straight out, and the host\'s own services were reachable)' });
  }

  onSensorState(state: 'down' | 'up', detail: Record<string, unknown>): void {
    if (this.closed) return;
    if (state === 'down') this.sensorGaps++;
    this.emit('sensor', { state, ...detail });
  }

  /**
   * The kernel sensor lost `n` records (its ring overflowed). Whose they were is unknown, so every
   * open session records it (kind 'sensor', state 'lost', coalesced: capture-loss.ts), up to the
   * moment its session.end is written — also while it closes, when its last records are drained.
   */
  /** The kernel overwrote drop-log records before Corral read them: some dropped packets, anyone's, are not on record. */
  onDropLogOverrun(): void {
    if (this.ended) return;
    this.shortfalls.dropLogOverruns++;
    this.emit('sensor', { state: 'drop_log_overrun', note: 'the kernel log overwrote records before Corral read them: dropped UDP/ICMP packets of this or another sandbox may be missing' });
  }

  onSensorLoss(n: number): void {
    if (!this.ended) this.loss.add(n);
  }

  /** Whether this session's kernel capture is whole so far (records lost, sensor gaps, no sensor). */
  get capture(): CaptureStatus {
    return captureStatus(this.loss.total, this.sensorGaps, this.sensorOff, this.sensorUnsynced, { ...this.shortfalls, eventsUnstored: this.storeBudget.unstored });
  }

  // ---- GPU samples and detections (see src/gpu) ----
  onGpuResource(a: Attribution, pid: number, payload: Record<string, unknown>): void {
    this.emit('resource', { scope: 'gpu', ...payload }, { attr: this.attrFromLabels(a), pid });
  }

  onGpuDetection(d: GpuDetection): void {
    this.alert(this.attrFromLabels(d.attribution), d.draft, [], 'observed', { pid: d.pid });
  }

  private attrFromLabels(a: Attribution): Attribution {
    return { session: a.session, run: a.run, episode: a.episode, step: a.step, tool_call: a.tool_call };
  }

  // ---- kernel-log drops (non-TCP egress) ----
  onDrop(d: DropRecord): void {
    this.track(this.netReports.drop(d));
  }

  /**
   * Whether a program path (as the sandbox names it, `.`/`..`/`//` resolved as the rules do) lies in the
   * workspace, wherever workspace_path shows it: a system-looking place such as /opt/app must not make
   * the agent's own files count as system programs.
   */
  private inWorkspace(path: string | undefined): boolean {
    const p = canonicalExe(path);
    if (p === undefined || !p.startsWith('/')) return false;
    const ws = this.wsPath;
    return p === ws || p.startsWith(`${ws}/`);
  }

  /**
   * policy.response.kill: kills the processes of the tool call an alert is attributed to (or of
   * every call, scope 'session', which also refuses later calls). Runtime layers only — the command
   * screen has detection.on_finding — and never in observe mode. Returns what was done, for the
   * alert's message, or undefined.
   */
  private respond(attr: Attribution, category: AlertCategory, severity: Severity, layer: AlertLayer, why: string): string | undefined {
    const k = this.opts.policy.response.kill;
    if (!k.categories.length || layer === 'command' || this.opts.policy.mode === 'observe') return undefined;
    if (!k.categories.includes(category) || SEVERITY_RANK[severity] > SEVERITY_RANK[k.min_severity]) return undefined;
    const call = attr.tool_call === undefined ? undefined : this.calls.get(attr.tool_call);
    if (k.scope === 'session') {
      this.stoppedReason ??= why;
      for (const c of this.calls.values()) { c.killReason ??= why; c.cgroup.kill(); }
      return 'Corral killed every process of this session and stops its further tool calls (policy response.kill, scope session)';
    }
    // A call is only killed on evidence that names it: an inferred or ambiguous attribution (a DNS
    // query while two calls' processes were resolving) may point at the innocent one.
    if (!call || (attr as { inferred?: boolean }).inferred) return undefined;
    call.killReason ??= why;
    call.cgroup.kill();
    return `Corral killed the processes of tool call ${call.tool_call} (policy response.kill)`;
  }

  /**
   * Who may feed a fed shell its commands: its parents and a unix peer (process-parents.ts), and a relay beside it
   * holding both ends of its stdin and stdout pipes (pipe-relays.ts, read from the session's processes now).
   */
  private shellFeeders(rec: ExecRecord, line: number[]): number[] {
    if (rec.pipeIn === undefined || rec.pipeOut === undefined) return line;
    return [...line, ...shellRelays(rec.pid, rec.pipeIn, rec.pipeOut, pipeEnds(this.sessionPids()), new Set(line))];
  }

  /** The pids of every call's processes now. */
  private sessionPids(): number[] {
    return [...this.calls.values()].flatMap((c) => { try { return c.cgroup.pids(); } catch { return []; } });
  }

  /** The step and id of the next tool call (the caller's, else numbered in order). */
  private nextCall(spec: ToolCallSpec, internal: boolean): { step: number; toolCallId: string } {
    const problem = toolCallSpecProblem(spec, internal);
    if (problem) throw new TypeError(`Session.exec: ${problem}`);
    const step = spec.step ?? ++this.stepCounter;
    this.stepCounter = Math.max(this.stepCounter, step);
    // A repeated id would merge two calls' events and alerts into one: the second is ID#2 (as replay does).
    let toolCallId = spec.toolCallId ?? `${this.id}-${step}`;
    for (let n = 2; this.calls.has(toolCallId); n++) toolCallId = `${spec.toolCallId ?? `${this.id}-${step}`}#${n}`;
    return { step, toolCallId };
  }

  /** A tool call after a session-scope kill: recorded, not run; the agent reads why. */
  private refuseStopped(spec: RunSpec, step: number, toolCallId: string): CallOutcome {
    const attr = { ...this.attr(), step, tool_call: toolCallId };
    this.emit('toolcall.start', { command: spec.command, tool: spec.tool ?? 'bash' }, { attr });
    this.emit('toolcall.end', { exit_code: 126, blocked: true, duration_ms: 0, reason: 'session stopped by policy response.kill' }, { attr });
    const stderr = `corral: this session was stopped by policy (response.kill) and runs no further tool calls: ${this.stoppedReason}\n`;
    return { toolCallId, step, exitCode: 126, signal: null, durationMs: 0, timedOut: false, stdout: '', stderr, alerts: [], refused: { by: 'stopped', reason: this.stoppedReason ?? 'stopped by policy' } };
  }

  /** What close() hands back (and onFinal gets): the alerts, their verdict, the cgroup's counters, the capture. */
  private closeResult(): SessionCloseResult {
    return { alerts: this.alertEvents, verdict: verdictOf(this.alertEvents), stats: this.stats, capture: this.capture };
  }

  /** Kills the running call's processes (its client went away, the operator's SIGINT); the call then ends as usual, with why in its result and toolcall.end. */
  cancelRunning(why?: string): void {
    if (!this.current?.running) return;
    this.current.cancelled ??= why ?? 'cancelled';
    this.current.cgroup.kill();
  }

  /**
   * Ends the session: kills its processes, then tears the sandbox down. onFinal (optional) is
   * called as soon as the alerts and stats are final — the processes are dead and the late
   * events settled — before the teardown (cgroup, network slot, session directory), so a caller
   * can answer its client without waiting for the cleanup. The promise resolves after the teardown.
   */
  async close(onFinal?: (r: SessionCloseResult) => void): Promise<SessionCloseResult> {
    if (this.closed) {
      onFinal?.(this.closeResult());
      return this.closeResult();
    }
    this.closed = true;
    clearInterval(this.sampleTimer);
    if (this.nsInitPid && !(await this.settle().catch(() => true))) {
      this.sensorUnsynced = true;
      this.emit('sensor', { state: 'unsynced', note: 'the kernel sensor did not confirm, before this session ended, that it had delivered every record: its last execs and connects may be missing' });
    } else if (this.nsInitPid && this.barrierGap && !this.sensorOff) {
      this.sensorUnsynced = true;
      this.emit('sensor', { state: 'unsynced', cpus: this.barrierGap, note: `the kernel sensor's barrier cannot mark CPU ${this.barrierGap.join(', ')} (outside Corral's cpuset) and this session's cgroup could not be confined away from it: execs and connects made there just before the end may be missing` });
    }
    this.netReports.flush();
    this.detections.flush();
    this.stats = this.cgroup.stats();
    // (a call still running is stopped from outside: its result and toolcall.end say so, not a bare 137)
    if (this.current?.running) this.current.cancelled ??= 'the session was closed';
    const calls = [...this.calls.values()];
    const live = calls.filter((c) => c.running || c.cgroup.populated());
    this.cgroup.kill();
    if (this.holder && this.holder.exitCode === null && this.holder.signalCode === null) {
      await new Promise<void>((r) => { this.holder!.once('exit', () => r()); setTimeout(r, 2000).unref(); });
    }
    // Persistence planted after the last call ended, by a process one left running: looked for once
    // more now that nothing can write, and blamed on the call that left it running (persistenceBlame;
    // without a change time that says so, the latest call with processes, else the last call).
    const blame = live.at(-1) ?? calls.filter((c) => c.leftRunning).at(-1) ?? calls.at(-1);
    if (blame && this.persistence.started) {
      try {
        await this.persistence.look(live.find((c) => c.running), blame, live, true);
      } catch (e) { this.rt.onError(e); }
    }
    (this.writers ?? await this.writersStarting)?.close();
    // The connections the killed processes held close now; their flow records (bytes each way)
    // come from the gateway a moment later (a download's record once its relay has stopped).
    if (this.openFlows.size) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.openFlows]), new Promise<void>((r) => { timer = setTimeout(r, FLOW_RECORD_WAIT_MS); })]);
      clearTimeout(timer);
      await this.settle(false).catch(() => {});
      this.netReports.flush();
      this.detections.flush();
    }
    onFinal?.(this.closeResult());
    // The teardown never throws: each step that fails is reported and the next still runs (the
    // agent shapes what is torn down — a tree deeper than PATH_MAX in its layer — and a close
    // that threw would leave the session, its slot and its log behind).
    const step = async (what: string, fn: () => unknown): Promise<void> => {
      try { await fn(); } catch (e) { this.rt.onError(`session ${this.id} teardown: ${what}: ${(e as Error).message}`); }
    };
    await step('gateway', () => { if (this.net) this.rt.gateway.unregister(this.net.ip); });
    // (the session dir — its workspace's unmount, ~20 ms for a disk-backed one — goes in parallel with the cgroup and the slot)
    await Promise.all([
      (async () => {
        await step('cgroup', () => this.cgroup.remove());
        await step('network slot', () => this.rt.pool.release(this.slot));
      })(),
      // (its disk workspace is detached in the background by the pool: off this close's path)
      step('session dir', () => this.files.removeDir()),
    ]);
    await step('session.end', () => {
      this.loss.flush();
      this.ended = true;
      if (!this.startWritten) return;
      if (this.storeBudget.unstored > 0) this.emit('sensor', { state: 'unstored', events_unstored: this.storeBudget.unstored, by_kind: this.storeBudget.unstoredByKind(), cap: this.storeBudget.cap });
      const capture = this.capture;
      this.emit('session.end', { alerts: this.alertEvents.length, cpu_ns: this.stats.cpuNs, memory_peak_bytes: this.stats.memoryPeakBytes, capture_complete: capture.complete, ...captureShortfalls(capture) });
    });
    this.rt.sessions.delete(this.id);
    // (a long-lived runtime runs thousands of sessions: what one leaves in the process must not add up)
    for (const id of this.cgroupIds) this.rt.index.forgetCgroup(id);
    this.rt.engine.forgetSession(this.id);
    this.logReleased = true;
    await step('event log', () => this.rt.store.endSession(this.id));
    return this.closeResult();
  }
}

/** What a closed session hands back: its alerts, its cgroup's final counters, and whether its kernel capture is whole. */
export interface SessionCloseResult {
  alerts: AlertEvent[];
  /** The session's verdict from all its alerts — killed, blocked, flagged or clean — as the daemon's close answer gives it. */
  verdict: Verdict;
  stats: CgroupStats;
  capture: CaptureStatus;
}

/** Resolves after the event loop has run at least one full I/O poll phase (two check phases apart). */
function ioPollTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** A connect() destination that is this host itself however it is spelled: ::1, and the unspecified :: and 0.0.0.0 (Linux connects those to loopback). */
function isLocalDestination(ip: string): boolean {
  return ip === '::1' || ip === '::' || ip === '0.0.0.0';
}
