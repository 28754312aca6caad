// Why: locates Corral's native pieces (built by scripts/build-native.mjs) and builds the
// corral-enter argv, so every privileged transition is one audited binary with explicit
// arguments (see native/corral-enter.c for the threat model).
import { SANDBOX_NOFILE } from './file-limits.js';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/src/sandbox -> dist/native */
const nativeDir = join(here, '..', '..', 'native');

export function enterBinary(): string {
  const p = join(nativeDir, 'corral-enter');
  if (!existsSync(p)) throw new Error(`corral-enter is not built (${p}); run: npm run build`);
  return p;
}

/** native/corral-holder: pid 1 of every sandbox (see native/corral-holder.c). */
export function holderBinary(): string {
  const p = join(nativeDir, 'corral-holder');
  if (!existsSync(p)) throw new Error(`corral-holder is not built (${p}); run: npm run build`);
  return p;
}

/** native/corral-file: the session file tools' program, run inside the sandbox (see native/corral-file.c). */
export function fileToolBinary(): string {
  const p = join(nativeDir, 'corral-file');
  if (!existsSync(p)) throw new Error(`corral-file is not built (${p}); run: npm run build`);
  return p;
}

/** native/corral-fwatch: who wrote a session's workspace files (see native/corral-fwatch.c); optional. */
export function fwatchBinary(): string | undefined {
  const p = join(nativeDir, 'corral-fwatch');
  return existsSync(p) ? p : undefined;
}

/** native/corral-idmap: an idmapped bind mount of a host workspace (its owner shown as the sandbox uid). */
export function idmapBinary(): string | undefined {
  const p = join(nativeDir, 'corral-idmap');
  return existsSync(p) ? p : undefined;
}

/** native/tracefs-events-shim.so: preloaded into the sensor's bpftrace (tracefs's event list answered from memory). */
export function eventsShim(): string | undefined {
  const p = join(nativeDir, 'tracefs-events-shim.so');
  return existsSync(p) ? p : undefined;
}

/**
 * The destination the agent asked for (SO_ORIGINAL_DST, or conntrack's original tuple for a datagram), and the source
 * port its socket has (conntrack's original tuple: the kernel may give a reused port another on the gateway's side;
 * absent when conntrack cannot be asked).
 */
export interface OriginalDst { address: string; port: number; sourcePort?: number }

export interface GatewayNative {
  originalDst(fd: number): OriginalDst | null;
  /** The original tuple of the redirected UDP flow a datagram from peer arrived on at local; null when conntrack does not answer. */
  udpOriginal(localIp: string, localPort: number, peerIp: string, peerPort: number): OriginalDst | null;
  /** The errno name of a conntrack GET for a tuple no connection has: "ENOENT" when ctnetlink answers. */
  conntrackProbe(): string;
  /** Kernel splice relay fromFd -> toFd on a native thread; returns an id for spliceCancel. */
  spliceOneWay(fromFd: number, toFd: number, cb: (err: string | null, bytes: number) => void): number;
  /** Stops a relay early: shuts both sockets down (FIN), or with reset, aborts it so the last closes send RSTs. */
  spliceCancel(id: number, reset?: boolean): void;
  /** Bytes a running relay has moved so far, or -1 when it has finished. */
  spliceMoved(id: number): number;
}

export function loadGatewayNative(): GatewayNative {
  const req = createRequire(import.meta.url);
  return req(join(nativeDir, 'original-dst.node')) as GatewayNative;
}

/** One function of the gateway addon, or undefined when the addon is not built or predates it (callers fall back). */
export function gatewayNativeFn<F>(name: string): F | undefined {
  try {
    const f = (loadGatewayNative() as unknown as Record<string, unknown>)[name];
    return typeof f === 'function' ? (f as F) : undefined;
  } catch { return undefined; }
}

export interface EnterSpec {
  cgroupProcs: string[];
  /** Where the waiting parent moves after fork (see corral-enter --waiter-cgroup). */
  waiterCgroupProcs?: string[];
  netns?: string;
  /**
   * Holder start only: join a fresh copy of this template mount namespace (mount-template.ts) with the
   * host's mounts at each of `keepMounts` (real paths, none below another) cloned in at the same path.
   */
  mountTemplate?: string;
  keepMounts?: string[];
  /**
   * Holder start only: host paths bwrap binds read-only, shown as read-only overlays in the sandbox's
   * own mount namespace (host-views.ts); mounts at or below `viewKeep` stay; `viewEmpty` an empty dir.
   */
  views?: string[];
  viewKeep?: string[];
  viewEmpty?: string;
  /**
   * Holder start only: a devpts instance of the sandbox's own, mounted on `at` (an empty directory)
   * in its own mount namespace with at most `max` pseudo-terminals; bwrap binds it over /dev/pts.
   */
  devpts?: { at: string; max: number };
  joinPid?: number;
  uid: number;
  gid: number;
  seccompFile?: string;
  cwd?: string;
  setsid?: boolean;
}

/** Pure builder of the corral-enter argv. */
export function buildEnterArgv(spec: EnterSpec, command: string[]): string[] {
  const a: string[] = [enterBinary()];
  for (const c of spec.cgroupProcs) a.push('--cgroup', c);
  for (const c of spec.waiterCgroupProcs ?? []) a.push('--waiter-cgroup', c);
  if (spec.netns) a.push('--netns', spec.netns);
  if (spec.mountTemplate) {
    a.push('--mount-template', spec.mountTemplate);
    for (const d of spec.keepMounts ?? []) a.push('--keep-mounts', d);
  }
  if (spec.views?.length) {
    for (const d of spec.views) a.push('--view', d);
    for (const d of spec.viewKeep ?? []) a.push('--view-keep', d);
    if (spec.viewEmpty) a.push('--view-empty', spec.viewEmpty);
  }
  if (spec.devpts) a.push('--devpts', spec.devpts.at, '--devpts-max', String(spec.devpts.max));
  if (spec.joinPid) a.push('--join-pid', String(spec.joinPid));
  a.push('--uid', String(spec.uid), '--gid', String(spec.gid), '--nofile', String(SANDBOX_NOFILE));
  if (spec.seccompFile) a.push('--seccomp', spec.seccompFile);
  if (spec.cwd) a.push('--cwd', spec.cwd);
  if (spec.setsid) a.push('--setsid');
  a.push('--', ...command);
  return a;
}
