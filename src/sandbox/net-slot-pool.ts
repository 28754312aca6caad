// Why: creating a namespace + veth + nft table costs ~20-40 ms and deleting one more; a
// warm pool hides that from session creation. Slots whose sandbox left no process behind
// are reused; anything doubtful is destroyed.
import { createNetSlot, destroyNetSlot, type NetSlot } from './net-slot.js';
import type { GatewayRules } from './gateway-rules.js';

export class NetSlotPool {
  private ready: NetSlot[] = [];
  private filling = 0;
  private pending = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private rules: GatewayRules, private size: number) {}

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
    return s ?? this.track(createNetSlot(this.rules));
  }

  release(slot: NetSlot, reusable: boolean): void {
    if (reusable && !this.closed && this.ready.length < this.size) { this.ready.push(slot); return; }
    void this.track(destroyNetSlot(slot, this.rules)).catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.pending.size) await Promise.allSettled([...this.pending]);
    const all = this.ready.splice(0);
    await Promise.allSettled(all.map((s) => destroyNetSlot(s, this.rules)));
  }
}
