// Why: the filesystem and namespace view of a session, as a pure bwrap argv builder.
// Threats: reading the host's secrets (~/.ssh, cloud credentials, Corral's own store),
// modifying the host (root is read-only; only /workspace and a private /tmp are writable),
// and seeing host processes (own pid namespace), IPC, hostname. The session "holder"
// process keeps the namespaces alive between tool calls; tool calls join them.
import { existsSync, lstatSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { IMAGE_RESERVED, pathKindInRoot } from './image-path.js';

export { IMAGE_RESERVED };

/** Top-level directories visible (read-only) inside a sandbox. Everything else (/root, /home, /mnt, /srv, /boot, ...) is absent. */
export const VISIBLE_ROOT_DIRS = ['usr', 'etc', 'opt', 'var', 'sys'];

export interface BwrapSpec {
  workspace: string;
  resolvConf: string;
  hostsFile: string;
  hide: string[];
  /** Host paths shown read-only at their own paths in the sandbox (checked by the caller: hostMountProblem). */
  mounts?: { host: string; path: string }[];
  hostname?: string;
  /** Root listing to mirror symlinks from (tests may pass another). */
  rootDir?: string;
  /**
   * An image's root filesystem (filesystem.root), shown read-only instead of the host's: every
   * top-level directory, regular file and link of it except the places the sandbox gets from Corral (/dev, /proc,
   * /sys, /tmp, /run, /workspace); /sys is the host's, with HIDDEN_SYS_DIRS covered as always, and
   * hidden paths are looked up in the image.
   */
  image?: string;
  /** The image is this session's writable copy (filesystem.root_writable): bound read-write. */
  imageWritable?: boolean;
  /**
   * Size of the sandbox's /tmp and /dev/shm tmpfs each (tmpScratchBytes of the memory limit):
   * their pages count against the memory limit, so uncapped, a file filling /tmp was an OOM kill
   * of every later call too (`rm` included) — capped, it is ENOSPC and the session can clean up.
   */
  scratchBytes?: number;
  /** Where the workspace appears in the sandbox (filesystem.workspace_path; default /workspace). */
  workspacePath?: string;
  /**
   * Host file of native/corral-holder: shown read-only at HOLDER_PATH and run as the sandbox's
   * pid 1 itself (`--as-pid-1`: no bwrap init beside it, which would be a dumpable, unfiltered
   * process a tool call could take over through /proc/1/mem).
   */
  holderBinary?: string;
  /** Host file of native/corral-file (the session file tools' program): shown read-only at FILE_TOOL_PATH. */
  fileToolBinary?: string;
  /** A descriptor of the seccomp program bwrap loads before it runs the holder. */
  seccompFd?: number;
  /** An empty regular host file shown over HIDDEN_PROC_FILES (default: /dev/null, which reads as EACCES there). */
  emptyFile?: string;
  /** The uid and gid the sandbox sees itself as (bwrap --uid/--gid), whatever host ids it runs as. */
  inside?: { uid: number; gid: number };
  /**
   * A directory that holds the sandbox's own capped devpts instance (mounted there by corral-enter
   * --devpts in the sandbox's mount namespace), bound over /dev/pts; unset: bwrap's own, uncapped.
   */
  ptsDir?: string;
}

/**
 * Parts of the host's /sys covered by an empty tmpfs: the host's whole cgroup tree (every other
 * sandbox's memory use and process counts), the host's network interfaces (sysfs shows the netns
 * that mounted it, not the sandbox's: the host NICs and every sandbox's veth), its block devices
 * (every loop device names the workspace image of another sandbox — its session id, its Corral's
 * pid — and counts its I/O), pinned BPF objects and firmware tables. Threat: reconnaissance of the
 * host and of neighbouring sandboxes.
 */
export const HIDDEN_SYS_DIRS = ['/sys/fs/cgroup', '/sys/class/net', '/sys/devices/virtual/net', '/sys/class/block', '/sys/block',
  '/sys/devices/virtual/block', '/sys/dev/block', '/sys/fs/bpf', '/sys/firmware',
  // (each mounted filesystem by its device, with live write counters: every other sandbox's ext4 loop
  // workspace in /sys/fs/ext4/loopN; and the block devices' writeback entries, loop devices included)
  '/sys/fs/ext4', '/sys/fs/xfs', '/sys/fs/btrfs', '/sys/class/bdi', '/sys/devices/virtual/bdi',
  // (every interrupt's name and live per-CPU count: /proc/interrupts again, rebuilt; a review, session 31)
  '/sys/kernel/irq'];

/**
 * Single host-wide /sys files covered by an empty one, like HIDDEN_PROC_FILES: the kernel's uevent
 * counter, which moves with every loop device and veth a neighbouring sandbox's setup and teardown
 * make (what the seccomp block on NETLINK_KOBJECT_UEVENT keeps from the agent, as a number; a
 * review, session 31). Threat: watching neighbours start and stop, a timing channel between sandboxes.
 */
export const HIDDEN_SYS_FILES = ['/sys/kernel/uevent_seqnum'];

/**
 * Host-wide /proc directories covered by an empty read-only tmpfs: /proc/fs, whose ext4 and jbd2
 * entries list every mounted filesystem by device — each other sandbox's loop workspace and the
 * host's disk — with live free-block counts (the /sys/fs/ext4 data HIDDEN_SYS_DIRS hides, again;
 * a review, session 31); /proc/irq, which names every interrupt's device actions (`virtio2-input.0`:
 * which interrupt number is the NIC's) with its `spurious` counts — the names /proc/interrupts and
 * /sys/kernel/irq are hidden to keep (a review, session 35). Threat: seeing neighbours and how much
 * they write or send, a covert channel.
 * Not hidden, an accepted residual risk (docs/architecture.md, Session 35 review): /proc/stat's `intr`
 * and `softirq` lines, host-wide totals per interrupt number and per softirq kind. The kernel makes
 * /proc/stat at each read and its `cpu` lines must stay live (top, ps, vmstat, psutil take deltas of
 * them), so only a server on the read path (FUSE, as LXCFS does) could drop two lines; a copy would
 * freeze them. Nor would it close the channel: the cpu lines' irq/softirq columns, /proc/net/softnet_stat
 * and /proc/vmstat show the same host-wide activity. With /proc/irq and /proc/interrupts hidden, the
 * totals no longer name their devices (an agent making traffic of its own can still tell which moves).
 */
export const HIDDEN_PROC_DIRS = ['/proc/fs', '/proc/irq'];

/**
 * HIDDEN_SYS_DIRS plus the `net` and `block` directories of the host's physical devices, which sit
 * deep in /sys/devices (`…/virtio2/net/eth0`: its MAC address and live byte counters) where a fixed
 * list cannot name them: found through /sys/class/net and /sys/class/block, once per process.
 */
export function hiddenSysDirs(sys = '/sys'): string[] {
  const cached = hiddenCache.get(sys);
  if (cached) return cached;
  const extra = new Set<string>();
  for (const cls of ['net', 'block']) {
    let names: string[] = [];
    try { names = readdirSync(`${sys}/class/${cls}`); } catch { continue; }
    for (const n of names) {
      let real: string;
      try { real = realpathSync(`${sys}/class/${cls}/${n}`); } catch { continue; }
      // (the class directory above the device: …/net for eth0, …/block for vda and vda1)
      const at = real.lastIndexOf(`/${cls}/`);
      if (at <= 0 || !real.startsWith(`${sys}/devices/`) || real.startsWith(`${sys}/devices/virtual/`)) continue;
      extra.add(real.slice(0, at + cls.length + 1));
    }
  }
  const all = [...HIDDEN_SYS_DIRS.map((d) => (sys === '/sys' ? d : d.replace(/^\/sys/, sys))), ...[...extra].sort()];
  hiddenCache.set(sys, all);
  return all;
}
const hiddenCache = new Map<string, string[]>();


/**
 * Host-wide /proc files covered by an empty one (the host's /dev/null, read-only): the host kernel's
 * boot command line (boot-time addresses, datasource URLs, the hypervisor's own control settings),
 * and every block device's I/O counters and sizes (each other sandbox's workspace is a loop device:
 * /sys/class/block is hidden for the same reason, and these two files listed them all the same);
 * the host's live per-CPU interrupt counts (network and disk interrupts of every neighbour: a timing
 * side channel, masked by Docker too; /proc/softirqs counts the same work by kind), its kernel build configuration and its kernel symbol table
 * (which kernel bugs apply, and where). Threat: reconnaissance of the host, and watching (or
 * signalling through) a neighbour's disk and network activity.
 */
export const HIDDEN_PROC_FILES = ['/proc/cmdline', '/proc/diskstats', '/proc/partitions', '/proc/interrupts', '/proc/softirqs', '/proc/config.gz', '/proc/kallsyms'];

/** Whether `p` is a directory itself (not a link to one). */
function isRealDir(p: string): boolean {
  try { return lstatSync(p).isDirectory(); } catch { return false; }
}

/** Where the holder binary appears inside a sandbox (under the private /run). */
export const HOLDER_PATH = '/run/corral-holder';
/** Where the file tools' program appears inside a sandbox (beside the holder, read-only). */
export const FILE_TOOL_PATH = '/run/corral-file';

/**
 * The size of /tmp and /dev/shm for a memory limit: the limit less what the processes need to
 * go on (a quarter of it, at most 128 MiB), so a full /tmp leaves room to run `rm`.
 */
export function tmpScratchBytes(memoryLimit: number): number {
  return memoryLimit - Math.min(Math.floor(memoryLimit / 4), 128 << 20);
}

export function buildBwrapArgs(spec: BwrapSpec, holder: string[]): string[] {
  const a = [
    'bwrap',
    '--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try',
    '--die-with-parent', '--hostname', spec.hostname ?? 'corral',
  ];
  // (the caller's own host uid, mapped to this one inside the user namespace)
  if (spec.inside) a.push('--uid', String(spec.inside.uid), '--gid', String(spec.inside.gid));
  if (spec.holderBinary !== undefined) a.push('--as-pid-1');
  if (spec.seccompFd !== undefined) a.push('--seccomp', String(spec.seccompFd));
  const image = spec.image !== undefined;
  const root = spec.image ?? spec.rootDir ?? '/';
  const under = (p: string): string => `${root === '/' ? '' : root}${p}`;
  // (an image's etc must be its own directory: a link would list and bind another tree's files,
  // the host's for `etc -> /etc`; hostRootProblem refuses such an image before this)
  if (image) {
    let etc;
    try { etc = lstatSync(under('/etc')); } catch { /* no /etc: Corral's two files alone */ }
    if (etc?.isSymbolicLink()) throw new Error(`image root ${root}: its etc is a symbolic link`);
  }
  for (const name of readdirSync(root).sort()) {
    const p = under(`/${name}`);
    let st;
    try { st = lstatSync(p); } catch { continue; }
    if (image && (IMAGE_RESERVED.has(name) || (name === 'etc' && !spec.imageWritable))) continue;
    if (st.isSymbolicLink()) {
      const target = readlinkSync(p);
      // mirror merged-/usr links (/bin -> usr/bin) but never links into hidden places (an image's links stay in the image)
      if (image || VISIBLE_ROOT_DIRS.some((d) => target === d || target.startsWith(`${d}/`))) a.push('--symlink', target, `/${name}`);
    } else if (st.isDirectory() && (image || VISIBLE_ROOT_DIRS.includes(name))) {
      a.push(spec.imageWritable ? '--bind' : '--ro-bind', p, `/${name}`);
    } else if (image && st.isFile()) {
      // an image's top-level files are part of it too (/.dockerenv, a task's /run_tests.sh, /environment);
      // only regular files: a device node, socket or fifo of an image is never shown
      a.push(spec.imageWritable ? '--bind' : '--ro-bind', p, `/${name}`);
    }
  }
  if (image) {
    a.push('--ro-bind', '/sys', '/sys');
  }
  if (image && !spec.imageWritable) {
    // An image's /etc may lack resolv.conf and hosts (or hold them as links), and nothing can be
    // created in a read-only bind: /etc is a tmpfs holding the image's entries, one bind each, made
    // read-only once Corral's two files are bound (the tmpfs is the agent's: left writable, it
    // could create /etc/ld.so.preload). A writable root's /etc is its own layer's, the two files
    // made there by the session before the sandbox starts.
    a.push('--tmpfs', '/etc');
    let names: string[] = [];
    try { names = readdirSync(under('/etc')).sort(); } catch { /* no /etc: Corral's two files alone */ }
    for (const name of names) {
      if (name === 'resolv.conf' || name === 'hosts') continue;
      const p = under(`/etc/${name}`);
      let st;
      try { st = lstatSync(p); } catch { continue; }
      if (st.isSymbolicLink()) a.push('--symlink', readlinkSync(p), `/etc/${name}`);
      else a.push('--ro-bind', p, `/etc/${name}`);
    }
  }
  const sized = spec.scratchBytes !== undefined ? ['--size', String(Math.max(4096, Math.ceil(spec.scratchBytes / 4096) * 4096))] : [];
  // Every tmpfs the agent may write is sized like /tmp; the others are read-only once in place (a review,
  // session 23: an unsized /run or a writable cover over /sys let one write fill the memory cgroup, after
  // which even `rm` was OOM-killed and the session could not recover; they were also hiding places).
  // (/dev's nodes stay writable as devices; its own tmpfs is read-only: /dev/shm and /dev/pts are their own mounts)
  // (a capped devpts of the sandbox's own over bwrap's: bwrap's draws on the host's shared pool of
  // pseudo-terminals with no bound, so one sandbox could take them all; /dev/ptmx links to pts/ptmx)
  const pts = spec.ptsDir ? ['--dev-bind', spec.ptsDir, '/dev/pts'] : [];
  a.push('--dev', '/dev', ...pts, '--proc', '/proc', ...sized, '--tmpfs', '/tmp', ...sized, '--tmpfs', '/dev/shm', '--remount-ro', '/dev', ...sized, '--tmpfs', '/run');
  // (an empty regular file reads as nothing, as a kernel without the data would give: /dev/null on the
  // nodev mount bwrap makes would be EACCES, which psutil's disk counters, for one, raise on)
  for (const f of HIDDEN_PROC_FILES) if (existsSync(f)) a.push('--ro-bind', spec.emptyFile ?? '/dev/null', f);
  for (const d of HIDDEN_PROC_DIRS) if (isRealDir(d)) a.push('--tmpfs', d, '--remount-ro', d);
  // The host's /var/tmp is every host user's to write (1777): what they leave there, a unix socket a
  // host process listens on included (a connect() around the network namespace and the gateway),
  // was in every sandbox. The sandbox gets its own, like /tmp. (An image's /var/tmp is the image's.)
  if (!image && isRealDir(under('/var/tmp'))) a.push(...sized, '--tmpfs', '/var/tmp');
  // (only directories that exist: bwrap cannot create a mount point in the read-only /sys, always the host's)
  for (const d of hiddenSysDirs()) if (existsSync(image ? d : under(d))) a.push('--tmpfs', d, '--remount-ro', d);
  for (const f of HIDDEN_SYS_FILES) if (existsSync(image ? f : under(f))) a.push('--ro-bind', spec.emptyFile ?? '/dev/null', f);
  if (spec.holderBinary !== undefined) a.push('--ro-bind', spec.holderBinary, HOLDER_PATH);
  if (spec.fileToolBinary !== undefined) a.push('--ro-bind', spec.fileToolBinary, FILE_TOOL_PATH);
  a.push('--ro-bind', spec.resolvConf, '/etc/resolv.conf', '--ro-bind', spec.hostsFile, '/etc/hosts');
  if (image && !spec.imageWritable) a.push('--remount-ro', '/etc');
  for (const h of spec.hide) {
    // (an image's paths are looked up in the image: its /root, its /etc/shadow)
    // (through the image's own links, never the host's: image-path.ts)
    const kind = image ? pathKindInRoot(root, h) : existsSync(h) ? (statSync(h).isDirectory() ? 'dir' : 'file') : undefined;
    if (kind === undefined) continue;
    if (!image && !VISIBLE_ROOT_DIRS.some((d) => h.startsWith(`/${d}/`))) continue; // not mounted anyway
    if (image && (h === '/' || IMAGE_RESERVED.has(h.split('/')[1]!))) continue;
    if (kind === 'dir') a.push('--tmpfs', h, '--remount-ro', h);
    else a.push('--ro-bind', '/dev/null', h);
  }
  for (const m of spec.mounts ?? []) a.push('--ro-bind', m.host, m.path);
  const at = spec.workspacePath ?? '/workspace';
  // (the sandbox's own / is a tmpfs bwrap made, the agent's by ownership: read-only once every mount
  // point is in place — "a read-only root" held for / itself, not only for what is bound under it)
  a.push('--bind', spec.workspace, at, '--remount-ro', '/', '--chdir', at, '--', ...holder);
  return a;
}
