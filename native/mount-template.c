/*
 * The mount namespace a sandbox's bwrap starts from.
 * Why it exists: every sandbox adds mounts to the host's namespace (its /run/netns entry, its
 * workspace filesystem, its views and layers), and a new mount namespace starts as a copy of its
 * parent's: bwrap copies the host's table at every start and then reads it through once per bind it
 * makes. Beside 250 idle sessions (527 mounts) a sandbox start took ≈ 70 ms instead of ≈ 35 ms, and it
 * grew with every sandbox on the host — an RL rollout host runs hundreds. The threat it stops is a
 * denial of service by density, not an escape: a sandbox never saw other sandboxes' mounts anyway.
 *
 * A runtime makes one template namespace at start: a copy of the host's with /run/netns and every
 * mount below its run dir detached (`serve_mount_template`). A holder start then joins a fresh copy
 * of it and clones in, from the host's namespace, exactly the mounts that sandbox binds (its
 * session dir with the workspace, an image root, policy mounts) at the same paths
 * (`enter_mount_template`: open_tree(2) + move_mount(2), Linux 5.2), so bwrap sees ≈ 25 mounts
 * whatever the number of sandboxes. The template is private: no later mount reaches it (on a host
 * whose / is shared, every new sandbox's mounts would), so Corral makes a new one when the host's
 * own mounts change (src/sandbox/mount-template.ts); what it shows of a path is one of the host's own.
 */
#define _GNU_SOURCE
#include "mount-template.h"

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

/* Detach the mounts at or below each `at[i]` and strictly below each `below[i]`, children first. */
static int detach_mounts(const char **at, int nat, const char **below, int nbelow) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) return -1;
  char **points = NULL, *line = NULL;
  size_t n = 0, cap = 0, len = 0;
  while (getline(&line, &len, f) > 0) {
    /* fields: id parent major:minor root mount-point … */
    char *p = line;
    for (int field = 0; field < 4 && p; field++) { p = strchr(p, ' '); if (p) p++; }
    char *end = p ? strchr(p, ' ') : NULL;
    if (!end) continue;
    *end = 0;
    unescape_octal(p);
    int hit = 0;
    for (int i = 0; i < nat && !hit; i++) hit = relation(p, at[i]) != 0;
    for (int i = 0; i < nbelow && !hit; i++) hit = relation(p, below[i]) == 2;
    if (!hit) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 256;
      char **grown = realloc(points, cap * sizeof *points);
      if (!grown) { fclose(f); return -1; }
      points = grown;
    }
    if (!(points[n] = strdup(p))) { fclose(f); return -1; }
    n++;
  }
  free(line);
  fclose(f);
  /* listed parents first: from the end; one already gone with its parent answers EINVAL */
  while (n > 0) { n--; umount2(points[n], MNT_DETACH); free(points[n]); }
  free(points);
  return 0;
}

int serve_mount_template(int argc, char **argv) {
  const char **at = calloc(argc, sizeof *at), **below = calloc(argc, sizeof *below);
  int nat = 0, nbelow = 0;
  if (!at || !below) return 125;
  for (int i = 0; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--prune-mounts")) at[nat++] = argv[i + 1];
    else if (!strcmp(argv[i], "--prune-below")) below[nbelow++] = argv[i + 1];
    else { fprintf(stderr, "corral-enter: --mount-template-serve: unknown argument %s\n", argv[i]); return 125; }
  }
  if (argc % 2) { fprintf(stderr, "corral-enter: --mount-template-serve: %s needs a directory\n", argv[argc - 1]); return 125; }
  if (unshare(CLONE_NEWNS) < 0) { perror("corral-enter: unshare mount namespace"); return 125; }
  /* nothing detached here may reach the host's namespace, and no later mount may reach this one */
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) { perror("corral-enter: make mounts private"); return 125; }
  if (detach_mounts(at, nat, below, nbelow) < 0) { perror("corral-enter: detach mounts"); return 125; }
  printf("ready\n");
  fflush(stdout);
  /* the namespace lives while this process does; Corral opens /proc/PID/ns/mnt, then ends stdin */
  char buf[64];
  while (read(0, buf, sizeof buf) > 0) {}
  return 0;
}

int enter_mount_template(const char *template_path, const char **keep, int nkeep) {
  int home = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  if (home < 0) return -1;
  int tmpl = open(template_path, O_RDONLY | O_CLOEXEC);
  int *trees = calloc(nkeep > 0 ? nkeep : 1, sizeof *trees);
  int ok = tmpl >= 0 && trees != NULL, moved = 0;
  /* the clones are taken here, in the host's namespace, where the session made them */
  for (int i = 0; ok && i < nkeep; i++) {
    trees[i] = (int)syscall(SYS_open_tree, AT_FDCWD, keep[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (trees[i] < 0) ok = 0;
  }
  if (ok && setns(tmpl, CLONE_NEWNS) < 0) ok = 0;
  if (ok) {
    moved = 1;
    /* a copy of the template: what is attached below changes neither it nor other sandboxes' */
    if (unshare(CLONE_NEWNS) < 0) ok = 0;
  }
  for (int i = 0; ok && i < nkeep; i++) {
    if (syscall(SYS_move_mount, trees[i], "", AT_FDCWD, keep[i], MOVE_MOUNT_F_EMPTY_PATH) < 0) ok = 0;
  }
  for (int i = 0; trees && i < nkeep; i++) if (trees[i] > 0) close(trees[i]);
  free(trees);
  if (tmpl >= 0) close(tmpl);
  if (!ok && moved && setns(home, CLONE_NEWNS) < 0) {
    /* neither namespace: nothing may run here */
    perror("corral-enter: back to the host's mount namespace");
    _exit(125);
  }
  close(home);
  /* setns(CLONE_NEWNS) leaves the cwd and root of the namespace left behind: take this one's */
  if (moved && chdir("/") < 0) return -1;
  return ok ? 0 : -1;
}
