// Why: a sandbox's network world: its own namespace whose only interface is a veth to the
// namespace where Corral's gateway runs, with a default route to the gateway, IPv6 off,
// and its veth in the runtime's nft set on the gateway side (gateway-rules.ts). Threat: any
// path out that does not cross the gateway. Creation costs ~20 ms, so slots are made ahead of
// time (net-slot-pool.ts), each for one session only: destroyed after it, never reused.
import { writeFileSync } from 'node:fs';
import { acquireLease, releaseLease, type Lease, type LeaseConfig, DEFAULT_LEASES } from './address-leases.js';
import type { GatewayRules } from './gateway-rules.js';
import { execFile } from '../util/exec-file.js';
import { enterBinary } from './launcher.js';

export interface NetSlot { lease: Lease; netnsPath: string }

export async function createNetSlot(rules: GatewayRules, cfg: LeaseConfig = DEFAULT_LEASES): Promise<NetSlot> {
  const lease = acquireLease(cfg);
  try {
    await execFile(['ip', 'netns', 'add', lease.netns]);
    await execFile(['ip', 'link', 'add', lease.hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lease.netns]);
    // under the gateway's rules before the link is up
    await rules.add(lease.hostIf);
    try { writeFileSync(`/proc/sys/net/ipv6/conf/${lease.hostIf}/disable_ipv6`, '1'); } catch { /* ipv6 absent */ }
    await execFile(['ip', '-batch', '-'], {
      input: `addr add ${lease.hostIp}/30 dev ${lease.hostIf}\nlink set ${lease.hostIf} up\n`,
    });
    await execFile(['ip', '-n', lease.netns, '-batch', '-'], {
      input: `link set lo up\naddr add ${lease.sandboxIp}/30 dev eth0\nlink set eth0 up\nroute add default via ${lease.hostIp}\n`,
    });
    // IPv6 off inside (held to the same policy by being absent); ping sockets on so ICMP
    // attempts reach the gateway side, where they are logged and rejected.
    await execFile([enterBinary(), '--netns', `/run/netns/${lease.netns}`, '--', 'sysctl', '-q', '-w',
      'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1', 'net.ipv4.ping_group_range=0 2147483647']);
    return { lease, netnsPath: `/run/netns/${lease.netns}` };
  } catch (e) {
    await destroyLeaseResources(lease, cfg, rules);
    throw e;
  }
}

/**
 * Removes a slot's veth pair, its element in the runtime's set (`rules`; a crashed runtime's whole
 * table goes in cleanupOrphanGatewayTables), its namespace and its lease. The veth goes first: a
 * process left in the namespace must never have a link out while the link is not in the set.
 */
export async function destroyLeaseResources(lease: Lease, cfg: LeaseConfig = DEFAULT_LEASES, rules?: GatewayRules): Promise<void> {
  // (one process for both, the veth first; -force: on past a line that fails, as when either is already gone)
  await execFile(['ip', '-force', '-batch', '-'], { input: `link del ${lease.hostIf}\nnetns del ${lease.netns}\n`, allowFail: true });
  await rules?.remove(lease.hostIf);
  // a lease of a Corral from before per-runtime tables names its own table
  if (lease.table) await execFile(['nft', 'delete', 'table', 'inet', lease.table], { allowFail: true });
  releaseLease(lease, cfg);
}

export function destroyNetSlot(slot: NetSlot, rules: GatewayRules, cfg: LeaseConfig = DEFAULT_LEASES): Promise<void> {
  return destroyLeaseResources(slot.lease, cfg, rules);
}
