// Why: turns GPU samples into alerts for the threat that started Corral — an agent using
// GPUs it was lent (or that leaked into its sandbox) to mine. Two rules:
//  - gpu.unexpected_process (mining, T1496.001): a sandboxed GPU compute process that is not
//    in the task's expected list (default: none expected, so any is flagged);
//  - gpu.sustained_util (resource_abuse, T1496.001): a GPU held by a sandbox whose task is
//    not a GPU task stays above X% utilisation for T seconds.
// Only processes attributed through cgroups count; host processes are not the agent's. The
// process name is agent-chosen, so the first rule is a tripwire, the second does not rely on names.
import type { AlertDraft } from '../alerts/network-alerts.js';
import type { GpuAttribution, GpuProcess, GpuSample } from './gpu-sampler.js';

export interface GpuTaskPolicy {
  /** Processes the task may run on a GPU: a basename (`python3`) or an absolute path (`/usr/bin/python3`). Default none. */
  expected_processes?: string[];
  /** Whether the task is meant to use GPUs. Default: true when expected_processes is non-empty. */
  gpu_task?: boolean;
  /** This task's utilisation threshold (%) for gpu.sustained_util; default the detector's utilThresholdPct. */
  util_threshold_pct?: number;
  /** How long (s) this task's GPU must stay above it; default the detector's sustainS. */
  sustain_s?: number;
}

export interface GpuDetectOptions {
  /** The policy for the session / tool call a process belongs to. */
  policyFor: (a: GpuAttribution) => GpuTaskPolicy;
  /** Utilisation (%) above which a non-GPU task's GPU counts as busy, where its policy sets none. Default 50. */
  utilThresholdPct?: number;
  /** How long (s) it must stay busy before an alert, where its policy sets none. Default 60. */
  sustainS?: number;
  /** A gap between samples longer than this (s) restarts the clock (the sampler stopped or failed). Default 30. */
  maxGapS?: number;
}

export interface GpuDetection {
  draft: AlertDraft;
  attribution: GpuAttribution;
  ts: string;
  gpu: { index: number | null; uuid: string };
  pid?: number;
}

const ATTACK = ['T1496.001'];

function basename(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? p : p.slice(i + 1);
}

/** Whether a process matches an entry: an absolute entry must equal the executable path, a bare name its basename. */
export function matchesExpected(p: Pick<GpuProcess, 'name' | 'exe'>, expected: string[]): boolean {
  const path = p.exe ?? p.name;
  return expected.some((e) => (e.startsWith('/') ? path === e : basename(path) === e));
}

function who(a: GpuAttribution): string {
  return [`session ${a.session}`, a.step !== undefined && `step ${a.step}`, a.tool_call && `call ${a.tool_call}`].filter(Boolean).join(', ');
}

function gpuName(s: GpuSample): string {
  return `GPU ${s.gpu.index ?? '?'} (${s.gpu.uuid})`;
}

function sessionKey(a: GpuAttribution): string { return `${a.session}\u0000${a.run ?? ''}\u0000${a.episode ?? ''}`; }

/** Incremental form, for a live sample stream: feed samples in time order, collect detections. */
export class GpuDetector {
  private flagged = new Set<string>();
  private busySince = new Map<string, { startNs: bigint; lastNs: bigint; alerted: boolean }>();
  private readonly threshold: number;
  private readonly sustainNs: bigint;
  private readonly maxGapNs: bigint;

  constructor(private readonly o: GpuDetectOptions) {
    this.threshold = o.utilThresholdPct ?? 50;
    this.sustainNs = BigInt(Math.round((o.sustainS ?? 60) * 1e9));
    this.maxGapNs = BigInt(Math.round((o.maxGapS ?? 30) * 1e9));
  }

  push(s: GpuSample): GpuDetection[] {
    const out: GpuDetection[] = [];
    const ts = BigInt(s.ts);
    const sandboxed = s.processes.filter((p): p is GpuProcess & { attribution: GpuAttribution } => !!p.attribution);
    for (const p of sandboxed) {
      const pol = this.o.policyFor(p.attribution);
      const expected = pol.expected_processes ?? [];
      if (matchesExpected(p, expected)) continue;
      const key = `${sessionKey(p.attribution)}\u0000${p.pid}\u0000${p.exe ?? p.name}`;
      if (this.flagged.has(key)) continue;
      this.flagged.add(key);
      const shown = p.exe && p.exe !== p.name ? `${p.name} (exe ${p.exe})` : p.name;
      const allowed = expected.length ? `only ${expected.join(', ')}` : 'no GPU processes';
      out.push({
        ts: s.ts, attribution: p.attribution, pid: p.pid, gpu: { index: s.gpu.index, uuid: s.gpu.uuid },
        draft: {
          rule: 'gpu.unexpected_process', category: 'mining', severity: 'high', attack: ATTACK,
          message: `Unexpected GPU compute process ${JSON.stringify(shown)} (pid ${p.pid}, ${who(p.attribution)}) on ${gpuName(s)}` +
            `${p.used_bytes !== null ? `, ${Math.round(p.used_bytes / 1048576)} MiB` : ''}: possible GPU mining`,
          reason: `This task may run ${allowed} on the GPU; ${basename(p.exe ?? p.name)} was flagged as possible compute hijacking. [corral rule gpu.unexpected_process]`,
        },
      });
    }
    // Sustained utilisation, per (session, GPU): only sessions whose task is not a GPU task.
    const idle = new Set(this.keysFor(s.gpu.uuid));
    const util = s.gpu.util_pct;
    const sessions = new Map<string, { attr: GpuAttribution; threshold: number; sustainNs: bigint }>();
    for (const p of sandboxed) {
      const pol = this.o.policyFor(p.attribution);
      const gpuTask = pol.gpu_task ?? (pol.expected_processes ?? []).length > 0;
      if (!gpuTask) {
        sessions.set(sessionKey(p.attribution), {
          attr: p.attribution,
          threshold: pol.util_threshold_pct ?? this.threshold,
          sustainNs: pol.sustain_s !== undefined ? BigInt(Math.round(pol.sustain_s * 1e9)) : this.sustainNs,
        });
      }
    }
    if (util !== null) {
      for (const [sk, { attr, threshold, sustainNs }] of sessions) {
        if (util <= threshold) continue;
        const key = `${sk}\u0000${s.gpu.uuid}`;
        idle.delete(key);
        let st = this.busySince.get(key);
        if (!st || ts - st.lastNs > this.maxGapNs || ts < st.lastNs) st = { startNs: ts, lastNs: ts, alerted: false };
        st.lastNs = ts;
        this.busySince.set(key, st);
        if (!st.alerted && ts - st.startNs >= sustainNs) {
          st.alerted = true;
          const secs = Number((ts - st.startNs) / 1_000_000n) / 1000;
          const shared = sessions.size > 1 ? ` (shared with ${sessions.size - 1} other session${sessions.size > 2 ? 's' : ''})` : '';
          out.push({
            ts: s.ts, attribution: attr, gpu: { index: s.gpu.index, uuid: s.gpu.uuid },
            draft: {
              rule: 'gpu.sustained_util', category: 'resource_abuse', severity: 'medium', attack: ATTACK,
              message: `${gpuName(s)} above ${threshold}% utilisation for ${secs.toFixed(0)} s (now ${util}%) while held by ${who(attr)}${shared}, whose task is not a GPU task`,
              reason: `This task is not a GPU task, but its processes kept a GPU above ${threshold}% for ${secs.toFixed(0)} s. [corral rule gpu.sustained_util]`,
            },
          });
        }
      }
    }
    // Anything not busy this round (util unknown, below threshold, or the session left the GPU)
    // restarts its clock, unless the process list was incomplete: then nothing is concluded.
    if (s.processes_complete) for (const k of idle) this.busySince.delete(k);
    return out;
  }

  private keysFor(uuid: string): string[] {
    return [...this.busySince.keys()].filter((k) => k.endsWith(`\u0000${uuid}`));
  }
}

/** Pure form: the detections a time-ordered sample stream produces. */
export function detectGpuAbuse(samples: Iterable<GpuSample>, o: GpuDetectOptions): GpuDetection[] {
  const d = new GpuDetector(o);
  const out: GpuDetection[] = [];
  for (const s of samples) out.push(...d.push(s));
  return out;
}

/**
 * `resource` event payloads for a sample, one per sandboxed process (the keys the detection
 * engine's gpu.* fields read), so GPU use lands in the same event log as everything else.
 */
export function gpuResourcePayloads(s: GpuSample): { attribution: GpuAttribution; pid: number; payload: Record<string, unknown> }[] {
  return s.processes.filter((p) => p.attribution).map((p) => ({
    attribution: p.attribution!, pid: p.pid,
    payload: {
      scope: 'gpu', gpu_index: s.gpu.index, gpu_uuid: s.gpu.uuid, gpu_util_pct: s.gpu.util_pct,
      gpu_mem_bytes: p.used_bytes, gpu_process: p.name, gpu_exe: p.exe, gpu_power_w: s.gpu.power_w,
    },
  }));
}
