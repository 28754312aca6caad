// Why: creating a namespace + veth + nft element costs ~20-40 ms and deleting one more; a pool of
// fresh slots, made ahead of time in the background, keeps that off session creation.
// Threat it must not open: a slot serves one session only. A network namespace keeps what its
// sandbox did in it — lo's and eth0's counters in /proc/net/dev, /proc/net/snmp, the TCP metrics
// cache (`ip tcp_metrics`), sockets a process left behind — so a slot handed to a second session
// is a channel between episodes, and between clients of `corral serve` (a review, session 35, read
// session A's 123,456 loopback bytes back in session B). Every released slot is destroyed; none is
// ever handed out twice.
// A batch of rollouts ending together hands back many slots at once, and the next batch wants as
// many: each released slot asks for a fresh one in its place (up to `retain` kept ready), so a
// batch that starts as the last one ends finds them made; what is ready beyond `size` is destroyed
// once no slot has been taken for `trimAfterMs`. The background work (making and destroying slots)
// runs a few at a time, so a mass close does not start hundreds of `ip`/`nft` processes at once
// against the sessions starting beside it, and begins a moment after the start or close that asked
// for it. A slot a session has to wait for (none ready) is made at once.
import { createNetSlot, destroyNetSlot, type NetSlot } from './net-slot.js';
import type { GatewayRules } from './gateway-rules.js';

export interface NetSlotPoolOptions {
  /** Fresh slots kept ready at most (≥ size): each released slot asks for one in its place, up to this many. */
  retain?: number;
  /** Idle time after which ready slots beyond `size` are destroyed. */
  trimAfterMs?: number;
  /** Background creations and destructions running at once, at most (default 4). */
  parallel?: number;
  /** Delay before background work starts after a quiet spell (a slot taken or released), so its processes do not compete with that session's start or close (default 100 ms). */
  delayMs?: number;
}

export class NetSlotPool {
  private ready: NetSlot[] = [];
  /** Fresh slots wanted ready: `size`, plus one for each slot released since (at most `retain`; back to `size` when idle). */
  private want: number;
  /** Background creations queued or running. */
  private making = 0;
  private queue: (() => Promise<void>)[] = [];
  private running = 0;
  private pending = new Set<Promise<unknown>>();
  private closed = false;
  private trimTimer?: NodeJS.Timeout;
  private pumpTimer?: NodeJS.Timeout;
  private readonly retain: number;
  private readonly trimAfterMs: number;
  private readonly parallel: number;
  private readonly delayMs: number;

  constructor(private rules: GatewayRules, private size: number, opts: NetSlotPoolOptions = {}) {
    this.retain = Math.max(size, opts.retain ?? 64);
    this.trimAfterMs = opts.trimAfterMs ?? 30_000;
    this.parallel = Math.max(1, opts.parallel ?? 4);
    this.delayMs = opts.delayMs ?? 100;
    this.want = size;
  }

  /** Slots ready to be taken. */
  get readyCount(): number { return this.ready.length; }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => {});
    return p;
  }

  /**
   * Runs `job` in the background, at most `parallel` such jobs at once (first come, first run), starting
   * `delayMs` after the first of a quiet spell: work a session's start or close asks for is begun once
   * that start or close is over, not during it (each command is a spawn on this event loop).
   */
  private background(job: () => Promise<void>, now = false): void {
    this.queue.push(job);
    if (this.closed || now) return this.pump();
    if (this.running > 0 || this.pumpTimer) return;
    // (not unref'd: a destruction waiting here must not be lost to a process that exits meanwhile)
    this.pumpTimer = setTimeout(() => this.pump(), this.delayMs);
  }

  private pump(): void {
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    while (this.running < this.parallel && this.queue.length) {
      const job = this.queue.shift()!;
      this.running++;
      void this.track(job().catch(() => {}).finally(() => { this.running--; this.pump(); }));
    }
  }

  /** Starts making the slots wanted ready, in the background (`now`: without the delay, as when the runtime starts). */
  fill(now = true): void {
    while (!this.closed && this.ready.length + this.making < this.want) {
      this.making++;
      this.background(async () => {
        // (no longer wanted by the time its turn came: closed, or trimmed while it waited)
        if (this.closed || this.ready.length + this.making > this.want) { this.making--; return; }
        let s: NetSlot;
        try { s = await createNetSlot(this.rules); } finally { this.making--; }
        if (this.closed) { await destroyNetSlot(s, this.rules); return; }
        this.ready.push(s);
        this.scheduleTrim(false);
      }, now);
    }
  }

  /** A fresh slot: one made ahead of time, else one made now. It is the caller's until release(). */
  async acquire(): Promise<NetSlot> {
    const s = this.ready.shift();
    // (what was ready beyond `size` is spent by taking it: not made again)
    this.want = Math.max(this.size, this.want - 1);
    this.fill(false);
    this.scheduleTrim(true);
    return s ?? this.track(createNetSlot(this.rules));
  }

  /**
   * Destroys a slot a session is done with (in the background, never handed out again) and asks for a fresh
   * one in its place. Its veth goes first (destroyLeaseResources), and until then it stays in the gateway's set.
   */
  release(slot: NetSlot): void {
    this.background(() => destroyNetSlot(slot, this.rules));
    if (this.closed) return;
    this.want = Math.min(this.retain, this.want + 1);
    this.fill(false);
    this.scheduleTrim(true);
  }

  /** (Re)arms the idle trim while more than `size` slots are wanted or ready; `reset` restarts a running one. */
  private scheduleTrim(reset: boolean): void {
    if (this.trimTimer && !reset) return;
    if (this.trimTimer) clearTimeout(this.trimTimer);
    this.trimTimer = undefined;
    if (this.closed || (this.ready.length <= this.size && this.want <= this.size)) return;
    this.trimTimer = setTimeout(() => {
      this.trimTimer = undefined;
      this.want = this.size;
      for (const s of this.ready.splice(this.size)) this.background(() => destroyNetSlot(s, this.rules));
    }, this.trimAfterMs);
    this.trimTimer.unref();
  }

  /** Resolves once no background work is waiting, scheduled or running (slots made or destroyed by then). */
  async idle(): Promise<void> {
    while (this.queue.length || this.running || this.pumpTimer || this.pending.size) {
      if (this.pending.size) await Promise.allSettled([...this.pending]);
      else await new Promise((r) => setTimeout(r, 10));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.trimTimer) clearTimeout(this.trimTimer);
    // (what is queued runs now: destructions, and creations that see the pool closed and stop)
    this.pump();
    while (this.pending.size) await Promise.allSettled([...this.pending]);
    const all = this.ready.splice(0);
    await Promise.allSettled(all.map((s) => destroyNetSlot(s, this.rules)));
  }
}
