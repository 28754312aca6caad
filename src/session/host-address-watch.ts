// Why: connections from a sandbox to the host's own addresses (its SSH, its databases, Corral's own
// ports) are refused even when those addresses look public (class host_self). The addresses were
// read once, when the runtime started: one added later — a public address a cloud agent or DHCP
// assigns, a new interface, a container bridge — was classed `public`, and a `0.0.0.0/0` or domain
// rule reached the host's services through the gateway (a review, session 34). Threat it stops: a
// sandbox reaching host services by an address the host gained after Corral started. This keeps one
// live set per runtime, which every compiled policy and classifier holds itself, refreshed when the
// kernel reports an address change (`ip -o monitor address`, a netlink listener) and every few
// seconds as a fallback should that monitor die.
import { spawn, type ChildProcess } from 'node:child_process';
import { hostKeySet } from '../policy/address-class.js';
import { localHostAddresses } from '../policy/host-addresses.js';

export class HostAddressWatch {
  /** The host's addresses in the classifier's key form; the set itself is shared, updated in place. */
  readonly keys = new Set<string>();
  /** The same addresses as text (zone ids stripped), updated in place. */
  readonly addresses = new Set<string>();
  private monitor?: ChildProcess;
  private timer?: NodeJS.Timeout;

  constructor(private readonly read: () => string[] = localHostAddresses) {
    this.refresh();
  }

  /** Starts following changes: the netlink monitor, and a re-read every `fallbackMs`. */
  start(fallbackMs = 2000): void {
    if (this.monitor || this.timer) return;
    this.timer = setInterval(() => this.refresh(), fallbackMs);
    this.timer.unref();
    try {
      const m = spawn('ip', ['-o', 'monitor', 'address'], { stdio: ['ignore', 'pipe', 'ignore'] });
      m.on('error', () => { this.monitor = undefined; }); // (no `ip`: the timer alone)
      m.on('exit', () => { this.monitor = undefined; });
      // Any line is a change: the whole list is read again (cheap: one getifaddrs, ~60 µs).
      m.stdout.on('data', () => this.refresh());
      m.unref();
      (m.stdout as unknown as { unref?: () => void }).unref?.();
      this.monitor = m;
    } catch { /* the timer alone */ }
  }

  /** Reads the interfaces again; a new address is in the sets before a removed one leaves them. */
  refresh(): void {
    let now: string[];
    try { now = this.read(); } catch { return; } // (keep what is known: never an empty set by accident)
    const keys = hostKeySet(now);
    for (const k of keys) this.keys.add(k);
    for (const a of now) this.addresses.add(a);
    for (const k of [...this.keys]) if (!keys.has(k)) this.keys.delete(k);
    const text = new Set(now);
    for (const a of [...this.addresses]) if (!text.has(a)) this.addresses.delete(a);
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.monitor?.kill('SIGKILL');
    this.monitor = undefined;
  }
}
