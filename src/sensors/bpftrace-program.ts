// Why: the kernel half of Corral's event sensor, kept apart from the Node half so the
// bpftrace text can be read and reviewed on its own. It records exec (with argv), exit,
// connect attempts and TCP SYN_SENT source ports, each with the cgroup v2 id, which is
// what lets Corral attribute a process to a tool call without trusting anything the
// agent controls (names, env vars). Tracepoints only: the target kernels have no kprobes.
//
// Output protocol (bpftrace -f json, one printf per line, numeric fields first, at most
// one free-text field and always last, so a tab inside argv can never shift a field):
//   A cg tid key idx argv[idx]          enter-side argv element (<= 199 bytes, <= 64 args)
//   R tid key gpp ggpp                  enter side, before E: the parent's parent and its parent while the exec starts
//   E cg tid key pid ppid more filename  enter-side header, printed after its A lines; more: 1 = args past the
//                                       bound, 2 = args left out because the call's argv budget was spent
//   P cg tid key filename               successful exec, printed first (kernel view)
//   C tid key off hexbytes              authoritative argv bytes from mm->arg_start (post-exec): ARGV_CHUNK bytes
//                                       at offset `off` from arg_start; the last chunk ends at arg_end, so its
//                                       offset may overlap the one before or be negative (bytes outside argv)
//   X cg tid key pid ppid total ts unl ino dev cut stdio peer gpp ggpp   successful exec trailer; cut 1: chunks left out because
//                                       the call's argv budget was spent (ARGV_BUDGET below); stdio: bit i set when
//                                       fd i (0, 1, 2) of the new image is a TCP socket (a shell on a socket: a reverse shell),
//                                       bit i+3 when it is a pipe or a unix stream socket, bit i+6 when it is a pseudo-terminal
//                                       (a shell fed through either by a parent holding a connection: a relayed reverse shell);
//                                       peer: the pid at the other end of a unix stream socket on stdin (0: none);
//                                       gpp, ggpp: the parent's parent and its parent (0: none, or outside the namespace)
//   I tid key pin pout                  before X, when the new image has a pipe or FIFO on fd 0 and on fd 1 (else fd 2): their inodes
//   F cg tid key ret                    failed exec
//   Q cg pid ts ppid exit_code comm     last thread of a process exited
//   N cg pid ts ppid hexsockaddr ino dev comm   connect() to AF_INET/AF_INET6 (every TCP one; other socket types
//                                       share the datagram budget below, per cgroup)
//   S cg pid ts saddr sport daddr dport TCP connect got its source port; printed once, at
//                                       connect() return in the caller's context (the socket
//                                       entered SYN_SENT inside that syscall, so the port is set)
//   U cg pid ts ppid hexsockaddr ino dev comm   sendto()/sendmsg()/sendmmsg() with a destination (unconnected UDP,
//                                       ICMP ping sockets), only outside the host's network
//                                       namespace (sandboxes have their own), so host traffic
//                                       never floods the sensor; at most 2 per cgroup per ms;
//                                       sendmmsg() records the first message's destination
//   D cg pid ts sport dport             a UDP datagram sent to port 53 on a connected socket, or by an
//                                       unconnected one (dport 0), with its source port: the resolver sees
//                                       that port, so a DNS query is joined to its sender exactly; only
//                                       outside the host's network namespace, at most DNS_BURST per cgroup per ms
//   O cg pid ts                         a cgroup went past one of the budgets above (U, D, or N on a
//                                       non-stream socket) in this window: its next sends in the window go
//                                       unrecorded, so a join that found someone else's record is a guess
//   W cg pid ts ppid type path          a sandbox process connected a unix socket (by path) whose listener is outside its
//                                       sandbox — a host process or another sandbox's (stream/seqpacket: the listener's pid
//                                       is not in the connecting process's pid namespace; datagram: the peer socket is in
//                                       another network namespace): around the network namespace and the gateway
//   K cg pid ts ppid family type errno comm   socket() refused by the sandbox's seccomp filter (EPERM:
//                                       raw or packet; EAFNOSUPPORT: vsock and other families),
//                                       only outside the host's network namespace; family and type
//                                       from the saved registers (x86_64 layout)
//   M cpu lo hi                         a barrier marker: Corral's own thread, pinned to that CPU, called prctl(SYNC_PRCTL,
//                                       lo, hi) (native/sync-markers.c); printed into that CPU's buffer, so every record
//                                       that CPU wrote before it has been printed when it is (only Corral's process)
//   B 0 token                           BEGIN marker (all probes attached)
// `key` is the kernel timestamp of the execve entry: it pairs enter/exec/fail lines that
// may arrive out of order because bpftrace drains one perf buffer per CPU.

/** bpftrace 0.17 caps strings at 200 bytes (stack limit); str() yields at most 199. */
export const BPF_STRLEN = 200;
/** Enter-side argv bound (args beyond it set `truncated`). */
export const MAX_ENTER_ARGS = 64;
/** Post-exec argv is read in chunks of this size ... */
export const ARGV_CHUNK = 192;
/** ... at most this many (verifier budget): 7680 bytes of argv+NULs per exec. */
export const ARGV_MAX_CHUNKS = 40;
export const READY_TOKEN = 'corral-sensor-ready';
/** The prctl option of a barrier marker ('CorS'; no kernel defines it): native/sync-markers.h holds the same. */
export const SYNC_PRCTL = 0x436f7253;
/**
 * Argv lines (A and C) a tool call (cgroup, all its processes) may print per ARGV_WINDOW_NS. Past it, each exec
 * prints at most ARGV_CUT_ARGS enter-side args and ARGV_CUT_CHUNKS chunk, and says so (E's more 2, X's cut 1).
 * Why: an exec flood with long argv (≈ 100 lines an exec) outran the reader and overflowed the shared perf ring —
 * 91,000 records lost in 23 s from one sandbox's 6,000 execs of 7 KB argv, every neighbour's execs at risk.
 * The exec, exit and connect records themselves are never budgeted; a normal exec (≈ 6 lines) gets its whole
 * argv at up to ≈ 660 execs a second per call, in bursts as they come within the second (a configure
 * script, a parallel build). Only outside the host's network namespace (sandboxes).
 */
export const ARGV_WINDOW_NS = 1_000_000_000;
export const ARGV_BUDGET = 4000;
export const ARGV_CUT_ARGS = 2;
export const ARGV_CUT_CHUNKS = 1;
/**
 * Datagram sends (and connect() on non-stream sockets, counted separately) are recorded at most SEND_BURST times per cgroup (one tool call, all its threads)
 * per SEND_WINDOW_NS (2 per ms): a sandbox flooding sendto() must not be able to fill the perf
 * buffers or outrun the reader and make the sensor lose exec records. Sends past the burst leave
 * their drops without a pid (attributed by time instead). The budget maps hold one entry per cgroup
 * (bpftrace's 65,536-key limit: past it, new cgroups go unthrottled rather than unrecorded).
 */
export const SEND_WINDOW_NS = 1_000_000;
export const SEND_BURST = 2;
/** Source-port records of datagrams (D lines) per cgroup per SEND_WINDOW_NS: a resolver's A and AAAA queries and a retry. */
export const DNS_BURST = 4;

/** The M lines' probe (see the protocol above): a barrier's marker, from Corral's own process only (an agent's prctl cannot end a barrier early or flood the buffers through it). */
function syncMarkerProbe(syncPid: number, PID: string): string {
  return `
tracepoint:syscalls:sys_enter_prctl /args->option == ${SYNC_PRCTL} && ${PID} == ${syncPid}/ {
  printf("M\\t%d\\t%llu\\t%llu\\n", cpu, args->arg2, args->arg3);
}
`;
}

/** The D lines' probe (see the protocol above); absent on kernels without the tracepoint. */
function udpSourceProbe(inSandboxNs: string, PID: string): string {
  return `
// After a UDP send (process context, the socket bound by now): the source port of a DNS query, or of
// any unconnected send (its destination is in the U line; the resolver matches on the port).
tracepoint:sock:sock_send_length /args->protocol == 17 && args->ret > 0${inSandboxNs}/ {
  $usk = (struct sock *)args->sk;
  $udport = $usk->__sk_common.skc_dport;
  if ($udport == 0 || $udport == 0x3500) {
    if (nsecs - @dwin[cgroup] > ${SEND_WINDOW_NS}) { @dwin[cgroup] = nsecs; @dcnt[cgroup] = 0; }
    @dcnt[cgroup]++;
    if (@dcnt[cgroup] == ${DNS_BURST} + 1) { printf("O\\t%llu\\t%d\\t%llu\\n", cgroup, ${PID}, nsecs); }
    if (@dcnt[cgroup] <= ${DNS_BURST}) {
      printf("D\\t%llu\\t%d\\t%llu\\t%d\\t%d\\n", cgroup, ${PID}, nsecs, $usk->__sk_common.skc_num, (($udport & 0xff) << 8) | ($udport >> 8));
    }
  }
}
`;
}

/**
 * The process id of `task` as Corral's own pid namespace numbers it. bpftrace 0.17's `pid` and
 * `->tgid` are the init namespace's numbers; a Corral inside a container (its own pid namespace)
 * compares them with the pids it spawned and reads /proc by — its sync marker would never match,
 * its own children would be filtered out, and every pid it reported would name nothing in its /proc.
 * `struct pid` ends with `numbers[level + 1]` (struct upid), one per namespace from the init one
 * down; the flexible array starts at sizeof(struct pid). `@lvl` is Corral's level, set in BEGIN from
 * bpftrace itself (Corral's child, in Corral's namespace). A task above that level (outside Corral's
 * namespace) reads as 0, never past its array.
 */
export function pidInNs(task: string): string {
  return nsNumber(`${task}->group_leader->thread_pid`);
}

/** The number a `struct pid` has in Corral's pid namespace (see pidInNs); a thread's own is its tid there. */
function nsNumber(p: string): string {
  return `(${p}->level >= @lvl ? *(int32 *)((uint64)${p} + sizeof(struct pid) + sizeof(struct upid) * @lvl) : (int32)0)`;
}

/**
 * `hostNetns`: inode of the network namespace Corral runs in; datagram sends from it are not
 * traced (0 traces all). Sandboxes always live in namespaces of their own.
 * `pidNs`: Corral runs in a pid namespace other than the init one (a container): pids are
 * reported as that namespace numbers them (pidInNs). Off, the program is the plain `pid` one.
 */
export function buildProgram(opts: { hostNetns?: number; udpSource?: boolean; arch?: string; skipHostFor?: number; hostChildren?: { files: string[]; comms: string[] }; pidNs?: boolean; syncPid?: number } = {}): string {
  const PID = opts.pidNs ? pidInNs('curtask') : 'pid';
  const PPID = opts.pidNs ? pidInNs('curtask->real_parent') : 'curtask->real_parent->tgid';
  // The exec lines' join id is the thread's id. Translated too (the sync marker is recognised by it before
  // its pid is known), and carried from execve entry to sched_process_exec in @etid: a thread other than the
  // leader that execs takes the leader's id on the way, and only old_pid (init-namespace numbering) is left.
  const ns = !!opts.pidNs;
  const TID = ns ? '$tns' : 'tid';
  const hostNs = Math.max(0, Math.floor(opts.hostNetns ?? 0));
  const inSandboxNs = hostNs ? ` && curtask->nsproxy->net_ns->ns.inum != ${hostNs}` : '';
  // skipHostFor (Corral's pid): exec, exit and connect records only of processes outside the host's network
  // namespace (every sandbox process: they are born into theirs) or those of Corral's own children that matter
  // (`hostChildren`: its launchers and its sync marker, by the file they exec and, once they run, their comm).
  // The host's own processes — Corral's ip/nft/mkfs/mount runs (each with its failed exec attempts along PATH),
  // its gateway's upstream connects, everything else on the machine — were filtered out in user space anyway; in
  // the kernel they no longer fill the perf ring ahead of the sandboxes' records (starting 250 sandboxes made
  // ≈ 190 000 lines, mostly those). Fails open: an unreadable namespace reads as 0, not the host's.
  const skipPid = Math.max(0, Math.floor(opts.skipHostFor ?? 0));
  const children = opts.hostChildren ?? { files: ['/bin/true'], comms: ['true'] };
  const lit = (t: string): string => `"${t.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
  // (a path longer than the program's strings could never compare equal, and is left out)
  const files = children.files.filter((f) => Buffer.byteLength(f) < BPF_STRLEN).map((f) => `str(args->filename) == ${lit(f)}`);
  const comms = children.comms.map((c) => `comm == ${lit(c.slice(0, 15))}`);
  const hostChild = (tests: string[]): string => `${PPID} == ${skipPid}${tests.length ? ` && (${tests.join(' || ')})` : ' && 0'}`;
  const notHostBy = (tests: string[]): string => (hostNs && skipPid ? `(curtask->nsproxy->net_ns->ns.inum != ${hostNs} || (${hostChild(tests)}))` : '');
  const notHost = notHostBy(comms);
  const whenBy = (cond: string, extra = ''): string => (cond || extra ? ` /${[extra, cond].filter(Boolean).join(' && ')}/` : '');
  const when = (extra = ''): string => whenBy(notHost, extra);
  // the argv budget (ARGV_BUDGET): sandbox processes only; the window restarts in whichever probe sees it over
  const inSandbox = hostNs ? `curtask->nsproxy->net_ns->ns.inum != ${hostNs}` : '1';
  const budgetCut = (lim: number): string => `
  if (${inSandbox}) {
    if (nsecs - @awin[cgroup] > ${ARGV_WINDOW_NS}) { @awin[cgroup] = nsecs; @acnt[cgroup] = 0; }
    if (@acnt[cgroup] >= ${ARGV_BUDGET}) { $lim = ${lim}; }
  }`;
  return `
BEGIN {${opts.pidNs ? ' @lvl = curtask->thread_pid->level;' : ''} printf("B\\t0\\t${READY_TOKEN}\\n"); }

// The argv budget of the enter side, in a probe of its own before the one that prints (the same tracepoint's
// programs run in the order attached; each has its own 512-byte stack, and the printer's is full of strings):
// it spends the lines the printer will print, min(argc, limit), and starts the exec's key in @eseq.
tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat${whenBy(notHostBy(files))} {
  $lim = ${MAX_ENTER_ARGS};${budgetCut(ARGV_CUT_ARGS)}
  if (${inSandbox}) {
    $c = 0;
    $q = *(args->argv);
    while ($c < ${MAX_ENTER_ARGS}) {
      if ($q == 0 || $c >= $lim) { break; }
      $c++;
      $q = *(args->argv + $c);
    }
    @acnt[cgroup] += $c;
  }
  // the exec's key (its entry time, pairing its lines), its lowest bit saying the budget cut it
  @eseq[tid] = (nsecs & ~(uint64)1) | ($lim < ${MAX_ENTER_ARGS} ? 1 : 0);${ns ? `
  @etid[tid] = ${nsNumber('curtask->thread_pid')};` : ''}
}

// The parent's parents as they are while the exec starts, before the E line (same CPU, so in order): the parent is
// alive then (a vfork()ing parent is suspended, a fork()ing one waits on its close-on-exec pipe), but once the new
// image has dropped its close-on-exec fds the parent may exit before sched_process_exec runs, and the X line then
// names the reaper (measured: 19 of 600 fork-Popen-exit execs on an idle host, 62 of 552 under load; the chain was lost that way
// for the relayed-shell test in CI, sessions 42 and 43). A probe of its own: the printer's stack is full.
tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat /@eseq[tid] != 0/ {${ns ? `\n  $tns = ${nsNumber('curtask->thread_pid')};` : ''}
  $egp = curtask->real_parent->real_parent;
  printf("R\\t%d\\t%llu\\t%d\\t%d\\n", ${TID}, @eseq[tid], ${ns ? pidInNs('$egp') : '$egp->tgid'}, ${ns ? pidInNs('$egp->real_parent') : '$egp->real_parent->tgid'});
}

// (the printer: only after the probe above let this exec in — the key it left is this exec's until the exec ends,
// and reading it here keeps the filter's 200-byte filename compare off this program's stack)
tracepoint:syscalls:sys_enter_execve,tracepoint:syscalls:sys_enter_execveat /@eseq[tid] != 0/ {
  $key = @eseq[tid];${ns ? `\n  $tns = ${nsNumber('curtask->thread_pid')};` : ''}
  $i = 0;
  $p = *(args->argv);
  while ($i < ${MAX_ENTER_ARGS}) {
    if ($p == 0 || ($i >= ${ARGV_CUT_ARGS} && ($key & 1))) { break; } // (cut: the budget was spent)
    printf("A\\t%llu\\t%d\\t%llu\\t%d\\t%s\\n", cgroup, ${TID}, $key, $i, str($p));
    $i++;
    $p = *(args->argv + $i);
  }
  // (computed before the printf: inside its argument list the compiler's stack went past 512 bytes, in one mode or the other)
  $epid = ${PID};
  $eppid = ${PPID};
  $more = $p == 0 ? 0 : 1 + ($key & 1);
  printf("E\\t%llu\\t%d\\t%llu\\t%d\\t%d\\t%d\\t%s\\n", cgroup, ${TID}, $key, $epid, $eppid, $more, str(args->filename));
}

tracepoint:sched:sched_process_exec${when()} {
  printf("P\\t%llu\\t%d\\t%llu\\t%s\\n", cgroup, ${ns ? '@etid[args->old_pid]' : 'args->old_pid'}, @eseq[args->old_pid], str(args->filename));
}

// Which pipe or FIFO the new image reads on fd 0 and writes on fd 1 (else fd 2), by inode, when it has both: a shell
// whose ends a relay beside it holds, not a parent (a FIFO pair between siblings, session 42), is joined to it by
// these. A probe of its own, before the one that prints X and forgets the key: the X probe's stack is full.
tracepoint:sched:sched_process_exec${when()} {
  $f0 = *(curtask->files->fdt->fd + 0);
  $f1 = *(curtask->files->fdt->fd + 1);
  $f2 = *(curtask->files->fdt->fd + 2);
  $pin = (uint64)0;
  $pout = (uint64)0;
  if ($f0 != 0 && ($f0->f_inode->i_mode & 0xf000) == 0x1000) { $pin = $f0->f_inode->i_ino; }
  if ($f1 != 0 && ($f1->f_inode->i_mode & 0xf000) == 0x1000) { $pout = $f1->f_inode->i_ino; }
  if ($pout == 0 && $f2 != 0 && ($f2->f_inode->i_mode & 0xf000) == 0x1000) { $pout = $f2->f_inode->i_ino; }
  if ($pin != 0 && $pout != 0) {
    printf("I\\t%d\\t%llu\\t%llu\\t%llu\\n", ${ns ? '@etid[args->old_pid]' : 'args->old_pid'}, @eseq[args->old_pid], $pin, $pout);
  }
}

tracepoint:sched:sched_process_exec${when()} {
  $key = @eseq[args->old_pid];
  delete(@eseq[args->old_pid]);${ns ? '\n  $otid = @etid[args->old_pid];\n  delete(@etid[args->old_pid]);' : ''}
  $s = curtask->mm->arg_start;
  $total = curtask->mm->arg_end - $s;
  $off = (uint64)0;
  $n = 0;
  $lim = ${ARGV_MAX_CHUNKS};${budgetCut(ARGV_CUT_CHUNKS)}
  while ($n < ${ARGV_MAX_CHUNKS}) {
    if ($off >= $total || $n >= $lim) { break; }
    // Always a whole chunk, the last one ending at arg_end (a fixed size costs the verifier half what a
    // variable one did: ≈ 0.25 s of every start); below arg_start lie the argv/envp pointers and auxv, always
    // mapped, so a short argv reads from before it (a negative offset, discarded by the reader).
    $at = (int64)$off;
    if ($off + ${ARGV_CHUNK} > $total) { $at = (int64)$total - ${ARGV_CHUNK}; }
    printf("C\\t%d\\t%llu\\t%lld\\t%rx\\n", ${ns ? '$otid' : 'args->old_pid'}, $key, $at, buf(uptr($s + $at), ${ARGV_CHUNK}));
    $off += ${ARGV_CHUNK};
    $n++;
  }
  if (${inSandbox}) { @acnt[cgroup] += $n; }
  // The new image's file has no name left (nlink 0: a memfd, an O_TMPFILE, a file deleted before it ran):
  // fileless execution, however the path it was run by was spelled (/proc/thread-self/fd/3, a symlink …).
  $unl = curtask->mm->exe_file->f_inode->i_nlink == 0 ? 1 : 0;
  // Which of fds 0–2 the new image got as a TCP (inet or inet6 stream) socket: connect, dup2 x3, execv /bin/sh
  // is a reverse shell whose shell never connects itself and needs no -i (a review, session 36). Pipes, unix
  // stream sockets (socketpair) and pseudo-terminals (major 136–143, /dev/pts) are the relayed kind: a program
  // that holds the connection copies it to a shell's stdin and back (session 41).
  $stdio = 0;${[0, 1, 2].map((k) => `
  $sf${k} = *(curtask->files->fdt->fd + ${k});
  if ($sf${k} != 0) {
    $md${k} = $sf${k}->f_inode->i_mode & 0xf000;
    if ($md${k} == 0xc000) {
      $so${k} = (struct socket *)$sf${k}->private_data;
      $fam${k} = $so${k}->sk->__sk_common.skc_family;
      if ($so${k}->type == 1 && ($fam${k} == 2 || $fam${k} == 10)) { $stdio = $stdio | ${1 << k}; }
      if ($so${k}->type == 1 && $fam${k} == 1) { $stdio = $stdio | ${1 << (k + 3)}; }
    }
    if ($md${k} == 0x1000) { $stdio = $stdio | ${1 << (k + 3)}; }
    if ($md${k} == 0x2000 && ($sf${k}->f_inode->i_rdev >> 20) >= 136 && ($sf${k}->f_inode->i_rdev >> 20) <= 143) { $stdio = $stdio | ${1 << (k + 6)}; }
  }`).join('')}
  // Whose end a unix stream socket on stdin reaches: the listener's (or socketpair creator's) pid, so a shell fed
  // through a socket file by a relay another call left running is joined to that relay (red-team round, session 41).
  $peer = 0;
  if ($sf0 != 0 && ($sf0->f_inode->i_mode & 0xf000) == 0xc000) {
    $ps = (struct socket *)$sf0->private_data;
    if ($ps->type == 1 && $ps->sk->__sk_common.skc_family == 1) {
      $pp0 = $ps->sk->sk_peer_pid;
      if ($pp0 != 0) { $peer = ${ns ? nsNumber('$pp0') : '*(int32 *)((uint64)$pp0 + sizeof(struct pid))'}; }
    }
  }
  // The parent's parent and the one above, as the kernel has them now: a parent that forked without exec (a
  // connecting program's forked child starting the shell) has no exec record naming its parent, and by the time
  // the record is read it may be gone from /proc (CI, session 42: the relayed-shell check lost the chain).
  $gp = curtask->real_parent->real_parent;
  $gpp = ${ns ? pidInNs('$gp') : '$gp->tgid'};
  $ggpp = ${ns ? pidInNs('$gp->real_parent') : '$gp->real_parent->tgid'};
  // (the image's file by inode and device: a process forked from it later — a subshell whose parent is gone —
  // still runs it, and its connect records carry the same pair)
  printf("X\\t%llu\\t%d\\t%llu\\t%d\\t%d\\t%llu\\t%llu\\t%d\\t%llu\\t%u\\t%d\\t%d\\t%d\\t%d\\t%d\\n", cgroup, ${ns ? '$otid' : 'args->old_pid'}, $key, ${PID}, ${PPID}, $total, nsecs, $unl, curtask->mm->exe_file->f_inode->i_ino, curtask->mm->exe_file->f_inode->i_sb->s_dev, $off < $total && $n < ${ARGV_MAX_CHUNKS} ? 1 : 0, $stdio, $peer, $gpp, $ggpp);
}

tracepoint:syscalls:sys_exit_execve,tracepoint:syscalls:sys_exit_execveat${when('args->ret < 0')} {
  $key = @eseq[tid];
  delete(@eseq[tid]);${ns ? '\n  $tns = @etid[tid];\n  delete(@etid[tid]);' : ''}
  printf("F\\t%llu\\t%d\\t%llu\\t%d\\n", cgroup, ${TID}, $key, args->ret);
}

tracepoint:sched:sched_process_exit {
  delete(@eseq[tid]);
  delete(@syntid[tid]);
  delete(@ufd[tid]);
  delete(@uaddr[tid]);${ns ? '\n  delete(@etid[tid]);' : ''}
  if (args->group_dead${notHost ? ` && ${notHost}` : ''}) {
    printf("Q\\t%llu\\t%d\\t%llu\\t%d\\t%d\\t%s\\n", cgroup, ${PID}, nsecs, ${PPID}, curtask->exit_code, comm);
  }
}

tracepoint:syscalls:sys_enter_connect${when()} {
  delete(@syntid[tid]);
  // stream (TCP) sockets: every attempt; others (a UDP connect() loop is as cheap as a send): a budget per cgroup
  $f = *(curtask->files->fdt->fd + args->fd);
  $stype = ((struct socket *)$f->private_data)->type;
  $ok = 1;
  if ($stype != 1) {
    if (nsecs - @cwin[cgroup] > ${SEND_WINDOW_NS}) { @cwin[cgroup] = nsecs; @ccnt[cgroup] = 0; }
    @ccnt[cgroup]++;
    if (@ccnt[cgroup] == ${SEND_BURST} + 1) { printf("O\\t%llu\\t%d\\t%llu\\n", cgroup, ${PID}, nsecs); }
    if (@ccnt[cgroup] > ${SEND_BURST}) { $ok = 0; }
  }
  $fam = $ok ? args->uservaddr->sa_family : 0;
  if ($fam == 2) {
    printf("N\\t%llu\\t%d\\t%llu\\t%d\\t%rx\\t%llu\\t%u\\t%s\\n", cgroup, ${PID}, nsecs, ${PPID}, buf(args->uservaddr, 8), curtask->mm->exe_file->f_inode->i_ino, curtask->mm->exe_file->f_inode->i_sb->s_dev, comm);
  }
  if ($fam == 10) {
    printf("N\\t%llu\\t%d\\t%llu\\t%d\\t%rx\\t%llu\\t%u\\t%s\\n", cgroup, ${PID}, nsecs, ${PPID}, buf(args->uservaddr, 24), curtask->mm->exe_file->f_inode->i_ino, curtask->mm->exe_file->f_inode->i_sb->s_dev, comm);
  }
}

tracepoint:syscalls:sys_enter_sendto /args->addr != 0${inSandboxNs}/ {
  if (nsecs - @uwin[cgroup] > ${SEND_WINDOW_NS}) { @uwin[cgroup] = nsecs; @ucnt[cgroup] = 0; }
  @ucnt[cgroup]++;
  if (@ucnt[cgroup] == ${SEND_BURST} + 1) { printf("O\\t%llu\\t%d\\t%llu\\n", cgroup, ${PID}, nsecs); }
  $fam = @ucnt[cgroup] <= ${SEND_BURST} ? args->addr->sa_family : 0;
  if ($fam == 2) {
    printf("U\\t%llu\\t%d\\t%llu\\t%d\\t%rx\\t%llu\\t%u\\t%s\\n", cgroup, ${PID}, nsecs, ${PPID}, buf(args->addr, 8), curtask->mm->exe_file->f_inode->i_ino, curtask->mm->exe_file->f_inode->i_sb->s_dev, comm);
  }
  if ($fam == 10) {
    printf("U\\t%llu\\t%d\\t%llu\\t%d\\t%rx\\t%llu\\t%u\\t%s\\n", cgroup, ${PID}, nsecs, ${PPID}, buf(args->addr, 24), curtask->mm->exe_file->f_inode->i_ino, curtask->mm->exe_file->f_inode->i_sb->s_dev, comm);
  }
}

tracepoint:syscalls:sys_enter_sendmsg /args->msg->msg_name != 0${inSandboxNs}/ {
  if (nsecs - @uwin[cgroup] > ${SEND_WINDOW_NS}) { @uwin[cgroup] = nsecs; @ucnt[cgroup] = 0; }
  @ucnt[cgroup]++;
  if (@ucnt[cgroup] == ${SEND_BURST} + 1) { printf("O\\t%llu\\t%d\\t%llu\\n", cgroup, ${PID}, nsecs); }
  if (@ucnt[cgroup] <= ${SEND_BURST}) {
    printf("U\\t%llu\\t%d\\t%llu\\t%d\\t%rx\\t%llu\\t%u\\t%s\\n", cgroup, ${PID}, nsecs, ${PPID}, buf(uptr(args->msg->msg_name), 24), curtask->mm->exe_file->f_inode->i_ino, curtask->mm->exe_file->f_inode->i_sb->s_dev, comm);
  }
}

tracepoint:syscalls:sys_enter_sendmmsg /args->vlen > 0 && args->mmsg->msg_hdr.msg_name != 0${inSandboxNs}/ {
  if (nsecs - @uwin[cgroup] > ${SEND_WINDOW_NS}) { @uwin[cgroup] = nsecs; @ucnt[cgroup] = 0; }
  @ucnt[cgroup]++;
  if (@ucnt[cgroup] == ${SEND_BURST} + 1) { printf("O\\t%llu\\t%d\\t%llu\\n", cgroup, ${PID}, nsecs); }
  if (@ucnt[cgroup] <= ${SEND_BURST}) {
    printf("U\\t%llu\\t%d\\t%llu\\t%d\\t%rx\\t%llu\\t%u\\t%s\\n", cgroup, ${PID}, nsecs, ${PPID}, buf(uptr(args->mmsg->msg_hdr.msg_name), 24), curtask->mm->exe_file->f_inode->i_ino, curtask->mm->exe_file->f_inode->i_sb->s_dev, comm);
  }
}

// A socket() seccomp refused never reaches sys_enter (seccomp runs first), but sys_exit fires; its
// arguments are read back from the task's saved registers (x86_64: pt_regs at the top of the 16 KiB
// kernel stack; di = family, si = type). Elsewhere that layout is not assumed: family and type are -1.
tracepoint:syscalls:sys_exit_socket /(args->ret == -1 || args->ret == -97)${inSandboxNs}/ {
${(opts.arch ?? process.arch) === 'x64'
    ? `  $regs = (struct pt_regs *)((uint64)curtask->stack + 16384 - sizeof(struct pt_regs));
  printf("K\\t%llu\\t%d\\t%llu\\t%d\\t%d\\t%d\\t%d\\t%s\\n", cgroup, ${PID}, nsecs, ${PPID}, $regs->di & 0xffff, $regs->si & 0xf, -args->ret, comm);`
    : `  printf("K\\t%llu\\t%d\\t%llu\\t%d\\t-1\\t-1\\t%d\\t%s\\n", cgroup, ${PID}, nsecs, ${PPID}, -args->ret, comm);`}
}

${opts.udpSource === false ? '' : udpSourceProbe(inSandboxNs, PID)}${opts.syncPid ? syncMarkerProbe(Math.floor(opts.syncPid), PID) : ''}tracepoint:sock:inet_sock_set_state${when('args->protocol == 6 && args->newstate == 2')} {
  @syntid[tid] = (uint64)args->skaddr;
}

// A unix socket connected by path: a socket file in a host directory the sandbox sees (a host workspace) is the
// host process's listener, reached around the network namespace and the gateway (a review, session 35).
tracepoint:syscalls:sys_enter_connect${when()} {
  if (args->uservaddr->sa_family == 1) {
    @ufd[tid] = args->fd + 1;
    @uaddr[tid] = (uint64)args->uservaddr;
  }
}

tracepoint:syscalls:sys_exit_connect${whenBy('', '@ufd[tid] != 0')} {
  $ufd = @ufd[tid] - 1;
  delete(@ufd[tid]);
  if (args->ret == 0) {
    $usock = (struct socket *)(*(curtask->files->fdt->fd + $ufd))->private_data;
    $usk = $usock->sk;
    $me = curtask->thread_pid;
    $out = 0;
    if ($usock->type == 2) {
      $upeer = ((struct unix_sock *)$usk)->peer;
      if ($upeer != 0) {
        if ($upeer->__sk_common.skc_net.net->ns.inum != curtask->nsproxy->net_ns->ns.inum) { $out = 1; }
      }
    } else {
      $pp = $usk->sk_peer_pid;
      if ($pp != 0) {
        if ($pp->level < $me->level) { $out = 1; }
        else {
          $pns = ((struct upid *)((uint64)$pp + sizeof(struct pid) + sizeof(struct upid) * $me->level))->ns;
          $mns = ((struct upid *)((uint64)$me + sizeof(struct pid) + sizeof(struct upid) * $me->level))->ns;
          if ($pns != $mns) { $out = 1; }
        }
      }
    }
    // (the path read again from the caller's sockaddr, still in its memory: a string kept in a map would not fit the stack)
    if ($out) { printf("W\\t%llu\\t%d\\t%llu\\t%d\\t%d\\t%s\\n", cgroup, ${PID}, nsecs, ${PPID}, $usock->type, str((uint8 *)(@uaddr[tid] + 2), 108)); }
  }
  delete(@uaddr[tid]);
}

// (a TCP Fast Open client connects inside sendto()/sendmsg(MSG_FASTOPEN): its 4-tuple is as real as connect()'s)
${synProbe('tracepoint:syscalls:sys_exit_connect', PID)}
${synProbe('tracepoint:syscalls:sys_exit_sendto,tracepoint:syscalls:sys_exit_sendmsg', PID)}
END {${ns ? ' delete(@lvl); clear(@etid);' : ''} clear(@eseq); clear(@syntid); clear(@ufd); clear(@uaddr); clear(@uwin); clear(@ucnt); clear(@cwin); clear(@ccnt);${opts.udpSource === false ? '' : ' clear(@dwin); clear(@dcnt);'} }
`;
}

/**
 * The SYN's 4-tuple, read when the syscall that sent it returns. Emitted once per group of tracepoints: bpftrace 0.17
 * runs one probe's program for another's where a tracepoint is named alone in one probe and in a list in another
 * (the unix-socket probe on sys_exit_connect stole the SYN records), so no tracepoint is ever in both forms.
 */
function synProbe(points: string, PID: string): string {
  return `${points} /@syntid[tid] != 0/ {
  $sk = (struct sock *)@syntid[tid];
  delete(@syntid[tid]);
  $port = $sk->__sk_common.skc_num;
  $dport = $sk->__sk_common.skc_dport;
  if ($sk->__sk_common.skc_family == 2) {
    printf("S\\t%llu\\t%d\\t%llu\\t%s\\t%d\\t%s\\t%d\\n", cgroup, ${PID}, nsecs, ntop($sk->__sk_common.skc_rcv_saddr), $port, ntop($sk->__sk_common.skc_daddr), (($dport & 0xff) << 8) | ($dport >> 8));
  } else {
    printf("S\\t%llu\\t%d\\t%llu\\t%s\\t%d\\t%s\\t%d\\n", cgroup, ${PID}, nsecs, ntop($sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8), $port, ntop($sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8), (($dport & 0xff) << 8) | ($dport >> 8));
  }
}
`;
}
