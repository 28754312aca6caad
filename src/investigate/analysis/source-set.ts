// Why: the rarity evidence needs, over every record of every log, which sources reached each
// destination — a million records, but only tens of thousands of distinct pairs, repeated in
// every format and every line range of the fleet's logs. A log reader's thread keeps one set
// for all the tasks it reads (plain flows in the native pair set, the records JavaScript read in
// a Map) and sends it once, as an address list and pairs of indexes into it, so the main thread
// numbers each address once per thread instead of twice per record.
import { FlowPairs } from '../inputs/flow-pairs.js';

/** A thread's distinct (destination, source) pairs: addresses, then index pairs into them. */
export interface SourcesExport { ips: string[]; pairs: Int32Array }

export class SourceSet {
  /** Plain flows taken natively (undefined without the addon). */
  readonly pairs = FlowPairs.create();
  private readonly js = new Map<string, Set<string> | string>();

  add(dst: string, src: string): void {
    const cur = this.js.get(dst);
    if (cur === undefined) this.js.set(dst, src);
    else if (typeof cur === 'string') { if (cur !== src) this.js.set(dst, new Set([cur, src])); }
    else cur.add(src);
  }

  /** Every pair seen (each at most once per path it came by). */
  export(): SourcesExport {
    const native = this.pairs?.take();
    const ips = native?.ips ?? [];
    const index = new Map<string, number>();
    const id = (s: string): number => {
      let i = index.get(s);
      if (i === undefined) { i = ips.length; ips.push(s); index.set(s, i); }
      return i;
    };
    const extra: number[] = [];
    if (this.js.size && native) native.ips.forEach((s, i) => index.set(s, i));
    for (const [d, v] of this.js) {
      const di = id(d);
      if (typeof v === 'string') extra.push(di, id(v));
      else for (const s of v) extra.push(di, id(s));
    }
    if (!native) return { ips, pairs: Int32Array.from(extra) };
    const pairs = new Int32Array(native.pairs.length + extra.length);
    pairs.set(native.pairs);
    pairs.set(extra, native.pairs.length);
    return { ips, pairs };
  }
}
