// Why: the live dashboard shows what agents on this machine (or, from NATS, on the fleet) are
// doing right now: sessions, their tool calls, alerts by category, the latest events. This folds
// the event stream into that small picture (with each item's machine when it has one), bounded (rings of the latest items; sessions beyond a cap drop the
// oldest closed ones), so a dashboard left open for a week of rollouts stays small.
import type { CorralEvent } from '../events/event.js';
import { summarizeEvent } from '../store/summary.js';

export interface SessionView {
  session: string; host?: string; run?: string; episode?: string;
  started: string; ended?: string;
  calls: number; alerts: number; blocked: number; killed: number;
  /** The highest alert severity seen (for colour). */
  worst?: string;
}

export interface AlertView {
  ts: string; host?: string; session: string; episode?: string; step?: number; tool_call?: string; pid?: number;
  category: string; severity: string; rule: string; action?: string; message: string;
}

/** An event as the page lists it (the summary is made here, once, by the CLI's summariser). */
export interface EventView { ts: string; host?: string; session: string; episode?: string; step?: number; tool_call?: string; kind: string; pid?: number; summary: string }

export interface DashboardSnapshot {
  since: string;
  counts: Record<string, number>;
  alertsByCategory: Record<string, number>;
  sessions: SessionView[];
  alerts: AlertView[];
  events: EventView[];
  dropped: number;
  rejected: number;
  /** Machines seen (fleet view; empty for one machine's daemon). */
  hosts: string[];
}

const RANK: Record<string, number> = Object.assign(Object.create(null) as Record<string, number>, { low: 1, medium: 2, high: 3, critical: 4 });

export class DashboardState {
  // (no prototype: a kind or category is text from the stream — in the fleet view anyone who can
  // publish to NATS — and "toString" or "constructor" read Object.prototype's and shown it as a count)
  private readonly counts: Record<string, number> = Object.create(null) as Record<string, number>;
  private readonly byCategory: Record<string, number> = Object.create(null) as Record<string, number>;
  private readonly sessions = new Map<string, SessionView>();
  private readonly hosts = new Set<string>();
  private alerts: AlertView[] = [];
  private events: EventView[] = [];
  private readonly since = new Date().toISOString();
  dropped = 0;
  /** Messages from NATS that were not events (never shown). */
  rejected = 0;

  constructor(private readonly caps = { events: 300, alerts: 300, sessions: 500 }) {}

  /** Folds in one event; host: the machine it came from (fleet view). */
  add(ev: CorralEvent, host?: string): void {
    this.counts[ev.kind] = (this.counts[ev.kind] ?? 0) + 1;
    if (host !== undefined && this.hosts.size < 10_000) this.hosts.add(host);
    let s = this.sessions.get(ev.session);
    if (!s) {
      s = { session: ev.session, host, run: ev.run, episode: ev.episode, started: ev.ts, calls: 0, alerts: 0, blocked: 0, killed: 0 };
      this.sessions.set(ev.session, s);
      this.trimSessions();
    }
    s.run ??= ev.run; s.episode ??= ev.episode;
    if (ev.kind === 'session.end') s.ended = ev.ts;
    if (ev.kind === 'toolcall.start') s.calls++;
    if (ev.kind === 'alert') {
      const p = ev.payload;
      const a: AlertView = {
        ts: ev.ts, host, session: ev.session, episode: ev.episode, step: ev.step, tool_call: ev.tool_call, pid: ev.pid,
        category: String(p.category ?? '?'), severity: String(p.severity ?? '?'), rule: String(p.rule ?? '?'),
        action: p.action === undefined ? undefined : String(p.action), message: String(p.message ?? ''),
      };
      this.byCategory[a.category] = (this.byCategory[a.category] ?? 0) + 1;
      s.alerts++;
      if (a.action === 'blocked') s.blocked++;
      if (a.action === 'killed') s.killed++;
      if ((RANK[a.severity] ?? 0) > (RANK[s.worst ?? ''] ?? 0)) s.worst = a.severity;
      this.alerts.push(a);
      if (this.alerts.length > this.caps.alerts * 2) this.alerts = this.alerts.slice(-this.caps.alerts);
    }
    let summary: string;
    try { summary = summarizeEvent(ev).slice(0, 300); } catch { summary = ev.kind; }
    this.events.push({ ts: ev.ts, host, session: ev.session, episode: ev.episode, step: ev.step, tool_call: ev.tool_call, kind: ev.kind, pid: ev.pid, summary });
    if (this.events.length > this.caps.events * 2) this.events = this.events.slice(-this.caps.events);
  }

  private trimSessions(): void {
    if (this.sessions.size <= this.caps.sessions) return;
    for (const [id, s] of this.sessions) {
      if (s.ended !== undefined) { this.sessions.delete(id); if (this.sessions.size <= this.caps.sessions) return; }
    }
    // all open: drop the oldest anyway (the cap is a memory bound, not a view)
    const oldest = this.sessions.keys().next().value;
    if (oldest !== undefined) this.sessions.delete(oldest);
  }

  snapshot(): DashboardSnapshot {
    return {
      since: this.since, counts: { ...this.counts }, alertsByCategory: { ...this.byCategory },
      sessions: [...this.sessions.values()].slice(-this.caps.sessions).reverse(),
      alerts: this.alerts.slice(-this.caps.alerts).reverse(),
      events: this.events.slice(-this.caps.events).reverse(),
      dropped: this.dropped, rejected: this.rejected, hosts: [...this.hosts].sort(),
    };
  }
}
