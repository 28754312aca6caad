/*
 * corral-bind-exec SRC TARGET -- PROGRAM [ARGS...]
 * Why it exists: bpftrace 0.17 opens and reads tracefs's `available_events` (2 300 lines, generated
 * by the kernel on every read) once per probe per compiler pass: 860 times for Corral's sensor
 * program, about 0.8 s of a 2 s start — most of what a `corral run` without a daemon waits for.
 * This runs PROGRAM in a mount namespace of its own in which the regular file SRC (the lines of
 * the tracepoints the program names, written by Corral from the real list) is bound over TARGET,
 * then removes SRC (the bind keeps it). bpftrace reads the same answer for every probe it uses,
 * from the page cache; the host, and every other process, still sees the real file.
 * Nothing crosses back: the namespace's mounts are slaves of the host's (the bind never
 * propagates out, the host's later mounts still come in), and it ends with PROGRAM.
 * Not a security boundary: only Corral (root) runs it, with paths it chose.
 * When the kernel refuses the namespace or the bind, one line on stderr says so and PROGRAM runs
 * anyway, reading the real file (slower, same result). Exit 2 on bad use, 127 when PROGRAM
 * cannot be executed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 5 || strcmp(argv[3], "--") != 0 || argv[4][0] != '/') {
    fprintf(stderr, "usage: corral-bind-exec SRC TARGET -- /ABSOLUTE/PROGRAM [ARGS...]\n");
    return 2;
  }
  const char *src = argv[1], *target = argv[2];
  if (unshare(CLONE_NEWNS) != 0) {
    fprintf(stderr, "corral-bind-exec: no mount namespace (%s); %s is read as it is\n", strerror(errno), target);
  } else if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) != 0) {
    fprintf(stderr, "corral-bind-exec: cannot make mounts private (%s); %s is read as it is\n", strerror(errno), target);
  } else if (mount(src, target, NULL, MS_BIND, NULL) != 0) {
    fprintf(stderr, "corral-bind-exec: cannot bind %s over %s (%s); it is read as it is\n", src, target, strerror(errno));
  }
  unlink(src);
  execv(argv[4], argv + 4);
  fprintf(stderr, "corral-bind-exec: cannot run %s: %s\n", argv[4], strerror(errno));
  return 127;
}
