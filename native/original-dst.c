/*
 * original-dst: getsockopt(SO_ORIGINAL_DST) for Node sockets.
 * Why it exists: the gateway receives sandbox TCP through an nft `redirect`, so the
 * accepted socket's local address is the gateway's; the destination the agent asked
 * for is only in conntrack. Node has no getsockopt, and reading /proc/net/nf_conntrack
 * costs milliseconds per connection. One syscall here costs microseconds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <node_api.h>
#include <string.h>
#include <sys/socket.h>

static napi_value original_dst(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
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
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
  napi_value obj, vip, vport;
  napi_create_object(env, &obj);
  napi_create_string_utf8(env, ip, NAPI_AUTO_LENGTH, &vip);
  napi_create_int32(env, ntohs(addr.sin_port), &vport);
  napi_set_named_property(env, obj, "address", vip);
  napi_set_named_property(env, obj, "port", vport);
  return obj;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "originalDst", NAPI_AUTO_LENGTH, original_dst, NULL, &fn);
  napi_set_named_property(env, exports, "originalDst", fn);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
