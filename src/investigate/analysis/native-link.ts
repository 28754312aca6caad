// Why: the JavaScript side of the native trace linker (native/trace-link.c). After the JSON
// Lines scanner has indexed a batch of trace lines, the linker takes the common ones (a call of
// a plain episode on one IP, with no alert of that IP in its window) into episode windows and
// exposure kept in C, and says for every other line why JavaScript must read it: the full
// parser (SLOW), or the command decides (DETACHED: an alert only after the call's grace). At the
// end of a range its episodes are folded into the SpanLinker's: episodes both readers saw are
// joined (run, host and sandbox from the earlier first call), the rest arrive as flat arrays.
// Threat stopped: a fleet's traces taking minutes to analyse; the answer must be exactly the
// one the full parser gives (test/investigate-scan.test.ts compares them).
import type { JsonLineScanner } from '../inputs/json-lines.js';
import type { NativeEpisode, NativePart, SpanLinker, EpisodeAgg, LinkOptions } from './linker.js';
import { episodeName } from './episode-key.js';

type Handle = { readonly __linker: unique symbol };
type Take = [number, number, number, number, string | undefined, string | undefined, string | undefined, number[]];
interface Columns { names: string; nameEnds: Int32Array; calls: Int32Array; num: Float64Array; meta: Int32Array; keyStarts: Int32Array; keyIds: Int32Array }

/** The native linker's functions (in the json-lines addon). */
export interface LinkerAddon {
  linkerNew(layout: Int32Array, params: Float64Array): Handle;
  linkerKey(h: Handle, ip: string, ts: Float64Array): number;
  linkerChunk(h: Handle, buf: Uint8Array, lines: number, outI: Int32Array, outF: Float64Array, firstLine: number, verdict: Uint8Array, before: Float64Array): number;
  linkerCommit(h: Handle, buf: Uint8Array, outI: Int32Array, outF: Float64Array, i: number, line: number): boolean;
  /** key: the episode's identity (episode-key.ts), as C builds it from the run and episode bytes. */
  linkerTake(h: Handle, key: string): Take | undefined;
  linkerState(h: Handle): { fast: number; late: number; minTs: number; maxTs: number; zoned: number; dict: string[]; keyed: Columns; rest: Columns; exposure: { starts: Float64Array; ends: Float64Array }[] };
}

export const V_DONE = 0, V_SLOW = 1, V_DETACHED = 2;

/** Trace fields, in the order native/trace-link.c expects their slots. */
export const LINK_FIELDS = ['episode', 'command', 'ts', 'end_ts', 'duration_ms', 'ip', 'ips', 'run', 'host', 'sandbox', 'container'] as const;

export function isLinkerAddon(a: object): a is LinkerAddon {
  return typeof (a as Partial<LinkerAddon>).linkerNew === 'function';
}

export class NativeLink {
  private readonly h: Handle;
  private readonly keyNames: string[];
  /** Per line of the last chunk: its verdict, and the calls taken in C before it (this range). */
  readonly verdict: Uint8Array;
  readonly before: Float64Array;
  private readonly todo: Int32Array;
  private firstLine = 0;
  private lines = 0;
  /** Calls taken by chunk() so far; by commit() so far. */
  private fast = 0;
  late = 0;

  /** The scanner's keys must be LINK_FIELDS in that order (indexes 0..10). */
  constructor(private readonly addon: LinkerAddon, sc: JsonLineScanner, linker: SpanLinker, opts: LinkOptions, plausible: [number, number]) {
    const layout = new Int32Array(2 + 2 * LINK_FIELDS.length);
    layout[0] = sc.stride; layout[1] = sc.k;
    LINK_FIELDS.forEach((_, k) => { layout[2 + k] = sc.slot(k); layout[2 + LINK_FIELDS.length + k] = sc.fslot(k); });
    this.h = addon.linkerNew(layout, Float64Array.from([opts.skewMs, opts.lagMs, opts.graceMs, plausible[0], plausible[1]]));
    const ips = linker.alertIps();
    for (const ip of ips) addon.linkerKey(this.h, ip.value, ip.ts);
    this.keyNames = ips.map((ip) => ip.key);
    const cap = Math.floor(sc.outI.length / sc.stride);
    this.verdict = new Uint8Array(cap);
    this.before = new Float64Array(cap);
    this.todo = new Int32Array(cap);
  }

  /**
   * Takes what it can of the lines the scanner just indexed (line 0 is line firstLine of the
   * range); returns the indexes of the lines it left to JavaScript, in order.
   */
  chunk(sc: JsonLineScanner, buf: Buffer, lines: number, firstLine: number): Int32Array {
    this.firstLine = firstLine; this.lines = lines;
    const taken = this.addon.linkerChunk(this.h, buf, lines, sc.outI, sc.outF, firstLine, this.verdict, this.before);
    this.fast += taken;
    const v = this.verdict, todo = this.todo;
    let n = 0;
    if (taken < lines) for (let i = 0; i < lines; i++) if (v[i] !== V_DONE) todo[n++] = i;
    return todo.subarray(0, n);
  }

  /** Takes DETACHED line i of the last chunk after all (its command cannot leave a process running). */
  commit(sc: JsonLineScanner, buf: Buffer, i: number): boolean {
    const ok = this.addon.linkerCommit(this.h, buf, sc.outI, sc.outF, i, this.firstLine + i);
    if (ok) this.late++;
    return ok;
  }

  /** Calls of this range numbered before line lineNo (taken here), for SpanLinker.ordinalOffset. */
  callsBefore(lineNo: number): number {
    const i = lineNo - this.firstLine;
    return (i >= 0 && i < this.lines ? this.before[i]! : this.fast) + this.late;
  }

  /** Folds everything taken into the linker (call once, after the last line). Returns the zoned timestamps read. */
  finish(linker: SpanLinker): number {
    linker.foldNative((key): NativeEpisode | undefined => {
      const t = this.addon.linkerTake(this.h, key);
      if (!t) return undefined;
      return { start: t[0], end: t[1], calls: t[2], first: t[3], run: t[4], host: t[5], sandbox: t[6], keys: t[7].map((k) => this.keyNames[k]!) };
    });
    const s = this.addon.linkerState(this.h);
    const str = (i: number): string | undefined => (i < 0 ? undefined : s.dict[i]);
    const keyed: NativePart['keyed'] = [];
    const k = s.keyed;
    let from = 0;
    for (let i = 0; i < k.nameEnds.length; i++) {
      const keys: EpisodeAgg['keys'] = [];
      for (let j = k.keyStarts[i]!; j < k.keyStarts[i + 1]!; j++) keys.push({ key: this.keyNames[k.keyIds[j]!]!, from: -Infinity, to: Infinity });
      const id = k.names.slice(from, k.nameEnds[i]);
      const ep: EpisodeAgg = {
        id, episode: episodeName(id), run: str(k.meta[3 * i]!), host: str(k.meta[3 * i + 1]!), sandbox: str(k.meta[3 * i + 2]!),
        start: k.num[3 * i]!, end: k.num[3 * i + 1]!, calls: k.calls[i]!, minStep: Infinity, maxStep: -Infinity, keys,
      };
      keyed.push({ ep, first: k.num[3 * i + 2]! });
      from = k.nameEnds[i]!;
    }
    const r = s.rest;
    const start = new Float64Array(r.nameEnds.length), end = new Float64Array(r.nameEnds.length);
    for (let i = 0; i < start.length; i++) { start[i] = r.num[3 * i]!; end[i] = r.num[3 * i + 1]!; }
    const exposure = new Map<string, { starts: Float64Array; ends: Float64Array }>();
    s.exposure.forEach((x, i) => { if (x.starts.length) exposure.set(this.keyNames[i]!, x); });
    linker.absorb({ calls: s.fast + s.late, minTs: s.minTs, maxTs: s.maxTs, keyed, rest: { names: r.names, nameEnds: r.nameEnds, start, end, calls: r.calls }, exposure });
    return s.zoned;
  }
}
