// Why: an internal scan produces hundreds of refused connections; people and trainers need
// one alert "scan of N targets" with the evidence, not N alerts. Probes attributed to the
// same tool call within a quiet window are folded into one alert carrying the count.
// A probe whose attribution is still being worked out (its kernel record late, seconds under load)
// joins its group when it arrives: while the owner says it is busy, a quiet group waits (bounded)
// rather than go out without it and leave that probe an alert of its own.
export interface Probe { target: string; evidence: string; message: string; ts?: string }

export interface FanoutOptions {
  /** Whether probes may still be on their way (e.g. gateway reports being attributed). */
  busy?: () => boolean;
  /** How long past the quiet window a group waits for a busy owner at most (ms). */
  maxHoldMs?: number;
}

export class FanoutAggregator<K> {
  private groups = new Map<string, { key: K; probes: Probe[]; last: number; timer: NodeJS.Timeout }>();
  constructor(private quietMs: number, private emit: (key: K, probes: Probe[]) => void, private o: FanoutOptions = {}) {}

  add(groupId: string, key: K, p: Probe): void {
    let g = this.groups.get(groupId);
    if (!g) {
      g = { key, probes: [], last: Date.now(), timer: setTimeout(() => this.due(groupId), this.quietMs) };
      this.groups.set(groupId, g);
    } else {
      g.last = Date.now();
    }
    g.probes.push(p);
  }

  /** A group's timer fired: emitted once it has been quiet long enough and its owner is not busy (or waited its most). */
  private due(groupId: string): void {
    const g = this.groups.get(groupId);
    if (!g) return;
    const idle = Date.now() - g.last;
    if (idle < this.quietMs) { g.timer = setTimeout(() => this.due(groupId), this.quietMs - idle); return; }
    if (this.o.busy?.() && idle < this.quietMs + (this.o.maxHoldMs ?? 0)) { g.timer = setTimeout(() => this.due(groupId), 50); return; }
    this.flush(groupId);
  }

  /** Whether a group whose id starts with prefix is still collecting. */
  hasPrefix(prefix: string): boolean {
    for (const id of this.groups.keys()) if (id.startsWith(prefix)) return true;
    return false;
  }

  /** Flushes every group whose id starts with prefix (e.g. all groups of one tool call). */
  flushPrefix(prefix: string): void {
    for (const id of [...this.groups.keys()]) if (id.startsWith(prefix)) this.flush(id);
  }

  flush(groupId?: string): void {
    const ids = groupId ? [groupId] : [...this.groups.keys()];
    for (const id of ids) {
      const g = this.groups.get(id);
      if (!g) continue;
      clearTimeout(g.timer);
      this.groups.delete(id);
      this.emit(g.key, g.probes);
    }
  }
}
