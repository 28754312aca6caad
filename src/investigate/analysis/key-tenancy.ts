// Why: a process a tool call leaves running (a miner started with nohup) outlives the call, and
// often the episode's last call too: the sandbox lives on through a final model turn or grading.
// Without a placement saying when the sandbox went away, the lag used to stop at the episode's
// last call, so a beacon minutes later linked to nothing. The traces do say something: while no
// other episode ran under the same source address, nobody else could have sent from it. This
// answers, per address with alerts, how long an episode's sandbox is the only known tenant —
// until the next episode on that address starts — and nothing past the last call when another
// episode ran under the address at the same time (shared NAT: the neighbours' traffic is there).

import { lowerBound, upperBound } from './columns.js';
import type { EpisodeTable } from './episode-table.js';

/** Episodes on one key sorted by start; maxEnd[i] is the latest end among the first i+1. */
interface Tenancy { starts: number[]; maxEnd: number[]; episodes: number[] }

/** Per source key, the episodes that ran under it, sorted by start; built on first use of a key. */
export class KeyTenancy {
  private readonly byKey = new Map<string, Tenancy>();
  private built = false;

  constructor(private readonly episodes: EpisodeTable) {}

  private build(): void {
    const t = this.episodes;
    const lists = new Map<number, { start: number; end: number; episode: number }[]>();
    for (let e = 0; e < t.count; e++) {
      for (let j = t.keyStart[e]!; j < t.keyEnd[e]!; j++) {
        // (placement-bound keys carry their own end; only unbounded ones need the neighbours)
        if (Number.isFinite(t.keyTo[j]!)) continue;
        const key = t.keyIdx[j]!;
        let l = lists.get(key);
        if (!l) { l = []; lists.set(key, l); }
        l.push({ start: t.start[e]!, end: t.end[e]!, episode: e });
      }
    }
    for (const [k, l] of lists) {
      const key = t.dict[k]!;
      l.sort((a, b) => a.start - b.start);
      const maxEnd: number[] = [];
      for (const x of l) maxEnd.push(Math.max(x.end, maxEnd.at(-1) ?? -Infinity));
      this.byKey.set(key, { starts: l.map((x) => x.start), maxEnd, episodes: l.map((x) => x.episode) });
    }
    this.built = true;
  }

  /**
   * Until when the episode (index `episode` of the table, start..lastCallEnd) is the only one known to use `key`: the next
   * other episode's start on it (Infinity if none), or lastCallEnd when another episode ran under
   * the key while this one did (its calls' window overlaps).
   */
  soleUntil(key: string, episode: number, start: number, lastCallEnd: number): number {
    if (!this.built) this.build();
    const t = this.byKey.get(key);
    if (!t) return lastCallEnd;
    // Another episode overlaps when it starts inside start..lastCallEnd, or started before and
    // ended at or after start (the prefix's latest end says so in one look).
    const lo = lowerBound(t.starts, start), hi = upperBound(t.starts, lastCallEnd);
    let others = hi - lo;
    for (let i = lo; i < hi; i++) if (t.episodes[i] === episode) { others--; break; }
    if (others > 0 || (lo > 0 && t.maxEnd[lo - 1]! >= start)) return lastCallEnd;
    return hi < t.starts.length ? t.starts[hi]! : Infinity;
  }
}
