// Why: the incident team's question — "what did this episode do, what was stopped, and which
// tool call is to blame?" — answered from Corral's own record of a session, for people (terminal
// and HTML, see session-html.ts) and machines (--json). Built from stored events only, so it works
// for any past session and for sessions another process (a daemon) ran. An alert raised after its
// tool call ended is marked as coming from a process that call left running, with the step that
// was running at the time: the incident's "the miner started in step 2 talked in step 5".
import { alertJson, type AlertJson } from '../events/alert-json.js';
import type { AlertEvent, CorralEvent } from '../events/event.js';
import { compareTs, keyToNs, tsKey } from '../store/ts-key.js';
import { captureStatus, type CaptureStatus } from '../session/capture-loss.js';

export { type Verdict, verdictOf } from '../events/verdict.js';
import { type Verdict, verdictOf } from '../events/verdict.js';

export interface ReportAlert extends AlertJson {
  /** Raised after the call it is attributed to had ended: by a process that call left running. */
  late: boolean;
  /** The step running when it was raised, when that is another step. */
  during_step?: number;
}

export interface ReportCall {
  step?: number; tool_call: string; tool?: string; command: string;
  start_ts: string; end_ts?: string; exit_code?: number | null; duration_ms?: number; timed_out?: boolean; blocked?: boolean;
  /** Stopped before it ended by itself: why ("SIGINT": the operator's Ctrl-C; "cancelled": a client went away). */
  cancelled?: string;
  processes: number; connections: { allowed: number; denied: number };
  /** Bytes its connections moved through the gateway (each flow's latest record, so an open one counts so far). */
  bytes: { up: number; down: number };
  /** JA4 fingerprints of the TLS clients its processes used (distinct, in order of first use; absent: none). */
  tls_clients?: string[];
  alerts: ReportAlert[];
  /**
   * Alerts of other calls whose code this call wrote (their co_culprit, or one of the calls beside it): a payload it
   * planted that another call's process ran (`loaded`: a module it loaded; `shared`: other calls' modules were loaded too).
   */
  planted?: { rule: string; category: string; severity: string; step?: number; tool_call?: string; file: string; loaded?: true; shared?: true }[];
}

/** How a planted payload reached the alert's process, in words. */
export function plantedHow(x: NonNullable<ReportCall['planted']>[number]): string {
  return x.loaded ? `, whose process loaded it${x.shared ? ' (among other calls\' code)' : ''}` : ', whose process ran it';
}

export interface SessionReport {
  session: string; run?: string; episode?: string; policy?: string; policy_digest?: string; mode?: string; sandbox_ip?: string;
  start_ts?: string; end_ts?: string; duration_ms?: number; closed: boolean;
  verdict: Verdict;
  counts: { calls: number; alerts: number; by_category: Record<string, number>; by_action: Record<string, number> };
  /**
   * Calls stopped from outside before they ended by themselves (the operator's Ctrl-C, a client that left, the daemon
   * stopping): the verdict covers only what ran — a `clean` one is not a clean episode (a user review, session 41).
   * Absent when none was.
   */
  cut_short?: { calls: number; why: string[] };
  calls: ReportCall[];
  /** Alerts attributed to no tool call (session machinery). */
  other_alerts: ReportAlert[];
  /** Times the kernel sensor was down while this session was open (exec/connect capture gaps). */
  sensor_gaps: { down_ts: string; up_ts?: string; gap_ms?: number; error?: string }[];
  /** Times another program on the host changed the gateway's nft rules and Corral put them back (containment gaps). */
  rules_restored: { ts: string; what: string; restored_ms?: number }[];
  /** Events left out because their ts is neither epoch nanoseconds nor ISO 8601 with a zone (a damaged store). */
  unreadable_events?: number;
  /**
   * Whether the kernel capture of this session is whole: `complete: false` when the sensor lost
   * records while it was open (its ring overflowed; `records_lost`, between `first_loss_ts` and
   * `last_loss_ts`), was down (`sensor_gaps`), or did not run (`sensor_off`), or execs went unchecked for
   * renamed copies (`copies_unchecked`). The verdict of an
   * incomplete capture is not proof that nothing else happened.
   */
  capture: CaptureStatus & { first_loss_ts?: string; last_loss_ts?: string };
}


/**
 * A stored number as the renderers print it: only a finite number counts; anything else (a string
 * a damaged or hostile store put there, with markup or terminal escapes in it) gives `dflt`.
 */
export function finiteOr<T>(v: unknown, dflt: T): number | T {
  return typeof v === 'number' && Number.isFinite(v) ? v : dflt;
}

/** A stored number as text, or `dflt` when it is not a finite number (a damaged log). */
export function num(v: unknown, dflt = '?'): string {
  return String(finiteOr(v, dflt));
}

const ms = (a: string, b: string): number => Number((BigInt(b) - BigInt(a)) / 1_000_000n);

/** A report's timestamp as a bigint, or undefined when a hand-made or damaged report holds something else. */
export function tsBig(v: unknown): bigint | undefined {
  return typeof v === 'string' && /^\d{1,20}$/.test(v) ? BigInt(v) : undefined;
}

/** A payload's timestamp as epoch nanoseconds, or `dflt` when it is not one. */
function nsOr(v: unknown, dflt: string): string {
  try { return keyToNs(tsKey(v)); } catch { return dflt; }
}

/** Builds the report of one session from its events (any order). */
export function buildSessionReport(events: CorralEvent[]): SessionReport {
  const b = new SessionReportBuilder();
  const key = (e: CorralEvent): string => { try { return tsKey(e.ts); } catch { return ''; } }; // (unreadable: counted by add)
  const keyed = events.map((e) => ({ e, k: key(e) })).sort((x, y) => (x.k < y.k ? -1 : x.k > y.k ? 1 : 0));
  for (const { e } of keyed) b.add(e);
  return b.finish();
}

/**
 * The report of one session built from its events as they stream by, in time order (the store's
 * order: ts, then id), so a session of millions of events (a long build) is reported in the memory
 * of its calls, flows and alerts, not of its events.
 */
export class SessionReportBuilder {
  private first?: CorralEvent;
  private last?: CorralEvent;
  private start?: CorralEvent;
  private end?: CorralEvent;
  private readonly calls = new Map<string, ReportCall>();
  private readonly alerts: AlertEvent[] = [];
  private readonly gaps: SessionReport['sensor_gaps'] = [];
  private readonly restored: SessionReport['rules_restored'] = [];
  private readonly losses: { since: string; ts: string; n: number }[] = [];
  private readonly flowBytes = new Map<string, { up: number; down: number }>();
  private unsynced = false;
  private readonly shortfalls = { copiesUnchecked: 0, argvCut: 0, eventsUnstored: 0, dropLogOverruns: 0 };
  private unreadable = 0;

  /**
   * Adds one event. Its ts becomes epoch nanoseconds (the architecture allows ISO 8601 with a zone
   * too, which a NATS publisher may send); an event whose ts is neither is counted, not reported.
   */
  add(event: CorralEvent): void {
    let ts: string;
    try { ts = keyToNs(tsKey(event.ts)); } catch { this.unreadable++; return; }
    const e = ts === event.ts ? event : { ...event, ts };
    this.first ??= e;
    this.last = e;
    if (e.kind === 'session.start') this.start ??= e;
    else if (e.kind === 'session.end') this.end ??= e;
    const { calls, gaps, flowBytes } = this;
    const id = e.tool_call;
    if (e.kind === 'alert') { this.alerts.push(e as unknown as AlertEvent); return; }
    if (e.kind === 'sensor') {
      if (e.payload.state === 'lost') {
        const n = Number(e.payload.records_lost);
        if (Number.isFinite(n) && n > 0) this.losses.push({ since: nsOr(e.payload.since_ts, e.ts), ts: e.ts, n });
      } else if (e.payload.state === 'down') gaps.push({ down_ts: e.ts, error: typeof e.payload.error === 'string' ? e.payload.error : undefined });
      else if (e.payload.state === 'unsynced') this.unsynced = true;
      else if (e.payload.state === 'drop_log_overrun') this.shortfalls.dropLogOverruns++;
      else if (e.payload.state === 'unstored') this.shortfalls.eventsUnstored = Math.max(0, Number(e.payload.events_unstored) || 0);
      else if (e.payload.state === 'gateway_rules_restored') this.restored.push({ ts: e.ts, what: String(e.payload.what ?? ''), restored_ms: typeof e.payload.restored_ms === 'number' ? e.payload.restored_ms : undefined });
      else if (e.payload.state === 'up' && gaps.length && gaps.at(-1)!.up_ts === undefined) Object.assign(gaps.at(-1)!, { up_ts: e.ts, gap_ms: Number(e.payload.gap_ms) });
      return;
    }
    if (e.kind === 'exec' && e.payload.copy_unchecked === true) this.shortfalls.copiesUnchecked++;
    if (e.kind === 'exec' && e.payload.argv_cut === true) this.shortfalls.argvCut++;
    if (id === undefined) return;
    let c = calls.get(id);
    if (e.kind === 'toolcall.start' || !c) {
      c ??= { step: e.step, tool_call: id, command: '', start_ts: e.ts, processes: 0, connections: { allowed: 0, denied: 0 }, bytes: { up: 0, down: 0 }, alerts: [] };
      calls.set(id, c);
      if (e.kind === 'toolcall.start') {
        c.command = String(e.payload.command ?? '');
        c.tool = typeof e.payload.tool === 'string' ? e.payload.tool : undefined;
        c.start_ts = e.ts;
      }
    }
    if (e.kind === 'toolcall.end') {
      const p = e.payload;
      c.end_ts = e.ts;
      c.exit_code = typeof p.exit_code === 'number' ? p.exit_code : null;
      c.duration_ms = typeof p.duration_ms === 'number' ? Math.round(p.duration_ms) : undefined;
      c.timed_out = p.timed_out === true;
      if (p.blocked === true) c.blocked = true;
      if (typeof p.cancelled === 'string') c.cancelled = p.cancelled;
    } else if (e.kind === 'exec' && e.payload.result !== 'failed') c.processes++;
    else if (e.kind === 'connect' && e.payload.source === 'gateway') {
      if (e.payload.decision === 'allow') c.connections.allowed++; else c.connections.denied++;
      const ja4 = e.payload['tls.client.ja4'];
      if (typeof ja4 === 'string' && !(c.tls_clients ??= []).includes(ja4) && c.tls_clients.length < 16) c.tls_clients.push(ja4);
    } else if (e.kind === 'flow') {
      // A flow's records carry its running totals: count each flow once, by its latest record.
      const key = typeof e.payload.flow_id === 'string' ? e.payload.flow_id : e.id;
      const up = Number(e.payload.bytes_up) || 0, down = Number(e.payload.bytes_down) || 0;
      const seen = flowBytes.get(key);
      c.bytes.up += up - (seen?.up ?? 0); c.bytes.down += down - (seen?.down ?? 0);
      flowBytes.set(key, { up, down });
    }
  }

  finish(): SessionReport {
    const { calls, alerts, gaps, losses, start, end, first } = this;
    const ordered = [...calls.values()].sort((a, b) => compareTs(a.start_ts, b.start_ts));
    const runningAt = (ts: string): ReportCall | undefined => ordered.find((c) => compareTs(c.start_ts, ts) <= 0 && (c.end_ts === undefined || compareTs(ts, c.end_ts) <= 0));
    const other: ReportAlert[] = [];
    const byCategory: Record<string, number> = {};
    const byAction: Record<string, number> = {};
    for (const a of alerts) {
      const j = alertJson(a);
      const c = a.tool_call === undefined ? undefined : calls.get(a.tool_call);
      const late = !!(c?.end_ts && compareTs(a.ts, c.end_ts) > 0 && j.layer !== 'command');
      const now = late ? runningAt(a.ts) : undefined;
      const r: ReportAlert = { ...j, late, ...(now && now !== c && now.step !== undefined ? { during_step: now.step } : {}) };
      (c ? c.alerts : other).push(r);
      const co = j.co_culprit;
      for (const w of co ? [co, ...(co.also ?? [])] : []) {
        const planter = calls.get(w.tool_call);
        if (planter) (planter.planted ??= []).push({ rule: j.rule, category: j.category, severity: j.severity, ...(c?.step !== undefined ? { step: c.step } : {}), tool_call: a.tool_call, file: w.file, ...(co!.loaded ? { loaded: true as const } : {}), ...(co!.also?.length ? { shared: true as const } : {}) });
      }
      byCategory[j.category] = (byCategory[j.category] ?? 0) + 1;
      byAction[j.action] = (byAction[j.action] ?? 0) + 1;
    }
    const verdict = verdictOf(alerts);
    const s = start?.payload ?? {};
    const t0 = start?.ts ?? first?.ts;
    const t1 = end?.ts ?? this.last?.ts;
    const lost = losses.reduce((n, l) => n + l.n, 0);
    // (a session.start of an older Corral has no `sensor`: not taken as off)
    const sensorOff = typeof s.sensor === 'string' && s.sensor.startsWith('off');
    return {
      session: first?.session ?? '', run: start?.run ?? first?.run, episode: start?.episode ?? first?.episode,
      policy: typeof s.policy === 'string' ? s.policy : undefined, policy_digest: typeof s.policy_digest === 'string' ? s.policy_digest : undefined,
      mode: typeof s.mode === 'string' ? s.mode : undefined,
      sandbox_ip: typeof s.sandbox_ip === 'string' ? s.sandbox_ip : undefined,
      start_ts: t0, end_ts: end?.ts, duration_ms: t0 && t1 ? ms(t0, t1) : undefined, closed: !!end,
      verdict,
      counts: { calls: ordered.length, alerts: alerts.length, by_category: byCategory, by_action: byAction },
      ...cutShort(ordered),
      calls: ordered, other_alerts: other, sensor_gaps: gaps, rules_restored: this.restored,
      ...(this.unreadable ? { unreadable_events: this.unreadable } : {}),
      capture: { ...captureStatus(lost, gaps.length, sensorOff, this.unsynced, this.shortfalls), ...(losses.length ? { first_loss_ts: losses[0]!.since, last_loss_ts: losses.at(-1)!.ts } : {}) },
    };
  }
}

/** The report's note of calls stopped from outside (cancelled), with their distinct reasons; nothing when none was. */
function cutShort(calls: ReportCall[]): { cut_short?: { calls: number; why: string[] } } {
  const stopped = calls.filter((c) => typeof c.cancelled === 'string');
  return stopped.length ? { cut_short: { calls: stopped.length, why: [...new Set(stopped.map((c) => c.cancelled!))].slice(0, 8) } } : {};
}
