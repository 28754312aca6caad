// Why: ties the GPU adapter into a Corral runtime: which GPUs this host has (for per-policy
// device grants), periodic samples attributed to tool calls through the cgroup a process was
// born in, and detections (a GPU process the task did not expect, sustained use by a sandbox
// with no GPU task). Threat: an agent using the GPUs it was given to mine. Absent GPUs or
// drivers make this a no-op.
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { GpuSampler, procCgroupAttributor, type GpuAttribution, type GpuSample } from './gpu-sampler.js';
import { GpuDetector, gpuResourcePayloads, type GpuDetection, type GpuTaskPolicy } from './gpu-detect.js';
import type { HostGpu } from './gpu-devices.js';
import type { Attribution } from '../events/event.js';

export interface GpuMonitorHooks {
  /** cgroup2 directory of Corral's cgroups and the id->labels lookup of the attribution index. */
  unifiedRoot: string;
  labelsForCgroupId(id: string): Attribution | undefined;
  policyFor(a: GpuAttribution): GpuTaskPolicy;
  onResource(a: GpuAttribution, pid: number, payload: Record<string, unknown>): void;
  onDetection(d: GpuDetection): void;
  onProblem(message: string): void;
  intervalMs?: number;
}

export function parseGpuList(lines: string[]): HostGpu[] {
  const out: HostGpu[] = [];
  for (const l of lines) {
    const m = /^GPU (\d+):.*?\(UUID: ([^)\s]+)\)/.exec(l);
    if (m) out.push({ index: Number(m[1]), uuid: m[2] });
  }
  return out;
}

export class GpuMonitor {
  private constructor(readonly hostGpus: HostGpu[], private sampler?: GpuSampler) {}

  static async start(h: GpuMonitorHooks): Promise<GpuMonitor> {
    const avail = await GpuSampler.available({ timeoutMs: 5000 });
    if (!avail.ok) return new GpuMonitor([]);
    const hostGpus = parseGpuList(avail.gpus);
    // (each session's own thresholds and task flag: the hook returns its policy's gpu section)
    const detector = new GpuDetector({ policyFor: (a) => h.policyFor(a) });
    const attribute = procCgroupAttributor((path) => {
      try { return h.labelsForCgroupId(String(statSync(join(h.unifiedRoot, path)).ino)); } catch { return undefined; }
    });
    const sampler = new GpuSampler({
      intervalMs: h.intervalMs ?? 5000,
      attribute,
      onProblem: (p) => h.onProblem(`gpu ${p.stage}: ${p.message}`),
      onSample: (s: GpuSample) => {
        for (const r of gpuResourcePayloads(s)) h.onResource(r.attribution, r.pid, r.payload);
        for (const d of detector.push(s)) h.onDetection(d);
      },
    });
    sampler.start();
    return new GpuMonitor(hostGpus, sampler);
  }

  stop(): void { this.sampler?.stop(); }
}
