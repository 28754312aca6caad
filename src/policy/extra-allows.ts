// Why: `corral run --allow HOST…` (and `--mount HOST:PATH`) must widen a policy for one run without
// editing files, yet pass the same validation as a policy file, so a hurried '--allow *', a bad
// CIDR or a mount over /etc is refused rather than opening everything (threat: accidental
// over-broad egress or filesystem exposure).

import { ALWAYS_DENIED_RANGES, hostRangeList, METADATA_ADDRESSES, type AddressClass } from './address-class.js';
import { leaseSubnet } from '../sandbox/address-leases.js';
import { PolicyError, formatPath, issuesFromZod } from './errors.js';
import { localHostAddresses } from './host-addresses.js';
import { addrKey, type Cidr, cidrWithin, parseAddr, parseCidr } from './ip.js';
import { checkMounts, type Policy, PolicySchema } from './schema.js';
import { resolve } from 'node:path';

/** Address classes a command-line --allow may never open: the host itself, its loopback, link-local and cloud metadata. */
const NEVER_FROM_CLI: ReadonlySet<AddressClass> = new Set(['host_self', 'loopback', 'link_local', 'metadata']);
const CLI_REASON: Partial<Record<AddressClass, string>> = {
  host_self: "is this host's own address: a sandbox would reach the host's own services",
  loopback: "is the host's loopback: a sandbox would reach the host's local services",
  link_local: 'is link-local (169.254.0.0/16, fe80::/10), where cloud metadata and host-local services live',
  metadata: 'is a cloud metadata address: a sandbox would read the machine\'s credentials',
};

/** The class of the always-denied ranges an allow cidr would open that the command line may not, if any. */
function sensitiveClass(cidrText: string, hostKeys: ReadonlySet<string>, hostRanges: readonly Cidr[]): AddressClass | undefined {
  const c = parseCidr(cidrText);
  if (!c.ok) return undefined; // (the schema reports it)
  // Inside Corral's sandbox subnet: the host's veth addresses (a wider rule is accepted; the subnet stays closed)
  if (hostRanges.some((h) => cidrWithin(c.cidr, h))) return 'host_self';
  const single = c.cidr.prefix === (c.cidr.v === 4 ? 32 : 128);
  if (single) {
    const key = addrKey(c.cidr.v === 4 ? { v: 4, n: c.cidr.net } : { v: 6, w: c.cidr.net });
    if (METADATA_ADDRESSES.some((m) => { const a = parseAddr(m); return a !== null && addrKey(a) === key; })) return 'metadata';
    if (hostKeys.has(key)) return 'host_self';
  }
  for (const [range, cls] of ALWAYS_DENIED_RANGES) if (NEVER_FROM_CLI.has(cls) && cidrWithin(c.cidr, range)) return cls;
  return undefined;
}

/**
 * Splits 'registry.test', 'registry.test:8080', '*.pypi.test:443', '198.51.100.7',
 * '198.51.100.0/24:443', '2001:db8::1', '2001:db8::/32', '[2001:db8::1]:443' into a raw rule.
 */
export function parseHostSpec(spec: string): Record<string, unknown> {
  const s = spec.trim();
  let host = s;
  let port: string | undefined;
  const br = /^\[([^\]]+)\](?::([^:]*))?$/.exec(s);
  if (br) {
    host = br[1] ?? '';
    port = br[2];
  } else {
    const colons = s.split(':').length - 1;
    if (colons === 1) {
      const i = s.lastIndexOf(':');
      host = s.slice(0, i);
      port = s.slice(i + 1);
    }
  }
  const isAddr = host.includes('/') || host.includes(':') || /^[0-9.]+$/.test(host);
  const rule: Record<string, unknown> = isAddr ? { cidr: host } : { domain: host };
  if (port !== undefined) rule.ports = /^[0-9]+$/.test(port) ? [Number(port)] : port === 'any' ? 'any' : [port];
  return rule;
}

/**
 * Returns a copy of the policy with one allow rule per HOST appended (default ports 80/443). A HOST
 * that would open the host itself, its loopback, link-local or metadata addresses is refused: that is
 * for a reviewed policy file, never a command-line flag (threat: `--allow <the host's IP>` quietly
 * letting tool calls reach the host's own services). hostAddresses default to this machine's.
 */
export function withExtraAllows(p: Policy, hosts: string[], hostAddresses: string[] = localHostAddresses(), hostRanges: string[] = [leaseSubnet()]): Policy {
  if (hosts.length === 0) return p;
  const rules = hosts.map(parseHostSpec);
  const hostKeys = new Set(hostAddresses.map((h) => parseAddr(h)).filter((a) => a !== null).map((a) => addrKey(a)));
  const ranges = hostRangeList(hostRanges);
  rules.forEach((r, i) => {
    const cls = typeof r.cidr === 'string' ? sensitiveClass(r.cidr, hostKeys, ranges) : undefined;
    if (cls) {
      throw new PolicyError('--allow', { field: `--allow ${JSON.stringify(hosts[i])}`, message: `${r.cidr} ${CLI_REASON[cls]}; the command line never opens that (if it is really meant, write it in a policy file under network.allow and pass --policy)` });
    }
  });
  const r = PolicySchema.safeParse({ name: p.name, network: { allow: rules } });
  if (!r.success) {
    const issues = issuesFromZod(r.error.issues).map((i) => {
      const m = /^network\.allow\[(\d+)\](.*)$/.exec(i.field ?? '');
      const idx = m ? Number(m[1]) : -1;
      return { ...i, field: m ? `--allow ${JSON.stringify(hosts[idx])}${m[2] ? ` (${m[2].replace(/^\./, '')})` : ''}` : (i.field ?? formatPath([])) };
    });
    throw new PolicyError('--allow', issues[0] ?? { message: 'invalid --allow value' }, issues.slice(1));
  }
  return {
    ...p,
    network: { ...p.network, allow: [...p.network.allow, ...r.data.network.allow] },
  };
}

/**
 * The policy with more read-only mounts (`corral run --mount`, the API's `mounts`), checked
 * together with the policy's own (a target twice is refused) exactly as filesystem.mounts is.
 */
export function withExtraMounts(p: Policy, mounts: unknown[]): Policy {
  if (!mounts.length) return p;
  const all = checkMounts([...p.filesystem.mounts, ...mounts]);
  if (!all.ok) {
    const at = all.path ?? [];
    const idx = typeof at[0] === 'number' ? at[0] - p.filesystem.mounts.length : -1;
    throw new PolicyError('--mount', { field: `mounts${idx >= 0 ? `[${idx}]${at.slice(1).map((k) => `.${String(k)}`).join('')}` : ''}`, message: all.error });
  }
  return { ...p, filesystem: { ...p.filesystem, mounts: all.value } };
}

/** `HOST:PATH` (or `HOST:PATH:ro`) as a mount; a relative HOST (`data`, `./data`, `../data`) is resolved against cwd. */
export function parseMountSpec(spec: string, cwd: string): { host: string; path: string; mode?: string } {
  const m = /^(.+?):(\/[^:]*)(?::([a-z]+))?$/.exec(spec);
  if (!m) throw new PolicyError('--mount', { field: 'mounts', message: `expected HOST:PATH (a host path and an absolute path in the sandbox), got '${spec}'` });
  const host = m[1]!.startsWith('/') || m[1]!.startsWith('~/') ? m[1]! : resolve(cwd, m[1]!);
  return { host: host.replace(/\/+$/, '') || '/', path: m[2]!, ...(m[3] !== undefined ? { mode: m[3] } : {}) };
}
