/*
 * corral-idmap SRC DST OWNER_UID OWNER_GID SANDBOX_UID SANDBOX_GID [ro]
 * Why it exists: the agent runs as an unprivileged uid (its sandbox's own host uid), but a host workspace — a
 * project directory a coding agent works on, a task a trainer seeded — belongs to its owner.
 * Chowning the user's files would change the host; leaving them would make them read-only to
 * the agent. An idmapped mount shows OWNER's files as SANDBOX's (and files the agent creates land
 * on disk as OWNER's), without touching a single inode. This creates that mount of SRC at DST
 * (DST inside the session's private directory; bwrap binds it as /workspace, and the bind keeps
 * the idmapping).
 * Threat it stops: the sandbox writing files as a host identity other than the workspace owner
 * (only OWNER<->SANDBOX is mapped; every other id shows as the overflow id and stays read-only to
 * the agent), and Corral altering ownership of host files.
 * Every such mount is nosuid and nodev (and read-only with `ro`: a writable root's lower layer):
 * it lies on the host side, in the session directory, where a set-uid file or a device node the
 * image or the agent left there must mean nothing to any host process.
 * Exit 0 on success; 2 usage; 1 with a message on stderr when the kernel or filesystem refuses
 * (the caller then falls back and says so).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mount-api.h"

static int fail(const char *what) {
  fprintf(stderr, "corral-idmap: %s: %s\n", what, strerror(errno));
  return 1;
}

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  close(fd);
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int parse_id(const char *s, unsigned long *out) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *end || end == s || v > 4294967294UL) return -1;
  *out = v;
  return 0;
}

int main(int argc, char **argv) {
  unsigned long ou, og, su, sg;
  int ro = argc == 8 && strcmp(argv[7], "ro") == 0;
  if ((argc != 7 && !ro) || parse_id(argv[3], &ou) || parse_id(argv[4], &og) || parse_id(argv[5], &su) || parse_id(argv[6], &sg)) {
    fprintf(stderr, "usage: corral-idmap SRC DST OWNER_UID OWNER_GID SANDBOX_UID SANDBOX_GID [ro]\n");
    return 2;
  }
  /* A user namespace that only holds the mapping: a child that waits to be killed. In it, the
   * owner's id (inside) is the sandbox's id (outside), which is what the mount applies. */
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) < 0) return fail("pipe");
  pid_t child = fork();
  if (child < 0) return fail("fork");
  if (child == 0) {
    if (unshare(CLONE_NEWUSER) < 0) _exit(1);
    close(pipefd[0]);
    char c = 1;
    if (write(pipefd[1], &c, 1) != 1) _exit(1);
    pause();
    _exit(0);
  }
  close(pipefd[1]);
  char c;
  int rc = 1;
  if (read(pipefd[0], &c, 1) != 1) { fail("user namespace"); goto out; }
  char path[64], map[96];
  snprintf(map, sizeof map, "%lu %lu 1\n", ou, su);
  snprintf(path, sizeof path, "/proc/%d/uid_map", child);
  if (write_file(path, map) < 0) { fail("uid_map"); goto out; }
  snprintf(path, sizeof path, "/proc/%d/setgroups", child);
  if (write_file(path, "deny") < 0) { fail("setgroups"); goto out; }
  snprintf(map, sizeof map, "%lu %lu 1\n", og, sg);
  snprintf(path, sizeof path, "/proc/%d/gid_map", child);
  if (write_file(path, map) < 0) { fail("gid_map"); goto out; }
  snprintf(path, sizeof path, "/proc/%d/ns/user", child);
  int userns = open(path, O_RDONLY | O_CLOEXEC);
  if (userns < 0) { fail("open userns"); goto out; }
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, argv[1], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0) { fail("open_tree"); close(userns); goto out; }
  struct mount_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (ro ? MOUNT_ATTR_RDONLY : 0);
  attr.userns_fd = (unsigned long long)userns;
  if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) { fail("mount_setattr (idmapped mounts unsupported here?)"); goto close_all; }
  if (syscall(SYS_move_mount, tree, "", AT_FDCWD, argv[2], MOVE_MOUNT_F_EMPTY_PATH) < 0) { fail("move_mount"); goto close_all; }
  rc = 0;
close_all:
  close(tree);
  close(userns);
out:
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  return rc;
}
