// Why: turns what the kernel says about a tool call's limits (cgroup counters before and after the
// call, a full size-capped workspace, the timeout) into resource_abuse alerts with a reason the
// agent can read. Threat it stops: fork bombs, memory hogs, disk fillers and runaway calls going
// unreported, or reported without saying which limit stopped them.
import type { AlertDraft } from '../events/event.js';
import type { CgroupStats } from '../sandbox/cgroups.js';
import type { Policy } from '../policy/index.js';

export interface LimitFacts {
  before: CgroupStats;
  after: CgroupStats;
  resources: Policy['resources'];
  timedOut: boolean;
  timeoutMs: number;
  /** The workspace's cap (bytes) when this call filled it (first time since it had room). */
  workspaceFilled?: number;
  /** A writable root's layer (resources.root_size, bytes) has just become full: space or inodes. */
  rootLayerFilled?: number;
  /** The sandbox's /tmp or /dev/shm (that path, and its size) has just become full. */
  scratchFilled?: { path: string; bytes: number };
}

/**
 * `blocked` for every limit, as docs/report.md defines it: the kernel or Corral stopped what went past the policy's
 * cap (an OOM kill, a timeout's kill included). `killed` is the verdict of `response.kill` acting on a detection; a
 * trainer that penalises it must not punish a slow test suite like a miner (a user review, session 41).
 */
export interface LimitAlert { draft: AlertDraft; action: 'blocked' }

export function fmtBytes(n: number): string {
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : `${Math.round(n / (1 << 20))} MiB`;
}

export function limitAlerts(f: LimitFacts): LimitAlert[] {
  const out: LimitAlert[] = [];
  const r = f.resources;
  if ((f.after.oomKills ?? 0) > (f.before.oomKills ?? 0)) {
    out.push({ action: 'blocked', draft: { rule: 'limit.memory_oom', category: 'resource_abuse', severity: 'medium', attack: ['T1496'],
      message: `Memory limit (${r.memory} bytes) hit: ${f.after.oomKills} process(es) OOM-killed`,
      reason: `The tool call exceeded the sandbox memory limit of ${fmtBytes(r.memory)} and was killed by the OOM killer.` } });
  }
  if ((f.after.pidsMaxHits ?? 0) > (f.before.pidsMaxHits ?? 0)) {
    out.push({ action: 'blocked', draft: { rule: 'limit.pids', category: 'resource_abuse', severity: 'medium', attack: ['T1496'],
      message: `Process limit (${r.pids}) hit ${f.after.pidsMaxHits} time(s) (fork bomb?)`,
      reason: `The tool call tried to create more than ${r.pids} processes; extra forks failed.` } });
  }
  const wsCap = f.workspaceFilled;
  if (wsCap !== undefined) {
    out.push({ action: 'blocked', draft: { rule: 'limit.workspace', category: 'resource_abuse', severity: 'medium', attack: ['T1499'],
      message: `Workspace size limit (${wsCap} bytes) reached: writes fail with ENOSPC`,
      reason: `The workspace is full (limit ${fmtBytes(wsCap)}); further writes fail. Delete files you do not need.` } });
  }
  if (f.rootLayerFilled !== undefined) {
    out.push({ action: 'blocked', draft: { rule: 'limit.root_layer', category: 'resource_abuse', severity: 'medium', attack: ['T1499'],
      message: `Writable root layer limit (${f.rootLayerFilled} bytes) reached: writes outside the workspace fail with ENOSPC`,
      reason: `The sandbox's writable root is full (limit ${fmtBytes(f.rootLayerFilled)}); writes to /usr, /etc, /opt … fail. Delete files you do not need.` } });
  }
  if (f.scratchFilled !== undefined) {
    const { path, bytes } = f.scratchFilled;
    out.push({ action: 'blocked', draft: { rule: 'limit.tmp', category: 'resource_abuse', severity: 'medium', attack: ['T1499'],
      message: `${path} size limit (${bytes} bytes) reached: writes there fail with ENOSPC`,
      reason: `${path} is full (limit ${fmtBytes(bytes)}, it counts against the memory limit); further writes fail. Delete files you do not need there.` } });
  }
  if (f.timedOut) {
    // (no ATT&CK technique: running long is not resource hijacking)
    out.push({ action: 'blocked', draft: { rule: 'limit.timeout', category: 'resource_abuse', severity: 'low', attack: [],
      message: `Tool call exceeded its ${f.timeoutMs} ms timeout and was killed with all its processes`,
      reason: `The tool call ran longer than ${fmtDuration(f.timeoutMs)} and was killed.` } });
  }
  return out;
}

/** A timeout as the agent should read it: `300 ms`, `1.5 s`, `2 s`, `5 min`, `1 h 30 min` (never rounded to 0 or up). */
export function fmtDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000 || ms % 60_000 !== 0) return `${Number((ms / 1000).toFixed(3))} s`;
  const min = ms / 60_000;
  if (min < 60) return `${min} min`;
  return min % 60 ? `${Math.floor(min / 60)} h ${min % 60} min` : `${min / 60} h`;
}
