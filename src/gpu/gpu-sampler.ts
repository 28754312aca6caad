// Why: the incident behind Corral was an agent mining cryptocurrency on the GPUs it was
// lent. This sampler polls nvidia-smi (argv arrays, never a shell) and ties every GPU compute
// process to the session and tool call whose cgroup it was born in, so a miner shows up
// with unforgeable attribution rather than with the name the agent gave it. The command
// runner is injectable: tests feed it recorded-format text because no GPU exists there.
import { spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { nowNs, type Attribution } from '../events/event.js';
import {
  appsQueryArgv, gpuQueryArgv, parseComputeApps, parseGpuQuery,
  type AppRow, type GpuRow, type ParseIssue,
} from './nvidia-smi.js';

export interface RunResult { code: number | null; stdout: string; stderr: string }
/** Runs argv[0] with argv[1..]; rejects only when the program cannot be started (ENOENT, EACCES). */
export type CommandRunner = (argv: string[], opts: { timeoutMs: number }) => Promise<RunResult>;

/** Attribution of a GPU process, as Corral's own bookkeeping knows it (cgroup lineage). */
export type GpuAttribution = Attribution & { cgroup?: string };

export interface GpuInfo {
  /** nvidia-smi's index; null for a GPU that appeared only in the process list (a MIG instance UUID, a GPU that vanished between the two queries). */
  index: number | null;
  uuid: string;
  name: string;
  util_pct: number | null;
  mem_used_bytes: number | null;
  mem_total_bytes: number | null;
  power_w: number | null;
  temp_c: number | null;
  unavailable: Record<string, string>;
}

export interface GpuProcess {
  pid: number;
  /** As nvidia-smi reports it: chosen by the agent, a hint only. */
  name: string;
  used_bytes: number | null;
  /** The executable's path from /proc/<pid>/exe, when an `exeOf` lookup is configured. */
  exe?: string;
  /** Absent when the pid is not in any Corral cgroup (a host process) or has already exited. */
  attribution?: GpuAttribution;
  /** Salvaged from an unreadable nvidia-smi line: pid and GPU are known, the rest is not. */
  partial?: true;
}

export interface GpuSample {
  /** Epoch nanoseconds (decimal string) when the queries started. */
  ts: string;
  gpu: GpuInfo;
  processes: GpuProcess[];
  /** False when the process query failed this round: `processes` is then unknown, not empty. */
  processes_complete: boolean;
}

export interface GpuSamplerProblem {
  stage: 'query-gpu' | 'query-compute-apps' | 'attribution';
  message: string;
  issues?: ParseIssue[];
}

export interface GpuSamplerOptions {
  /** The nvidia-smi binary (default `nvidia-smi`, found on PATH). */
  command?: string;
  intervalMs?: number;
  timeoutMs?: number;
  runner?: CommandRunner;
  attribute?: (pid: number) => GpuAttribution | undefined;
  exeOf?: (pid: number) => string | undefined;
  onSample?: (s: GpuSample) => void;
  onProblem?: (p: GpuSamplerProblem) => void;
  clock?: () => string;
}

const MIB = 1024 * 1024;
const MAX_OUTPUT = 4 * MIB;

/** The real runner: spawn without a shell, bounded output, killed at the timeout. */
export const spawnRunner: CommandRunner = (argv, { timeoutMs }) => new Promise((resolve, reject) => {
  const [cmd, ...args] = argv;
  const child = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const timer = setTimeout(() => { child.kill('SIGKILL'); stderr += `\n[killed after ${timeoutMs} ms]`; }, timeoutMs);
  child.stdout.setEncoding('utf8').on('data', (d: string) => { if (stdout.length < MAX_OUTPUT) stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < MAX_OUTPUT) stderr += d; });
  child.on('error', (e) => { clearTimeout(timer); reject(e); });
  child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
});

/** The cgroup2 path (no leading slash) from the text of /proc/<pid>/cgroup, or undefined. */
export function cgroupV2Path(procCgroupText: string): string | undefined {
  const line = procCgroupText.split('\n').find((l) => l.startsWith('0::'));
  return line === undefined ? undefined : line.slice(3).replace(/^\/+/, '');
}

/**
 * pid → attribution through /proc/<pid>/cgroup: the cgroup a process was born in is chosen by
 * Corral, not by the agent. `lookup` maps a cgroup path (relative to the cgroup2 root) to its
 * labels; parents are tried too, so a process in a nested group still maps to its call.
 */
export function procCgroupAttributor(
  lookup: (cgroupPath: string) => Attribution | undefined,
  o: { procRoot?: string; readFile?: (p: string) => string } = {},
): (pid: number) => GpuAttribution | undefined {
  const read = o.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const root = o.procRoot ?? '/proc';
  return (pid) => {
    let text: string;
    try { text = read(`${root}/${pid}/cgroup`); } catch { return undefined; }
    const path = cgroupV2Path(text);
    if (path === undefined) return undefined;
    for (let p = path; p !== ''; p = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '') {
      const labels = lookup(p);
      if (labels) return { ...labels, cgroup: path };
    }
    return undefined;
  };
}

/** /proc/<pid>/exe (the kernel's record of the binary), or undefined when unreadable. */
export function procExe(pid: number, procRoot = '/proc'): string | undefined {
  try { return readlinkSync(`${procRoot}/${pid}/exe`); } catch { return undefined; }
}

function gpuInfo(r: GpuRow): GpuInfo {
  return {
    index: r.index, uuid: r.uuid, name: r.name, util_pct: r.util_pct,
    mem_used_bytes: r.mem_used_mib === null ? null : r.mem_used_mib * MIB,
    mem_total_bytes: r.mem_total_mib === null ? null : r.mem_total_mib * MIB,
    power_w: r.power_w, temp_c: r.temp_c, unavailable: r.unavailable,
  };
}

/**
 * Joins the two queries into one sample per GPU. Pure apart from the callbacks. A process
 * whose GPU UUID is not in the GPU list still gets a sample (index null), so nothing is dropped.
 */
export function buildSamples(
  ts: string, gpus: GpuRow[], apps: AppRow[] | null,
  o: { attribute?: GpuSamplerOptions['attribute']; exeOf?: GpuSamplerOptions['exeOf']; onProblem?: GpuSamplerOptions['onProblem'] } = {},
): GpuSample[] {
  const byUuid = new Map<string, GpuSample>();
  for (const g of gpus) byUuid.set(g.uuid, { ts, gpu: gpuInfo(g), processes: [], processes_complete: apps !== null });
  for (const a of apps ?? []) {
    let s = byUuid.get(a.gpu_uuid);
    if (!s) {
      s = { ts, processes: [], processes_complete: true, gpu: {
        index: null, uuid: a.gpu_uuid, name: '(not in query-gpu output)', util_pct: null, mem_used_bytes: null,
        mem_total_bytes: null, power_w: null, temp_c: null, unavailable: {} } };
      byUuid.set(a.gpu_uuid, s);
    }
    const p: GpuProcess = { pid: a.pid, name: a.name, used_bytes: a.used_mib === null ? null : a.used_mib * MIB };
    if (a.partial) p.partial = true;
    try {
      const exe = o.exeOf?.(a.pid);
      if (exe !== undefined) p.exe = exe;
      const attr = o.attribute?.(a.pid);
      if (attr) p.attribution = attr;
    } catch (e) {
      o.onProblem?.({ stage: 'attribution', message: `pid ${a.pid}: ${(e as Error).message}` });
    }
    s.processes.push(p);
  }
  return [...byUuid.values()];
}

export type Availability = { ok: true; gpus: string[] } | { ok: false; why: string };

function describeFailure(argv: string[], r: RunResult): string {
  const said = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim()).filter(Boolean)[0] ?? 'no output';
  return `${argv.join(' ')} exited ${r.code ?? 'by signal'}: ${said.slice(0, 300)}`;
}

export class GpuSampler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private readonly o: Required<Pick<GpuSamplerOptions, 'command' | 'intervalMs' | 'timeoutMs' | 'runner' | 'clock'>> & GpuSamplerOptions;

  constructor(opts: GpuSamplerOptions = {}) {
    this.o = { command: 'nvidia-smi', intervalMs: 5000, timeoutMs: 10_000, runner: spawnRunner, clock: nowNs, ...opts };
  }

  /** Whether nvidia-smi exists and sees at least one GPU; `why` says what is missing. */
  static async available(o: { command?: string; runner?: CommandRunner; timeoutMs?: number } = {}): Promise<Availability> {
    const argv = [o.command ?? 'nvidia-smi', '-L'];
    let r: RunResult;
    try { r = await (o.runner ?? spawnRunner)(argv, { timeoutMs: o.timeoutMs ?? 10_000 }); } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { ok: false, why: code === 'ENOENT' ? `${argv[0]} not found (no NVIDIA driver utilities on PATH)` : `${argv[0]} could not start: ${(e as Error).message}` };
    }
    if (r.code !== 0) return { ok: false, why: describeFailure(argv, r) };
    const gpus = r.stdout.split('\n').map((l) => l.trim()).filter((l) => /^GPU \d+:/.test(l));
    return gpus.length ? { ok: true, gpus } : { ok: false, why: `${argv.join(' ')} listed no GPUs` };
  }

  /** One round: both queries, parsed and joined. Problems go to onProblem; samples are returned (and not emitted). */
  async sampleOnce(): Promise<GpuSample[]> {
    const ts = this.o.clock();
    const run = async (argv: string[], stage: GpuSamplerProblem['stage']): Promise<string | null> => {
      try {
        const r = await this.o.runner(argv, { timeoutMs: this.o.timeoutMs });
        if (r.code === 0) return r.stdout;
        this.o.onProblem?.({ stage, message: describeFailure(argv, r) });
      } catch (e) {
        this.o.onProblem?.({ stage, message: `${argv[0]}: ${(e as Error).message}` });
      }
      return null;
    };
    const [gpuText, appsText] = await Promise.all([
      run(gpuQueryArgv(this.o.command), 'query-gpu'), run(appsQueryArgv(this.o.command), 'query-compute-apps'),
    ]);
    const gpus = gpuText === null ? { rows: [], issues: [] } : parseGpuQuery(gpuText);
    const apps = appsText === null ? null : parseComputeApps(appsText);
    if (gpus.issues.length) this.o.onProblem?.({ stage: 'query-gpu', message: `${gpus.issues.length} unreadable line(s)`, issues: gpus.issues });
    if (apps?.issues.length) this.o.onProblem?.({ stage: 'query-compute-apps', message: `${apps.issues.length} unreadable line(s)`, issues: apps.issues });
    // A process line that could not be read means the process list is not the whole truth.
    const samples = buildSamples(ts, gpus.rows, apps ? apps.rows : null, this.o);
    if (apps?.issues.length) for (const s of samples) s.processes_complete = false;
    return samples;
  }

  /** Polls every intervalMs (a round never overlaps the previous one) and emits through onSample. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const tick = () => {
      this.running = this.sampleOnce().then((samples) => {
        if (!this.stopped) for (const s of samples) this.o.onSample?.(s);
      }).catch((e) => this.o.onProblem?.({ stage: 'query-gpu', message: (e as Error).message })).finally(() => {
        this.running = undefined;
        if (!this.stopped) { this.timer = setTimeout(tick, this.o.intervalMs); this.timer.unref(); }
      });
    };
    tick();
  }

  /** Stops polling and waits for a round in flight (its samples are discarded). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
