/*
 * peer-fds: borrow the stdio of the process at the other end of a Unix socket.
 * Why it exists: `corral serve` keeps a warm runtime (eBPF sensor, netns pool, gateway) so that
 * `corral run` costs milliseconds instead of bpftrace's ~2 s start-up. The client's stdin,
 * stdout and stderr (a terminal, pipes, files or sockets) must reach the sandboxed command
 * unchanged, so the daemon duplicates those very descriptors from the client with
 * pidfd_getfd(2), using a pidfd the kernel gives for the socket's peer (SO_PEERPIDFD): the
 * identity comes from the kernel, never from the request, and a recycled pid cannot be
 * confused with the client.
 * Threat it stops: a request naming another process's pid to steal its descriptors (the pid
 * is never taken from the request), and pid reuse races (the pidfd pins the process).
 *
 * borrowPeerFds(sockFd, [targetFd...]) -> { pid, uid, gid, fds: [fd or -1 per target] }
 *   A target the peer does not have open gives -1 (the caller treats it as closed stdio).
 *   Returned fds are O_CLOEXEC; the caller owns and closes them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "napi-util.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value borrow_peer_fds(napi_env env, napi_callback_info info) {
  NAPI_ARGS(2);
  int32_t sock = -1;
  bool is_array = false;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &sock) != napi_ok || napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array) {
    napi_throw_type_error(env, NULL, "borrowPeerFds(sockFd, targetFds[])");
    return NULL;
  }
  uint32_t n = 0;
  napi_get_array_length(env, argv[1], &n);
  if (n > 16) { napi_throw_range_error(env, NULL, "borrowPeerFds: at most 16 descriptors"); return NULL; }
  struct ucred cred;
  socklen_t clen = sizeof cred;
  if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0) return throw_errno(env, "SO_PEERCRED", errno);
  int pidfd = -1;
  socklen_t plen = sizeof pidfd;
  if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &plen) != 0) return throw_errno(env, "SO_PEERPIDFD (Linux 6.5 or later)", errno);
  napi_value fds;
  napi_create_array_with_length(env, n, &fds);
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    int32_t target = -1;
    napi_get_element(env, argv[1], i, &v);
    if (napi_get_value_int32(env, v, &target) != napi_ok || target < 0) {
      close(pidfd);
      napi_throw_type_error(env, NULL, "borrowPeerFds: target fds must be non-negative integers");
      return NULL;
    }
    int fd = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);
    if (fd < 0 && errno != EBADF) {
      int err = errno;
      close(pidfd);
      return throw_errno(env, "pidfd_getfd", err);
    }
    napi_value out;
    napi_create_int32(env, fd < 0 ? -1 : fd, &out);
    napi_set_element(env, fds, i, out);
  }
  close(pidfd);
  napi_value obj, vpid, vuid, vgid;
  napi_create_object(env, &obj);
  napi_create_int32(env, cred.pid, &vpid);
  napi_create_uint32(env, cred.uid, &vuid);
  napi_create_uint32(env, cred.gid, &vgid);
  napi_set_named_property(env, obj, "pid", vpid);
  napi_set_named_property(env, obj, "uid", vuid);
  napi_set_named_property(env, obj, "gid", vgid);
  napi_set_named_property(env, obj, "fds", fds);
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "borrowPeerFds", NAPI_AUTO_LENGTH, borrow_peer_fds, NULL, &fn);
  napi_set_named_property(env, exports, "borrowPeerFds", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
