/*
 * name-ids: numbers the episode names of the trace workers' states for the main thread's merge.
 * Why it exists: 10 M tool calls are ~500 k episodes; the workers send their names packed (one
 * string and end offsets per state), and the main thread must find which names several states
 * share (an episode split over two line ranges) and count the distinct ones. A JavaScript Map
 * and Set of half a million sliced strings cost ~0.3 s of the serial tail; here the names are
 * hashed as their UTF-16 code units, so any name (lone surrogates too) compares exactly as
 * JavaScript compares strings.
 * Threat stopped: none beyond speed; offsets are checked against each string, so a malformed
 * part is refused with a TypeError instead of being read out of bounds.
 *
 * nameIds(parts: { names: string, nameEnds: Int32Array }[]) -> { ids: Int32Array[], count }
 *   ids[p][i]: the number of name i of part p, numbered 0, 1, … by first occurrence (parts in
 *   order); count: how many distinct names.
 */
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "napi-util.h"
#include "intern.h"

static napi_value name_ids(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool is_array = false;
  uint32_t np = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[0], &np) != napi_ok)
    return napi_fail(env, "nameIds(parts: { names, nameEnds }[])");
  Intern t;
  memset(&t, 0, sizeof t);
  napi_value ids, out;
  napi_create_array_with_length(env, np, &ids);
  char16_t *units = NULL;
  size_t cap = 0;
  const char *err = NULL;
  /* The table sized once for every name (distinct or not): no rehash, no array moved while numbering. */
  size_t total = 0, chars = 0;
  for (uint32_t p = 0; p < np; p++) {
    napi_value part, ends, names;
    void *d;
    size_t n = 0, len = 0;
    if (napi_get_element(env, argv[0], p, &part) == napi_ok && napi_get_named_property(env, part, "nameEnds", &ends) == napi_ok
        && !napi_typed(env, ends, napi_int32_array, &d, &n)) total += n;
    if (napi_get_element(env, argv[0], p, &part) == napi_ok && napi_get_named_property(env, part, "names", &names) == napi_ok
        && napi_get_value_string_utf16(env, names, NULL, 0, &len) == napi_ok) chars += len;
  }
  if (intern_reserve(&t, total, chars * sizeof(char16_t))) err = "nameIds: out of memory";
  for (uint32_t p = 0; p < np && !err; p++) {
    napi_value part, names, ends;
    int32_t *end;
    size_t n, len;
    if (napi_get_element(env, argv[0], p, &part) != napi_ok || napi_get_named_property(env, part, "names", &names) != napi_ok
        || napi_get_named_property(env, part, "nameEnds", &ends) != napi_ok || napi_typed(env, ends, napi_int32_array, (void **)&end, &n)
        || napi_get_value_string_utf16(env, names, NULL, 0, &len) != napi_ok) { err = "nameIds: a part is not { names: string, nameEnds: Int32Array }"; break; }
    if (grow((void **)&units, &cap, len + 1, sizeof *units) || napi_get_value_string_utf16(env, names, units, len + 1, &len) != napi_ok) { err = "nameIds: out of memory"; break; }
    void *data;
    napi_value ab, arr;
    if (napi_create_arraybuffer(env, n * sizeof(int32_t), &data, &ab) != napi_ok || napi_create_typedarray(env, napi_int32_array, n, ab, 0, &arr) != napi_ok) { err = "nameIds: out of memory"; break; }
    int32_t *id = data;
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
      if (end[i] < 0 || (size_t)end[i] < from || (size_t)end[i] > len) { err = "nameIds: nameEnds out of order or past the names"; break; }
      const uint8_t *s = (const uint8_t *)(units + from);
      size_t bytes = ((size_t)end[i] - from) * sizeof *units;
      uint64_t h = hash_bytes(s, bytes);
      int32_t k = intern_find(&t, s, bytes, h);
      if (k < 0) k = intern_add(&t, s, bytes, h);
      if (k < 0) { err = "nameIds: out of memory"; break; }
      id[i] = k;
      from = (size_t)end[i];
    }
    napi_set_element(env, ids, p, arr);
  }
  free(units);
  uint32_t count = t.n;
  intern_free(&t);
  if (err) return napi_fail(env, err);
  napi_value c;
  napi_create_object(env, &out);
  napi_create_uint32(env, count, &c);
  napi_set_named_property(env, out, "ids", ids);
  napi_set_named_property(env, out, "count", c);
  return out;
}

void name_ids_register(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "nameIds", NAPI_AUTO_LENGTH, name_ids, NULL, &fn);
  napi_set_named_property(env, exports, "nameIds", fn);
}
