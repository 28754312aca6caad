// Why: the log pass needs, from every flow record, only "this source reached this destination"
// (rarity) and a count — yet building a record object and a Map entry per line was most of its
// cost. With the native addon (native/flow-digest.c) plain, non-alert flows are taken without
// any JavaScript object: Zeek conn TSV and VPC lines are walked in C (DelimScan), eve.json flows
// hand their address offsets over in batches (FlowPairs.push), and the distinct pairs come back
// once at the end. Readers use this only when the caller passes a FlowPairs (the log pass's
// digest); everything else still gets one record per line.
// Threat stopped: see native/flow-digest.c — a line the C cannot vouch for as a plain flow is
// read by the JavaScript reader, so alert-like records and bad lines are never lost.
import { jsonLinesAddon } from './json-lines.js';
import type { StatsBuilder } from './stats.js';
import type { TsParser } from './timestamps.js';

interface FlowAddon {
  pairsNew(): object;
  pairsAdd(set: object, buf: Uint8Array, quads: Int32Array, n: number): void;
  pairsTake(set: object): { ips: string; pairs: Int32Array };
  delimScan(set: object, buf: Uint8Array, from: number, to: number, cfg: Int32Array, params: Float64Array, out: Float64Array): void;
}

const BATCH = 4096;

/** Distinct (destination, source) pairs of the plain flows a reader took natively. */
export class FlowPairs {
  private readonly quads = new Int32Array(4 * BATCH);
  private n = 0;
  private buf?: Buffer;
  /** Records taken natively (counted in the reader's stats, never passed to onRecord). */
  taken = 0;

  private constructor(readonly addon: FlowAddon, readonly set: object) {}

  /** A new set, or undefined without the addon (readers then pass every record on). */
  static create(): FlowPairs | undefined {
    const a = jsonLinesAddon() as Partial<FlowAddon> | undefined;
    if (!a?.pairsNew || !a.pairsAdd || !a.pairsTake || !a.delimScan) return undefined;
    return new FlowPairs(a as FlowAddon, a.pairsNew());
  }

  /** Queues the pair at these byte ranges of buf; flush() before buf's bytes change. */
  push(buf: Buffer, dstOff: number, dstLen: number, srcOff: number, srcLen: number): void {
    if (this.buf !== buf || this.n === BATCH) this.flush();
    this.buf = buf;
    const q = this.quads, k = 4 * this.n++;
    q[k] = dstOff; q[k + 1] = dstLen; q[k + 2] = srcOff; q[k + 3] = srcLen;
  }

  flush(): void {
    if (this.n > 0) this.addon.pairsAdd(this.set, this.buf!, this.quads, this.n);
    this.n = 0;
  }

  /** Every distinct pair: the addresses in order of first appearance, and [dst, src] index pairs into them. */
  take(): { ips: string[]; pairs: Int32Array } {
    this.flush();
    const { ips, pairs } = this.addon.pairsTake(this.set);
    return { ips: ips === '' && pairs.length === 0 ? [] : ips.split('\n'), pairs };
  }
}

/** How a delimited flow log's lines are laid out (column indexes: -1 when the log has no such column). */
export interface DelimLayout {
  mode: 'zeek' | 'vpc';
  sep: string; ncols: number;
  ts: number; ts2: number; src: number; dst: number; dport: number; action: number; status: number;
  /** Zeek's #unset_field and #empty_field (VPC: '-'). */
  unset: string; empty: string;
}

// Layout of the addon's cfg array (see native/flow-digest.c).
const C_MODE = 0, C_SEP = 1, C_NCOLS = 2, C_COLS = 3, C_UNSET_LEN = 10, C_EMPTY_LEN = 11, C_STR = 12, C_N = C_STR + 64;

/** Walks Zeek conn TSV / VPC flow lines in C, counting what it takes into the reader's stats and timestamps. */
export class DelimScan {
  private readonly cfg = new Int32Array(C_N);
  private readonly params: Float64Array;
  private readonly out = new Float64Array(3);
  private ready = false;
  /** Lines the last take() consumed. */
  lines = 0;

  constructor(private readonly pairs: FlowPairs, private readonly stats: StatsBuilder, private readonly ts: TsParser) {
    this.params = Float64Array.from(ts.plausibleRange());
  }

  /** Sets the layout (undefined: read every line in JavaScript, e.g. before a header or for another Zeek #path). */
  configure(l: DelimLayout | undefined): void {
    this.ready = false;
    if (!l) return;
    const ascii = (s: string): boolean => /^[\x20-\x7e]*$/.test(s);
    const sep = l.sep.charCodeAt(0);
    if (l.sep.length !== 1 || sep < 1 || sep > 127 || !ascii(l.unset) || !ascii(l.empty) || l.unset.length + l.empty.length > 64) return;
    const c = this.cfg;
    c[C_MODE] = l.mode === 'zeek' ? 0 : 1; c[C_SEP] = sep; c[C_NCOLS] = l.ncols;
    [l.ts, l.ts2, l.src, l.dst, l.dport, l.action, l.status].forEach((v, i) => { c[C_COLS + i] = v; });
    c[C_UNSET_LEN] = l.unset.length; c[C_EMPTY_LEN] = l.empty.length;
    const strs = l.unset + l.empty;
    for (let i = 0; i < strs.length; i++) c[C_STR + i] = strs.charCodeAt(i);
    this.ready = true;
  }

  /** Takes lines of buf[from, to) until one needs the JavaScript reader; returns where that line starts. */
  take(buf: Buffer, from: number, to: number): number {
    if (!this.ready || this.stats.muted) { this.lines = 0; return from; }
    this.pairs.flush();
    this.pairs.addon.delimScan(this.pairs.set, buf, from, to, this.cfg, this.params, this.out);
    this.lines = this.out[1]!;
    const records = this.out[2]!;
    this.stats.records += records;
    this.pairs.taken += records;
    this.ts.countEpochSeconds(records);
    return this.out[0]!;
  }
}
