/*
 * corral-enter: the one privileged step between Corral (root) and agent code.
 * Why it exists: Node cannot place a child into cgroups, join namespaces, or drop
 * privileges between fork and exec. Doing it here, before the agent's first
 * instruction runs, is what makes attribution unforgeable (the process is born in
 * its tool call's cgroup) and what stops privilege retention (uid dropped, no
 * capabilities, NoNewPrivs, seccomp loaded) - the threats are a tool call that
 * escapes its cgroup to hide a miner, and a tool call that keeps root.
 *
 * usage: corral-enter --landlock-abi   (prints the kernel's Landlock ABI version, 0 without)
 *        corral-enter --mount-template-serve [--prune-mounts DIR | --prune-below DIR]...
 *                     (makes a runtime's template mount namespace and holds it until stdin ends)
 *        corral-enter [--cgroup PROCS_FILE]... [--netns PATH] [--join-pid PID]
 *                     [--mount-template PATH [--keep-mounts DIR]...]
 *                     [--view DIR]... [--view-keep DIR]... [--view-empty DIR]
 *                     [--uid N --gid N] [--seccomp FILE] [--cwd DIR] [--setsid] -- PROG ARGS...
 *   --cgroup   write our pid to this cgroup.procs file (repeatable; v1 controllers + cgroup2)
 *   --netns    setns() into this network namespace (session holder start)
 *   --mount-template  (session holder start) run in a fresh copy of this template mount namespace,
 *              with the host's mounts at each --keep-mounts path cloned into it at the same path;
 *              when that cannot be done, in the host's namespace as before (mount-template.c)
 *   --view     (session holder start) show this read-only tree (the host root's /usr, a dataset)
 *              as read-only overlays of its mounts in the sandbox's own mount namespace, so its
 *              unix sockets and fifos are not the host's (host-views.c show_views); mounts
 *              at or below a --view-keep dir stay as they are; --view-empty: an empty directory
 *   --join-pid join user, ipc, uts, net, cgroup, pid and mount namespaces of PID (tool call),
 *              then fork so the child lives in the pid namespace; the parent waits.
 *   --uid/--gid drop to these ids (after clearing supplementary groups)
 *   --devpts DIR --devpts-max N  (session holder start) mount a devpts instance of its own on DIR,
 *              holding at most N pseudo-terminals, in this sandbox's own mount namespace (a copy
 *              of the template, or one made here); bwrap binds DIR over the sandbox's /dev/pts.
 *              Threat: one sandbox taking every pseudo-terminal the host's shared pool gives
 *              non-initial devpts instances (kernel.pty.max - kernel.pty.reserve, 3072 by default),
 *              so a neighbour's `script`, `ssh -t` or pexpect fails with ENOSPC.
 *   --nofile   open-file limit (soft and hard) of everything the sandbox runs: not Corral's own, which is
 *              raised for the gateway; the host-wide count is fs.file-max (see src/sandbox/file-limits.ts)
 *   --seccomp  a file holding a raw struct sock_filter[] program, loaded after NoNewPrivs
 *   --waiter-cgroup  with --join-pid: after forking, move the waiting parent (trusted, not agent
 *              code) to this cgroup.procs file (repeatable), so killing the tool call's cgroup
 *              never kills the process that must reap the call's main process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount-template.h"
#include "host-views.h"

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
/* CLOSE_RANGE_CLOEXEC (5.11+): mark instead of close, so exec's own failure message still reaches stderr. */
#define CLOSE_RANGE_CLOEXEC_FLAG (1U << 2)

static void die(const char *what) {
  fprintf(stderr, "corral-enter: %s: %s\n", what, strerror(errno));
  _exit(125);
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die(path);
  if (write(fd, text, strlen(text)) < 0) die(path);
  close(fd);
}

static struct sock_fprog load_filter(const char *path) {
  struct sock_fprog prog = {0, NULL};
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die(path);
  struct stat st;
  if (fstat(fd, &st) < 0) die(path);
  if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) != 0 || st.st_size > 65536) {
    errno = EINVAL;
    die("seccomp program size");
  }
  prog.filter = malloc(st.st_size);
  if (!prog.filter) die("malloc");
  ssize_t got = 0;
  while (got < st.st_size) {
    ssize_t n = read(fd, (char *)prog.filter + got, st.st_size - got);
    if (n <= 0) die("read seccomp program");
    got += n;
  }
  close(fd);
  prog.len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
  return prog;
}

static pid_t child_pid = 0;
/*
 * Each tool call gets its own Landlock domain. It restricts nothing a tool call can do today (the only
 * handled rights, creating character and block devices, need CAP_MKNOD, which it never has); what it
 * buys is Landlock's ptrace rule: a process may only ptrace-access processes of its own domain or of
 * domains nested in it. Every process in a sandbox is the same uid and, on kernels without Yama,
 * /proc/PID/mem opens without ptrace: without this, a later call could write code into a background
 * process an earlier call left running, whose actions are then attributed to that earlier call.
 * /proc/PID/{mem,environ,fd,…} of other calls' processes (and of pid 1) now answer EACCES; signals
 * still reach them (`pkill server` in a later call works). Best effort: no Landlock, no domain.
 */
static void own_landlock_domain(void) {
  struct landlock_ruleset_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.handled_access_fs = LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_BLOCK;
  long rs = syscall(SYS_landlock_create_ruleset, &attr, sizeof attr.handled_access_fs, 0);
  if (rs < 0) return;
  if (syscall(SYS_landlock_restrict_self, (int)rs, 0) < 0) { /* best effort */ }
  close((int)rs);
}

static void forward(int sig) { if (child_pid > 0) kill(child_pid, sig); }

/*
 * The file a command name without a slash stands for: the first PATH entry holding an executable
 * regular file of that name (stat and access, as a shell looks it up), or NULL. execvp() instead
 * execve()s each entry in turn, and every miss is an exec the kernel sensor records as a failed
 * attempt: `sh -c …` showed /usr/local/bin/sh failing before every tool call. Only a lookup: when
 * the exec of what it found fails, the caller falls back to execvp's own search.
 */
static const char *lookup_path(const char *name, char *buf, size_t size) {
  if (!*name || strchr(name, '/')) return NULL;
  const char *path = getenv("PATH");
  if (!path) return NULL;
  size_t nlen = strlen(name);
  for (const char *p = path;; ) {
    const char *end = strchrnul(p, ':');
    size_t dlen = (size_t)(end - p);
    const char *dir = dlen ? p : ".";
    if (!dlen) dlen = 1;
    if (dlen + 1 + nlen + 1 <= size) {
      memcpy(buf, dir, dlen);
      buf[dlen] = '/';
      memcpy(buf + dlen + 1, name, nlen + 1);
      struct stat st;
      if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0) return buf;
    }
    if (!*end) return NULL;
    p = end + 1;
  }
}

int main(int argc, char **argv) {
  const char *cgroups[8], *waiter_cgroups[8];
  int ncg = 0, nwcg = 0, nkeep = 0, nviews = 0, nview_keep = 0;
  const char *netns = NULL, *seccomp_path = NULL, *cwd = NULL, *mount_template = NULL, *view_empty = NULL;
  const char **keep = calloc(argc, sizeof *keep), **views = calloc(argc, sizeof *views), **view_keep = calloc(argc, sizeof *view_keep);
  if (!keep || !views || !view_keep) die("calloc");
  long join_pid = 0, uid = -1, gid = -1, nofile = 0, devpts_max = 0;
  const char *devpts_at = NULL;
  int do_setsid = 0;
  int i = 1;
  /* `corral doctor`: which Landlock ABI this kernel offers (0: none), so it can say whether tool calls get their own domain. */
  if (argc == 2 && !strcmp(argv[1], "--landlock-abi")) {
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    printf("%ld\n", abi < 0 ? 0L : abi);
    return 0;
  }
  if (argc >= 2 && !strcmp(argv[1], "--mount-template-serve")) return serve_mount_template(argc - 2, argv + 2);
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) { i++; break; }
    if (i + 1 >= argc && strcmp(a, "--setsid")) { errno = EINVAL; die(a); }
    if (!strcmp(a, "--cgroup")) { if (ncg < 8) cgroups[ncg++] = argv[++i]; }
    else if (!strcmp(a, "--waiter-cgroup")) { if (nwcg < 8) waiter_cgroups[nwcg++] = argv[++i]; }
    else if (!strcmp(a, "--netns")) netns = argv[++i];
    else if (!strcmp(a, "--mount-template")) mount_template = argv[++i];
    else if (!strcmp(a, "--keep-mounts")) keep[nkeep++] = argv[++i];
    else if (!strcmp(a, "--view")) views[nviews++] = argv[++i];
    else if (!strcmp(a, "--view-keep")) view_keep[nview_keep++] = argv[++i];
    else if (!strcmp(a, "--view-empty")) view_empty = argv[++i];
    else if (!strcmp(a, "--join-pid")) join_pid = atol(argv[++i]);
    else if (!strcmp(a, "--uid")) uid = atol(argv[++i]);
    else if (!strcmp(a, "--gid")) gid = atol(argv[++i]);
    else if (!strcmp(a, "--nofile")) nofile = atol(argv[++i]);
    else if (!strcmp(a, "--devpts")) devpts_at = argv[++i];
    else if (!strcmp(a, "--devpts-max")) devpts_max = atol(argv[++i]);
    else if (!strcmp(a, "--seccomp")) seccomp_path = argv[++i];
    else if (!strcmp(a, "--cwd")) cwd = argv[++i];
    else if (!strcmp(a, "--setsid")) do_setsid = 1;
    else { errno = EINVAL; die(a); }
  }
  if (i >= argc) { errno = EINVAL; die("missing program after --"); }

  /* 1. Be born into the tool call's cgroups before anything else can run. */
  for (int c = 0; c < ncg; c++) write_file(cgroups[c], "0");

  struct sock_fprog prog = {0, NULL};
  if (seccomp_path) prog = load_filter(seccomp_path);

  if (setgroups(0, NULL) < 0) die("setgroups");

  if (netns) {
    int fd = open(netns, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) die(netns);
    close(fd);
  }
  /* (after the netns is joined by its host path; best effort: without it the start is only slower) */
  int in_template = 0;
  if (mount_template) {
    if (join_pid > 0) { errno = EINVAL; die("--mount-template with --join-pid"); }
    in_template = enter_mount_template(mount_template, keep, nkeep) == 0;
  }
  if (nviews > 0) {
    if (join_pid > 0) { errno = EINVAL; die("--view with --join-pid"); }
    show_views(in_template, views, nviews, view_keep, nview_keep, view_empty);
  }

  if (devpts_at) {
    if (join_pid > 0 || devpts_max < 1 || devpts_max > 1048576) { errno = EINVAL; die("--devpts needs --devpts-max 1..1048576, and no --join-pid"); }
    /* never on the host's own mount table: outside a template's copy, a namespace of our own first
     * (slave, as show_views makes: the host's unmounts still reach it, nothing here reaches the host) */
    if (!in_template && (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)) die("devpts: own mount namespace");
    char opts[96];
    snprintf(opts, sizeof opts, "newinstance,ptmxmode=0666,mode=0620,max=%ld", devpts_max);
    if (mount("devpts", devpts_at, "devpts", MS_NOSUID | MS_NOEXEC, opts) < 0) die("devpts: mount");
  }

  int wfds[8], nwcg_fds = 0;
  for (int c = 0; c < nwcg; c++) {
    wfds[nwcg_fds] = open(waiter_cgroups[c], O_WRONLY | O_CLOEXEC);
    if (wfds[nwcg_fds] < 0) die(waiter_cgroups[c]);
    nwcg_fds++;
  }

  int oomfd = join_pid > 0 ? open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC) : -1;
  int rootfd = -1;
  if (join_pid > 0) {
    /* As root entering a deprivileged sandbox, join the user namespace last (like
     * nsenter): the others are joined with init-namespace privileges. */
    static const char *names[] = {"ipc", "uts", "net", "cgroup", "pid", "mnt", "user"};
    static const int types[] = {CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWCGROUP,
                                CLONE_NEWPID, CLONE_NEWNS, CLONE_NEWUSER};
    int fds[7];
    char path[64];
    for (int n = 0; n < 7; n++) {
      snprintf(path, sizeof path, "/proc/%ld/ns/%s", join_pid, names[n]);
      fds[n] = open(path, O_RDONLY | O_CLOEXEC);
      if (fds[n] < 0) die(path);
    }
    snprintf(path, sizeof path, "/proc/%ld/root", join_pid);
    rootfd = open(path, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
    if (rootfd < 0) die(path);
    for (int n = 0; n < 7; n++) {
      if (setns(fds[n], types[n]) < 0) {
        /* the cgroup namespace is optional (bwrap --unshare-cgroup-try) */
        if (types[n] == CLONE_NEWCGROUP && errno == EINVAL) { close(fds[n]); continue; }
        snprintf(path, sizeof path, "setns %s", names[n]);
        die(path);
      }
      close(fds[n]);
      if (types[n] == CLONE_NEWNS) {
        if (fchdir(rootfd) < 0 || chroot(".") < 0) die("enter sandbox root");
        close(rootfd);
      }
    }
  }

  if (join_pid > 0) {
    child_pid = fork();
    if (child_pid < 0) die("fork");
    /* The tool call's processes are the OOM killer's first choice in the session's memory cgroup, not
     * bwrap or the sandbox's pid 1: files filling a tmpfs (/tmp, a writable root's layer, a sized
     * workspace) belong to no process, so a memory-limit OOM picked bwrap and ended the whole session
     * (exit 137, no alert, verdict clean); now it kills the call's process, and the call gets
     * limit.memory_oom. Raising needs no privilege (lowering the holder would: CAP_SYS_RESOURCE, which
     * not every host gives root), but must happen before the uid drop makes /proc/self root's. */
    if (child_pid == 0) {
      int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
      if (fd >= 0) { if (write(fd, "1000", 4) < 0) { /* best effort */ } close(fd); }
    }
  }

  /* (while root: a hard limit above the inherited one needs CAP_SYS_RESOURCE; without it, the inherited hard limit) */
  if (nofile > 0) {
    struct rlimit rl = {(rlim_t)nofile, (rlim_t)nofile}, cur;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
      if (getrlimit(RLIMIT_NOFILE, &cur) < 0) die("getrlimit");
      rl.rlim_cur = rl.rlim_max = cur.rlim_max < rl.rlim_max ? cur.rlim_max : rl.rlim_max;
      if (setrlimit(RLIMIT_NOFILE, &rl) < 0) die("setrlimit nofile");
    }
  }
  /* No core files, not even by raising the soft limit. (A core_pattern pipe — apport, systemd-coredump — is not
   * stopped by this: the kernel ignores RLIMIT_CORE for pipes, so `corral doctor` flags such hosts; session 35.) */
  struct rlimit nocore = {0, 0};
  if (setrlimit(RLIMIT_CORE, &nocore) < 0) die("setrlimit core");
  if (gid >= 0 && setresgid(gid, gid, gid) < 0) die("setresgid");
  if (uid >= 0 && setresuid(uid, uid, uid) < 0) die("setresuid");
  if (cwd && chdir(cwd) < 0) die(cwd);

  if (join_pid > 0) {
    if (child_pid > 0) {
      /* cgroup.procs is opened by path; we are chrooted into the sandbox now, so the files
       * were opened before entering the sandbox. */
      for (int c = 0; c < nwcg_fds; c++) { if (write(wfds[c], "0", 1) < 0) die("waiter cgroup"); close(wfds[c]); }
      /* never the OOM killer's choice: it must survive to reap and report the call */
      if (oomfd >= 0) { if (write(oomfd, "-1000", 5) < 0) { /* best effort */ } close(oomfd); }
      /* The waiter never execs, so the uid drop above (from the user namespace's unmapped root) left it
       * every capability there: it waits in the sandbox's namespaces with none, and never gains any
       * (a review, session 31: CapEff 1ffffffffff, no seccomp; not reachable today, but one leak away). */
      struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
      struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3];
      memset(none, 0, sizeof none);
      if (syscall(SYS_capset, &hdr, none) < 0) die("capset");
      if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs");
      signal(SIGINT, forward);
      signal(SIGTERM, forward);
      signal(SIGHUP, forward);
      int status;
      while (waitpid(child_pid, &status, 0) < 0) {
        if (errno != EINTR) die("waitpid");
      }
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      /* Killed by a signal: end the same way, so Corral reads the signal, not an exit code 128 + N that a
       * command's own `exit 137` also gives (a user review, session 41: `signal` was always null). No core file
       * (RLIMIT_CORE is 0 above); the fallback is the shell's convention. */
      int sig = WTERMSIG(status);
      signal(sig, SIG_DFL);
      sigset_t one;
      sigemptyset(&one);
      sigaddset(&one, sig);
      sigprocmask(SIG_UNBLOCK, &one, NULL);
      kill(getpid(), sig);
      return 128 + sig;
    }
  }

  for (int c = 0; c < nwcg_fds; c++) close(wfds[c]);
  if (oomfd >= 0) close(oomfd);
  if (do_setsid) setsid();
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("no_new_privs");
  if (join_pid > 0) own_landlock_domain();
  if (prog.filter && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) die("seccomp");
  /* A tool call gets stdio and nothing else: a descriptor Corral's own parent left open (a CI
   * runner's, a supervisor's; Node passes on what it inherited) would otherwise reach agent code.
   * (The holder's start passes bwrap its seccomp program as fd 3; the holder closes the rest.) */
  if (join_pid > 0 && syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC_FLAG) < 0) {
    for (int fd = 3; fd < 65536; fd++) { int fl = fcntl(fd, F_GETFD); if (fl >= 0) fcntl(fd, F_SETFD, fl | FD_CLOEXEC); }
  }
  char found[4096];
  const char *file = lookup_path(argv[i], found, sizeof found);
  if (file) execv(file, &argv[i]);
  execvp(argv[i], &argv[i]);
  int err = errno;
  fprintf(stderr, "corral-enter: exec %s: %s\n", argv[i], strerror(err));
  /* As a shell answers: 127 when there is no such command, 126 when it exists but cannot run. */
  _exit(err == ENOENT || err == ENOTDIR ? 127 : 126);
}
