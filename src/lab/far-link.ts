// Why: builds and tears down the wire between the lab netns and the far netns: one veth pair,
// a /30 from the documentation range 192.0.2.0/24, the far hosts' addresses as /32s on the far
// side, and lab routes to each of them. The far netns only ever gets this veth, so its only
// neighbour is the lab, which has no uplink (SAFETY.md rules 1-2). Never touches the init netns:
// callers must have passed assertInLab() first.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export async function ip(args: string[], netnsPath?: string): Promise<string> {
  const [cmd, argv] = netnsPath === undefined
    ? ['ip', args]
    : ['nsenter', [`--net=${netnsPath}`, '--', 'ip', ...args]];
  try {
    const { stdout } = await execFileP(cmd, argv, { encoding: 'utf8' });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${argv.join(' ')} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

function ipv4ToInt(a: string): number {
  const parts = a.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${a}`);
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function assertIpv4(a: string): void { ipv4ToInt(a); }

/** Addresses already configured in the lab netns. */
async function labAddresses(): Promise<string[]> {
  const parsed = JSON.parse((await ip(['-j', '-4', 'addr', 'show'])) || '[]') as Array<{ addr_info?: Array<{ local?: string }> }>;
  return parsed.flatMap((l) => (l.addr_info ?? []).map((a) => a.local ?? '')).filter(Boolean);
}

export interface LinkPlan { labIp: string; farIp: string }

/** Picks a free /30 in 192.0.2.0/24 (from the top) that clashes with no far host and no lab address. */
export async function planLink(farHostIps: string[]): Promise<LinkPlan> {
  const taken = [...farHostIps, ...(await labAddresses())].map(ipv4ToInt);
  const base = ipv4ToInt('192.0.2.0');
  for (let net = 252; net >= 0; net -= 4) {
    const lo = base + net;
    if (taken.some((t) => t >= lo && t <= lo + 3)) continue;
    return { labIp: `192.0.2.${net + 1}`, farIp: `192.0.2.${net + 2}` };
  }
  throw new Error('no free /30 left in 192.0.2.0/24 for a far link');
}

/** Creates the veth, moves its peer into the far netns (by PID) and routes the far host IPs. */
export async function buildLink(o: {
  labIf: string; farIf: string; farPid: number; plan: LinkPlan; hostIps: string[];
}): Promise<void> {
  const farNs = `/proc/${o.farPid}/ns/net`;
  await ip(['link', 'add', o.labIf, 'type', 'veth', 'peer', 'name', o.farIf]);
  await ip(['link', 'set', o.farIf, 'netns', String(o.farPid)]);
  await ip(['addr', 'add', `${o.plan.labIp}/30`, 'dev', o.labIf]);
  await ip(['link', 'set', o.labIf, 'up']);
  await ip(['link', 'set', 'lo', 'up'], farNs);
  await ip(['addr', 'add', `${o.plan.farIp}/30`, 'dev', o.farIf], farNs);
  for (const h of o.hostIps) await ip(['addr', 'add', `${h}/32`, 'dev', o.farIf], farNs);
  await ip(['link', 'set', o.farIf, 'up'], farNs);
  // Default route back into the lab (the far netns's only neighbour), so a packet that leaks
  // from any lab source (a sandbox's 10.231/16 address, not just the gateway) completes its
  // handshake and is counted, instead of silently dying for lack of a return route.
  await ip(['route', 'add', 'default', 'via', o.plan.labIp, 'dev', o.farIf], farNs);
  for (const h of o.hostIps) await ip(['route', 'add', `${h}/32`, 'via', o.plan.farIp, 'dev', o.labIf]);
}

/** Deletes the lab end of the veth (the peer and all its routes go with it). Idempotent. */
export async function removeLink(labIf: string): Promise<void> {
  try { await ip(['link', 'del', labIf]); } catch (err) {
    if (!/Cannot find device|does not exist/i.test((err as Error).message)) throw err;
  }
}
