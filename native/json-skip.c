/*
 * json-skip: finds where a JSON value the scanner of inputs/json-scan.ts captures (an OTLP span or
 * resource) ends, in C. Why it exists: a single OTLP document of 10 M tool calls is 8.5 GB, and
 * walking each byte of each span in JavaScript to track strings and nesting was a third of
 * reading it. The walk here is the same as the JavaScript one, byte for byte: strings end at an
 * unescaped quote (a backslash skips the next byte, also across a chunk edge), brackets nest
 * without checking that their kinds match, newlines outside strings are counted.
 *
 * skipValue(buf, from, to, state, room): state is an Int32Array [depth, inString, escapeNext,
 * newlines] carried between chunks (newlines is set to the count of this call). Returns the
 * offset of the bracket that closes the value (depth 0), or `to` when the chunk ended first, or
 * -(offset + 1) of an opening bracket that would nest deeper than room more levels.
 * Threat stopped: none new; it reads only inside the buffer it is given.
 */
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#include "napi-util.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Where the next quote or backslash is in b[i, n), or n. */
static inline int64_t next_special(const uint8_t *b, int64_t i, int64_t n) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
  while (i + 16 <= n) {
    __m128i v = _mm_loadu_si128((const __m128i *)(b + i));
    int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
    if (m) return i + __builtin_ctz((unsigned)m);
    i += 16;
  }
#endif
  while (i < n && b[i] != '"' && b[i] != '\\') i++;
  return i;
}

static napi_value skip_value(napi_env env, napi_callback_info info) {
  NAPI_ARGS(5);
  uint8_t *b;
  int32_t *st;
  size_t bn, sn;
  int64_t from, to;
  int32_t room;
  if (argc < 5 || napi_typed(env, argv[0], napi_uint8_array, (void **)&b, &bn) || napi_get_value_int64(env, argv[1], &from) != napi_ok
      || napi_get_value_int64(env, argv[2], &to) != napi_ok || napi_typed(env, argv[3], napi_int32_array, (void **)&st, &sn) || sn != 4
      || napi_get_value_int32(env, argv[4], &room) != napi_ok) return napi_fail(env, "skipValue(buf, from, to, state, room)");
  if (from < 0 || to < from || (uint64_t)to > bn) return napi_fail(env, "skipValue: range outside the buffer");
  int32_t depth = st[0], nl = 0;
  int in_str = st[1], esc = st[2];
  int64_t i = from, ret = to;
  while (i < to) {
    if (in_str) {
      if (esc) { esc = 0; i++; continue; }
      i = next_special(b, i, to);
      if (i >= to) break;
      if (b[i] == '\\') { if (i + 1 >= to) { esc = 1; i = to; break; } i += 2; continue; }
      in_str = 0; i++;
      continue;
    }
    uint8_t c = b[i];
    if (c == '"') in_str = 1;
    else if (c == '{' || c == '[') {
      if (depth >= room) { ret = -(i + 1); break; }
      depth++;
    } else if (c == '}' || c == ']') {
      if (depth == 0) { ret = i; break; }
      depth--;
    } else if (c == '\n') nl++;
    i++;
  }
  st[0] = depth; st[1] = in_str; st[2] = esc; st[3] = nl;
  napi_value out;
  napi_create_int64(env, ret, &out);
  return out;
}

void json_skip_register(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "skipValue", NAPI_AUTO_LENGTH, skip_value, NULL, &fn);
  napi_set_named_property(env, exports, "skipValue", fn);
}
