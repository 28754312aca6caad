// Why: connections from the sandbox to the host's own interfaces (its SSH, its databases, the
// gateway's admin ports) must be refused even when those addresses look public. The compiler takes
// the host's addresses as input; this helper gathers them from the running machine.

import { networkInterfaces } from 'node:os';

/** Every address configured on this machine's interfaces (IPv4 and IPv6, zone ids stripped). */
export function localHostAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) out.push(i.address.split('%')[0] ?? i.address);
  }
  return out;
}
