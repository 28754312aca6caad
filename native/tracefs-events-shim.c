/*
 * tracefs-events-shim.so: preloaded (LD_PRELOAD) into the sensor's bpftrace only.
 * Why it exists: bpftrace 0.17 opens and reads tracefs's `available_events` (2 300 lines, generated
 * by the kernel on every read) once per probe per compiler pass: 860 times for Corral's sensor
 * program, about 0.8 s of its start. When bpftrace opens exactly the path in
 * CORRAL_EVENTS_PATH, this answers with a fresh in-memory file (memfd) holding CORRAL_EVENTS_LIST
 * — the lines of the real list naming the program's tracepoints, which Corral read from the real
 * file — so bpftrace finds exactly the tracepoints it would have found, from memory. Every other
 * path, and every other process, is untouched: no mount, no file on disk, nothing to clean up.
 * Not a security boundary: only Corral (root) sets these variables, for the bpftrace it starts.
 * If the memfd cannot be made, the real file is opened (slower, same answer).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <unistd.h>

/* A new memfd holding the list, at offset 0; -1 when this path is not the one to answer. */
static int answer(const char *path, int cloexec) {
  const char *want = getenv("CORRAL_EVENTS_PATH");
  const char *list = getenv("CORRAL_EVENTS_LIST");
  if (!path || !want || !list || strcmp(path, want) != 0) return -1;
  int saved = errno;
  int fd = memfd_create("available_events", cloexec ? MFD_CLOEXEC : 0);
  if (fd < 0) { errno = saved; return -1; }
  size_t len = strlen(list), done = 0;
  while (done < len) {
    ssize_t n = write(fd, list + done, len - done);
    if (n <= 0) { close(fd); errno = saved; return -1; }
    done += (size_t)n;
  }
  lseek(fd, 0, SEEK_SET);
  errno = saved;
  return fd;
}

static int mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, int) : 0;
}

/* The list for a read-only open of the answered path, else -1 (the caller opens the real file). */
static int answer_open(const char *path, int flags) {
  return (flags & O_ACCMODE) == O_RDONLY && path[0] == '/' ? answer(path, flags & O_CLOEXEC) : -1;
}

/* open, open64, openat and openat64 differ only in the libc function they fall through to. */
#define OPEN_WRAPPER(name)                                                            \
  int name(const char *path, int flags, ...) {                                        \
    static int (*real)(const char *, int, ...);                                       \
    va_list ap; va_start(ap, flags); int mode = mode_arg(flags, ap); va_end(ap);      \
    int fd = answer_open(path, flags);                                                \
    if (fd >= 0) return fd;                                                           \
    if (!real) real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, #name);       \
    return real(path, flags, mode);                                                   \
  }
#define OPENAT_WRAPPER(name)                                                          \
  int name(int dirfd, const char *path, int flags, ...) {                             \
    static int (*real)(int, const char *, int, ...);                                  \
    va_list ap; va_start(ap, flags); int mode = mode_arg(flags, ap); va_end(ap);      \
    int fd = answer_open(path, flags);                                                \
    if (fd >= 0) return fd;                                                           \
    if (!real) real = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, #name);  \
    return real(dirfd, path, flags, mode);                                            \
  }
OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)
OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)

static FILE *fopen_answer(const char *path, const char *mode) {
  if (!mode || mode[0] != 'r' || strchr(mode, '+')) return NULL;
  int fd = answer(path, strchr(mode, 'e') != NULL);
  if (fd < 0) return NULL;
  FILE *f = fdopen(fd, "r");
  if (!f) close(fd);
  return f;
}

FILE *fopen(const char *path, const char *mode) {
  static FILE *(*real)(const char *, const char *);
  FILE *f = fopen_answer(path, mode);
  if (f) return f;
  if (!real) real = (FILE * (*)(const char *, const char *))dlsym(RTLD_NEXT, "fopen");
  return real(path, mode);
}

FILE *fopen64(const char *path, const char *mode) {
  static FILE *(*real)(const char *, const char *);
  FILE *f = fopen_answer(path, mode);
  if (f) return f;
  if (!real) real = (FILE * (*)(const char *, const char *))dlsym(RTLD_NEXT, "fopen64");
  return real(path, mode);
}
