/*
 * original-dst: getsockopt(SO_ORIGINAL_DST) for Node sockets.
 * Why it exists: the gateway receives sandbox TCP through an nft `redirect`, so the
 * accepted socket's local address is the gateway's; the destination the agent asked
 * for is only in conntrack. Node has no getsockopt, and reading /proc/net/nf_conntrack
 * costs milliseconds per connection. One syscall here costs microseconds.
 * It also returns the connection's original *source* port. Why: the redirect's reply tuple
 * (gateway address:proxy port <-> sandbox address:source port) is the same whatever the agent
 * connected to, so when a sandbox reuses a source port that conntrack still holds for an
 * earlier connection (TIME_WAIT: 2 min; any process can bind a port of its choosing), the
 * kernel resolves the clash by giving the new connection another source port on the gateway's
 * side. The kernel sensor recorded the port the agent's socket has; the 4-tuple join then
 * missed, and attribution fell back to connect() records by destination (a guess when two
 * tool calls connect to one place). Threat: a background process evading attribution to its
 * tool call by binding a source port. The original tuple comes from conntrack itself
 * (ctnetlink: one GET by the reply tuple, about 10 microseconds here). udpOriginal() asks the
 * same for a DNS datagram redirected to the gateway's resolver (source port and the resolver
 * address the agent sent to).
 *
 * spliceOneWay(fromFd, toFd, cb): the gateway's bulk path. A detached thread moves bytes
 * fromFd -> toFd with splice(2) (kernel-only, no copies through JavaScript) until EOF, shuts
 * down toFd's write side, and calls cb(err, bytes) on the JS thread. The thread works on
 * dup()s of both fds, so a socket Node closes can never be confused with a reused fd
 * number; spliceCancel(id) shuts the dups down to stop a relay early; spliceCancel(id, true)
 * aborts it instead: both sockets get SO_LINGER 0 and no FIN is sent, so once Node has closed
 * its own fds the last close resets both peers (a cut flow's client reads ECONNRESET, never a
 * clean end it could take for a finished download); spliceMoved(id) reads its
 * running byte count (interim flow records of long-lived connections). The caller must not
 * read fromFd meanwhile. No new threat surface: it relays
 * between two sockets the gateway has already decided to allow and never parses the data.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <node_api.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <stdint.h>
#include <fcntl.h>
#include "mining-markers.h"
#include "sync-markers.h"
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include "napi-util.h"

/* Appends a netlink attribute (type, payload) at buf+*off; returns its start (for nesting) or NULL when full. */
static struct nlattr *put_attr(char *buf, size_t cap, size_t *off, uint16_t type, const void *data, size_t len) {
  size_t total = NLA_ALIGN(NLA_HDRLEN + len);
  if (*off + total > cap) return NULL;
  struct nlattr *a = (struct nlattr *)(buf + *off);
  a->nla_type = type;
  a->nla_len = (uint16_t)(NLA_HDRLEN + len);
  if (len) memcpy((char *)a + NLA_HDRLEN, data, len);
  memset((char *)a + NLA_HDRLEN + len, 0, total - NLA_HDRLEN - len);
  *off += total;
  return a;
}

/* The first attribute of `type` among those in [p, p+len); NULL when absent or malformed. */
static const struct nlattr *find_attr(const char *p, size_t len, uint16_t type) {
  while (len >= NLA_HDRLEN) {
    const struct nlattr *a = (const struct nlattr *)p;
    if (a->nla_len < NLA_HDRLEN || a->nla_len > len) return NULL;
    if ((a->nla_type & NLA_TYPE_MASK) == type) return a;
    size_t step = NLA_ALIGN(a->nla_len);
    if (step >= len) return NULL;
    p += step;
    len -= step;
  }
  return NULL;
}

/*
 * The original tuple (the agent's source port, and the address and port it sent to) of the flow of
 * `proto` (IPPROTO_TCP or IPPROTO_UDP) whose reply tuple is local -> peer (local = the gateway's address
 * and port, peer = the sandbox's address and the port it is seen with). Returns 0 with *orig_src (port
 * only) and *orig_dst set; -1 when conntrack does not answer (module missing, entry gone), with *err its
 * errno (the kernel's answer, or the socket's).
 */
static int conntrack_query(uint8_t proto, const struct sockaddr_in *local, const struct sockaddr_in *peer,
                           struct sockaddr_in *orig_src, struct sockaddr_in *orig_dst, int *err) {
  char req[256], resp[4096];
  size_t off = NLMSG_HDRLEN;
  memset(req, 0, sizeof req);
  struct nlmsghdr *nh = (struct nlmsghdr *)req;
  struct nfgenmsg *nf = (struct nfgenmsg *)(req + off);
  nf->nfgen_family = AF_INET;
  nf->version = NFNETLINK_V0;
  off += NLMSG_ALIGN(sizeof *nf);
  struct nlattr *tuple = put_attr(req, sizeof req, &off, CTA_TUPLE_REPLY | NLA_F_NESTED, NULL, 0);
  struct nlattr *ip = put_attr(req, sizeof req, &off, CTA_TUPLE_IP | NLA_F_NESTED, NULL, 0);
  put_attr(req, sizeof req, &off, CTA_IP_V4_SRC, &local->sin_addr.s_addr, 4);
  put_attr(req, sizeof req, &off, CTA_IP_V4_DST, &peer->sin_addr.s_addr, 4);
  ip->nla_len = (uint16_t)((req + off) - (char *)ip);
  struct nlattr *pro = put_attr(req, sizeof req, &off, CTA_TUPLE_PROTO | NLA_F_NESTED, NULL, 0);
  put_attr(req, sizeof req, &off, CTA_PROTO_NUM, &proto, 1);
  put_attr(req, sizeof req, &off, CTA_PROTO_SRC_PORT, &local->sin_port, 2);
  put_attr(req, sizeof req, &off, CTA_PROTO_DST_PORT, &peer->sin_port, 2);
  pro->nla_len = (uint16_t)((req + off) - (char *)pro);
  tuple->nla_len = (uint16_t)((req + off) - (char *)tuple);
  nh->nlmsg_len = (uint32_t)off;
  nh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
  nh->nlmsg_flags = NLM_F_REQUEST;
  nh->nlmsg_seq = 1;

  int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (s < 0) { *err = errno; return -1; }
  struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
  struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  int rc = -1;
  *err = EIO;
  if (sendto(s, req, off, 0, (struct sockaddr *)&kernel, sizeof kernel) != (ssize_t)off) *err = errno;
  else {
    ssize_t n = recv(s, resp, sizeof resp, 0);
    const struct nlmsghdr *r = (const struct nlmsghdr *)resp;
    if (n < 0) *err = errno;
    else if (n >= (ssize_t)(NLMSG_HDRLEN + sizeof(struct nlmsgerr)) && r->nlmsg_type == NLMSG_ERROR) *err = -((const struct nlmsgerr *)NLMSG_DATA(r))->error;
    else if (n >= (ssize_t)NLMSG_HDRLEN && NLMSG_OK(r, (size_t)n) && r->nlmsg_type == ((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW)) {
      size_t hdr = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
      if (r->nlmsg_len >= hdr) {
        const struct nlattr *orig = find_attr((const char *)r + hdr, r->nlmsg_len - hdr, CTA_TUPLE_ORIG);
        const char *ob = orig ? (const char *)orig + NLA_HDRLEN : NULL;
        size_t ol = orig ? orig->nla_len - NLA_HDRLEN : 0;
        const struct nlattr *ips = ob ? find_attr(ob, ol, CTA_TUPLE_IP) : NULL;
        const struct nlattr *pr = ob ? find_attr(ob, ol, CTA_TUPLE_PROTO) : NULL;
        const struct nlattr *da = ips ? find_attr((const char *)ips + NLA_HDRLEN, ips->nla_len - NLA_HDRLEN, CTA_IP_V4_DST) : NULL;
        const struct nlattr *sp = pr ? find_attr((const char *)pr + NLA_HDRLEN, pr->nla_len - NLA_HDRLEN, CTA_PROTO_SRC_PORT) : NULL;
        const struct nlattr *dp = pr ? find_attr((const char *)pr + NLA_HDRLEN, pr->nla_len - NLA_HDRLEN, CTA_PROTO_DST_PORT) : NULL;
        if (sp && dp && da && sp->nla_len >= NLA_HDRLEN + 2 && dp->nla_len >= NLA_HDRLEN + 2 && da->nla_len >= NLA_HDRLEN + 4) {
          memset(orig_src, 0, sizeof *orig_src);
          memset(orig_dst, 0, sizeof *orig_dst);
          orig_src->sin_family = orig_dst->sin_family = AF_INET;
          memcpy(&orig_src->sin_port, (const char *)sp + NLA_HDRLEN, 2);
          memcpy(&orig_dst->sin_port, (const char *)dp + NLA_HDRLEN, 2);
          memcpy(&orig_dst->sin_addr.s_addr, (const char *)da + NLA_HDRLEN, 4);
          rc = 0;
          *err = 0;
        }
      }
    }
  }
  close(s);
  return rc;
}

/* {address, port, sourcePort} of an IPv4 original tuple. */
static napi_value tuple_object(napi_env env, const struct sockaddr_in *dst, int source_port) {
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &dst->sin_addr, ip, sizeof ip);
  napi_value obj, vip, vport;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, ip, NAPI_AUTO_LENGTH, &vip);
  napi_create_int32(env, ntohs(dst->sin_port), &vport);
  napi_set_named_property(env, obj, "address", vip);
  napi_set_named_property(env, obj, "port", vport);
  if (source_port > 0) {
    napi_value vs;
    napi_create_int32(env, source_port, &vs);
    napi_set_named_property(env, obj, "sourcePort", vs);
  }
  return obj;
}

/* conntrackProbe(): the errno of a GET for a tuple no connection has ("ENOENT": ctnetlink answers; else why not). */
static napi_value conntrack_probe(napi_env env, napi_callback_info info) {
  (void)info;
  struct sockaddr_in a = { .sin_family = AF_INET }, b = { .sin_family = AF_INET };
  a.sin_addr.s_addr = htonl(0x7f0000fe); a.sin_port = htons(1);
  b.sin_addr.s_addr = htonl(0x7f0000fd); b.sin_port = htons(1);
  struct sockaddr_in os, od;
  int err = 0;
  conntrack_query(IPPROTO_TCP, &a, &b, &os, &od, &err);
  napi_value out;
  const char *name = err ? strerrorname_np(err) : "OK";
  napi_create_string_utf8(env, name ? name : "EIO", NAPI_AUTO_LENGTH, &out);
  return out;
}

static napi_value original_dst(napi_env env, napi_callback_info info) {
  NAPI_ARGS(1);
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "originalDst(fd): fd must be an integer");
    return NULL;
  }
  struct sockaddr_in addr;
  socklen_t len = sizeof addr;
  memset(&addr, 0, sizeof addr);
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &addr, &len) != 0) {
    napi_value nul;
    napi_get_null(env, &nul);
    return nul;
  }
  /* (the source port the agent's socket has: conntrack's original tuple; left out when it cannot be read) */
  int sport = -1;
  struct sockaddr_in local, peer, os, od;
  socklen_t ll = sizeof local, pl = sizeof peer;
  if (getsockname(fd, (struct sockaddr *)&local, &ll) == 0 && getpeername(fd, (struct sockaddr *)&peer, &pl) == 0
      && local.sin_family == AF_INET && peer.sin_family == AF_INET) {
    int err = 0;
    if (conntrack_query(IPPROTO_TCP, &local, &peer, &os, &od, &err) == 0) sport = ntohs(os.sin_port);
  }
  return tuple_object(env, &addr, sport);
}

/* An IPv4 address and port from JavaScript (a dotted quad and 1-65535); 0, or -1 when malformed. */
static int js_endpoint(napi_env env, napi_value vip, napi_value vport, struct sockaddr_in *out) {
  char ip[64]; /* (longer than any address: a string that fills it was cut, and is refused) */
  size_t n = 0;
  int32_t port = 0;
  memset(out, 0, sizeof *out);
  out->sin_family = AF_INET;
  if (napi_get_value_string_utf8(env, vip, ip, sizeof ip, &n) != napi_ok || n >= sizeof ip - 1) return -1;
  if (inet_pton(AF_INET, ip, &out->sin_addr) != 1) return -1;
  if (napi_get_value_int32(env, vport, &port) != napi_ok || port < 1 || port > 65535) return -1;
  out->sin_port = htons((uint16_t)port);
  return 0;
}

/*
 * udpOriginal(localIp, localPort, peerIp, peerPort): the original tuple of the redirected UDP flow a
 * datagram from peer arrived on at local (the gateway's resolver): {address, port, sourcePort}, or null
 * when conntrack does not answer. Why: the same clash as TCP's (the redirect gives every datagram of a
 * sandbox to any resolver the reply tuple gateway:resolver port <-> sandbox:source port, so one source
 * port querying two resolvers gets another port on the gateway's side), and Node's dgram has no
 * IP_ORIGDSTADDR: this also names the resolver the agent actually sent to.
 */
static napi_value udp_original(napi_env env, napi_callback_info info) {
  NAPI_ARGS(4);
  struct sockaddr_in local, peer, os, od;
  if (argc < 4 || js_endpoint(env, argv[0], argv[1], &local) || js_endpoint(env, argv[2], argv[3], &peer)) {
    napi_throw_type_error(env, NULL, "udpOriginal(localIp, localPort, peerIp, peerPort): IPv4 addresses and ports 1-65535");
    return NULL;
  }
  int err = 0;
  if (conntrack_query(IPPROTO_UDP, &local, &peer, &os, &od, &err) != 0) {
    napi_value nul;
    napi_get_null(env, &nul);
    return nul;
  }
  return tuple_object(env, &od, ntohs(os.sin_port));
}

struct relay { int from, to; long long moved; int err; int slot; int abort; napi_threadsafe_function tsfn; };

#define MAX_RELAYS 8192
static struct relay *slots[MAX_RELAYS];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

static void *relay_thread(void *arg) {
  struct relay *r = arg;
  int p[2];
  if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) { r->err = errno; goto done; }
  fcntl(p[0], F_SETPIPE_SZ, 1 << 20);
  long inpipe = 0;
  int eof = 0;
  for (;;) {
    if (__atomic_load_n(&r->abort, __ATOMIC_ACQUIRE)) break; /* no FIN: the closes below reset */
    if (!eof && inpipe < (1 << 20)) {
      ssize_t n = splice(r->from, NULL, p[1], NULL, 1 << 20, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) inpipe += n;
      else if (n == 0) eof = 1;
      else if (errno != EAGAIN) { r->err = errno; break; }
    }
    if (inpipe > 0) {
      ssize_t n = splice(p[0], NULL, r->to, NULL, inpipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) { inpipe -= n; __atomic_fetch_add(&r->moved, n, __ATOMIC_RELAXED); continue; }
      if (n < 0 && errno != EAGAIN) { r->err = errno; break; }
    } else if (eof) {
      /* (an abort's own shutdown of `from` ends here too: that end must not become a FIN) */
      if (!__atomic_load_n(&r->abort, __ATOMIC_ACQUIRE)) shutdown(r->to, SHUT_WR);
      break;
    }
    struct pollfd pf[2] = {{r->from, (short)(!eof && inpipe < (1 << 20) ? POLLIN : 0), 0}, {r->to, (short)(inpipe > 0 ? POLLOUT : 0), 0}};
    if (poll(pf, 2, 1000) < 0 && errno != EINTR) { r->err = errno; break; }
    if ((pf[0].revents | pf[1].revents) & POLLNVAL) { r->err = EBADF; break; }
    if (pf[1].revents & (POLLERR | POLLHUP)) { r->err = EPIPE; break; }
  }
  close(p[0]);
  close(p[1]);
done:
  pthread_mutex_lock(&slots_lock);
  slots[r->slot] = NULL;
  close(r->from);
  close(r->to);
  pthread_mutex_unlock(&slots_lock);
  /* r is freed by relay_done on the JS thread, possibly before call() returns: copy first */
  napi_threadsafe_function tsfn = r->tsfn;
  napi_call_threadsafe_function(tsfn, r, napi_tsfn_blocking);
  napi_release_threadsafe_function(tsfn, napi_tsfn_release);
  return NULL;
}

static void relay_done(napi_env env, napi_value cb, void *ctx, void *data) {
  struct relay *r = data;
  (void)ctx;
  if (env && cb) {
    napi_value args[2], undef;
    napi_get_undefined(env, &undef);
    if (r->err) napi_create_string_utf8(env, strerror(r->err), NAPI_AUTO_LENGTH, &args[0]);
    else napi_get_null(env, &args[0]);
    napi_create_double(env, (double)r->moved, &args[1]);
    napi_call_function(env, undef, cb, 2, args, NULL);
  }
  free(r);
}

/* Undoes a half-started relay (slot, dup'd fds, memory) and throws msg. */
static napi_value fail_relay(napi_env env, struct relay *r, const char *msg) {
  if (r->slot >= 0) { pthread_mutex_lock(&slots_lock); slots[r->slot] = NULL; pthread_mutex_unlock(&slots_lock); }
  if (r->from >= 0) close(r->from);
  if (r->to >= 0) close(r->to);
  free(r);
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value splice_one_way(napi_env env, napi_callback_info info) {
  NAPI_ARGS(3);
  int32_t from = -1, to = -1;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &from) != napi_ok || napi_get_value_int32(env, argv[1], &to) != napi_ok) {
    napi_throw_type_error(env, NULL, "spliceOneWay(fromFd, toFd, cb)");
    return NULL;
  }
  struct relay *r = calloc(1, sizeof *r);
  if (!r) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  r->slot = -1;
  r->from = fcntl(from, F_DUPFD_CLOEXEC, 3);
  r->to = fcntl(to, F_DUPFD_CLOEXEC, 3);
  if (r->from < 0 || r->to < 0) return fail_relay(env, r, "cannot dup relay fds");
  pthread_mutex_lock(&slots_lock);
  /* round-robin, so a stale id from a finished relay is not reused for thousands of relays */
  static int next_slot = 0;
  int slot = -1;
  for (int k = 0; k < MAX_RELAYS; k++) {
    int i = (next_slot + k) % MAX_RELAYS;
    if (!slots[i]) { slot = i; slots[i] = r; next_slot = i + 1; break; }
  }
  pthread_mutex_unlock(&slots_lock);
  if (slot < 0) return fail_relay(env, r, "too many relays");
  r->slot = slot;
  napi_value name;
  napi_create_string_utf8(env, "corral-splice", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL, NULL, NULL, relay_done, &r->tsfn) != napi_ok)
    return fail_relay(env, r, "cannot create completion callback");
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  int rc = pthread_create(&t, &attr, relay_thread, r);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    napi_release_threadsafe_function(r->tsfn, napi_tsfn_abort);
    return fail_relay(env, r, "cannot start relay thread");
  }
  napi_value id;
  napi_create_int32(env, slot, &id);
  return id;
}

static napi_value splice_cancel(napi_env env, napi_callback_info info) {
  NAPI_ARGS(2);
  int32_t id = -1;
  bool reset = false;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &id) != napi_ok || id < 0 || id >= MAX_RELAYS) return NULL;
  if (argc >= 2) napi_get_value_bool(env, argv[1], &reset);
  pthread_mutex_lock(&slots_lock);
  struct relay *r = slots[id];
  if (r && reset) {
    struct linger lg = { 1, 0 };
    setsockopt(r->from, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    setsockopt(r->to, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    __atomic_store_n(&r->abort, 1, __ATOMIC_RELEASE);
    /* wakes the thread's poll (POLLHUP on `from` is reported whatever it asked for); `from`
       is the far host's socket, whose FIN here is followed by the reset of its last close */
    shutdown(r->from, SHUT_RDWR);
  } else if (r && !__atomic_load_n(&r->abort, __ATOMIC_ACQUIRE)) {
    /* (not after an abort: a later plain cancel — Node's 'close' of the reset socket — must not FIN it) */
    shutdown(r->from, SHUT_RDWR);
    shutdown(r->to, SHUT_RDWR);
  }
  pthread_mutex_unlock(&slots_lock);
  return NULL;
}

/* spliceMoved(id): bytes a running relay has moved so far (for interim flow records), or -1. */
static napi_value splice_moved(napi_env env, napi_callback_info info) {
  NAPI_ARGS(1);
  int32_t id = -1;
  double moved = -1;
  if (argc >= 1 && napi_get_value_int32(env, argv[0], &id) == napi_ok && id >= 0 && id < MAX_RELAYS) {
    pthread_mutex_lock(&slots_lock);
    struct relay *r = slots[id];
    if (r) moved = (double)__atomic_load_n(&r->moved, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&slots_lock);
  }
  napi_value out;
  napi_create_double(env, moved, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  static const struct { const char *name; napi_callback fn; } fns[] = {
    { "spliceOneWay", splice_one_way }, { "spliceCancel", splice_cancel }, { "spliceMoved", splice_moved },
    { "conntrackProbe", conntrack_probe }, { "originalDst", original_dst }, { "udpOriginal", udp_original },
    { "miningMarkerAt", napi_mining_marker_at }, { "syncMarkers", napi_sync_markers },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
