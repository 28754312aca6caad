// Why: traces often do not say which IP a tool call used; a mapping file does ("this IP
// belonged to that episode / sandbox / host from t1 to t2"). IPs are reused over time and
// several sandboxes may share one (NAT), so every binding carries its interval and a call
// only inherits the IPs bound to it while it ran. A binding may name a run: episode names repeat
// across RL runs (each restarts at 0), and a run-less binding of episode "0" applies to every run's.
import type { Placement, ToolCallSpan } from '../types.js';

/** A source key a tool call may appear under in the network logs, valid during [from, to]. */
export interface SpanKey { kind: 'ip' | 'host'; value: string; from: number; to: number }

export class PlacementIndex {
  private readonly byEpisode = new Map<string, Placement[]>();
  private readonly bySandbox = new Map<string, Placement[]>();
  private readonly byHost = new Map<string, Placement[]>();
  readonly size: number;

  constructor(placements: Placement[]) {
    this.size = placements.length;
    for (const p of placements) {
      // The most specific binding decides where the placement applies.
      const [map, key] = p.episode !== undefined ? [this.byEpisode, p.episode]
        : p.sandbox !== undefined ? [this.bySandbox, p.sandbox]
        : p.host !== undefined ? [this.byHost, p.host] : [undefined, undefined];
      if (!map || key === undefined) continue;
      const list = map.get(key);
      if (list) list.push(p); else map.set(key, [p]);
    }
  }

  /**
   * The IP keys of a call whose activity may reach until `until` (its end plus the lag):
   * bindings of its episode, sandbox or host that overlap [start, until].
   */
  keysFor(span: ToolCallSpan, until: number, out: SpanKey[]): void {
    if (this.size === 0) return;
    this.collect(this.byEpisode.get(span.episode), span, until, out);
    if (span.sandbox !== undefined) this.collect(this.bySandbox.get(span.sandbox), span, until, out);
    if (span.host !== undefined) this.collect(this.byHost.get(span.host), span, until, out);
  }

  /** The bindings in `list` that overlap [span.start, to] and name the span's run, or no run. */
  private collect(list: Placement[] | undefined, span: ToolCallSpan, to: number, out: SpanKey[]): void {
    if (!list) return;
    for (const p of list) {
      if (p.from <= to && p.to >= span.start && (p.run === undefined || p.run === span.run)) out.push({ kind: 'ip', value: p.ip, from: p.from, to: p.to });
    }
  }
}
