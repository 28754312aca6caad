// Why: one egress gateway per Corral process, shared by all its sandboxes: a transparent
// TCP proxy plus a resolver, each sandbox recognised by its veth address (which the
// sandbox cannot change: it has no CAP_NET_ADMIN). Per-sandbox state (policy, names)
// lives in SandboxNet objects, so many policies coexist in one process.
import { openFileLimit } from '../sandbox/file-limits.js';
import { TcpProxy, type ProxyOptions } from './tcp-proxy.js';
import { DnsServer } from './dns-server.js';
import type { SandboxNet } from './types.js';
import { loadGatewayNative } from '../sandbox/launcher.js';

/** Interim flow records of open connections, by default (see ProxyOptions.flowUpdateMs). */
export const DEFAULT_FLOW_UPDATE_MS = 10_000;

/** Connections one sandbox may hold open at once (a crawler's or a package manager's burst fits well inside). */
export const MAX_FLOWS_PER_SANDBOX = 1024;
/** Descriptors a relayed flow costs the Corral process at most (ProxyOptions.maxFlowsPerSandbox). */
const FDS_PER_FLOW = 6;
/** Descriptors kept for everything else the runtime opens (sessions, cgroups, the store, the sensor). */
const FDS_RESERVED = 4096;

/** How many flows a process with `limit` descriptors can relay and keep FDS_RESERVED (at least 256). */
export function flowsForDescriptors(limit: number): number {
  return Math.max(256, Math.floor((limit - FDS_RESERVED) / FDS_PER_FLOW));
}

export class Gateway {
  private sandboxes = new Map<string, SandboxNet>();
  private proxy: TcpProxy;
  private dns: DnsServer;
  tcpPort = 0;
  dnsPort = 0;

  constructor(opts: Partial<ProxyOptions> = {}) {
    const lookup = (ip: string) => this.sandboxes.get(ip);
    const native = opts.native ?? loadGatewayNative();
    this.proxy = new TcpProxy(lookup, {
      firstBytesMs: opts.firstBytesMs ?? 300,
      deniedBytesMs: opts.deniedBytesMs ?? 150,
      incompleteBytesMs: opts.incompleteBytesMs ?? 5000,
      scanBytes: opts.scanBytes ?? 64 * 1024,
      native,
      kernelSplice: opts.kernelSplice ?? process.env.CORRAL_NO_SPLICE !== '1',
      flowUpdateMs: opts.flowUpdateMs ?? DEFAULT_FLOW_UPDATE_MS,
      maxFlowsPerSandbox: opts.maxFlowsPerSandbox ?? MAX_FLOWS_PER_SANDBOX,
      maxFlowsTotal: opts.maxFlowsTotal ?? flowsForDescriptors(openFileLimit().soft),
    });
    this.dns = new DnsServer(lookup, native);
  }

  async start(): Promise<this> {
    this.tcpPort = await this.proxy.listen();
    this.dnsPort = await this.dns.listen();
    return this;
  }

  register(sb: SandboxNet): void { this.sandboxes.set(sb.ip, sb); }
  unregister(ip: string): void { this.sandboxes.delete(ip); }

  async close(): Promise<void> {
    this.dns.close();
    await this.proxy.close();
  }
}
