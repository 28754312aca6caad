/*
 * napi-util: what every addon's C files share for their arguments (NAPI_ARGS, the checks of
 * json-lines.c, trace-link.c, flow-digest.c, json-skip.c), so each refuses a wrong argument the
 * same way: a TypeError, never a read through a pointer of the wrong type.
 */
#ifndef CORRAL_NAPI_UTIL_H
#define CORRAL_NAPI_UTIL_H
#include <node_api.h>
#include <stddef.h>

/* The callback's arguments: argc (how many came, at most n) and argv[n]. */
#define NAPI_ARGS(n) \
  size_t argc = (n); \
  napi_value argv[(n)]; \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL)

static inline napi_value napi_fail(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

/* A typed array of exactly type want: its data and element count. Returns 0, or -1. */
static inline int napi_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &t, len, data, &ab, &off) != napi_ok) return -1;
  return t == want ? 0 : -1;
}

#endif
