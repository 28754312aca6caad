// Why: the session file tools (write, str_replace, multi_edit, insert) used to replace a file by
// truncating it and writing it again in place. A call killed part-way (its time limit, a session
// close, a client that went away: the daemon kills the call's cgroup with SIGKILL) then left the
// agent's file half-written, its old content gone: a 30 MiB write cancelled after ~120 ms left an
// 18 MiB file. Here the new content goes to a temporary file in the file's own directory, written
// whole and flushed (fdatasync), then renamed over it: a reader, or a call killed at any point, sees
// the old file or the whole new one (and so does the file after a host crash). The temporary file is made with O_TMPFILE where the filesystem has it (ext4, tmpfs, xfs,
// btrfs, overlayfs on recent kernels): it has no name while it is written, so a kill leaves nothing;
// it is named `.corral-tmp-XXXXXX` only for the instant between linkat and renameat (a SIGKILL there, as a
// loaded CI machine showed in session 45, leaves it named until the next replacing write in that directory
// sweeps it, as below). Without
// O_TMPFILE it is created under that name (mode 0600, locked with flock while it lives); every error
// path and a catchable signal remove it, and a temporary file a SIGKILL left behind is removed by
// the next replacing write in that directory (only names of this form, regular files of the agent's
// with one link, whose lock no live call holds: a call still writing keeps its own).
//
// Safety kept: this runs as the agent, inside the sandbox, on the descriptor corral-file.c opened and
// checked (a regular file, reached as the agent would reach it, reported when a link made it another
// file than the path). The name replaced is that file's own name in its own directory (read from
// /proc/self/fd, then checked with fstatat without following links to be that very file, and again
// just before the rename: if it no longer is, nothing is renamed and the opened file is written in
// place, as before). rename never follows a link at its target, so no link leads the new content
// out. The replacement gets the old file's mode (less set-user-ID, and set-group-ID where group
// execute is set, which an in-place write by the agent clears too) and its group.
//
// Where a rename would change what the name means, or cannot be done, the file is written in place
// as before (not atomic, and said so here):
// - it has several hard links: the rename would leave the other names holding the old content;
// - it is a mount point (a file bind-mounted into the sandbox): rename fails with EBUSY, and the
//   bind is the file the trainer meant the agent to edit;
// - its directory does not let the agent create files (no write permission; a read-only mount, as
//   the sandbox's / holding a writable image root's top-level files): the agent may write the file
//   but not make a new one beside it;
// - it belongs to another user (writable through its group or mode; also a host user the sandbox's
//   user namespace does not map, shown with the overflow uid that may be the agent's own): the
//   replacement would be the agent's own file, which the agent could then chmod; or its group
//   cannot be kept;
// - it has extended attributes other than an SELinux label (a POSIX ACL, file capabilities, user
//   attributes), which a new file would not carry;
// - the disk has no room for two copies (ENOSPC, EDQUOT: in place, the old blocks are freed first;
//   a replacement needs the new file's size free until the rename), or any other step of the
//   temporary route fails, or the name stops being the file before the rename (nothing of the
//   temporary route is left).
// Appends are never replaced: they stay O_APPEND writes (corral-file.c).
// A file that did not exist is created empty first (as the open always did) and then replaced: a
// call killed while writing it leaves it empty, never half-written.
// A replacement is a new inode: a process that had the old file open keeps reading the old content
// (as with any editor that saves by rename).
// CORRAL_FILE_TEMP=named skips O_TMPFILE (for tests of the named route on filesystems that have it;
// harmless whoever sets it: the named route is as safe, only visible while it writes).
#define _GNU_SOURCE
#include "file-replace.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define TMP_PREFIX ".corral-tmp-"
#define TMP_PREFIX_N (sizeof TMP_PREFIX - 1)
#define TMP_NAME_N (TMP_PREFIX_N + 6)

/** The temporary name that exists now (created or linked, not yet renamed), for cleanup on a signal. */
static volatile sig_atomic_t tmp_live;
static int tmp_dir = -1;
static char tmp_name[TMP_NAME_N + 1];

/** Signals that end the program and can be caught: the temporary name goes with it. */
static const int CAUGHT[] = { SIGHUP, SIGINT, SIGTERM, SIGPIPE, SIGXFSZ, SIGALRM, SIGUSR1, SIGUSR2 };
#define N_CAUGHT (sizeof CAUGHT / sizeof CAUGHT[0])
static struct sigaction saved[N_CAUGHT];
static int installed[N_CAUGHT];

static void on_signal(int sig) {
  if (tmp_live) unlinkat(tmp_dir, tmp_name, 0);
  signal(sig, SIG_DFL);
  raise(sig);
}

static void caught_set(sigset_t *set) {
  sigemptyset(set);
  for (size_t i = 0; i < N_CAUGHT; i++) sigaddset(set, CAUGHT[i]);
}

/** Catches the signals that would end the program by default (one ignored stays ignored). */
static void catch_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  caught_set(&sa.sa_mask);
  for (size_t i = 0; i < N_CAUGHT; i++) {
    installed[i] = 0;
    if (sigaction(CAUGHT[i], NULL, &saved[i]) != 0 || saved[i].sa_handler != SIG_DFL) continue;
    installed[i] = sigaction(CAUGHT[i], &sa, NULL) == 0;
  }
}

static void restore_signals(void) {
  for (size_t i = 0; i < N_CAUGHT; i++) if (installed[i]) sigaction(CAUGHT[i], &saved[i], NULL);
}

/** Blocks the caught signals (old: the mask to restore), so a name and its record change together. */
static void hold(sigset_t *old) {
  sigset_t set;
  caught_set(&set);
  sigprocmask(SIG_BLOCK, &set, old);
}

static void release(const sigset_t *old) { sigprocmask(SIG_SETMASK, old, NULL); }

/** Removes the temporary name, if one exists. */
static void drop_name(void) {
  sigset_t old;
  hold(&old);
  if (tmp_live) unlinkat(tmp_dir, tmp_name, 0);
  tmp_live = 0;
  release(&old);
}

static void fresh_name(char *out) {
  static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char r[6];
  if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    unsigned long x = (unsigned long)ts.tv_nsec ^ ((unsigned long)getpid() << 16);
    for (size_t i = 0; i < sizeof r; i++) { r[i] = (unsigned char)x; x = x * 6364136223846793005UL + 1442695040888963407UL; x ^= x >> 29; }
  }
  memcpy(out, TMP_PREFIX, TMP_PREFIX_N);
  for (size_t i = 0; i < sizeof r; i++) out[TMP_PREFIX_N + i] = abc[r[i] % (sizeof abc - 1)];
  out[TMP_NAME_N] = '\0';
}

/** Whether `name` in `dirfd` is, without following a link, the file `st` describes. */
static int name_is(int dirfd, const char *name, const struct stat *st) {
  struct stat now;
  return fstatat(dirfd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 && now.st_dev == st->st_dev && now.st_ino == st->st_ino;
}

static int name_is_fd(int dirfd, const char *name, int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && name_is(dirfd, name, &st);
}

/** Extended attributes a new file would not carry (an ACL, capabilities, user.*); an SELinux label is the directory's anyway. */
static int has_xattrs(int fd) {
  char list[4096];
  ssize_t k = flistxattr(fd, list, sizeof list);
  if (k < 0) return errno == ERANGE;
  for (const char *p = list; p < list + k; p += strlen(p) + 1) if (strcmp(p, "security.selinux") != 0) return 1;
  return 0;
}

/** Whether the file open on fd is mounted on its own (a bind-mounted file), not part of its directory's mount. */
static int is_mount_point(int fd, int dirfd, const struct stat *st) {
  struct statx f, d;
  if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &f) == 0) {
    if ((f.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (f.stx_attributes & STATX_ATTR_MOUNT_ROOT)) return 1;
    if ((f.stx_mask & STATX_MNT_ID) && statx(dirfd, "", AT_EMPTY_PATH, STATX_MNT_ID, &d) == 0 && (d.stx_mask & STATX_MNT_ID)) return f.stx_mnt_id != d.stx_mnt_id;
  }
  struct stat ds;
  return fstat(dirfd, &ds) != 0 || ds.st_dev != st->st_dev;
}

/**
 * Removes `.corral-tmp-XXXXXX` files a killed call left in the directory (either route):
 * the agent's own regular files with one link whose lock no live call holds.
 */
static void sweep_stale(int dirfd) {
  int rd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rd < 0) return;
  DIR *dh = fdopendir(rd);
  if (!dh) { close(rd); return; }
  struct dirent *e;
  while ((e = readdir(dh)) != NULL) {
    if (strncmp(e->d_name, TMP_PREFIX, TMP_PREFIX_N) != 0 || strlen(e->d_name) != TMP_NAME_N) continue;
    int t = openat(dirfd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (t < 0) continue;
    struct stat s;
    if (fstat(t, &s) == 0 && S_ISREG(s.st_mode) && s.st_uid == geteuid() && s.st_nlink == 1 && flock(t, LOCK_EX | LOCK_NB) == 0 && name_is(dirfd, e->d_name, &s))
      unlinkat(dirfd, e->d_name, 0);
    close(t);
  }
  closedir(dh);
}

/** Locks the temporary file against a sweep; 0 when a sweep holds it (it is being removed). */
static int lock_temp(int fd) {
  return flock(fd, LOCK_EX | LOCK_NB) == 0 || errno != EWOULDBLOCK;
}

/** Creates the temporary file under its name (no O_TMPFILE); -1 when the directory refuses. */
static int create_named(int dirfd) {
  for (int i = 0; i < 100; i++) {
    char name[TMP_NAME_N + 1];
    fresh_name(name);
    sigset_t old;
    hold(&old);
    int t = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
    if (t >= 0) { memcpy(tmp_name, name, sizeof name); tmp_dir = dirfd; tmp_live = 1; }
    release(&old);
    if (t < 0) { if (errno == EEXIST) continue; return -1; }
    if (lock_temp(t) && name_is_fd(dirfd, name, t)) return t;
    // (a sweep took it between its creation and the lock: the sweep removes it)
    tmp_live = 0;
    close(t);
  }
  return -1;
}

/** Gives the O_TMPFILE file a name for the rename (the instant it is visible); 0 on failure. */
static int link_named(int t, int dirfd) {
  char self[64];
  snprintf(self, sizeof self, "/proc/self/fd/%d", t);
  lock_temp(t);
  for (int i = 0; i < 100; i++) {
    char name[TMP_NAME_N + 1];
    fresh_name(name);
    sigset_t old;
    hold(&old);
    // (AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH on older kernels; /proc's link does not)
    int ok = linkat(t, "", dirfd, name, AT_EMPTY_PATH) == 0 || (errno != EEXIST && linkat(AT_FDCWD, self, dirfd, name, AT_SYMLINK_FOLLOW) == 0);
    if (ok) { memcpy(tmp_name, name, sizeof name); tmp_dir = dirfd; tmp_live = 1; }
    release(&old);
    if (ok) return 1;
    if (errno != EEXIST) return 0;
  }
  return 0;
}

/** Writes the content into the temporary file and gives it the old file's group and mode; 0 on failure. */
static int fill(int t, const struct stat *st, const char *d, size_t n) {
  struct stat ts;
  if (fstat(t, &ts) != 0) return 0;
  if (ts.st_gid != st->st_gid && fchown(t, (uid_t)-1, st->st_gid) != 0) return 0;
  while (n > 0) {
    ssize_t w = write(t, d, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return 0;
    d += w;
    n -= (size_t)w;
  }
  mode_t mode = st->st_mode & 07777 & ~(mode_t)S_ISUID;
  if (mode & S_IXGRP) mode &= ~(mode_t)S_ISGID;
  // (flushed before the rename: else a host crash may keep the rename and lose the data, on a host
  // workspace too; ~2 ms for a small file, ~12 ms for 8 MiB on the loop-device workspace)
  return fchmod(t, mode) == 0 && fdatasync(t) == 0;
}

/** The path of the file open on fd, as the sandbox names it; 0 when unknown (no /proc) or unlinked. */
static int real_path(int fd, char *out, size_t cap) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t k = readlink(link, out, cap - 1);
  if (k <= 0 || out[0] != '/') return 0;
  out[k] = '\0';
  return 1;
}

static enum replace_outcome via_temp(int fd, const struct stat *st, int dirfd, const char *base, const char *d, size_t n) {
  const char *force = getenv("CORRAL_FILE_TEMP");
  int named = force && !strcmp(force, "named");
  int t = -1;
  catch_signals();
  if (!named) {
    t = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    // (the agent may not create files here: the file is written in place; other errors: no O_TMPFILE here)
    if (t < 0 && (errno == EACCES || errno == EPERM || errno == EROFS || errno == ENOSPC || errno == EDQUOT)) goto in_place;
    if (t < 0) named = 1;
  }
  // (a call killed in the instant between naming its temporary file and the rename left it named, on either
  // route: the next replacing write in the directory removes it; the live one is locked against that)
  sweep_stale(dirfd);
  if (named) {
    t = create_named(dirfd);
    if (t < 0) goto in_place;
  } else if (flock(t, LOCK_EX | LOCK_NB) != 0) { close(t); t = -1; goto in_place; }
  if (!fill(t, st, d, n)) goto in_place;
  if (!named && !link_named(t, dirfd)) goto in_place;
  // (the name still holds the file opened, with no other link: else the old route, on the opened file)
  struct stat now;
  if (fstat(fd, &now) != 0 || now.st_nlink != 1 || !name_is(dirfd, base, st)) goto in_place;
  sigset_t old;
  hold(&old);
  int renamed = renameat(dirfd, tmp_name, dirfd, base) == 0;
  if (renamed) tmp_live = 0;
  release(&old);
  if (!renamed) goto in_place;
  close(t);
  restore_signals();
  return REPLACED;
in_place:
  drop_name();
  if (t >= 0) close(t);
  restore_signals();
  return IN_PLACE;
}

/**
 * Whether the agent really owns the file: a file of a host user its user namespace does not map shows
 * the overflow uid, which may be the agent's own (65534), so the uid shown is not enough. Only the
 * owner may chown a file to its own uid (a no-op beyond what a write does: set-user-ID cleared).
 */
static int owned(int fd, const struct stat *st) {
  return st->st_uid == geteuid() && fchown(fd, st->st_uid, (gid_t)-1) == 0;
}

enum replace_outcome replace_whole(int fd, const struct stat *st, const char *d, size_t n) {
  if (!S_ISREG(st->st_mode) || st->st_nlink != 1 || has_xattrs(fd) || !owned(fd, st)) return IN_PLACE;
  char real[PATH_MAX], base[NAME_MAX + 1];
  if (!real_path(fd, real, sizeof real)) return IN_PLACE;
  char *slash = strrchr(real, '/');
  size_t bn = strlen(slash + 1);
  if (bn == 0 || bn > NAME_MAX) return IN_PLACE;
  memcpy(base, slash + 1, bn + 1);
  slash[slash == real ? 1 : 0] = '\0';
  int dirfd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return IN_PLACE;
  enum replace_outcome r = name_is(dirfd, base, st) && !is_mount_point(fd, dirfd, st) ? via_temp(fd, st, dirfd, base, d, n) : IN_PLACE;
  close(dirfd);
  return r;
}
