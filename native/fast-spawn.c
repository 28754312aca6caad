/*
 * fast-spawn: starts a tool call's launcher with posix_spawn (glibc: clone with CLONE_VM|CLONE_VFORK)
 * instead of Node's fork. Why: Corral's runtime process holds hundreds of MB, and fork copies its page
 * tables for every tool call (on this VM: 7 ms from a bare Node, 25 ms at 365 MB resident), where
 * posix_spawn costs about 2 ms whatever the parent's size. What the child gets is what libuv's child
 * gets: the three given descriptors as 0, 1 and 2 (-1: /dev/null; any of the caller's own, its 0-2 included, in
 * any order), no other descriptor (closefrom 3),
 * every signal's default action and an empty signal mask (Node ignores SIGPIPE: a shell started with it
 * ignored would behave differently), the given environment. Its exit status comes back through a
 * thread that waits for that one pid (libuv reaps only the pids it spawned itself).
 * A given descriptor that is a pipe is reopened through /proc/self/fd for the child, blocking: Node puts its own
 * stdout and stderr pipes in non-blocking mode (also after the spawn, when it first writes), the mode belongs to the
 * open file description, and a child sharing it got EAGAIN — `corral run -- seq 1 2000000 | tail -1` lost its
 * output (a review, session 40).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "napi-util.h"

/* A string argument copied into malloc'd memory; NULL when it is not a string. */
static char *dup_string(napi_env env, napi_value v) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  return s;
}

/* An array of strings as a NULL-terminated vector; NULL when it is not one. */
static char **dup_vector(napi_env env, napi_value arr) {
  uint32_t n;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
  char **v = calloc((size_t)n + 1, sizeof(char *));
  if (!v) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    napi_get_element(env, arr, i, &e);
    if (!(v[i] = dup_string(env, e))) {
      for (uint32_t j = 0; j < i; j++) free(v[j]);
      free(v);
      return NULL;
    }
  }
  return v;
}

static void free_vector(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

static napi_value throw_errno(napi_env env, int err, const char *what) {
  napi_value msg, code, e;
  char text[256];
  snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  const char *name = strerrorname_np(err); /* (glibc 2.32+: "ENOENT", "E2BIG", …) */
  if (!name) name = "EIO";
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_error(env, code, msg, &e);
  napi_throw(env, e);
  return NULL;
}

/* pipe(): [readFd, writeFd], both close-on-exec (the child gets its end by dup2 only). */
static napi_value make_pipe(napi_env env, napi_callback_info info) {
  (void)info;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return throw_errno(env, errno, "pipe2");
  napi_value arr, a, b;
  napi_create_array_with_length(env, 2, &arr);
  napi_create_int32(env, fds[0], &a);
  napi_create_int32(env, fds[1], &b);
  napi_set_element(env, arr, 0, a);
  napi_set_element(env, arr, 1, b);
  return arr;
}

struct waiter { pid_t pid; napi_threadsafe_function tsfn; };

/* On the main thread: the JS callback with the raw wait status. */
static void call_js(napi_env env, napi_value cb, void *ctx, void *data) {
  (void)ctx;
  if (!env) return;
  napi_value status, undef;
  napi_create_int32(env, (int32_t)(intptr_t)data, &status);
  napi_get_undefined(env, &undef);
  napi_call_function(env, undef, cb, 1, &status, NULL);
}

static void *wait_child(void *arg) {
  struct waiter *w = arg;
  int st = 0;
  while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR) {}
  napi_call_threadsafe_function(w->tsfn, (void *)(intptr_t)st, napi_tsfn_blocking);
  napi_release_threadsafe_function(w->tsfn, napi_tsfn_release);
  free(w);
  return NULL;
}

/*
 * A pipe fd opened again as a new open file description, blocking and close-on-exec, or -1 (not a pipe, or the
 * reopen failed: the child then gets fd as it is). O_NONBLOCK on the open keeps a write end whose reader is gone
 * from blocking here (ENXIO instead); it is cleared on the new description only, so this process's own use of fd
 * — whatever mode it sets later — is untouched.
 */
static int blocking_pipe_copy(int fd) {
  struct stat st;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)) return -1;
  char path[32];
  snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int copy = open(path, (fl & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC);
  if (copy < 0) return -1;
  if (fcntl(copy, F_SETFL, fl & ~O_NONBLOCK) != 0) { close(copy); return -1; }
  return copy;
}

/* spawn(file, argv[], env[], [fd0, fd1, fd2], onExit(status)): the child's pid. Throws with code (errno name). */
static napi_value spawn_child(napi_env env, napi_callback_info info) {
  NAPI_ARGS(5);
  if (argc < 5) return napi_fail(env, "spawn(file, argv, env, fds, onExit)");
  napi_valuetype t;
  napi_typeof(env, argv[4], &t);
  if (t != napi_function) return napi_fail(env, "spawn: onExit must be a function");
  int fds[3];
  for (uint32_t i = 0; i < 3; i++) {
    napi_value e;
    if (napi_get_element(env, argv[3], i, &e) != napi_ok || napi_get_value_int32(env, e, &fds[i]) != napi_ok) return napi_fail(env, "spawn: fds must be three integers");
  }
  char *file = dup_string(env, argv[0]);
  char **av = dup_vector(env, argv[1]);
  char **ev = dup_vector(env, argv[2]);
  if (!file || !av || !ev) { free(file); free_vector(av); free_vector(ev); return napi_fail(env, "spawn: file, argv and env must be strings"); }

  /* (the dup2s run in order in the child: a source among 0-2 that is not its own target — the runtime's stdout
     given as the child's stderr, say — could be overwritten by an earlier dup2, so it is first copied above 2 in
     the parent, close-on-exec, and closed after the spawn; a source that is its own target stays, and glibc's
     dup2 of a descriptor onto itself clears its close-on-exec flag, as POSIX asks) */
  int copies[3] = { -1, -1, -1 };
  for (int i = 0; i < 3; i++) {
    if (fds[i] >= 0 && (copies[i] = blocking_pipe_copy(fds[i])) >= 0) { fds[i] = copies[i]; continue; }
    if (fds[i] >= 0 && fds[i] < 3 && fds[i] != i) {
      if ((copies[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) < 0) {
        int e = errno;
        for (int j = 0; j < i; j++) if (copies[j] >= 0) close(copies[j]);
        free(file); free_vector(av); free_vector(ev);
        return throw_errno(env, e, "spawn: descriptor");
      }
      fds[i] = copies[i];
    }
  }
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&at);
  for (int i = 0; i < 3; i++) {
    if (fds[i] >= 0) posix_spawn_file_actions_adddup2(&fa, fds[i], i);
    else posix_spawn_file_actions_addopen(&fa, i, "/dev/null", O_RDWR, 0);
  }
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  sigset_t all, none;
  sigfillset(&all);
  /* (glibc leaves its two internal signals, 32 and 33, out of a full set, and its posix_spawn then gives them
     SIG_IGN in the child, which exec keeps: they are added by hand so the program starts with none ignored) */
  for (int sig = 32; sig <= 33; sig++) all.__val[(sig - 1) / (8 * sizeof(unsigned long))] |= 1UL << ((sig - 1) % (8 * sizeof(unsigned long)));
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&at, &all);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_USEVFORK);

  napi_threadsafe_function tsfn;
  napi_value name;
  napi_create_string_utf8(env, "corral-fast-spawn", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[4], NULL, name, 0, 1, NULL, NULL, NULL, call_js, &tsfn) != napi_ok) {
    posix_spawn_file_actions_destroy(&fa); posix_spawnattr_destroy(&at);
    for (int i = 0; i < 3; i++) if (copies[i] >= 0) close(copies[i]);
    free(file); free_vector(av); free_vector(ev);
    return napi_fail(env, "spawn: cannot make the exit callback");
  }
  pid_t pid;
  int err = posix_spawn(&pid, file, &fa, &at, av, ev);
  for (int i = 0; i < 3; i++) if (copies[i] >= 0) close(copies[i]);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  free(file);
  free_vector(av);
  free_vector(ev);
  if (err != 0) {
    napi_release_threadsafe_function(tsfn, napi_tsfn_abort);
    return throw_errno(env, err, "posix_spawn");
  }
  struct waiter *w = malloc(sizeof *w);
  pthread_t th;
  pthread_attr_t ta;
  pthread_attr_init(&ta);
  pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&ta, 64 * 1024);
  if (!w) { pthread_attr_destroy(&ta); napi_release_threadsafe_function(tsfn, napi_tsfn_abort); return throw_errno(env, ENOMEM, "spawn: waiter"); }
  w->pid = pid;
  w->tsfn = tsfn;
  err = pthread_create(&th, &ta, wait_child, w);
  pthread_attr_destroy(&ta);
  if (err != 0) {
    /* (no thread to wait for it: the child is killed and reaped now, never left running unwatched or a zombie) */
    free(w);
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    napi_release_threadsafe_function(tsfn, napi_tsfn_abort);
    return throw_errno(env, err, "spawn: waiter thread");
  }
  napi_value out;
  napi_create_int32(env, pid, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value f;
  napi_create_function(env, "pipe", NAPI_AUTO_LENGTH, make_pipe, NULL, &f);
  napi_set_named_property(env, exports, "pipe", f);
  napi_create_function(env, "spawn", NAPI_AUTO_LENGTH, spawn_child, NULL, &f);
  napi_set_named_property(env, exports, "spawn", f);
  return exports;
}
