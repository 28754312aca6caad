// Why: one behaviour is one alert. The rule engine's detections of a session's events (and the
// command screen's findings) wait here until the gateway's own alerts for the same tool call are out
// — it may still be aggregating a scan or joining a flow to its pid — and are then grouped per call
// and category, most severe first, dropped where an alert as severe already says it. Split out of
// session.ts. Threat handled: an alert flood that buries the one that matters (a scan reported again
// as many "reverse shells"), and a kill that leaves no alert saying why (a killing detection is
// always on record).
import type { AlertDraft } from '../alerts/network-alerts.js';
import type { Detection, DetectionEngine } from '../detect/engine/api.js';
import { coCulpritOf } from './code-origin.js';
import { SEVERITY_RANK, type AlertCategory, type AlertEvent, type AlertLayer, type AlertPayload, type Attribution, type CorralEvent, type Severity } from '../events/event.js';

/** What of its session the detection groups need. */
export interface DetectionsHost {
  engine: Pick<DetectionEngine, 'process'>;
  onError(e: unknown): void;
  /** policy.response.kill for a behaviour: what Corral did, or undefined. */
  respond(attr: Attribution, category: AlertCategory, severity: Severity, layer: AlertLayer, why: string): string | undefined;
  /** Gateway reports are still being attributed. */
  busy(): boolean;
  /** The gateway still holds a group of this call's refusals. */
  holds(toolCallId: string): boolean;
  alertEvents: readonly AlertEvent[];
  /** The session's recent events, and how many it let go (still in the store). */
  events: readonly CorralEvent[];
  eventsDropped(): number;
  /** A call's connect events from the store. */
  connectEvents(toolCallId: string | undefined): CorralEvent[];
  alert(attr: Attribution, d: AlertDraft & { co_culprit?: AlertPayload['co_culprit'] }, evidence: string[], action: 'observed', extra: { pid?: number; count?: number; ts?: string; layer?: AlertLayer }): AlertEvent;
}

/**
 * The attribution an event carries, with its `inferred` mark (a best guess, e.g. an ambiguous DNS
 * query): every path from an event to policy.response.kill goes through here, so none can drop it.
 */
function attrOfEvent(ev: Pick<CorralEvent, 'session' | 'run' | 'episode' | 'step' | 'tool_call'>): Attribution & { inferred?: true } {
  return { session: ev.session, run: ev.run, episode: ev.episode, step: ev.step, tool_call: ev.tool_call, ...((ev as { inferred?: boolean }).inferred ? { inferred: true } : {}) };
}

/** The layer a detection was seen at, from its triggering event (toolcall.start = the screened command text). */
function layerOf(kind: string): AlertLayer {
  if (kind === 'exec' || kind === 'exit') return 'process';
  if (kind === 'resource') return 'resource';
  if (kind === 'toolcall.start' || kind === 'command') return 'command';
  return 'network';
}


/** A session's pending detections: detect() and push() add, flush() turns groups into alerts. */
export class DetectionGroups {
  /** Rule-engine detections wait here until the gateway's own (aggregated) alerts are out, so one behaviour is one alert. */
  private pending: Detection[] = [];
  /** Detections that triggered policy.response.kill (their alert is never folded into an earlier one). */
  private readonly killers = new WeakSet<Detection>();
  private timer?: NodeJS.Timeout;

  constructor(private h: DetectionsHost) {}

  /** A finding of the command screen (or a call's postscreen), grouped with the engine's. */
  push(d: Detection): void {
    this.pending.push(d);
  }

  /** Runs the rule engine on an event; a detection that calls for policy.response.kill acts now, its alert follows with its group. */
  detect(ev: CorralEvent): void {
    let found: Detection[];
    try { found = this.h.engine.process(ev); } catch (e) { this.h.onError(e); return; }
    if (!found.length) return;
    // policy.response.kill acts when the behaviour is seen; the alert follows when detections are grouped
    const attr = attrOfEvent(ev);
    for (const d of found) if (this.h.respond(attr, d.category, d.severity, layerOf(ev.kind), d.reason)) this.killers.add(d);
    this.pending.push(...found);
    this.timer ??= setTimeout(() => this.flush(false), 2000);
  }

  /**
   * Emits rule-engine detections as alerts: one per tool call and category (highest severity
   * first, the others counted and their evidence merged), and none where the gateway or the
   * limits already reported that category for that tool call — one behaviour, one alert.
   * force: 'all' (session close), a tool call id (that call just ended and its aggregates were flushed), or false (timer).
   */
  flush(force: string | boolean = 'all'): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = undefined; }
    const groups = new Map<string, Detection[]>();
    const keep: Detection[] = [];
    for (const d of this.pending.splice(0)) {
      const call = d.event.tool_call ?? '';
      // the gateway may still be about to report this call (aggregating, or joining a flow to its pid): wait for it
      const forced = force === 'all' || force === true || force === call;
      if (!forced && (this.h.busy() || this.h.holds(call))) { keep.push(d); continue; }
      const k = `${d.event.tool_call ?? ''}|${d.category}`;
      const g = groups.get(k);
      if (g) g.push(d); else groups.set(k, [d]);
    }
    if (keep.length) {
      this.pending.push(...keep);
      this.timer = setTimeout(() => this.flush(false), 1000);
    }
    for (const all of groups.values()) {
      const group = this.withoutShellScan(all);
      if (!group.length) continue;
      group.sort((x, y) => SEVERITY_RANK[x.severity] - SEVERITY_RANK[y.severity]);
      const top = group[0]!;
      // Already said by an alert of this call and category at least as severe (a scan seen across the
      // session outranks the call's own medium gateway alert, so it is kept) — unless this behaviour
      // made Corral kill something and no alert of it says so yet: the kill must be on record.
      const earlier = this.h.alertEvents.filter((a) => a.tool_call === top.event.tool_call && a.payload.category === top.category
        && SEVERITY_RANK[a.payload.severity] <= SEVERITY_RANK[top.severity]);
      if (earlier.length && (earlier.some((a) => a.payload.action === 'killed') || !group.some((d) => this.killers.has(d)))) continue;
      const e = top.event;
      const rules = [...new Set(group.map((d) => d.rule))];
      const evidence = [...new Set(group.flatMap((d) => d.evidence))].slice(0, 64);
      const attr = attrOfEvent(e);
      const more = rules.length > 1 ? ` (also: ${rules.slice(1).join(', ')})` : '';
      const co = coCulpritOf(e.payload);
      this.h.alert(attr, { rule: top.rule, category: top.category, severity: top.severity, attack: [...new Set(group.flatMap((d) => d.attack))],
        message: `${top.message}${more}`, reason: top.reason, ...(co ? { co_culprit: co } : {}) }, evidence, 'observed', { pid: e.pid, count: group.reduce((n, d) => n + (d.count ?? 1), 0), ts: e.ts, layer: layerOf(e.kind) });
    }
  }


  /**
   * A shell's own connect() (`shell_socket_connect`, /dev/tcp) is how reverse shells start, but a shell
   * that knocked on three or more destinations the gateway already reported as this call's internal
   * scan was scanning (`for h in …; do echo > /dev/tcp/$h/$p; done`): those detections are that scan,
   * already one alert, and are not reported again as a reverse shell. A connection to any destination
   * outside the scan, and any detection that made Corral kill, still raises its own alert.
   */
  private withoutShellScan(group: Detection[]): Detection[] {
    const dst = (e: { payload: Record<string, unknown> }): string => `${String(e.payload['network.peer.address'])}:${String(e.payload['network.peer.port'])}`;
    const shell = group.filter((d) => d.rule === 'shell_socket_connect' && !this.killers.has(d));
    if (shell.length < 3) return group;
    const call = shell[0]!.event.tool_call;
    const evidence = new Set(this.h.alertEvents.filter((a) => a.tool_call === call && a.payload.category === 'internal_probe' && a.payload.layer === 'network')
      .flatMap((a) => a.payload.evidence));
    if (!evidence.size) return group;
    // (the scan's evidence events, from memory; from the store when a long session let them go)
    let found = this.h.events.filter((e) => evidence.has(e.id));
    if (found.length < evidence.size && this.h.eventsDropped()) found = this.h.connectEvents(call).filter((e) => evidence.has(e.id));
    const scanned = new Set(found.map(dst));
    const inScan = shell.filter((d) => scanned.has(dst(d.event)));
    if (new Set(inScan.map((d) => dst(d.event))).size < 3) return group;
    const folded = new Set(inScan);
    return group.filter((d) => !folded.has(d));
  }
}
