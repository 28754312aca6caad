// Why: sandboxes that share one host uid share that uid's kernel-wide counters. With every sandbox
// running as host uid 65534, one rollout holding 128 inotify instances left every other sandbox on
// the host (and host services running as nobody) unable to create a single one — file watchers,
// test runners and language servers failed in unrelated episodes; queued signals and POSIX message
// queue bytes are counted per uid too, and a workspace handed to that uid (no idmapped mount) was
// open to every other sandbox that could see its path. Threat: one sandbox denying service to, or
// reading from, its neighbours through per-user accounting. Each address lease (one live sandbox
// per lease on a host, across Corral processes) therefore gets its own host uid and gid, shown
// inside the sandbox as 65534 (nobody) through bwrap's user namespace, so the agent sees no change.

/** The uid and gid every sandbox sees itself as (nobody). */
export const SANDBOX_UID = 65534;
export const SANDBOX_GID = 65534;

/**
 * First host id of the sandbox range: 0x70000000 (1879048192), just above systemd's container
 * range (524288–1879048191) and below its "foreign" range (2147352576 and up), so it meets no
 * regular, system, dynamic or container user.
 */
export const HOST_ID_BASE = 0x70000000;
const MAX_LEASES = 1 << 24;

/**
 * The host uid (and gid, the same number) of the sandbox holding lease `index`.
 * @example hostIdOf(3) // 1879048195
 */
export function hostIdOf(index: number): number {
  if (!Number.isInteger(index) || index < 0 || index >= MAX_LEASES) throw new RangeError(`lease index ${index} is outside 0..${MAX_LEASES - 1}`);
  return HOST_ID_BASE + index;
}
