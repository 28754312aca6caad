// Why: one alert on a shared NAT address can fall inside the windows of thousands of calls, and
// a fleet can hold thousands of such alerts. Keeping every (alert, call) pair until the alert is
// scored made memory grow with alerts × calls (600 alerts × 6 000 calls took 824 MB); this keeps,
// per alert, only the best `cap` links as they arrive, plus the count and the sum of all scores,
// which is all the normalisation and the "omitted" summary need. Memory is alerts × cap.
import type { Timing } from './model.js';

export interface Link {
  c: number;
  timing: Timing;
  offsetMs: number;
  via: string;
  score: number;
  mention?: 'address' | 'port';
  ruleMatch: 'category' | 'other' | 'none';
  /** Arrival order among this alert's links: ties in score keep it (a stable sort by score would). */
  seq: number;
}

/** x ranks below y: a lower score, or the same score and a later arrival. */
function worse(x: Link, y: Link): boolean { return x.score < y.score || (x.score === y.score && x.seq > y.seq); }

export class AlertLinks {
  /** A heap of the best links, the worst at the root. */
  private readonly heap: Link[] = [];
  /** All links seen (after merging one call's two keys), and the sum of their scores. */
  count = 0;
  sum = 0;
  /** The last link added and whether it is in the heap: only it can still change (see update). */
  private last: Link | undefined;
  private lastKept = false;
  /** The first link's key, and the first link's that is an IP key (the noise weight's key). */
  firstVia = '';
  firstIpVia: string | undefined;
  private firstIpSeq = -1;
  /** Some link is evidence (its command names the destination or matches a rule of its category). */
  evidence = false;

  constructor(private readonly cap: number) {}

  /** The link added last, when it is the call `c`'s: a second key of the same call merges into it. */
  lastOf(c: number): Link | undefined { return this.last !== undefined && this.last.c === c ? this.last : undefined; }

  add(l: Omit<Link, 'seq'>): void {
    const link = l as Link;
    link.seq = this.count++;
    this.sum += link.score;
    if (link.seq === 0) this.firstVia = link.via;
    if (this.firstIpVia === undefined && link.via.startsWith('ip:')) { this.firstIpVia = link.via; this.firstIpSeq = link.seq; }
    this.last = link;
    this.lastKept = this.offer(link);
  }

  /** The last link's call reached again through a closer key: its timing, key and score change (the score only grows). */
  update(link: Link, timing: Timing, offsetMs: number, via: string, score: number): void {
    this.sum += score - link.score;
    link.timing = timing; link.offsetMs = offsetMs; link.via = via; link.score = score;
    if (link.seq === 0) this.firstVia = via;
    if (via.startsWith('ip:')) { if (this.firstIpVia === undefined) { this.firstIpVia = via; this.firstIpSeq = link.seq; } }
    else if (this.firstIpSeq === link.seq) { this.firstIpVia = undefined; this.firstIpSeq = -1; }
    if (this.lastKept) this.down(this.heap.indexOf(link));
    else this.lastKept = this.offer(link);
  }

  /** The kept links, best first, and the score of the others. */
  best(): { links: Link[]; omittedScore: number } {
    const links = [...this.heap].sort((x, y) => (worse(x, y) ? 1 : worse(y, x) ? -1 : 0));
    const kept = links.reduce((s, l) => s + l.score, 0);
    return { links, omittedScore: Math.max(0, this.sum - kept) };
  }

  private offer(link: Link): boolean {
    const h = this.heap;
    if (h.length < this.cap) { h.push(link); this.up(h.length - 1); return true; }
    if (!worse(h[0]!, link)) return false;
    h[0] = link;
    this.down(0);
    return true;
  }

  private up(i: number): void {
    const h = this.heap;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!worse(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private down(i: number): void {
    const h = this.heap;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < h.length && worse(h[l]!, h[m]!)) m = l;
      if (r < h.length && worse(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
