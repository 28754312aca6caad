// Why: 10 M tool calls are 2.7 GB of canonical JSONL, and JSON.parse of every line (≈1.5 µs
// each) used to be most of an investigation's time. The native scanner (inputs/json-lines.ts)
// validates every line in C and locates episode, command, ts, end_ts, duration_ms, ip and ips;
// this loop turns them into the linker's bookkeeping without building a string per line (the
// episode and IP are compared in C with the line before and looked up only when they change).
// A line goes through the full parser (traces-canonical.ts, which reports bad lines with
// file:line) when the scanner could not vouch for it, when a field is not of the common form
// (ts/end_ts not zoned ISO strings, "ips", a comma in "ip", escapes in the episode…), when its IP
// has an alert near the call (a possible candidate), or when it opens a new episode under an IP
// with alerts. A new episode opened here takes run, host and sandbox (or container) from its
// first line, as the full parser's add() does, so an episode that later runs under an alert key
// needs no second reading.
// Every byte of every line is checked against JSON's grammar, so a line corrupted anywhere
// (even inside its command) is reported exactly as the full parser reports it.
// Threat stopped: a fleet's traces taking minutes to analyse (or being sampled instead).
import { lineCtx } from '../inputs/base.js';
import type { LineRange } from '../inputs/lines.js';
import { F_ESC, F_HIGH, F_SAME, latin1, T_ABSENT, T_NULL, T_NUM, T_STR, type JsonLineScanner } from '../inputs/json-lines.js';
import { readJsonLines } from '../inputs/json-lines-read.js';
import type { ReadStats } from '../inputs/stats.js';
import { canonicalLineHandler } from '../inputs/traces-canonical.js';
import { toStr } from '../inputs/normalise.js';
import { leavesProcessRunning } from './command-evidence.js';
import type { EpisodeAgg, KeyState, SpanLinker } from './linker.js';

const K_EP = 0, K_CMD = 1, K_TS = 2, K_END = 3, K_DUR = 4, K_IP = 5, K_IPS = 6, K_RUN = 7, K_HOST = 8, K_SANDBOX = 9, K_CONTAINER = 10;
const KEYS = ['episode', 'command', 'ts', 'end_ts', 'duration_ms', 'ip', 'ips', 'run', 'host', 'sandbox', 'container'] as const;

export interface ScanResult { stats: ReadStats; lines: number; fast: number }

/**
 * Reads a canonical trace (or a line-aligned range of it) into the linker. Line numbers start
 * at range.firstLine (1 when absent or 0 = unknown; the caller then shifts them). The linker
 * must have no placements (quickCheck() does not apply them).
 */
export async function scanCanonical(path: string, linker: SpanLinker, opts: { range?: LineRange; assumedDurationMs: number; onProgress?: (bytes: number, total: number) => void }): Promise<ScanResult> {
  const ctx = lineCtx(path, 'canonical-jsonl');
  const { stats, ts } = ctx;
  const { handle, finish } = canonicalLineHandler(ctx, (span) => linker.add(span), opts.assumedDurationMs);

  // Whether a command can leave a process running, by its raw JSON text (commands repeat).
  const detachedCache = new Map<string, boolean>();
  const detached = (sc: JsonLineScanner, buf: Buffer, i: number): boolean => {
    const s = sc.off(i, K_CMD), raw = buf.toString('latin1', s, s + sc.len(i, K_CMD));
    let d = detachedCache.get(raw);
    if (d === undefined) {
      d = leavesProcessRunning(sc.str(buf, i, K_CMD));
      if (detachedCache.size >= 100_000) detachedCache.clear();
      detachedCache.set(raw, d);
    }
    return d;
  };

  // The episode and IP of the last line that had plain ones (valid while the next line's are F_SAME).
  let epName = '', agg: EpisodeAgg | undefined, st: KeyState | undefined, cacheOk = false;
  // Positions of the fields in the scanner's output (set on the first line).
  let I: Int32Array = new Int32Array(0), F: Float64Array = new Float64Array(0), S = 0, FK = 0;
  let sEp = 0, sCmd = 0, sTs = 0, sEnd = 0, sDur = 0, sIp = 0, sIps = 0, fTs = 0, fEnd = 0, fDur = 0;
  const bind = (sc: JsonLineScanner): void => {
    I = sc.outI; F = sc.outF; S = sc.stride; FK = sc.k;
    sEp = sc.slot(K_EP); sCmd = sc.slot(K_CMD); sTs = sc.slot(K_TS); sEnd = sc.slot(K_END); sDur = sc.slot(K_DUR); sIp = sc.slot(K_IP); sIps = sc.slot(K_IPS);
    fTs = sc.fslot(K_TS); fEnd = sc.fslot(K_END); fDur = sc.fslot(K_DUR);
  };
  /** Reads line i of the scanner's batch by its indexed fields; false: the full parser must read it. */
  const fast = (sc: JsonLineScanner, buf: Buffer, i: number): boolean => {
    if (I !== sc.outI) bind(sc);
    const r = i * S, fr = i * FK;
    const eTf = I[r + sEp]!, iTf = I[r + sIp]!;
    if (!cacheOk || !(eTf & iTf & F_SAME)) {
      cacheOk = false;
      // Plain strings only (what toStr gives unchanged); an IP list goes to the full parser.
      const eo = I[r + sEp + 1]!, el = I[r + sEp + 2]!, io = I[r + sIp + 1]!, il = I[r + sIp + 2]!;
      if ((eTf & 15) !== T_STR || (eTf & (F_ESC | F_HIGH)) || el === 0) return false;
      if ((iTf & 15) !== T_STR || (iTf & (F_ESC | F_HIGH)) || il === 0) return false;
      for (let j = io; j < io + il; j++) if (buf[j] === 44) return false; // "a,b" is a list
      if (el === 1 && buf[eo] === 45) return false; // toStr("-") is no episode
      epName = latin1(buf, eo, eo + el);
      st = linker.ipState(latin1(buf, io, io + il));
      agg = linker.episodeAgg(epName);
      cacheOk = true;
    }
    if ((I[r + sIps]! & 15) !== T_ABSENT || (I[r + sCmd]! & 15) !== T_STR || (I[r + sTs]! & 15) !== T_STR) return false;
    const a = F[fr + fTs]!;
    if (a !== a) return false; // not a zoned ISO string: TsParser decides
    let b: number, endTs = false;
    const endT = I[r + sEnd]! & 15;
    if (endT === T_STR) { b = F[fr + fEnd]!; endTs = true; if (b !== b) return false; }
    else if (endT === T_ABSENT || endT === T_NULL) {
      // No end (assumed, and noted) or a bad duration: the full parser.
      if ((I[r + sDur]! & 15) !== T_NUM) return false;
      const d = F[fr + fDur]!;
      if (!(d >= 0)) return false;
      b = a + d;
    } else return false;
    if (!(b >= a)) return false;
    if (agg === undefined) {
      agg = linker.episodeAgg(epName);
      // A new episode's first call is read in full under an alert key (run, host, sandbox).
      if (agg === undefined && st !== undefined) return false;
    }
    const q = st === undefined ? 0 : linker.quickCheck(a, b, st);
    if (q === 1 || (q === 2 && detached(sc, buf, i))) return false;
    if (agg === undefined) {
      // Read like the full parser: toStr(run), toStr(host), toStr(sandbox) ?? toStr(container).
      const v = (k: number): string | undefined => toStr(sc.value(buf, i, k));
      agg = linker.newEpisode(epName, { run: v(K_RUN), host: v(K_HOST), sandbox: v(K_SANDBOX) ?? v(K_CONTAINER) });
    }
    linker.quickCommit(agg, a, b, st);
    ts.acceptZoned(a);
    if (endTs) ts.acceptZoned(b);
    stats.records++;
    return true;
  };
  const r = await readJsonLines(path, KEYS, { fast, slow: handle, batch: () => { cacheOk = false; } }, { ...opts, same: [K_EP, K_IP] });
  finish();
  return { stats: stats.finish(ts, r.bytes, r.overlong), lines: r.lines, fast: r.fast };
}
