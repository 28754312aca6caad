// Why: a persistence file found changed (a git hook, ~/.bashrc) must be blamed on the tool call whose
// process wrote it, and a background process an earlier call left running can write while a later
// call runs: file times cannot tell the two apart. One of these per Corral runtime watches every
// session's workspace filesystem (each its own loop-mounted ext4, so a mark covers the sandbox's bind
// mounts and nothing of the host's) with fanotify — one fanotify group for all sessions: a group per
// session would meet the kernel's 128 groups per user — and prints, for every file closed after
// writing, its filesystem, the writer's pid, its cgroup (read from /proc while the writer still
// exists: the kernel's lineage, which the agent cannot choose) and the file's path. Where the kernel
// reports names (FAN_REPORT_DFID_NAME, Linux 5.9+), also every name put in place without a write —
// a file or directory renamed there (`mv staged .bashrc`, `mv hooks-dir .git/hooks`), a hard or
// symbolic link made there — and every change of mode or times (`chmod +x` on a hook): the
// directory comes as a file handle, opened by open_by_handle_at on the marked filesystem. Older
// kernels: closes after writing only, named by the event's descriptor.
// Threat: misattributed persistence (the wrong step blamed, the planting call spared).
// Opens of code files (names mode) come from a second group: a module an innocent call's process imports
// may be one another call planted (code-origin.ts). Its own group, so a storm of opens that overflows
// its queue loses opens, never writes; before each batch of opens the writes' queue is drained, so a
// write that came before an open is printed before it.
//
// Usage: corral-fwatch; commands on stdin, one per line: "add DIR" (mark DIR's filesystem), "sync"
// (answered once every event the kernel had queued when it was read has been printed).
// Output lines (tabs between fields; in paths, tab, newline and backslash written as \t, \n, \\):
//   ready                          the group exists
//   added DEV DIR | error DIR MSG  the answer to each add, in order (DEV: st_dev of DIR, decimal)
//   synced                         the answer to each sync, in order
//   w DEV PID CGROUP PATH          a file closed after writing, or a name made there (CGROUP: the pids
//                                  controller's path, or the unified one; "-" when the writer was gone)
//   d DEV PID CGROUP PATH          a directory renamed there, with whatever it holds (names mode only)
//   o DEV PID CGROUP PATH          a code file opened (a module a process imports or loads: names mode
//                                  only; the name ends .py, .pyc, .js, .so …; code-origin.ts)
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
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

/** Events watched in names mode: a close after writing, a name made or moved in, a mode or time change. */
#define NAME_EVENTS (FAN_CLOSE_WRITE | FAN_MOVED_TO | FAN_CREATE | FAN_ATTRIB | FAN_ONDIR)

/**
 * Names mode: each marked filesystem's id and the directory it was marked by. File handles are opened
 * against a descriptor of that directory, opened for one event and closed right after: a descriptor
 * kept would hold the session's workspace mounted past its teardown.
 */
static int names_mode;
/** The opens group (names mode; -1 when the kernel refused it). */
static int opens_fan = -1;
static struct { __kernel_fsid_t fsid; char *dir; int fd; } marks[4096];
static int nmarks;

static int mark_fd(int i) {
  if (marks[i].fd >= 0) return marks[i].fd;
  int fd = open(marks[i].dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC); // (open_by_handle_at refuses an O_PATH one)
  struct statfs sf;
  // (the same filesystem still: a session's workspace is unmounted at its end, and another may be mounted there)
  if (fd >= 0 && (fstatfs(fd, &sf) < 0 || memcmp(&sf.f_fsid, &marks[i].fsid, sizeof sf.f_fsid) != 0)) { close(fd); fd = -1; }
  return marks[i].fd = fd < 0 ? -2 : fd;
}

static void close_mark_fds(void) {
  for (int i = 0; i < nmarks; i++) { if (marks[i].fd >= 0) close(marks[i].fd); marks[i].fd = -1; }
}

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

static void add_error(const char *dir, int err) {
  printf("error\t");
  put_escaped(dir);
  printf("\t%s\n", strerror(err));
}

static void add_mark(int fan, char *dir) {
  struct stat st;
  if (names_mode) {
    // (the filesystem's id, as the events carry it, and where to open its file handles against)
    struct statfs sf;
    if (statfs(dir, &sf) < 0) { add_error(dir, errno); return; }
    int at = -1;
    for (int i = 0; i < nmarks && at < 0; i++) if (memcmp(&marks[i].fsid, &sf.f_fsid, sizeof sf.f_fsid) == 0) at = i;
    // (a filesystem gone: its slot is reused once every slot has been used)
    if (at < 0 && nmarks == (int)(sizeof marks / sizeof marks[0])) {
      for (int i = 0; i < nmarks && at < 0; i++) { struct statfs old; if (statfs(marks[i].dir, &old) < 0 || memcmp(&old.f_fsid, &marks[i].fsid, sizeof old.f_fsid) != 0) at = i; }
      if (at < 0) { add_error(dir, ENOSPC); return; }
    }
    if (at < 0) at = nmarks++;
    free(marks[at].dir);
    marks[at].dir = strdup(dir);
    marks[at].fd = -1;
    memcpy(&marks[at].fsid, &sf.f_fsid, sizeof sf.f_fsid);
  }
  if (fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, names_mode ? NAME_EVENTS : FAN_CLOSE_WRITE, AT_FDCWD, dir) < 0 || stat(dir, &st) < 0) {
    add_error(dir, errno);
    return;
  }
  // (opens: best effort; without them a planted module is not named, everything else works)
  if (opens_fan >= 0) fanotify_mark(opens_fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN, AT_FDCWD, dir);
  printf("added\t%lu\t", (unsigned long)st.st_dev);
  put_escaped(dir);
  putchar('\n');
}

static void put_write(char kind, unsigned long dev, int pid, const char *cg, const char *path, const char *name) {
  printf("%c\t%lu\t%d\t", kind, dev, pid);
  put_escaped(cg);
  putchar('\t');
  put_escaped(path);
  if (name) { putchar('/'); put_escaped(name); }
  putchar('\n');
}

/** The opens batch's last directory (its file handle and path) and opener (pid, cgroup, the name it opened). */
static struct {
  long long at; // (when it was last emptied, ms)
  int valid, htype, pid;
  unsigned int hbytes;
  __kernel_fsid_t fsid;
  unsigned char h[128];
  unsigned long dev;
  char dir[PATH_MAX], cg[PATH_MAX], name[256];
} oc;

/** Whether a file name is one of code a process loads: a script or module, a compiled module, a shared object. */
static int code_name(const char *name) {
  static const char *const ext[] = { ".py", ".pyc", ".pyw", ".js", ".mjs", ".cjs", ".ts", ".sh", ".bash", ".pl", ".pm", ".rb", ".lua", ".php", ".so" };
  const char *dot = strrchr(name, '.');
  if (!dot) return 0;
  for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) if (strcmp(dot, ext[i]) == 0) return 1;
  return strstr(name, ".so.") != NULL; // (libx.so.1)
}

/** Names mode: one event's directory (a file handle) and name, printed with the writer (`o`: the opener of a code file). */
static void name_event(struct fanotify_event_metadata *m, int opens) {
  // (a directory made or touched brings nothing with it: only one moved in is reported)
  if ((m->mask & FAN_ONDIR) && (opens || !(m->mask & FAN_MOVED_TO))) return;
  char *p = (char *)(m + 1), *end = (char *)m + m->event_len;
  while (p + sizeof(struct fanotify_event_info_header) <= end) {
    struct fanotify_event_info_header *h = (struct fanotify_event_info_header *)p;
    if (h->len < sizeof *h || p + h->len > end) return;
    if (h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME) {
      struct fanotify_event_info_fid *fid = (struct fanotify_event_info_fid *)p;
      struct file_handle *fh = (struct file_handle *)fid->handle;
      if ((char *)fh->f_handle > p + h->len || fh->handle_bytes > h->len) return;
      const char *name = (const char *)(fh->f_handle + fh->handle_bytes);
      if (name >= p + h->len) return;
      size_t room = (size_t)(p + h->len - name);
      if (strnlen(name, room) == room) return; // (no terminating NUL inside the record)
      if (opens && !code_name(name)) return;
      // (opens come in runs — an interpreter importing a directory's modules — so for a short while the last
      // directory and opener are kept, and an open repeated at once (the same process, directory and name) is
      // printed once: what each resolution costs, a handle opened, a link read and /proc read, is then paid
      // once per run, not per module)
      int hit = opens && oc.valid && oc.htype == fh->handle_type && oc.hbytes == fh->handle_bytes && fh->handle_bytes <= sizeof oc.h
        && memcmp(&oc.fsid, &fid->fsid, sizeof oc.fsid) == 0 && memcmp(oc.h, fh->f_handle, fh->handle_bytes) == 0;
      if (hit && oc.pid == m->pid && strcmp(oc.name, name) == 0) return;
      char dirbuf[PATH_MAX], cgbuf[PATH_MAX];
      char *dir = opens ? oc.dir : dirbuf, *cg = opens ? oc.cg : cgbuf;
      unsigned long dev = oc.dev;
      if (!hit) {
        oc.valid = 0;
        int mfd = -1;
        for (int i = 0; i < nmarks && mfd == -1; i++) if (memcmp(&marks[i].fsid, &fid->fsid, sizeof fid->fsid) == 0) mfd = mark_fd(i);
        if (mfd < 0) return;
        int dfd = open_by_handle_at(mfd, fh, O_PATH | O_CLOEXEC);
        close_mark_fds(); // (at once: never held while printing, which can block, as the session unmounts)
        if (dfd < 0) return; // (the directory is gone already)
        char link[64];
        struct stat st;
        snprintf(link, sizeof link, "/proc/self/fd/%d", dfd);
        ssize_t dl = readlink(link, dir, PATH_MAX - 1);
        int ok = fstat(dfd, &st) == 0;
        close(dfd);
        if (dl <= 0 || !ok) return;
        dir[dl] = 0;
        dev = (unsigned long)st.st_dev;
        if (opens && fh->handle_bytes <= sizeof oc.h) {
          oc.valid = 1; oc.htype = fh->handle_type; oc.hbytes = fh->handle_bytes; oc.dev = dev; oc.pid = 0;
          memcpy(&oc.fsid, &fid->fsid, sizeof oc.fsid);
          memcpy(oc.h, fh->f_handle, fh->handle_bytes);
        }
      }
      if (!opens || oc.pid != m->pid) { cgroup_of(m->pid, cg, PATH_MAX); if (opens) oc.pid = m->pid; }
      if (opens) snprintf(oc.name, sizeof oc.name, "%s", name);
      int whole = strcmp(name, ".") == 0;
      put_write(opens ? 'o' : m->mask & FAN_ONDIR ? 'd' : 'w', dev, m->pid, cg, dir, whole ? NULL : name);
      return;
    }
    p += h->len;
  }
}

/** Reads and prints one batch of queued events: 1 when some were read, 0 when none was queued, -1 on an error. */
static int events(int fan, int opens) {
  char buf[64 * 1024] __attribute__((aligned(8)));
  ssize_t len = read(fan, buf, sizeof buf);
  if (len < 0) return errno == EINTR || errno == EAGAIN ? 0 : -1;
  if (len == 0) return 0;
  for (struct fanotify_event_metadata *m = (struct fanotify_event_metadata *)buf; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
    if (m->vers != FANOTIFY_METADATA_VERSION) { fprintf(stderr, "corral-fwatch: fanotify version %d\n", m->vers); return -1; }
    if (m->mask & FAN_Q_OVERFLOW) { if (!opens) printf("overflow\n"); continue; } // (lost opens: only a module not named)
    if (names_mode) { name_event(m, opens); continue; }
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
    put_write('w', (unsigned long)st.st_dev, m->pid, cg, path, NULL);
  }
  close_mark_fds();
  return 1;
}

/** One batch of opens, after every write queued before it: 1 when some were read, 0 when none, -1 on an error. */
static int opens_batch(int fan) {
  int r;
  while ((r = events(fan, 0)) > 0) {}
  if (r < 0) return -1;
  // (kept across batches for 100 ms at most — the kernel wakes this for nearly every open, so a run of
  // imports spans many batches — and never longer: a directory renamed since would be named by its old path)
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long ms = now.tv_sec * 1000LL + now.tv_nsec / 1000000;
  if (ms - oc.at > 100) { oc.valid = 0; oc.pid = 0; oc.at = ms; }
  return events(opens_fan, 1);
}

int main(void) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() == 1) return 0;
  signal(SIGPIPE, SIG_DFL);
  // (names mode where the kernel has it; CORRAL_FWATCH_FDS=1 asks for the older mode, for tests)
  const char *fds = getenv("CORRAL_FWATCH_FDS");
  int fan = fds && strcmp(fds, "1") == 0 ? -1 : fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
  names_mode = fan >= 0;
  if (fan < 0) fan = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
  if (fan < 0) { fprintf(stderr, "corral-fwatch: fanotify_init: %s\n", strerror(errno)); return 1; }
  if (names_mode) opens_fan = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
  printf(names_mode ? "ready\tnames\n" : "ready\n");
  fflush(stdout);
  char cmd[PATH_MAX + 16];
  size_t have = 0;
  for (;;) {
    struct pollfd p[3] = { { .fd = 0, .events = POLLIN }, { .fd = fan, .events = POLLIN }, { .fd = opens_fan, .events = POLLIN } };
    if (poll(p, opens_fan >= 0 ? 3 : 2, -1) < 0) { if (errno == EINTR) continue; return 1; }
    if ((p[1].revents & POLLIN) && events(fan, 0) < 0) { fprintf(stderr, "corral-fwatch: read: %s\n", strerror(errno)); return 1; }
    if (opens_fan >= 0 && (p[2].revents & POLLIN) && opens_batch(fan) < 0) { fprintf(stderr, "corral-fwatch: read: %s\n", strerror(errno)); return 1; }
    if (p[0].revents & (POLLIN | POLLHUP)) {
      ssize_t n = read(0, cmd + have, sizeof cmd - 1 - have);
      if (n <= 0) return 0;
      have += (size_t)n;
      char *nl;
      while ((nl = memchr(cmd, '\n', have))) {
        *nl = 0;
        if (strncmp(cmd, "add ", 4) == 0) add_mark(fan, cmd + 4);
        else if (strcmp(cmd, "sync") == 0) {
          // (the group is non-blocking: read until the queue is empty, so every write closed before
          // the caller asked is printed before the answer)
          int r;
          while ((r = events(fan, 0)) > 0) {}
          if (r == 0 && opens_fan >= 0) while ((r = opens_batch(fan)) > 0) {}
          if (r < 0) { fprintf(stderr, "corral-fwatch: read: %s\n", strerror(errno)); return 1; }
          printf("synced\n");
        }
        size_t used = (size_t)(nl - cmd) + 1;
        memmove(cmd, nl + 1, have - used);
        have -= used;
      }
      if (have == sizeof cmd - 1) have = 0; // (a line longer than any path: dropped)
    }
    if (fflush(stdout) != 0) return 0;
  }
}
