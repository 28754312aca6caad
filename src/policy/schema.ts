// Why: the policy is the security boundary's configuration; every field must be validated, with
// defaults applied in one place, so a typo or a wrong type can never silently weaken containment.
// Objects are strict (unknown keys are errors). Threats stopped: mis-typed keys being ignored
// ('alow:'), over-broad wildcards, bad CIDRs widening egress, unparsable limits becoming no limit.

import { workspacePathProblem } from '../sandbox/host-workspace.js';
import { z } from 'zod';
import { checkDomainPattern, checkHostName } from './domain.js';
import { parseAddr, parseCidr } from './ip.js';
import { describe, parseSize, parseTimerDuration } from './units.js';
import { ALERT_CATEGORIES, type AlertCategory } from '../events/event.js';

export const PROTOCOLS = ['tls', 'http', 'ssh', 'mining', 'other'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

export const DEFAULT_ALLOW_PORTS = [80, 443];
export const DEFAULT_ALLOW_PROTOCOLS: Protocol[] = ['tls', 'http', 'other'];
/**
 * Hidden unless a policy lists its own. /var/log: the host's world-readable logs (wtmp and lastlog name who logged in
 * from which address, dpkg/apt logs what the host runs) are reconnaissance of the host and its network, and no tool call needs them.
 */
export const DEFAULT_HIDE = ['~/.ssh', '~/.aws', '~/.config/gcloud', '~/.azure', '~/.kube', '~/.docker', '/root', '/etc/shadow', '/var/log'];
export const DEFAULT_ENV_ALLOW = ['PATH', 'LANG', 'LC_ALL', 'TERM', 'HOME'];
/** The on-disk cap of a Corral-made workspace when a policy names none (sparse: it takes only what is written). */
export const DEFAULT_WORKSPACE_DISK = 4 * 1024 ** 3;

/**
 * The disk cap a Corral-made workspace gets: the policy's workspace_disk, else the default one —
 * `implicit`, so a host workspace (which Corral never caps) goes without it instead of being refused —
 * and none when the policy caps the workspace in memory (workspace_size) or says 'unlimited'.
 */
export function effectiveWorkspaceDisk(r: { workspace_size?: number; workspace_disk?: number | 'unlimited' }): { bytes: number; implicit: boolean } | undefined {
  if (r.workspace_disk === 'unlimited') return undefined;
  if (r.workspace_disk !== undefined) return { bytes: r.workspace_disk, implicit: false };
  return r.workspace_size === undefined ? { bytes: DEFAULT_WORKSPACE_DISK, implicit: true } : undefined;
}

/** A check result; `path` points the error at an element inside the field (list index or map key). */
type Check<T> = { ok: true; value: T } | { ok: false; error: string; path?: (string | number)[] };

/**
 * An empty value (`hosts:` with nothing after it: YAML null) where a list or mapping (or a size) is
 * expected is an error, not "none": under `extends` the child's null replaces what its parent wrote,
 * so defaulting it would let a child silently drop its parent's denied fingerprints, static hosts or
 * limits (a review, session 35). Write `[]` or `{}` to say "none" in a file of its own.
 */
function nullIsAnError(what: string): { ok: false; error: string } {
  return { ok: false, error: `expected ${what}, got null (an empty value); write the value, or leave the key out` };
}

/** A field validated by a hand-written checker, so error messages say exactly what is expected. */
function field<T>(check: (v: unknown) => Check<T>) {
  return z.unknown().transform((v, ctx): T => {
    const r = check(v);
    if (!r.ok) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: r.error, path: r.path ?? [] });
      return z.NEVER;
    }
    return r.value;
  });
}

function checkPorts(v: unknown, dflt: number[] | 'any'): Check<number[] | 'any'> {
  if (v === undefined) return { ok: true, value: dflt };
  if (v === 'any') return { ok: true, value: 'any' };
  const list = typeof v === 'number' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) {
    return { ok: false, error: `expected a list of port numbers (1-65535) or 'any', got ${describe(v)}` };
  }
  for (const [i, p] of (list as unknown[]).entries()) {
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) {
      return { ok: false, error: `expected port numbers 1-65535 or 'any', got ${describe(p)}`, path: Array.isArray(v) ? [i] : [] };
    }
  }
  return { ok: true, value: [...new Set(list as number[])].sort((a, b) => a - b) };
}

function checkProtocols(v: unknown, dflt: Protocol[]): Check<Protocol[]> {
  if (v === undefined) return { ok: true, value: dflt };
  if (v === 'any') return { ok: true, value: [...PROTOCOLS] };
  if (!Array.isArray(v) || v.length === 0) return { ok: false, error: `expected a list among ${PROTOCOLS.join('|')}, got ${describe(v)}` };
  for (const [i, p] of v.entries()) {
    if (!(PROTOCOLS as readonly unknown[]).includes(p)) return { ok: false, error: `unknown protocol ${describe(p)}; expected one of ${PROTOCOLS.join(', ')}`, path: [i] };
  }
  return { ok: true, value: PROTOCOLS.filter((p) => (v as unknown[]).includes(p)) };
}

const domainField = field<string | undefined>((v) => {
  if (v === undefined) return { ok: true, value: undefined };
  if (typeof v !== 'string') return { ok: false, error: `expected a domain like 'registry.test' or '*.pypi.test', got ${describe(v)}` };
  const r = checkDomainPattern(v);
  return r.ok ? { ok: true, value: r.wildcard ? `*.${r.value}` : r.value } : r;
});

const cidrField = field<string | undefined>((v) => {
  if (v === undefined) return { ok: true, value: undefined };
  if (typeof v !== 'string') return { ok: false, error: `expected an IP or CIDR like 198.51.100.0/24, got ${describe(v)}` };
  const r = parseCidr(v.trim());
  return r.ok ? { ok: true, value: r.canonical } : r;
});

function ruleSchema(kind: 'allow' | 'deny') {
  const dPorts: number[] | 'any' = kind === 'allow' ? DEFAULT_ALLOW_PORTS : 'any';
  const dProtos: Protocol[] = kind === 'allow' ? DEFAULT_ALLOW_PROTOCOLS : [...PROTOCOLS];
  return z
    .object({
      domain: domainField,
      cidr: cidrField,
      ports: field((v) => checkPorts(v, dPorts)),
      protocols: field((v) => checkProtocols(v, dProtos)),
    })
    .strict()
    .superRefine((r, ctx) => {
      if (r.domain === undefined && r.cidr === undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `each ${kind} rule needs a 'domain' or a 'cidr'` });
      } else if (r.domain !== undefined && r.cidr !== undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['cidr'], message: `a rule has either 'domain' or 'cidr', not both; split it into two rules` });
      }
    });
}

const hostsField = field<Record<string, string>>((v) => {
  if (v === undefined) return { ok: true, value: {} };
  if (v === null) return nullIsAnError('a mapping of name: IPv4 address ({} for none)');
  if (typeof v !== 'object' || Array.isArray(v)) return { ok: false, error: `expected a mapping of name: IPv4 address, got ${describe(v)}` };
  // (a Map, not an object: a name like `constructor` or `__proto__` is a name, never a property an object already has)
  const out = new Map<string, string>();
  for (const [k, ip] of Object.entries(v as Record<string, unknown>)) {
    const n = checkHostName(k);
    if (!n.ok) return { ok: false, error: n.error, path: [k] };
    const a = typeof ip === 'string' ? parseAddr(ip) : null;
    if (!a || a.v !== 4 || (ip as string).includes(':')) return { ok: false, error: `expected an IPv4 address, got ${describe(ip)}`, path: [k] };
    if (out.has(n.value)) return { ok: false, error: `'${k}' is listed twice (names are case-insensitive)`, path: [k] };
    out.set(n.value, ip as string);
  }
  return { ok: true, value: Object.fromEntries(out) };
});

/** Splits a resolver 'ip', 'ip:port' or '[v6]:port' into parts, or returns an error. */
export function parseResolver(s: string): { ok: true; address: string; port: number } | { ok: false; error: string } {
  let host = s.trim();
  let port = 53;
  const br = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (br) {
    host = br[1] ?? '';
    if (br[2] !== undefined) port = Number(br[2]);
  } else if (host.split(':').length === 2) {
    const [h, p] = host.split(':');
    host = h ?? '';
    if (!/^\d+$/.test(p ?? '')) return { ok: false, error: `resolver '${s}': port must be a number` };
    port = Number(p);
  }
  if (!parseAddr(host)) return { ok: false, error: `resolver '${s}': expected an IP address or ip:port (names are not allowed, they would need DNS themselves)` };
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { ok: false, error: `resolver '${s}': port must be 1-65535` };
  return { ok: true, address: host, port };
}

const resolversField = field<string[]>((v) => {
  if (v === undefined) return { ok: true, value: [] };
  if (v === null) return nullIsAnError('a list of resolver addresses ([] for none)');
  if (!Array.isArray(v)) return { ok: false, error: `expected a list of resolver addresses, got ${describe(v)}` };
  for (const [i, r] of v.entries()) {
    if (typeof r !== 'string') return { ok: false, error: `expected a resolver address string, got ${describe(r)}`, path: [i] };
    const p = parseResolver(r);
    if (!p.ok) return { ...p, path: [i] };
  }
  return { ok: true, value: (v as string[]).map((r) => r.trim()) };
});

/** JA4 (t13d1516h2_8daaf6152771_e5627efa2ab1) or JA3 (32 hex) fingerprints of TLS clients to refuse. */
const JA4_RE = /^[tqd][0-9a-z]{2}[di]\d{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$/;
const JA3_RE = /^[0-9a-f]{32}$/;
const denyTlsField = field<string[]>((v) => {
  if (v === undefined) return { ok: true, value: [] };
  if (v === null) return nullIsAnError('a list of TLS client fingerprints ([] for none)');
  if (!Array.isArray(v)) return { ok: false, error: `expected a list of TLS client fingerprints (JA4 or JA3), got ${describe(v)}` };
  for (const [i, f] of v.entries()) {
    if (typeof f !== 'string' || !(JA4_RE.test(f.trim().toLowerCase()) || JA3_RE.test(f.trim().toLowerCase()))) {
      return { ok: false, error: `expected a JA4 fingerprint (like t13d1516h2_8daaf6152771_e5627efa2ab1) or a JA3 hash (32 hex digits), got ${describe(f)}`, path: [i] };
    }
  }
  return { ok: true, value: (v as string[]).map((f) => f.trim().toLowerCase()) };
});

function pathList(what: string, dflt: string[]) {
  return field<string[]>((v) => {
    if (v === undefined) return { ok: true, value: dflt };
    if (!Array.isArray(v)) return { ok: false, error: `expected a list of ${what}, got ${describe(v)}` };
    for (const [i, p] of v.entries()) {
      if (typeof p !== 'string' || p.length === 0) return { ok: false, error: `expected ${what} strings, got ${describe(p)}`, path: [i] };
      if (!isAbsoluteOrHome(p)) return { ok: false, error: `'${p}' must be absolute ('/...') or under home ('~/...')`, path: [i] };
      if (p.split('/').includes('..')) return { ok: false, error: `'${p}' must not contain '..'`, path: [i] };
    }
    return { ok: true, value: v as string[] };
  });
}

function isAbsoluteOrHome(p: string): boolean {
  return p.startsWith('/') || p === '~' || p.startsWith('~/');
}

const envAllowField = field<string[]>((v) => {
  if (v === undefined) return { ok: true, value: DEFAULT_ENV_ALLOW };
  if (!Array.isArray(v)) return { ok: false, error: `expected a list of environment variable names, got ${describe(v)}` };
  for (const [i, e] of v.entries()) {
    if (typeof e !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e)) return { ok: false, error: `expected an environment variable name like PATH, got ${describe(e)}`, path: [i] };
  }
  return { ok: true, value: v as string[] };
});

const workspaceField = field<string | null>((v) => {
  if (v === undefined || v === null) return { ok: true, value: null };
  if (typeof v !== 'string' || !isAbsoluteOrHome(v)) return { ok: false, error: `expected null or an absolute host directory ('/...' or '~/...'), got ${describe(v)}` };
  if (v.split('/').includes('..')) return { ok: false, error: `'${v}' must not contain '..'` };
  return { ok: true, value: v };
});

/** Where the workspace appears in the sandbox (its working and home directory). */
const workspacePathField = field<string>((v) => {
  if (v === undefined) return { ok: true, value: '/workspace' };
  if (typeof v !== 'string') return { ok: false, error: `expected a sandbox path like /testbed, got ${describe(v)}` };
  const why = workspacePathProblem(v);
  return why ? { ok: false, error: why } : { ok: true, value: v };
});

/** An image's root filesystem on the host (an exported container image), shown read-only as the sandbox's /. */
const rootField = field<string | null>((v) => {
  if (v === undefined || v === null) return { ok: true, value: null };
  if (typeof v !== 'string' || !isAbsoluteOrHome(v)) return { ok: false, error: `expected null (the host's own root) or an absolute host directory holding an image's root filesystem ('/...' or '~/...'), got ${describe(v)}` };
  if (v.split('/').includes('..')) return { ok: false, error: `'${v}' must not contain '..'` };
  return { ok: true, value: v };
});

/** Top-level directories a read-only mount may not land in (the sandbox's own system view, its workspace and scratch space). */
const MOUNT_TARGET_REFUSED = new Set(['bin', 'boot', 'dev', 'etc', 'lib', 'lib32', 'lib64', 'libx32', 'proc', 'root', 'run', 'sbin', 'sys', 'usr', 'var', 'opt', 'tmp', 'workspace']);

export interface ReadOnlyMount { host: string; path: string }

/** filesystem.mounts: host files or directories shown read-only at a path of their own (datasets, model caches). Also checks the API's mounts. */
export function checkMounts(v: unknown): Check<ReadOnlyMount[]> {
  if (v === undefined) return { ok: true, value: [] };
  if (v === null) return nullIsAnError('a list of {host, path} read-only mounts ([] for none)');
  if (!Array.isArray(v)) return { ok: false, error: `expected a list of {host, path} read-only mounts, got ${describe(v)}` };
  const out: ReadOnlyMount[] = [];
  const seen = new Set<string>();
  for (const [i, m] of v.entries()) {
    if (typeof m !== 'object' || m === null || Array.isArray(m)) return { ok: false, error: `expected {host: /host/dir, path: /in/sandbox}, got ${describe(m)}`, path: [i] };
    const { host, path, mode, ...rest } = m as Record<string, unknown>;
    const extra = Object.keys(rest)[0];
    if (extra !== undefined) return { ok: false, error: `unknown key '${extra}' (a mount has host, path and mode: ro)`, path: [i, extra] };
    if (mode !== undefined && mode !== 'ro') return { ok: false, error: `mounts are read-only (mode: ro); the writable place is the workspace (filesystem.workspace), got ${describe(mode)}`, path: [i, 'mode'] };
    if (typeof host !== 'string' || !isAbsoluteOrHome(host) || host.split('/').includes('..')) return { ok: false, error: `expected an absolute host path ('/...' or '~/...') without '..', got ${describe(host)}`, path: [i, 'host'] };
    const parts = typeof path === 'string' ? path.split('/').filter(Boolean) : [];
    if (typeof path !== 'string' || !path.startsWith('/') || !parts.length || path.split('/').includes('..') || path.split('/').includes('.')) {
      return { ok: false, error: `expected an absolute path inside the sandbox like /data, got ${describe(path)}`, path: [i, 'path'] };
    }
    if (MOUNT_TARGET_REFUSED.has(parts[0]!)) return { ok: false, error: `'${path}' would cover the sandbox's own /${parts[0]}; mount under a directory of its own like /data or /models`, path: [i, 'path'] };
    const norm = `/${parts.join('/')}`;
    if (seen.has(norm)) return { ok: false, error: `'${norm}' is mounted twice`, path: [i, 'path'] };
    seen.add(norm);
    out.push({ host, path: norm });
  }
  return { ok: true, value: out };
}
const mountsField = field<ReadOnlyMount[]>(checkMounts);

/** The smallest memory limit a sandbox starts under (its holder and bubblewrap fit in about 1 MiB; margin kept). */
const MIN_MEMORY = 4 << 20;

const cpusField = field<number>((v) => {
  if (v === undefined) return { ok: true, value: 1 };
  // (cgroup v2's cpu.max takes no quota under 1 ms per 100 ms period: 0.01 cores; a smaller one failed session start with EINVAL)
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0.01 || v > 1024) return { ok: false, error: `expected a number of cores between 0.01 and 1024 like 1 or 0.5, got ${describe(v)}` };
  return { ok: true, value: v };
});

/**
 * Pseudo-terminals a sandbox may hold by default: a shell, tmux, pexpect or `ssh -t` need a few;
 * the host's pool for all sandboxes together is kernel.pty.max − kernel.pty.reserve (3072 by default).
 */
export const DEFAULT_PTYS = 64;

const pidsField = field<number>((v) => {
  if (v === undefined) return { ok: true, value: 256 };
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 4_194_304) return { ok: false, error: `expected a whole number of processes (1-4194304), got ${describe(v)}` };
  return { ok: true, value: v };
});

const optionalSize = field<number | undefined>((v) => (v === undefined ? { ok: true, value: undefined } : v === null ? nullIsAnError('a size like 1GiB') : parseSize(v)));

function enumField<T extends string>(values: readonly T[], dflt: T) {
  return field<T>((v) => {
    if (v === undefined) return { ok: true, value: dflt };
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return { ok: true, value: v as T };
    return { ok: false, error: `expected one of ${values.join(' | ')}, got ${describe(v)}` };
  });
}

const nameField = field<string>((v) => {
  if (typeof v === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v)) return { ok: true, value: v };
  return { ok: false, error: `expected a policy name (letters, digits, '.', '_', '-'; up to 64 chars), got ${describe(v)}` };
});

const extendsField = field<string | undefined>((v) => {
  if (v === undefined) return { ok: true, value: undefined };
  if (typeof v === 'string' && v.length > 0) return { ok: true, value: v };
  return { ok: false, error: `expected a preset name or a .yaml path, got ${describe(v)}` };
});

export const PolicySchema = z
  .object({
    name: nameField,
    extends: extendsField,
    mode: enumField(['enforce', 'observe'] as const, 'enforce'),
    network: z
      .object({
        allow: z.array(ruleSchema('allow')).default([]),
        deny: z.array(ruleSchema('deny')).default([]),
        hosts: hostsField,
        resolvers: resolversField,
        deny_tls: denyTlsField,
      })
      .strict()
      .default({}),
    resources: z
      .object({
        cpus: cpusField,
        memory: field<number>((v) => {
          if (v === undefined) return { ok: true, value: 1024 ** 3 };
          const r = parseSize(v);
          // (below this the sandbox's own holder and bubblewrap are OOM-killed before the command starts)
          return r.ok && (r.value as number) < MIN_MEMORY ? { ok: false, error: `expected at least 4MiB for a sandbox's memory, got ${describe(v)}` } : r;
        }),
        pids: pidsField,
        /** Pseudo-terminals the sandbox may hold at once (its own devpts instance's max). */
        ptys: field<number>((v) => {
          if (v === undefined) return { ok: true, value: DEFAULT_PTYS };
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 4096) return { ok: false, error: `expected a whole number of pseudo-terminals (1-4096), got ${describe(v)}` };
          return { ok: true, value: v };
        }),
        timeout: field<number>((v) => (v === undefined ? { ok: true, value: 120_000 } : parseTimerDuration(v))),
        workspace_size: optionalSize,
        /**
         * The Corral-made workspace as an ext4 filesystem of this size in a sparse file on the host's
         * disk (not memory); 'unlimited' for a plain directory. Unset: DEFAULT_WORKSPACE_DISK, unless
         * workspace_size caps it in memory (effectiveWorkspaceDisk).
         */
        workspace_disk: field<number | 'unlimited' | undefined>((v) => {
          if (v === undefined) return { ok: true, value: undefined };
          if (v === null) return nullIsAnError(`a size like 8GiB or 'unlimited'`);
          if (v === 'unlimited') return { ok: true, value: 'unlimited' };
          const r = parseSize(v);
          // (mkfs.ext4 needs a few MiB for its own metadata; below this a workspace holds next to nothing)
          return r.ok && (r.value as number) < 16 << 20 ? { ok: false, error: `expected 'unlimited' or at least 16MiB for a disk-backed workspace, got ${describe(v)}` } : r;
        }),
        /** The most a writable image root's layer may hold (filesystem.root_writable); default: the memory limit. */
        root_size: field<number | undefined>((v) => {
          if (v === undefined) return { ok: true, value: undefined };
          if (v === null) return nullIsAnError('a size like 512MiB');
          const r = parseSize(v);
          // (a layer smaller than this holds not even the files a first `apt-get update` writes)
          return r.ok && (r.value as number) < 1 << 20 ? { ok: false, error: `expected at least 1MiB for a writable root's layer, got ${describe(v)}` } : r;
        }),
      })
      .strict()
      .default({}),
    filesystem: z
      .object({
        workspace: workspaceField,
        workspace_path: workspacePathField,
        root: rootField,
        root_writable: z.boolean({ invalid_type_error: 'expected true or false (the image root as a copy-on-write layer of each session)' }).default(false),
        mounts: mountsField,
        hide: pathList('paths to hide', DEFAULT_HIDE),
        env_allow: envAllowField,
      })
      .strict()
      .default({}),
    detection: z
      .object({ on_finding: enumField(['record', 'block'] as const, 'record') })
      .strict()
      .default({}),
    // Response to runtime alerts (process, network, resource layers; the command screen has
    // detection.on_finding): kill the processes of the tool call an alert is attributed to (a
    // miner left running in the background is killed even while a later call runs), or of the
    // whole session. Off unless categories are listed.
    response: z
      .object({
        kill: z
          .object({
            categories: field<AlertCategory[]>((v) => {
              if (v === undefined) return { ok: true, value: [] };
              if (Array.isArray(v) && v.every((x) => typeof x === 'string' && (ALERT_CATEGORIES as readonly string[]).includes(x))) return { ok: true, value: [...new Set(v as AlertCategory[])] };
              const bad = Array.isArray(v) ? v.find((x) => typeof x !== 'string' || !(ALERT_CATEGORIES as readonly string[]).includes(x)) : v;
              return { ok: false, error: `expected a list of alert categories (${ALERT_CATEGORIES.join(', ')}), got ${describe(bad)}` };
            }),
            min_severity: enumField(['low', 'medium', 'high', 'critical'] as const, 'high'),
            scope: enumField(['tool_call', 'session'] as const, 'tool_call'),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    gpu: z
      .object({
        devices: field<'none' | 'all' | number[]>((v) => {
          if (v === undefined || v === 'none') return { ok: true, value: 'none' };
          if (v === 'all') return { ok: true, value: 'all' };
          if (Array.isArray(v) && v.every((x) => Number.isInteger(x) && (x as number) >= 0 && (x as number) < 64)) return { ok: true, value: v as number[] };
          return { ok: false, error: `expected 'none', 'all' or a list of GPU indexes, got ${describe(v)}` };
        }),
        expected_processes: z.array(z.string().min(1)).default([]),
        // whether the task is meant to use the GPU (sustained use is then not abuse); default: expected_processes is not empty
        task: z.boolean().optional(),
        util_threshold_pct: z.number().min(1).max(100).default(50),
        sustain_s: z.number().min(1).max(86_400).default(60),
      })
      .strict()
      .default({}),
  })
  .strict();

/**
 * A validated policy with defaults applied. Sizes are bytes (memory, workspace_size), durations are
 * milliseconds (timeout), cpus is cores. Domain patterns are lower-case ('*.x.test' for wildcards);
 * CIDRs are canonical with a prefix ('203.0.113.20/32'). Rule ports are a sorted list or 'any'.
 */
export type Policy = z.output<typeof PolicySchema>;
export type NetRule = Policy['network']['allow'][number];
