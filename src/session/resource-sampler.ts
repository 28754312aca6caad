// Why: hidden mining shows up as compute, not just as traffic: a miner left running by one tool
// call can stay off the network (or mine through an allowed proxy) while it burns every core it
// is given. This sampler turns each live tool call's cgroup into periodic `resource` samples
// (CPU % of one core for the call, and per process with its comm and executable), so the
// sustained-CPU rules (rules/runtime-mining.yaml) can see "this process held a core for 60 s".
// Threat it stops: cryptomining by a background process that the network layer does not catch.
// The executable path is there because comm is the agent's to choose (a copy of python named
// ./pytest has comm "pytest"): the rules exempt expected compute processes only when they run
// from the sandbox's read-only system directories.
// Reads cgroup files and /proc/<pid>/stat only for processes already inside Corral's cgroups;
// it never discovers processes by polling (exec/exit come from the eBPF sensor).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Cgroup } from '../sandbox/cgroups.js';

/** Linux USER_HZ: /proc/<pid>/stat times are in these ticks on every mainstream architecture. */
const CLK_TCK = 100;
/** Processes below this CPU % are reported only when they were reported the sample before. */
const PROC_FLOOR_PCT = 5;
/** At most this many processes per call per sample (the busiest). */
const MAX_PROCS = 16;

/** An idle call's unchanged samples are elided, but one is still sent this often (a heartbeat). */
const IDLE_HEARTBEAT = 12;
/** Memory movement below this counts as unchanged for an idle call. */
const IDLE_MEMORY_SLACK = 1 << 20;

export interface ProcSample {
  pid: number; comm: string; cpuPct: number;
  /** readlink of /proc/<pid>/exe: the path as the sandbox sees it (/usr/bin/python3.11,
   *  /workspace/pytest, '/tmp/x (deleted)'); undefined if unreadable. */
  exe?: string;
  /** First seen younger than MIN_FIRST_AGE_SEC: its share is measured over a few ms (capped at one core). */
  young?: true;
}
export interface CallSample {
  key: string; cpuPct: number; cpuNs: number; memoryBytes?: number; pids?: number; procs: ProcSample[];
  /** Samples elided since the last one sent because the call sat idle and unchanged. */
  idleSkipped: number;
}

/**
 * Drops repeated samples of an idle call (below the CPU floor, no busy process, same process
 * count, memory within 1 MiB of the last sample sent): a `sleep infinity` left in the background
 * would otherwise log a sample every few seconds for the whole session. Every IDLE_HEARTBEAT-th
 * idle sample is still sent, carrying how many were elided; any change is sent at once. The
 * sustained-CPU rules only look at busy samples, so nothing they need is dropped.
 */
export class IdleSampleFilter {
  private last = new Map<string, { idle: boolean; pids?: number; memoryBytes?: number; skipped: number }>();

  /** Whether to send this sample; sets sample.idleSkipped when it is sent. */
  keep(s: CallSample): boolean {
    const idle = s.cpuPct < PROC_FLOOR_PCT && s.procs.length === 0;
    const prev = this.last.get(s.key);
    const unchanged = prev !== undefined && prev.idle && idle && prev.pids === s.pids
      && Math.abs((prev.memoryBytes ?? 0) - (s.memoryBytes ?? 0)) < IDLE_MEMORY_SLACK;
    if (unchanged && prev.skipped + 1 < IDLE_HEARTBEAT) { prev.skipped++; return false; }
    s.idleSkipped = prev?.skipped ?? 0;
    this.last.set(s.key, { idle, pids: s.pids, memoryBytes: s.memoryBytes, skipped: 0 });
    return true;
  }

  /** Forget calls that are gone. */
  retain(keys: Set<string>): void { for (const k of this.last.keys()) if (!keys.has(k)) this.last.delete(k); }
}

interface Prev { atNs: bigint; cpuNs: number }

/** Reads `utime + stime` (ticks), its start time (ticks after boot) and comm from /proc/<pid>/stat; undefined if the process is gone. */
export function readProcStat(pid: number): { ticks: number; startTicks: number; comm: string } | undefined {
  let t: string;
  try { t = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return undefined; }
  const open = t.indexOf('(');
  const close = t.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const f = t.slice(close + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  const startTicks = Number(f[19]);
  return Number.isFinite(ticks) && Number.isFinite(startTicks) ? { ticks, startTicks, comm: t.slice(open + 1, close) } : undefined;
}

/** Seconds since boot (/proc/uptime, the clock /proc/<pid>/stat start times count on); undefined if unreadable. */
export function readUptimeSec(): number | undefined {
  try {
    const v = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Number.isFinite(v) ? v : undefined;
  } catch { return undefined; }
}

/**
 * A process younger than this at its first sight is measured over so short a life that its share is
 * noise: it is still sampled (a miner forking a fresh worker every 40 ms would otherwise never be),
 * capped at one core and marked `young`, and the rules let such a sample of a system program pass.
 */
const MIN_FIRST_AGE_SEC = 0.05;

/**
 * The executable of a process (symlinks resolved by the kernel), or undefined if unreadable or gone.
 * Read from the host, a sandboxed process's path is the one inside its mount namespace. A process whose
 * leader thread has exited (a zombie leader: pthread_exit in main) has no /proc/PID/exe, but its other
 * threads still run the program: their task's exe is read instead (a miner's workers left without an
 * executable were judged by their comm alone).
 */
export function readProcExe(pid: number): string | undefined {
  try { return readlinkSync(`/proc/${pid}/exe`); } catch { /* a zombie leader, or gone */ }
  let tasks: string[];
  try { tasks = readdirSync(`/proc/${pid}/task`); } catch { return undefined; }
  for (const t of tasks.slice(0, 64)) {
    try { return readlinkSync(`/proc/${pid}/task/${t}/exe`); } catch { /* that thread is gone too */ }
  }
  return undefined;
}

export class ResourceSampler {
  private prevCall = new Map<string, Prev>();
  private prevPid = new Map<number, { atNs: bigint; ticks: number }>();
  private reported = new Set<number>();
  private readonly idle = new IdleSampleFilter();

  /**
   * One sample per live call (a call with processes, idle repeats elided); the first sight of a call
   * only sets its baseline. A pid seen for the first time is measured over its whole life so far
   * (CPU time since its start time): a worker that hands over to a fresh pid every few seconds,
   * faster than the sampling period, would otherwise never be sampled at all.
   */
  sample(calls: { key: string; cgroup: Cgroup }[], nowNs: bigint = process.hrtime.bigint(), uptimeSec: () => number | undefined = readUptimeSec): CallSample[] {
    const out: CallSample[] = [];
    let upSec: number | undefined | null = null; // read once per sample, when a new pid needs it
    const seenPids = new Set<number>();
    const seenCalls = new Set<string>();
    for (const { key, cgroup } of calls) {
      const pids = cgroup.pids();
      if (pids.length === 0) continue;
      seenCalls.add(key);
      const st = cgroup.stats();
      const prev = this.prevCall.get(key);
      const cpuNs = st.cpuNs ?? 0;
      this.prevCall.set(key, { atNs: nowNs, cpuNs });
      const procs: ProcSample[] = [];
      for (const pid of pids) {
        seenPids.add(pid);
        const s = readProcStat(pid);
        if (!s) continue;
        const p = this.prevPid.get(pid);
        this.prevPid.set(pid, { atNs: nowNs, ticks: s.ticks });
        let pct: number;
        let young = false;
        if (p) {
          if (nowNs <= p.atNs) continue;
          pct = ((s.ticks - p.ticks) / CLK_TCK) / (Number(nowNs - p.atNs) / 1e9) * 100;
        } else {
          if (upSec === null) upSec = uptimeSec();
          const age = upSec === undefined ? 0 : upSec - s.startTicks / CLK_TCK;
          if (!(age > 0)) continue;
          young = age < MIN_FIRST_AGE_SEC;
          pct = Math.min(young ? 100 : 100 * 1024, (s.ticks / CLK_TCK) / age * 100);
        }
        if (pct >= PROC_FLOOR_PCT || this.reported.has(pid)) {
          const p: ProcSample = { pid, comm: s.comm, cpuPct: Math.round(pct * 10) / 10, ...(young ? { young: true as const } : {}) };
          const exe = readProcExe(pid);
          if (exe !== undefined) p.exe = exe;
          procs.push(p);
        }
      }
      procs.sort((a, b) => b.cpuPct - a.cpuPct);
      procs.length = Math.min(procs.length, MAX_PROCS);
      for (const p of procs) { if (p.cpuPct >= PROC_FLOOR_PCT) this.reported.add(p.pid); else this.reported.delete(p.pid); }
      if (!prev || nowNs <= prev.atNs) continue;
      const cpuPct = (cpuNs - prev.cpuNs) / Number(nowNs - prev.atNs) * 100;
      const sample: CallSample = { key, cpuPct: Math.round(cpuPct * 10) / 10, cpuNs, memoryBytes: st.memoryBytes, pids: st.pids, procs, idleSkipped: 0 };
      if (this.idle.keep(sample)) out.push(sample);
    }
    // forget what is gone, so the maps stay as small as the live process set
    for (const pid of this.prevPid.keys()) if (!seenPids.has(pid)) { this.prevPid.delete(pid); this.reported.delete(pid); }
    for (const k of this.prevCall.keys()) if (!seenCalls.has(k)) this.prevCall.delete(k);
    this.idle.retain(seenCalls);
    return out;
  }
}
