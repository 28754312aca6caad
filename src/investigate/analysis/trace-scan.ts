// Why: 10 M tool calls are 2.7 GB of canonical JSONL, and JSON.parse of every line (≈1.5 µs
// each) used to be most of an investigation's time. The native scanner (inputs/json-lines.ts)
// validates every line in C and locates episode, command, ts, end_ts, duration_ms, ip and ips;
// the native linker (native-link.ts) then takes the common lines into episode windows and
// exposure without a JavaScript string or object per line. A line goes through the full parser
// (traces-canonical.ts, which reports bad lines with file:line) when the scanner could not vouch
// for it, when a field is not of the common form (ts/end_ts not zoned ISO strings, "ips", a comma
// in "ip", escapes in the episode…), or when its IP has an alert near the call (a possible
// candidate; an alert only after the grace period makes it one only if its command can leave a
// process running, which is decided here). Calls keep the numbers a single reader gives them,
// and episodes the run, host and sandbox of their first call, whichever reader read it.
// Every byte of every line is checked against JSON's grammar, so a line corrupted anywhere
// (even inside its command) is reported exactly as the full parser reports it.
// Threat stopped: a fleet's traces taking minutes to analyse (or being sampled instead).
import { lineCtx } from '../inputs/base.js';
import type { LineRange } from '../inputs/lines.js';
import { jsonLinesAddon, type JsonLineScanner } from '../inputs/json-lines.js';
import { readJsonLines } from '../inputs/json-lines-read.js';
import type { ReadStats } from '../inputs/stats.js';
import { canonicalLineHandler } from '../inputs/traces-canonical.js';
import { leavesProcessRunning } from './command-evidence.js';
import type { SpanLinker } from './linker.js';
import { isLinkerAddon, LINK_FIELDS, NativeLink, V_DETACHED, V_DONE } from './native-link.js';

/** The scanner's index of the command (the keys are LINK_FIELDS, in order). */
const K_CMD = LINK_FIELDS.indexOf('command');

export interface ScanResult { stats: ReadStats; lines: number; fast: number }

/**
 * Reads a canonical trace (or a line-aligned range of it) into the linker. Line numbers start
 * at range.firstLine (1 when absent or 0 = unknown; the caller then shifts them). The linker
 * must have no placements (the native linker does not apply them).
 */
export async function scanCanonical(path: string, linker: SpanLinker, opts: { range?: LineRange; assumedDurationMs: number; tz?: string; onProgress?: (bytes: number, total: number) => void }): Promise<ScanResult> {
  const ctx = lineCtx(path, 'canonical-jsonl', { tz: opts.tz });
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

  const addon = jsonLinesAddon();
  const native = addon !== undefined && isLinkerAddon(addon) ? addon : undefined;
  if (native) linker.trackFirstLines();
  let nat: NativeLink | undefined;
  const chunk = (sc: JsonLineScanner, buf: Buffer, lines: number, firstLine: number): Int32Array | undefined => {
    if (!native) return undefined;
    nat ??= new NativeLink(native, sc, linker, linker.opts, ts.plausibleRange());
    return nat.chunk(sc, buf, lines, firstLine);
  };
  /** Line i of the last chunk: taken by the native linker (true), or the full parser must read it. */
  const fast = (sc: JsonLineScanner, buf: Buffer, i: number): boolean => {
    if (!nat) return false;
    const v = nat.verdict[i];
    if (v === V_DONE) return true;
    return v === V_DETACHED && !detached(sc, buf, i) && nat.commit(sc, buf, i);
  };
  const slow = (text: string, lineNo: number, info: { unterminated: boolean }): void => {
    if (nat) linker.ordinalOffset = nat.callsBefore(lineNo);
    handle(text, lineNo, info);
  };
  const r = await readJsonLines(path, LINK_FIELDS, { fast, slow, chunk }, { ...opts, same: [0, 5, 7] });
  if (r.error) stats.badLine(r.error.line, r.error.message);
  if (nat) {
    ts.countZoned(nat.finish(linker));
    stats.records += r.fast;
  }
  finish();
  return { stats: stats.finish(ts, r.bytes, r.overlong), lines: r.lines, fast: r.fast };
}
