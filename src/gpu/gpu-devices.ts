// Why: a sandbox must reach only the GPUs its policy grants. Threat: an agent lent GPU 0 for
// training (or no GPU at all) opening the host's other GPUs to mine on them. bwrap's
// `--dev /dev` builds a fresh /dev with no nvidia nodes, and the sandbox uid has no
// CAP_MKNOD to create one, so only nodes bound here exist inside. This is a pure argv/env
// builder; existence checks are injected so tests can describe any host.
import { existsSync } from 'node:fs';

/** Which GPUs a sandbox may use: none (the default), all of the host's, or these nvidia-smi indices. */
export type GpuGrant = 'none' | 'all' | number[];

export interface HostGpu {
  /** nvidia-smi index. */
  index: number;
  uuid?: string;
  /** Minor number of /dev/nvidia<minor> (from `nvidia-smi -q`); defaults to the index, which usually but not always matches. */
  minor?: number;
}

/** Control nodes a CUDA process needs besides its GPU's own node; nvidiactl is required, the rest are bound when present. */
export const NVIDIA_CONTROL_NODES = ['/dev/nvidiactl', '/dev/nvidia-uvm', '/dev/nvidia-uvm-tools', '/dev/nvidia-modeset'] as const;
const REQUIRED_CONTROL = '/dev/nvidiactl';

export interface GpuDevicePlan {
  /** bwrap arguments; they must come after `--dev /dev` (see insertGpuArgs). Empty with no grant. */
  args: string[];
  /** Environment for the sandbox: a convenience for CUDA and tools, never the enforcement (the agent can change it). */
  env: Record<string, string>;
  granted: HostGpu[];
  /** Every device node bound into the sandbox. */
  nodes: string[];
  /** Optional control nodes absent on the host (e.g. nvidia-uvm before any CUDA program ran: CUDA will fail inside). */
  absent: string[];
}

export class GpuGrantError extends Error {}

export interface GpuDeviceSpec {
  grant: GpuGrant;
  hostGpus: HostGpu[];
  exists?: (path: string) => boolean;
  /** Where the host's nodes are found (default /dev); inside the sandbox they always appear under /dev. Tests point this at stand-in files. */
  sourceDir?: string;
}

export function buildGpuDeviceArgs(spec: GpuDeviceSpec): GpuDevicePlan {
  const src = spec.sourceDir ?? '/dev';
  const exists = (node: string) => (spec.exists ?? existsSync)(`${src}${node.slice('/dev'.length)}`);
  if (spec.grant === 'none' || (Array.isArray(spec.grant) && spec.grant.length === 0)) {
    // Nothing bound: bwrap's --dev leaves no nvidia node. The env tells CUDA and the NVIDIA
    // container runtime the same thing, so a tool fails with "no device" rather than probing.
    return { args: [], env: { CUDA_VISIBLE_DEVICES: '', NVIDIA_VISIBLE_DEVICES: 'void' }, granted: [], nodes: [], absent: [] };
  }
  let granted: HostGpu[];
  if (spec.grant === 'all') {
    granted = [...spec.hostGpus];
    if (!granted.length) throw new GpuGrantError('the policy grants all GPUs, but this host has none');
  } else {
    granted = [];
    for (const i of spec.grant) {
      if (!Number.isInteger(i) || i < 0) throw new GpuGrantError(`GPU index ${String(i)} is not a whole number ≥ 0`);
      const g = spec.hostGpus.find((h) => h.index === i);
      if (!g) throw new GpuGrantError(`the policy grants GPU ${i}, but this host has ${spec.hostGpus.length ? `only ${spec.hostGpus.map((h) => h.index).join(', ')}` : 'no GPUs'}`);
      if (!granted.includes(g)) granted.push(g);
    }
  }
  granted.sort((a, b) => a.index - b.index);
  const nodes: string[] = [];
  const absent: string[] = [];
  for (const g of granted) {
    const node = `/dev/nvidia${g.minor ?? g.index}`;
    if (!exists(node)) throw new GpuGrantError(`GPU ${g.index} is granted but ${node} does not exist on this host`);
    nodes.push(node);
  }
  for (const c of NVIDIA_CONTROL_NODES) {
    if (exists(c)) nodes.push(c);
    else if (c === REQUIRED_CONTROL) throw new GpuGrantError(`${c} does not exist: the NVIDIA driver is not loaded`);
    else absent.push(c);
  }
  const args = nodes.flatMap((n) => ['--dev-bind', `${src}${n.slice('/dev'.length)}`, n]);
  // Inside the sandbox CUDA enumerates only the nodes it can open; UUIDs name the same GPUs
  // whatever the enumeration order, so they are preferred when known.
  const ids = granted.map((g) => g.uuid ?? String(g.index)).join(',');
  return { args, env: { CUDA_VISIBLE_DEVICES: ids, NVIDIA_VISIBLE_DEVICES: ids }, granted, nodes, absent };
}

/**
 * Inserts GPU arguments right after bwrap's `--dev /dev` (a bind made before it would be
 * hidden by the fresh /dev). Throws if the argv has no `--dev /dev` before `--`.
 */
export function insertGpuArgs(bwrapArgv: string[], gpuArgs: string[]): string[] {
  const end = bwrapArgv.indexOf('--');
  for (let i = 0; i < (end < 0 ? bwrapArgv.length : end) - 1; i++) {
    if (bwrapArgv[i] === '--dev' && bwrapArgv[i + 1] === '/dev') {
      return [...bwrapArgv.slice(0, i + 2), ...gpuArgs, ...bwrapArgv.slice(i + 2)];
    }
  }
  throw new GpuGrantError('bwrap argv has no `--dev /dev`: GPU device nodes would not be isolated');
}
