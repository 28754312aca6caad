// Why: a persistence file found changed (a git hook, ~/.bashrc) must be blamed on the tool call whose
// process wrote it, and a background process an earlier call left running can write while a later
// call runs: file times cannot tell the two apart. One of these per Corral runtime watches every
// session's workspace filesystem (each its own loop-mounted ext4, so a mark covers the sandbox's bind
// mounts and nothing of the host's) with fanotify — one fanotify group for all sessions: a group per
// session would meet the kernel's 128 groups per user — and prints, for every file closed after
// writing, its filesystem, the writer's pid, its cgroup (read from /proc while the writer still
// exists: the kernel's lineage, which the agent cannot choose) and the file's path.
// Threat: misattributed persistence (the wrong step blamed, the planting call spared).
//
// Usage: corral-fwatch; commands on stdin, one per line: "add DIR" (mark DIR's filesystem).
// Output lines (tabs between fields; in paths, tab, newline and backslash written as \t, \n, \\):
//   ready                          the group exists
//   added DEV DIR | error DIR MSG  the answer to each add, in order (DEV: st_dev of DIR, decimal)
//   w DEV PID CGROUP PATH          a file closed after writing (CGROUP: the pids controller's path, or
//                                  the unified one; "-" when the writer was gone)
//   overflow                       the kernel's queue overflowed: writes were lost
// Exits when its parent dies, stdin closes or stdout closes.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static void cgroup_of(int pid, char *out, size_t n) {
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/cgroup", pid);
  FILE *f = fopen(p, "re");
  snprintf(out, n, "-");
  if (!f) return;
  char line[PATH_MAX + 64];
  char unified[PATH_MAX] = "";
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *a = strchr(line, ':');
    if (!a) continue;
    char *b = strchr(a + 1, ':');
    if (!b) continue;
    *b = 0;
    const char *ctrls = a + 1, *path = b + 1;
    // cgroup v1: the pids controller (every sandbox call has its own pids cgroup); v2: the one hierarchy
    if (strcmp(ctrls, "pids") == 0 || strstr(ctrls, ",pids") || strncmp(ctrls, "pids,", 5) == 0) { snprintf(out, n, "%s", path); fclose(f); return; }
    if (ctrls[0] == 0) snprintf(unified, sizeof unified, "%s", path);
  }
  fclose(f);
  if (unified[0]) snprintf(out, n, "%s", unified);
}

static void put_escaped(const char *s) {
  for (; *s; s++) {
    if (*s == '\n') fputs("\\n", stdout);
    else if (*s == '\t') fputs("\\t", stdout);
    else if (*s == '\\') fputs("\\\\", stdout);
    else putchar(*s);
  }
}

static void add_mark(int fan, char *dir) {
  struct stat st;
  if (fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_CLOSE_WRITE, AT_FDCWD, dir) < 0 || stat(dir, &st) < 0) {
    printf("error\t");
    put_escaped(dir);
    printf("\t%s\n", strerror(errno));
    return;
  }
  printf("added\t%lu\t", (unsigned long)st.st_dev);
  put_escaped(dir);
  putchar('\n');
}

static int events(int fan) {
  char buf[64 * 1024] __attribute__((aligned(8)));
  ssize_t len = read(fan, buf, sizeof buf);
  if (len < 0) return errno == EINTR || errno == EAGAIN ? 0 : -1;
  for (struct fanotify_event_metadata *m = (struct fanotify_event_metadata *)buf; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
    if (m->vers != FANOTIFY_METADATA_VERSION) { fprintf(stderr, "corral-fwatch: fanotify version %d\n", m->vers); return -1; }
    if (m->mask & FAN_Q_OVERFLOW) { printf("overflow\n"); continue; }
    if (m->fd < 0) continue;
    char cg[PATH_MAX];
    cgroup_of(m->pid, cg, sizeof cg);
    char link[64], path[PATH_MAX];
    struct stat st;
    snprintf(link, sizeof link, "/proc/self/fd/%d", m->fd);
    ssize_t pl = readlink(link, path, sizeof path - 1);
    int ok = fstat(m->fd, &st) == 0;
    close(m->fd);
    if (pl <= 0 || !ok) continue;
    path[pl] = 0;
    printf("w\t%lu\t%d\t", (unsigned long)st.st_dev, m->pid);
    put_escaped(cg);
    putchar('\t');
    put_escaped(path);
    putchar('\n');
  }
  return 0;
}

int main(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 0;
  signal(SIGPIPE, SIG_DFL);
  int fan = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
  if (fan < 0) { fprintf(stderr, "corral-fwatch: fanotify_init: %s\n", strerror(errno)); return 1; }
  printf("ready\n");
  fflush(stdout);
  char cmd[PATH_MAX + 16];
  size_t have = 0;
  for (;;) {
    struct pollfd p[2] = { { .fd = 0, .events = POLLIN }, { .fd = fan, .events = POLLIN } };
    if (poll(p, 2, -1) < 0) { if (errno == EINTR) continue; return 1; }
    if (p[1].revents & POLLIN) { if (events(fan) < 0) { fprintf(stderr, "corral-fwatch: read: %s\n", strerror(errno)); return 1; } }
    if (p[0].revents & (POLLIN | POLLHUP)) {
      ssize_t n = read(0, cmd + have, sizeof cmd - 1 - have);
      if (n <= 0) return 0;
      have += (size_t)n;
      char *nl;
      while ((nl = memchr(cmd, '\n', have))) {
        *nl = 0;
        if (strncmp(cmd, "add ", 4) == 0) add_mark(fan, cmd + 4);
        size_t used = (size_t)(nl - cmd) + 1;
        memmove(cmd, nl + 1, have - used);
        have -= used;
      }
      if (have == sizeof cmd - 1) have = 0; // (a line longer than any path: dropped)
    }
    if (fflush(stdout) != 0) return 0;
  }
}
