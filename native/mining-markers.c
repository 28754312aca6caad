/*
 * mining-markers: where the next mining JSON-RPC marker string starts in an upload chunk — the same
 * answer as sniff/mining-jsonrpc.ts's MARKER_RE on the chunk's latin1 view (the leftmost position where
 * any of its strings begins). Why native: every upload byte of every scanned flow goes through this
 * search for the flow's whole life (a pool login after a long benign prefix must still be seen), and the
 * regular expression was the gateway's largest cost on uploads (≈ 0.8 GB/s; a 128 MiB POST spent ≈ 170 ms
 * of the relay's thread in it). Threat stopped: mining over an allowed connection, found wherever it
 * starts, without throttling the uploads of everyone else.
 */
#include <node_api.h>
#include <stdint.h>
#include <string.h>
#include "napi-util.h"
#include "mining-markers.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* the quoted method names: "login" … (MARKER_RE's group, in its order) */
static const char *const QUOTED[] = {
  "login", "submit", "getjob", "keepalived", "getblocktemplate", "getwork",
  "submitblock", "getauxblock", "createauxblock", "submitauxblock",
};
#define NQUOTED (sizeof QUOTED / sizeof QUOTED[0])

static int quoted_at(const uint8_t *p, size_t left) {
  /* p[0] is '"'; the name's first letter decides which can follow */
  if (left < 3) return 0;
  uint8_t c = p[1];
  if (c != 'l' && c != 's' && c != 'g' && c != 'k' && c != 'c') return 0;
  for (size_t k = 0; k < NQUOTED; k++) {
    size_t len = strlen(QUOTED[k]);
    if (left >= len + 2 && (uint8_t)QUOTED[k][0] == c && memcmp(p + 1, QUOTED[k], len) == 0 && p[len + 1] == '"') return 1;
  }
  return 0;
}

/* A marker's first two bytes: mi (mining.), et (eth_…), \u, and '"' then the first letter of a quoted method. */
static inline int starts_marker(const uint8_t *p, size_t left) {
  if (left < 2) return 0;
  uint8_t c = p[0], d = p[1];
  return (c == 'm' && d == 'i') || (c == 'e' && d == 't') || (c == '\\' && d == 'u')
    || (c == '"' && (d == 'l' || d == 's' || d == 'g' || d == 'k' || d == 'c'));
}

/* The next offset at or after i where a marker may begin (its first two bytes), or n. Pairs, not single
 * bytes: in JSON text 'e' and '"' come every few bytes, and stopping at each made the search slower than
 * the regular expression; a jump table per byte was slower still on random bytes (its indirect branch
 * mispredicted on a third of them). */
static inline size_t next_candidate(const uint8_t *p, size_t n, size_t i) {
#ifdef __SSE2__
#define EQ(x, ch) _mm_cmpeq_epi8((x), _mm_set1_epi8(ch))
  while (i + 17 <= n) {
    __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
    __m128i w = _mm_loadu_si128((const __m128i *)(p + i + 1));
    __m128i quoted = _mm_or_si128(_mm_or_si128(EQ(w, 'l'), EQ(w, 's')), _mm_or_si128(_mm_or_si128(EQ(w, 'g'), EQ(w, 'k')), EQ(w, 'c')));
    __m128i hit = _mm_or_si128(
      _mm_or_si128(_mm_and_si128(EQ(v, 'm'), EQ(w, 'i')), _mm_and_si128(EQ(v, 'e'), EQ(w, 't'))),
      _mm_or_si128(_mm_and_si128(EQ(v, '\\'), EQ(w, 'u')), _mm_and_si128(EQ(v, '"'), quoted)));
    int mask = _mm_movemask_epi8(hit);
    if (mask) return i + (size_t)__builtin_ctz((unsigned)mask);
    i += 16;
  }
#undef EQ
#endif
  while (i < n && !starts_marker(p + i, n - i)) i++;
  return i;
}

long mining_marker_at(const uint8_t *p, size_t n, size_t from) {
  for (size_t i = next_candidate(p, n, from); i < n; i = next_candidate(p, n, i + 1)) {
    switch (p[i]) {
      case 'm':
        if (n - i >= 7 && memcmp(p + i, "mining.", 7) == 0) return (long)i;
        break;
      case 'e':
        if (n - i >= 10 && p[i + 1] == 't' && (memcmp(p + i, "eth_submit", 10) == 0 || (n - i >= 11 && memcmp(p + i, "eth_getWork", 11) == 0))) return (long)i;
        break;
      case '"':
        if (quoted_at(p + i, n - i)) return (long)i;
        break;
      case '\\':
        if (i + 1 < n && p[i + 1] == 'u') return (long)i;
        break;
      default:
        break;
    }
  }
  return -1;
}

/* miningMarkerAt(buf: Uint8Array, from: number): number — the marker's offset, or -1 */
napi_value napi_mining_marker_at(napi_env env, napi_callback_info info) {
  NAPI_ARGS(2);
  void *data;
  size_t len;
  int64_t from = 0;
  if (argc < 1 || napi_typed(env, argv[0], napi_uint8_array, &data, &len) != 0) return napi_fail(env, "miningMarkerAt: a Uint8Array");
  if (argc >= 2 && napi_get_value_int64(env, argv[1], &from) != napi_ok) return napi_fail(env, "miningMarkerAt: from must be a number");
  if (from < 0) from = 0;
  long at = (size_t)from >= len ? -1 : mining_marker_at((const uint8_t *)data, len, (size_t)from);
  napi_value out;
  napi_create_int64(env, at, &out);
  return out;
}
