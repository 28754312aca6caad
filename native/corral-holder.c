/*
 * corral-holder: pid 1 of every sandbox. It keeps the session's namespaces alive between tool
 * calls (tool calls join them through its /proc entries) and reaps the orphans they leave.
 *
 * Threat it stops: a tool call taking over pid 1 to leave its seccomp filter and its cgroup.
 * Every process in a sandbox runs as the same uid, and on kernels without Yama a process may
 * write another same-uid process's memory through /proc/PID/mem without ptrace (which seccomp
 * refuses). The holder used to be /bin/cat under bubblewrap's own init: both dumpable, neither
 * filtered, both in the session cgroup rather than a tool call's — so a tool call could make
 * them run anything (unshare, io_uring, AF_VSOCK) attributed to no tool call. This holder makes
 * itself non-dumpable before it answers (its /proc files then need CAP_SYS_PTRACE, which nothing
 * in a sandbox has), runs as pid 1 itself (bwrap --as-pid-1: no second, unprotected init) under
 * the tool calls' seccomp program (bwrap --seccomp), and closes every descriptor it inherited
 * beyond stdio, so nothing Corral's parent left open reaches the sandbox through it.
 *
 * Protocol (what Corral expects of it): whatever arrives on stdin is echoed to stdout (the first
 * line tells Corral the sandbox is up); end of stdin ends the holder and with it the sandbox.
 * Children (orphans re-parented to pid 1) are reaped by the kernel (SIGCHLD ignored), so zombies
 * never fill the session's pids limit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

int main(void) {
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) { perror("corral-holder: PR_SET_DUMPABLE"); return 1; }
  if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0) {
    for (int fd = 3; fd < 4096; fd++) close(fd); /* kernels before 5.9 */
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_IGN;
  sa.sa_flags = SA_NOCLDWAIT;
  sigaction(SIGCHLD, &sa, NULL);
  char buf[512];
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n == 0) return 0;
    if (n < 0) { if (errno == EINTR) continue; return 1; }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(1, buf + off, (size_t)(n - off));
      if (w < 0) { if (errno == EINTR) continue; return 1; }
      off += w;
    }
  }
}
