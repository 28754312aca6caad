// Why: every hostile test, benchmark and demo must run inside the lab network namespace,
// never in the machine's real one. This guard is the second wall from SAFETY.md: before
// anything hostile starts it proves the current netns has no way out (not the init netns,
// no default route, only loopback plus veths this lab created). Threat stopped: a scenario
// (or a Corral bug) sending mining/tunnel/scan traffic onto the real network because it was
// started outside the lab by mistake.
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { inChildPidNs } from '../util/pid-namespace.js';

/** Names of interfaces the lab and Corral may create (lab harness veths, Corral sandbox veths). */
export const LAB_IFACE_PREFIXES = ['crl', 'lab'] as const;
/** Link kinds allowed besides loopback: none of them can reach a real uplink by themselves. */
export const LAB_IFACE_KINDS = ['veth', 'dummy'] as const;
/** Env var lab-exec sets to the netns it left, used when /proc/1/ns/net is unreadable. */
export const OUTER_NETNS_ENV = 'CORRAL_LAB_OUTER_NETNS';

export const HOW_TO_ENTER =
  'Run it through the lab: `node dist/src/lab/lab-exec.js -- <command…>` ' +
  '(it re-executes under `unshare --net` with CORRAL_LAB=1), e.g. ' +
  '`node dist/src/lab/lab-exec.js -- node --test dist/test/<name>.test.js`.';

export interface LabCheckOptions {
  /** Environment to check instead of process.env (tests use this). */
  env?: NodeJS.ProcessEnv;
}

interface IpLink { ifname?: string; linkinfo?: { info_kind?: string } }

function ipJson(args: string[]): unknown[] {
  const out = execFileSync('ip', ['-j', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const trimmed = out.trim();
  if (trimmed === '') return [];
  const parsed: unknown = JSON.parse(trimmed);
  return Array.isArray(parsed) ? parsed : [];
}

function readNs(path: string): string | undefined {
  try { return readlinkSync(path); } catch { return undefined; }
}

/** Every reason the current process is not in a safe lab; empty when it is. */
export function labProblems(opts: LabCheckOptions = {}): string[] {
  const env = opts.env ?? process.env;
  const problems: string[] = [];
  if (env['CORRAL_LAB'] !== '1') problems.push('CORRAL_LAB=1 is not set');

  // The init netns from /proc/1 when readable (it often is not in containers), plus the netns
  // lab-exec left (recorded in the env); we must differ from every reference we have. In a pid
  // namespace of its own /proc/1 is that namespace's first process — this one, perhaps — not the
  // machine's init, so it proves nothing and only the recorded one counts.
  const self = readNs('/proc/self/ns/net');
  const init = inChildPidNs() ? undefined : readNs('/proc/1/ns/net');
  const refs = [init, env[OUTER_NETNS_ENV]].filter((r): r is string => !!r);
  if (self === undefined) problems.push('cannot read /proc/self/ns/net');
  else if (refs.length === 0) problems.push(`cannot read /proc/1/ns/net and ${OUTER_NETNS_ENV} is unset, so the netns cannot be proven separate`);
  else if (refs.includes(self)) problems.push(`this process is in the init/outer network namespace (${self})`);

  try {
    for (const family of ['-4', '-6']) {
      const routes = ipJson([family, 'route', 'show', 'default', 'table', 'all']);
      if (routes.length > 0) problems.push(`there is an IPv${family === '-4' ? 4 : 6} default route: ${JSON.stringify(routes)}`);
    }
    for (const raw of ipJson(['-d', 'link', 'show']) as IpLink[]) {
      const name = raw.ifname ?? '?';
      if (name === 'lo') continue;
      const kind = raw.linkinfo?.info_kind ?? 'unknown';
      const prefixOk = LAB_IFACE_PREFIXES.some((p) => name.startsWith(p));
      const kindOk = (LAB_IFACE_KINDS as readonly string[]).includes(kind);
      if (!prefixOk || !kindOk) problems.push(`interface ${name} (kind ${kind}) was not created by the lab`);
    }
  } catch (err) {
    problems.push(`cannot inspect routes/links with ip: ${(err as Error).message}`);
  }
  return problems;
}

export function inLab(opts: LabCheckOptions = {}): boolean {
  return labProblems(opts).length === 0;
}

/** Throws unless the current process is inside a lab with no way out. */
export function assertInLab(opts: LabCheckOptions = {}): void {
  const problems = labProblems(opts);
  if (problems.length > 0) {
    throw new Error(`Refusing to run outside the Corral lab: ${problems.join('; ')}. ${HOW_TO_ENTER}`);
  }
}
