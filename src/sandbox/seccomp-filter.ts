// Why: the seccomp program every tool call runs under. Threats it stops: a sandboxed
// process creating or joining namespaces (escape, or hiding from the per-sandbox
// gateway by making its own netns), mounting, ptrace/process_vm_* (tampering with
// other processes), bpf/perf/kernel modules/kexec, keyctl, io_uring (syscalls the
// sensors cannot see), raw and packet sockets (crafting traffic around the gateway), every
// socket family but unix, inet, inet6 and netlink (AF_VSOCK reaches the hypervisor past the
// network namespace, the gateway and nftables; rarely used families are kernel attack surface),
// pidfd_getfd/process_madvise (ptrace's cousins), modify_ldt, uselib, fanotify, Linux AIO (a host-wide
// pool: ENOSYS), netlink device events (neighbours' disks coming and going), TIOCSTI terminal injection, 32-bit/x32 syscall ABIs that would bypass the table, and setuid or
// setgid mode bits on any file it creates or changes (chmod, fchmod(at/at2), open/openat/creat with
// O_CREAT, mknod(at); openat2, whose mode sits in a struct, is ENOSYS): a host workspace is shown
// through an idmapped mount, so a file the agent creates there is, on the host's disk, its owner's —
// root's for a root-owned directory — and a setuid bit it sets would leave a setuid-root program on
// the host, which the sandbox's own nosuid mount does not cover.
// The program is built here as plain data so it is unit-testable; corral-enter loads it.

export interface SockFilter { code: number; jt: number; jf: number; k: number }

const AUDIT_ARCH_X86_64 = 0xc000003e;
const X32_SYSCALL_BIT = 0x40000000;
const RET_ALLOW = 0x7fff0000;
const RET_KILL_PROCESS = 0x80000000;
const RET_ERRNO = 0x00050000;
const EPERM = 1;
const ENOSYS = 38;
/** What a kernel without the family answers: software probing for one falls back quietly. */
const EAFNOSUPPORT = 97;

const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const AND_K = 0x54;
const RET_K = 0x06;

/** x86_64 syscalls refused with EPERM, by name (numbers from the kernel's syscall_64.tbl). */
export const DENIED_SYSCALLS: Record<string, number> = {
  unshare: 272, setns: 308, mount: 165, umount2: 166, pivot_root: 155, chroot: 161,
  ptrace: 101, process_vm_readv: 310, process_vm_writev: 311, kcmp: 312,
  bpf: 321, perf_event_open: 298, keyctl: 250, add_key: 248, request_key: 249,
  init_module: 175, finit_module: 313, delete_module: 176, kexec_load: 246, kexec_file_load: 320,
  open_by_handle_at: 304, name_to_handle_at: 303, userfaultfd: 323,
  io_uring_setup: 425, io_uring_enter: 426, io_uring_register: 427,
  open_tree: 428, move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, fspick: 433,
  mount_setattr: 442, swapon: 167, swapoff: 168, reboot: 169, syslog: 103, acct: 163,
  settimeofday: 164, clock_settime: 227, adjtimex: 159, quotactl: 179, iopl: 172, ioperm: 173,
  lookup_dcookie: 212, vhangup: 153, personality: 135,
  // session 23: the rest of the families above — quotactl's fd form, the new mount API's
  // open_tree_attr, ptrace's fd-stealing and memory-advising cousins (pidfd_getfd, process_madvise)
  // — plus modify_ldt (a per-process LDT: 16-bit code only, a history of kernel bugs), uselib
  // (a.out libraries) and fanotify_init (filesystem-wide watches since 5.13 unprivileged)
  quotactl_fd: 443, open_tree_attr: 467, pidfd_getfd: 438, process_madvise: 440,
  modify_ldt: 154, uselib: 134, fanotify_init: 300,
};
/**
 * The first x86_64 syscall number this filter predates (file_setattr, 469, is the last of Linux 6.17/6.18).
 * Later ones get ENOSYS, what an older kernel answers, so libraries fall back to the calls the filter
 * knows. Threat: a new kernel interface — as io_uring and the new mount API once were — open to every
 * sandbox by default until someone adds it here.
 */
export const FIRST_UNKNOWN_SYSCALL = 470;
/**
 * Linux AIO: ENOSYS, as a kernel built without it answers, so libaio users (databases, fio) fall back to
 * threads. Threat: its contexts come from one host-wide pool (fs.aio-max-nr, 65 536 events): one process
 * in one sandbox took all of it and io_setup failed for every other sandbox and the host (a review, session 23).
 */
export const AIO_SYSCALLS: Record<string, number> = { io_setup: 206, io_destroy: 207, io_getevents: 208, io_submit: 209, io_cancel: 210, io_pgetevents: 333 };
/** The netlink protocol of the kernel's device events (uevents): every sandbox would hear when a neighbour's disk comes and goes. */
export const NETLINK_KOBJECT_UEVENT = 15;
export const SYSCALL = { ioctl: 16, socket: 41, clone: 56, clone3: 435, openat2: 437 } as const;

/** Syscalls that set a file's mode, by the index of their mode argument (x86_64 numbers). */
export const MODE_SYSCALLS: Record<string, { nr: number; modeArg: 1 | 2 | 3 }> = {
  chmod: { nr: 90, modeArg: 1 }, fchmod: { nr: 91, modeArg: 1 }, creat: { nr: 85, modeArg: 1 }, mknod: { nr: 133, modeArg: 1 },
  open: { nr: 2, modeArg: 2 }, fchmodat: { nr: 268, modeArg: 2 }, fchmodat2: { nr: 452, modeArg: 2 }, mknodat: { nr: 259, modeArg: 2 },
  openat: { nr: 257, modeArg: 3 },
};
/** S_ISUID | S_ISGID: refused in any mode a sandboxed process sets. */
export const SETID_MODE_BITS = 0o6000;

/** Namespace flags refused in clone(): NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME. */
export const CLONE_NAMESPACE_FLAGS = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80;
export const AF_UNIX = 1;
export const AF_PACKET = 17;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_VSOCK = 40;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const TIOCSTI = 0x5412;

type Ins = { code: number; k: number; jt?: string; jf?: string };

/** Builds the filter. Labels are resolved to relative jumps; the result is what the kernel loads. */
export function buildSeccompFilter(): SockFilter[] {
  const ins: (Ins | { label: string })[] = [];
  const ld = (off: number) => ins.push({ code: LD_W_ABS, k: off });
  const ret = (k: number) => ins.push({ code: RET_K, k });
  const arg = (i: number) => 16 + 8 * i; // low 32 bits of args[i] (little endian)

  ld(4);
  ins.push({ code: JEQ_K, k: AUDIT_ARCH_X86_64, jf: 'kill' });
  ld(0);
  ins.push({ code: JGE_K, k: X32_SYSCALL_BIT, jt: 'kill' });
  ins.push({ code: JGE_K, k: FIRST_UNKNOWN_SYSCALL, jt: 'enosys' });
  for (const nr of Object.values(DENIED_SYSCALLS)) ins.push({ code: JEQ_K, k: nr, jt: 'eperm' });
  ins.push({ code: JEQ_K, k: SYSCALL.clone, jt: 'clone' });
  ins.push({ code: JEQ_K, k: SYSCALL.clone3, jt: 'enosys' });
  for (const nr of Object.values(AIO_SYSCALLS)) ins.push({ code: JEQ_K, k: nr, jt: 'enosys' });
  ins.push({ code: JEQ_K, k: SYSCALL.socket, jt: 'socket' });
  ins.push({ code: JEQ_K, k: SYSCALL.ioctl, jt: 'ioctl' });
  for (const m of Object.values(MODE_SYSCALLS)) ins.push({ code: JEQ_K, k: m.nr, jt: `mode${m.modeArg}` });
  ins.push({ code: JEQ_K, k: SYSCALL.openat2, jt: 'enosys' });
  ret(RET_ALLOW);
  for (const i of [1, 2, 3]) {
    ins.push({ label: `mode${i}` });
    ld(arg(i));
    ins.push({ code: JSET_K, k: SETID_MODE_BITS, jt: 'eperm' });
    ret(RET_ALLOW);
  }
  ins.push({ label: 'clone' });
  ld(arg(0));
  ins.push({ code: JSET_K, k: CLONE_NAMESPACE_FLAGS, jt: 'eperm' });
  ret(RET_ALLOW);
  ins.push({ label: 'socket' });
  ld(arg(0));
  ins.push({ code: JEQ_K, k: AF_PACKET, jt: 'eperm' });
  ins.push({ code: JEQ_K, k: AF_INET, jt: 'inet_socket' });
  ins.push({ code: JEQ_K, k: AF_INET6, jt: 'inet_socket' });
  ins.push({ code: JEQ_K, k: AF_UNIX, jt: 'allow' }); // (netlink and unix sockets may be raw: they cannot craft IP traffic)
  ins.push({ code: JEQ_K, k: AF_NETLINK, jt: 'netlink' });
  ret(RET_ERRNO | EAFNOSUPPORT); // vsock, bluetooth, can, rds, tipc, alg, xdp, …
  // (a netlink socket's protocol: the host's device events are broadcast into every network namespace the host's user namespace owns)
  ins.push({ label: 'netlink' });
  ld(arg(2));
  ins.push({ code: JEQ_K, k: NETLINK_KOBJECT_UEVENT, jt: 'eperm' });
  ret(RET_ALLOW);
  // (IP sockets are streams or datagrams only: SOCK_RAW crafts packets, and so does the old SOCK_PACKET (10), which
  // the kernel turns into a packet socket; only a missing CAP_NET_RAW stopped that one, a review found in session 31)
  ins.push({ label: 'inet_socket' });
  ld(arg(1));
  ins.push({ code: AND_K, k: 0xf });
  ins.push({ code: JEQ_K, k: SOCK_STREAM, jt: 'allow' });
  ins.push({ code: JEQ_K, k: SOCK_DGRAM, jt: 'allow' });
  ret(RET_ERRNO | EPERM);
  ins.push({ label: 'ioctl' });
  ld(arg(1));
  ins.push({ code: JEQ_K, k: TIOCSTI, jt: 'eperm' });
  ret(RET_ALLOW);
  ins.push({ label: 'allow' });
  ret(RET_ALLOW);
  ins.push({ label: 'eperm' });
  ret(RET_ERRNO | EPERM);
  ins.push({ label: 'enosys' });
  ret(RET_ERRNO | ENOSYS);
  ins.push({ label: 'kill' });
  ret(RET_KILL_PROCESS);

  const labels = new Map<string, number>();
  const real: Ins[] = [];
  for (const i of ins) {
    if ('label' in i) labels.set(i.label, real.length);
    else real.push(i);
  }
  return real.map((i, pc) => {
    const rel = (l?: string) => {
      if (!l) return 0;
      const off = labels.get(l)! - (pc + 1);
      if (off < 0 || off > 255) throw new Error(`seccomp jump out of range to ${l}`);
      return off;
    };
    return { code: i.code, jt: rel(i.jt), jf: rel(i.jf), k: i.k >>> 0 };
  });
}

/** Serialises to the kernel's struct sock_filter[] layout (8 bytes each, little endian). */
export function encodeSeccompFilter(filter: SockFilter[]): Buffer {
  const buf = Buffer.alloc(filter.length * 8);
  filter.forEach((f, i) => {
    buf.writeUInt16LE(f.code, i * 8);
    buf.writeUInt8(f.jt, i * 8 + 2);
    buf.writeUInt8(f.jf, i * 8 + 3);
    buf.writeUInt32LE(f.k, i * 8 + 4);
  });
  return buf;
}
