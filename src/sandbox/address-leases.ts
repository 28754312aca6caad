// Why: several Corral processes on one host each create sandboxes; their veth subnets
// and interface names must never collide. A lease is a file under /run/corral/leases that
// names its owner pid, so the next Corral start can find and clean up what a crashed Corral
// left behind. It appears whole or not at all: written under a temporary name, then hard-linked
// to its final name (link(2) fails if the name exists: atomic across processes). (Created
// empty with O_EXCL and written after, another Corral's orphan sweep could read it empty in
// between, take it for junk and delete a live lease: two sandboxes on one subnet.)
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from '../util/pid-alive.js';

export interface Lease {
  index: number;
  ownerPid: number;
  id: string;
  netns: string;
  hostIf: string;
  /** Only in leases of a Corral from before per-runtime nft tables (gateway-rules.ts): its own table. */
  table?: string;
  hostIp: string;
  sandboxIp: string;
}

export interface LeaseConfig { dir: string; base: string; size: number }

export const DEFAULT_LEASES: LeaseConfig = {
  dir: process.env.CORRAL_RUN_DIR ? join(process.env.CORRAL_RUN_DIR, 'leases') : '/run/corral/leases',
  base: process.env.CORRAL_SUBNET_BASE ?? '10.231.0.0',
  size: 16384,
};

function ipAdd(base: string, n: number): string {
  const b = base.split('.').map(Number);
  const v = (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) + n;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/**
 * The smallest CIDR holding every address a lease of cfg can use (the host-side veth addresses
 * among them): the policy classes all of it as the host's own (host_self).
 */
export function leaseSubnet(cfg: LeaseConfig = DEFAULT_LEASES): string {
  const b = cfg.base.split('.').map(Number);
  const base = (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0);
  const end = base + cfg.size * 4;
  for (let prefix = 32; prefix >= 0; prefix--) {
    const size = 2 ** (32 - prefix);
    const net = Math.floor(base / size) * size;
    if (net + size >= end) return `${ipAdd('0.0.0.0', net)}/${prefix}`;
  }
  return '0.0.0.0/0';
}

export function leaseFor(index: number, cfg: LeaseConfig): Lease {
  const id = index.toString(16).padStart(4, '0');
  return {
    index, ownerPid: process.pid, id,
    netns: `corral-${id}`, hostIf: `crl${id}h`,
    hostIp: ipAdd(cfg.base, index * 4 + 1), sandboxIp: ipAdd(cfg.base, index * 4 + 2),
  };
}

/** The lease id of a sandbox's host-side veth name (`crl<id>h`), or undefined for any other interface. */
export function leaseIdOfHostIf(name: string): string | undefined {
  return /^crl([0-9a-f]{4})h$/.exec(name)?.[1];
}

export function acquireLease(cfg: LeaseConfig = DEFAULT_LEASES): Lease {
  mkdirSync(cfg.dir, { recursive: true });
  const start = Math.floor(Math.random() * cfg.size);
  for (let k = 0; k < cfg.size; k++) {
    const index = (start + k) % cfg.size;
    const lease = leaseFor(index, cfg);
    const tmp = join(cfg.dir, `.${index}.${process.pid}.${Math.random().toString(16).slice(2, 10)}.tmp`);
    writeFileSync(tmp, JSON.stringify(lease), { flag: 'wx' });
    try {
      linkSync(tmp, join(cfg.dir, `${index}.json`));
      return lease;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  throw new Error(`no free sandbox address lease in ${cfg.dir}`);
}

export function releaseLease(lease: Lease, cfg: LeaseConfig = DEFAULT_LEASES): void {
  rmSync(join(cfg.dir, `${lease.index}.json`), { force: true });
}


/** How long an unreadable lease file is left alone before it counts as junk. */
const JUNK_AGE_MS = 60_000;

/** Leases whose owner process is gone (a crashed Corral). */
export function orphanedLeases(cfg: LeaseConfig = DEFAULT_LEASES): Lease[] {
  let files: string[] = [];
  try { files = readdirSync(cfg.dir); } catch { return []; }
  const out: Lease[] = [];
  for (const f of files) {
    const path = join(cfg.dir, f);
    // a writer's temporary file (see acquireLease): only a dead writer's is removed
    const tmp = /^\.\d+\.(\d+)\.[0-9a-f]*\.tmp$/.exec(f);
    if (tmp) { if (!pidAlive(Number(tmp[1]))) rmSync(path, { force: true }); continue; }
    if (!/^\d+\.json$/.test(f)) continue;
    try {
      const l = JSON.parse(readFileSync(path, 'utf8')) as Lease;
      if (!pidAlive(l.ownerPid)) out.push(l);
    } catch {
      // unreadable: junk, or a lease an older Corral is writing this very moment (it created the file
      // empty first): removed only once it has stayed unreadable for a while
      try { if (Date.now() - statSync(path).mtimeMs > JUNK_AGE_MS) rmSync(path, { force: true }); } catch { /* gone */ }
    }
  }
  return out;
}
