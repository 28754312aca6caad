// Why: creating a namespace + veth + nft element costs ~20-40 ms and deleting one more; a
// warm pool hides that from session creation. Slots whose sandbox left no process behind
// are reused; anything doubtful is destroyed. A batch of rollouts ending together hands back
// many slots at once, and the next batch wants as many: up to `retain` released slots are kept
// for reuse rather than destroyed and made again (a mass close followed by a burst of creations
// otherwise queues hundreds of namespace deletions and creations against the new sessions), and
// what is kept beyond `size` is destroyed once no slot has been taken for `trimAfterMs`.
import { createNetSlot, destroyNetSlot, type NetSlot } from './net-slot.js';
import type { GatewayRules } from './gateway-rules.js';

export interface NetSlotPoolOptions {
  /** Released reusable slots kept at most (≥ size). */
  retain?: number;
  /** Idle time after which slots kept beyond `size` are destroyed. */
  trimAfterMs?: number;
}

export class NetSlotPool {
  private ready: NetSlot[] = [];
  private filling = 0;
  private pending = new Set<Promise<unknown>>();
  private closed = false;
  private trimTimer?: NodeJS.Timeout;
  private readonly retain: number;
  private readonly trimAfterMs: number;

  constructor(private rules: GatewayRules, private size: number, opts: NetSlotPoolOptions = {}) {
    this.retain = Math.max(size, opts.retain ?? 64);
    this.trimAfterMs = opts.trimAfterMs ?? 30_000;
  }

  /** Slots ready to be taken. */
  get readyCount(): number { return this.ready.length; }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => {});
    return p;
  }

  /** Starts filling the pool in the background. */
  fill(): void {
    while (!this.closed && this.ready.length + this.filling < this.size) {
      this.filling++;
      this.track(createNetSlot(this.rules)).then((s) => {
        this.filling--;
        if (this.closed) return this.track(destroyNetSlot(s, this.rules));
        this.ready.push(s);
      }, () => { this.filling--; });
    }
  }

  async acquire(): Promise<NetSlot> {
    const s = this.ready.pop();
    this.fill();
    this.scheduleTrim();
    return s ?? this.track(createNetSlot(this.rules));
  }

  release(slot: NetSlot, reusable: boolean): void {
    if (reusable && !this.closed && this.ready.length < this.retain) {
      this.ready.push(slot);
      this.scheduleTrim();
      return;
    }
    void this.track(destroyNetSlot(slot, this.rules)).catch(() => {});
  }

  /** (Re)arms the idle trim while more than `size` slots are kept. */
  private scheduleTrim(): void {
    if (this.trimTimer) clearTimeout(this.trimTimer);
    this.trimTimer = undefined;
    if (this.closed || this.ready.length <= this.size) return;
    this.trimTimer = setTimeout(() => {
      this.trimTimer = undefined;
      // the oldest kept first (acquire takes the most recently released)
      for (const s of this.ready.splice(0, Math.max(0, this.ready.length - this.size))) void this.track(destroyNetSlot(s, this.rules)).catch(() => {});
    }, this.trimAfterMs);
    this.trimTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.trimTimer) clearTimeout(this.trimTimer);
    while (this.pending.size) await Promise.allSettled([...this.pending]);
    const all = this.ready.splice(0);
    await Promise.allSettled(all.map((s) => destroyNetSlot(s, this.rules)));
  }
}
