// Why: `corral run --allow HOST…` (and `--mount HOST:PATH`) must widen a policy for one run without
// editing files, yet pass the same validation as a policy file, so a hurried '--allow *', a bad
// CIDR or a mount over /etc is refused rather than opening everything (threat: accidental
// over-broad egress or filesystem exposure).

import { PolicyError, formatPath, issuesFromZod } from './errors.js';
import { checkMounts, type Policy, PolicySchema } from './schema.js';

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

/** Returns a copy of the policy with one allow rule per HOST appended (default ports 80/443). */
export function withExtraAllows(p: Policy, hosts: string[]): Policy {
  if (hosts.length === 0) return p;
  const rules = hosts.map(parseHostSpec);
  const r = PolicySchema.safeParse({ name: p.name, network: { allow: rules } });
  if (!r.success) {
    const issues = issuesFromZod(r.error.issues, undefined, undefined).map((i) => {
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

/** `HOST:PATH` (or `HOST:PATH:ro`) as a mount; HOST relative to cwd. */
export function parseMountSpec(spec: string, cwd: string): { host: string; path: string; mode?: string } {
  const m = /^(.+?):(\/[^:]*)(?::([a-z]+))?$/.exec(spec);
  if (!m) throw new PolicyError('--mount', { field: 'mounts', message: `expected HOST:PATH (a host path and an absolute path in the sandbox), got '${spec}'` });
  const host = m[1]!.startsWith('/') || m[1]!.startsWith('~/') ? m[1]! : `${cwd.replace(/\/+$/, '')}/${m[1]!.replace(/^\.\/?/, '')}`;
  return { host: host.replace(/\/+$/, '') || '/', path: m[2]!, ...(m[3] !== undefined ? { mode: m[3] } : {}) };
}
