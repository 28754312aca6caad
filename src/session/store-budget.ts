// Why: an exec or connect flood inside one tool call (a fork loop, a scanner, a build gone wild) writes an
// event per process and per connection into the session's log and index, and, published, into the shared
// store: hours of it fill the disk of the host every other sandbox records to. Past a per-session budget the
// bulk kinds (exec, exit, connect, dns, flow, …) are counted by kind instead of stored; what explains the
// session is always kept: alerts and the events they cite as evidence, tool-call and session boundaries,
// sensor states. The count is on record (a sensor event, session.end, capture.events_unstored), so a
// report never passes a capped session off as whole.
import type { CorralEvent, EventKind } from '../events/event.js';

/** Kinds stored whatever the budget: few per call, and what a reader needs to follow the session. */
const ALWAYS_STORED: ReadonlySet<EventKind> = new Set<EventKind>(['alert', 'session.start', 'session.end', 'toolcall.start', 'toolcall.end', 'sensor']);

export class StoreBudget {
  private stored = 0;
  /** Events held back: still in the session's memory for a while, so an alert that cites one can store it after all. */
  private readonly held = new WeakSet<CorralEvent>();
  private readonly byKind = new Map<string, number>();
  private total = 0;

  constructor(readonly cap: number) {}

  /** Whether `ev` goes to the store; false counts it as unstored. */
  admit(ev: CorralEvent): boolean {
    if (ALWAYS_STORED.has(ev.kind) || this.stored < this.cap) { this.stored++; return true; }
    this.held.add(ev);
    this.byKind.set(ev.kind, (this.byKind.get(ev.kind) ?? 0) + 1);
    this.total++;
    return false;
  }

  private noted = false;
  /** True once, the first time the budget refused an event (the caller records that it was spent). */
  firstRefusal(): boolean {
    if (this.noted || this.total === 0) return false;
    this.noted = true;
    return true;
  }

  /** An event held back that an alert now cites: true if the caller should store it after all (counted as stored). */
  reclaim(ev: CorralEvent): boolean {
    if (!this.held.has(ev)) return false;
    this.held.delete(ev);
    const n = (this.byKind.get(ev.kind) ?? 1) - 1;
    if (n > 0) this.byKind.set(ev.kind, n); else this.byKind.delete(ev.kind);
    this.total--;
    this.stored++;
    return true;
  }

  /** Events not stored, in all and by kind. */
  get unstored(): number { return this.total; }
  unstoredByKind(): Record<string, number> { return Object.fromEntries(this.byKind); }
}
