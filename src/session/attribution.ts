// Why: attribution that the agent cannot forge. A process's tool call is read from the
// cgroup it was born into (eBPF reports the cgroup id with every record), and a proxied
// connection is tied to its process by the kernel-chosen source port seen at SYN time.
// Nothing the agent controls (env, argv, proxy user names) is consulted.
import type { Attribution } from '../events/event.js';

export interface CgroupLabels extends Attribution { cgroup: string }
export interface SynInfo { pid: number; cgroupId: string; tsNs: bigint }

/** How long the kernel's record of a connection's 4-tuple is kept for the gateway to find (default). */
export const SYN_TTL_MS = 120_000;

export class AttributionIndex {
  private byCgroup = new Map<string, CgroupLabels>();
  private syn = new Map<string, SynInfo>();
  private waiters = new Map<string, ((s: SynInfo) => void)[]>();
  private lastPrune = 0n;
  private readonly ttlNs: bigint;
  private readonly pruneEveryNs: bigint;

  constructor(synTtlMs = SYN_TTL_MS) {
    this.ttlNs = BigInt(Math.max(1, Math.round(synTtlMs))) * 1_000_000n;
    this.pruneEveryNs = this.ttlNs < 10_000_000_000n ? this.ttlNs : 10_000_000_000n;
  }

  registerCgroup(id: string, labels: CgroupLabels): void { this.byCgroup.set(id, labels); }
  forgetCgroup(id: string): void { this.byCgroup.delete(id); }
  labels(cgroupId: string): CgroupLabels | undefined { return this.byCgroup.get(cgroupId); }
  knows(cgroupId: string): boolean { return this.byCgroup.has(cgroupId); }
  /** Cgroups known now (sessions and tool calls not yet closed). */
  get cgroupCount(): number { return this.byCgroup.size; }

  /** Keyed by the full 4-tuple the socket saw (the original destination, before the gateway's redirect). */
  onSyn(saddr: string, sport: number, daddr: string, dport: number, info: SynInfo): void {
    const key = `${saddr}:${sport}>${daddr}:${dport}`;
    this.syn.set(key, info);
    const w = this.waiters.get(key);
    if (w) { this.waiters.delete(key); for (const f of w) f(info); }
    if (info.tsNs - this.lastPrune > this.pruneEveryNs) {
      this.lastPrune = info.tsNs;
      for (const [k, v] of this.syn) if (info.tsNs - v.tsNs > this.ttlNs) this.syn.delete(k);
    }
  }

  /** The process behind a connection; waits briefly for the sensor's record. */
  byFlow(saddr: string, sport: number, daddr: string, dport: number, timeoutMs: number): Promise<SynInfo | undefined> {
    const key = `${saddr}:${sport}>${daddr}:${dport}`;
    const hit = this.syn.get(key);
    if (hit || timeoutMs <= 0) return Promise.resolve(hit);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        const list = this.waiters.get(key);
        if (list) { const i = list.indexOf(done); if (i >= 0) list.splice(i, 1); if (!list.length) this.waiters.delete(key); }
        resolve(undefined);
      }, timeoutMs);
      const done = (s: SynInfo) => { clearTimeout(t); resolve(s); };
      const list = this.waiters.get(key) ?? [];
      list.push(done);
      this.waiters.set(key, list);
    });
  }
}
