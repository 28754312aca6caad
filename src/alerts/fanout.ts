// Why: an internal scan produces hundreds of refused connections; people and trainers need
// one alert "scan of N targets" with the evidence, not N alerts. Probes attributed to the
// same tool call within a quiet window are folded into one alert carrying the count.
export interface Probe { target: string; evidence: string; message: string; ts?: string }

export class FanoutAggregator<K> {
  private groups = new Map<string, { key: K; probes: Probe[]; timer: NodeJS.Timeout }>();
  constructor(private quietMs: number, private emit: (key: K, probes: Probe[]) => void) {}

  add(groupId: string, key: K, p: Probe): void {
    let g = this.groups.get(groupId);
    if (!g) {
      g = { key, probes: [], timer: setTimeout(() => this.flush(groupId), this.quietMs) };
      this.groups.set(groupId, g);
    } else {
      g.timer.refresh();
    }
    g.probes.push(p);
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
