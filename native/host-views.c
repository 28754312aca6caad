/*
 * host-views: a sandbox's read-only trees (the host root's /usr /etc /opt /var, --mount datasets) as
 * read-only overlays of them in this sandbox's own mount namespace, one per mount in the tree.
 * Why: bound as they lie, a unix socket in them that a host service listens on (a database's
 * socket under /var/lib, SSSD's pipes) took the sandbox's connect() around the network namespace
 * and the gateway, and a fifo in them was shared by every sandbox and the host. An overlay gives
 * each socket and fifo an inode of its own, so a connect() finds no listener and a fifo is this
 * sandbox's alone; files, owners and modes read as before, nothing is writable (no upper layer,
 * ro,nosuid,nodev; an image's own trusted.overlay.* redirects and metacopy are not followed).
 * Done here, in the namespace bwrap starts from (the template's copy or a private copy of the
 * host's), so every sandbox gets it whichever way it starts, with no mount to undo at teardown.
 */

#define _GNU_SOURCE
#include "host-views.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mount-api.h"
#include "mountinfo.h"

struct view_point { char *path; int fd; };

static int by_path(const void *a, const void *b) {
  return strcmp(((const struct view_point *)a)->path, ((const struct view_point *)b)->path);
}

static void refused(const char *path, const char *why) {
  fprintf(stderr, "corral-enter: view %s: shown as it lies (%s: %s)\n", path, why, strerror(errno));
}

/* The mount points at or below `tree` (the tree itself first, even when it is no mount point of its
 * own), none at or below a `keep` path (each strictly below the tree), each opened O_PATH while
 * nothing covers it yet. */
static struct view_point *view_points(const char *tree, const char **keep, int nkeep, size_t *count) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) return NULL;
  struct view_point *v = NULL;
  size_t n = 0, cap = 0, len = 0;
  char *line = NULL;
  int first = 1;
  while (first || getline(&line, &len, f) > 0) {
    char *p = (char *)tree;
    if (!first) {
      p = line;
      for (int field = 0; field < 4 && p; field++) { p = strchr(p, ' '); if (p) p++; }
      char *end = p ? strchr(p, ' ') : NULL;
      if (!end) continue;
      *end = 0;
      unescape_octal(p);
      if (relation(p, tree) == 0) continue;
      int kept = 0;
      for (int i = 0; i < nkeep && !kept; i++) kept = relation(p, keep[i]) != 0;
      if (kept) continue;
    }
    first = 0;
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      struct view_point *grown = realloc(v, cap * sizeof *v);
      if (!grown) break;
      v = grown;
    }
    v[n].path = strdup(p);
    v[n].fd = v[n].path ? open(p, O_PATH | O_NOFOLLOW | O_CLOEXEC) : -1;
    if (v[n].fd < 0) { free(v[n].path); continue; }
    n++;
  }
  free(line);
  fclose(f);
  /* parents before children (a parent is a prefix); a point mounted over twice: its top once */
  qsort(v, n, sizeof *v, by_path);
  size_t w = 0;
  for (size_t r = 0; r < n; r++) {
    if (w > 0 && !strcmp(v[w - 1].path, v[r].path)) { close(v[r].fd); free(v[r].path); continue; }
    v[w++] = v[r];
  }
  *count = w;
  return v;
}

/* Puts a clone of the mount open at `fd` (recursive or not) back at `path`; 0 or -1. */
static int reattach(int fd, const char *path, int recursive) {
  int t = (int)syscall(SYS_open_tree, fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0));
  if (t < 0) return -1;
  int r = (int)syscall(SYS_move_mount, t, "", AT_FDCWD, path, MOVE_MOUNT_F_EMPTY_PATH);
  close(t);
  return r;
}

static void view_tree(const char *tree, const char **keep, int nkeep, int empty) {
  /* Corral's own run dir (the session's workspace, the holder) stays as it is when it lies below */
  const char **kept = calloc(nkeep > 0 ? nkeep : 1, sizeof *kept);
  int *kept_fd = calloc(nkeep > 0 ? nkeep : 1, sizeof *kept_fd), nk = 0;
  if (!kept || !kept_fd) { refused(tree, "calloc"); free(kept); free(kept_fd); return; }
  for (int i = 0; i < nkeep; i++) {
    if (relation(keep[i], tree) != 2) continue;
    kept_fd[nk] = (int)syscall(SYS_open_tree, AT_FDCWD, keep[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (kept_fd[nk] < 0) { refused(tree, keep[i]); goto out; }
    kept[nk++] = keep[i];
  }
  size_t n = 0;
  struct view_point *v = view_points(tree, kept, nk, &n);
  if (!v || n == 0) { refused(tree, "mountinfo"); free(v); goto out; }
  char opts[128];
  for (size_t i = 0; i < n; i++) {
    struct stat st;
    if (fstat(v[i].fd, &st) < 0) { refused(v[i].path, "stat"); continue; }
    if (S_ISDIR(st.st_mode)) {
      snprintf(opts, sizeof opts, "lowerdir=/proc/self/fd/%d:/proc/self/fd/%d,redirect_dir=nofollow,metacopy=off", v[i].fd, empty);
      if (mount("corral-view", v[i].path, "overlay", MS_RDONLY | MS_NOSUID | MS_NODEV, opts) == 0) continue;
      refused(v[i].path, "overlay");
      /* the tree itself: nothing covers it or its mounts, all stay as they lie */
      if (i == 0) break;
    } else if (!S_ISREG(st.st_mode)) {
      continue; /* a socket, fifo or device bound over a path: covered, never shown */
    }
    /* a bound file, or a mount the kernel would not overlay: the mount itself, as it lies */
    if (reattach(v[i].fd, v[i].path, 0) < 0) refused(v[i].path, "reattach");
  }
  for (size_t i = 0; i < n; i++) { close(v[i].fd); free(v[i].path); }
  free(v);
out:
  for (int i = 0; i < nk; i++) {
    if (syscall(SYS_move_mount, kept_fd[i], "", AT_FDCWD, kept[i], MOVE_MOUNT_F_EMPTY_PATH) < 0) refused(kept[i], "keep");
    close(kept_fd[i]);
  }
  free(kept);
  free(kept_fd);
}

void show_views(int own_namespace, const char **views, int nviews, const char **keep, int nkeep, const char *empty_dir) {
  if (nviews == 0) return;
  /* not in a template's copy: a namespace of this sandbox's own, as bwrap would make (slave: the
   * host's unmounts still reach it) */
  if (!own_namespace && (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)) {
    for (int i = 0; i < nviews; i++) refused(views[i], "mount namespace");
    return;
  }
  int empty = open(empty_dir ? empty_dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (empty < 0 || !empty_dir) {
    for (int i = 0; i < nviews; i++) refused(views[i], "empty layer");
    if (empty >= 0) close(empty);
    return;
  }
  for (int i = 0; i < nviews; i++) view_tree(views[i], keep, nkeep, empty);
  close(empty);
}
