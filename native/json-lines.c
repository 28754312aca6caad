/*
 * json-lines: validates and indexes JSON Lines in bulk for `corral investigate`.
 * Why it exists: a fleet's agent traces are ~2.7 GB of JSON Lines per 10 M tool calls, and
 * eve.json is hundreds of MB; JSON.parse costs 1.5-2.6 us per line and building every object
 * is most of an investigation's time. This scanner walks each line's bytes once: it decides
 * whether the line is exactly what JSON.parse accepts (the same grammar, byte for byte: UTF-8
 * is only ever inside strings, where JSON.parse accepts any decoded character) and records
 * where the values of a few named keys (top level, or one level down) are, with numbers and
 * zoned ISO-8601 strings already converted the way Corral's TsParser converts them. JavaScript
 * then reads two typed arrays and builds strings only for the values it needs.
 * Lines that repeat the member keys of the line before (nearly all trace and log lines) are
 * matched against that shape first and skip scanning their keys (see Shape).
 * A line the scanner cannot vouch for (invalid JSON, a key written with escapes, a duplicate
 * of a named key, nesting deeper than 64, a long number) is marked for the full parser, which
 * reports it with file:line; so the fast path never accepts what JSON.parse would reject and
 * never reads a value JSON.parse would read differently.
 * Threat stopped: hostile or corrupt logs crashing or misleading the investigation: every read
 * is bounds-checked against the line, output never exceeds the arrays the caller passed.
 *
 * scan(buf, from, to, spec, outI, outF) -> lines
 *   buf: Buffer; [from, to): complete lines are those ending in '\n' before `to`.
 *   spec: Buffer of entries "<flags|parent+1 byte><name bytes>\0" (parent: index of an earlier
 *         entry whose value is an object, or 0 for top level; flag 0x80: compute F_SAME for this
 *         key: values of up to 128 bytes that equal the line before's). K entries, K <= 64;
 *         names are 1-63 bytes of printable ASCII without '"' or '\\' (the wrapper checks), so
 *         comparing bytes is comparing what JSON.parse decodes.
 *   outI: Int32Array, per line 4 + 3K ints: start, newline index, status (0 ok, 1 full parse
 *         needed, 2 blank), content end (before a trailing '\r'); then per key:
 *         type | flags, value offset, value length (strings: the raw bytes between quotes;
 *         offset and length are set only when the type is not T_ABSENT).
 *   outF: Float64Array, per line K doubles: numbers; zoned ISO timestamps as epoch ms; else NaN
 *         (absent keys too).
 *   Returns how many lines were written (stops when the arrays are full).
 */
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <math.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "napi-util.h"

/* native/trace-link.c: the trace pass's fast path, in the same addon. */
void trace_link_register(napi_env env, napi_value exports);
/* native/name-ids.c: numbers the trace workers' episode names for the merge. */
void name_ids_register(napi_env env, napi_value exports);
/* native/flow-digest.c: the log pass's plain flows (distinct address pairs, Zeek/VPC lines). */
void flow_digest_register(napi_env env, napi_value exports);
/* native/json-skip.c: the end of a value the OTLP document scanner captures. */
void json_skip_register(napi_env env, napi_value exports);
/* native/sorted-merge.c: the trace workers' sorted windows merged on a pool thread. */
void sorted_merge_register(napi_env env, napi_value exports);

enum { T_ABSENT = 0, T_STR = 1, T_NUM = 2, T_TRUE = 3, T_FALSE = 4, T_NULL = 5, T_OBJ = 6, T_ARR = 7 };
enum { F_ESC = 16, F_HIGH = 32, F_SAME = 64 };
enum { MAX_KEYS = 64, MAX_DEPTH = 64, MAX_MEMBERS = 48, SHAPE_BYTES = 2048 };

typedef struct {
  int parent;          /* -1: top level */
  int has_children;
  int same;            /* compute F_SAME for this key */
  const uint8_t *name;
  size_t len;
  uint64_t w8, m8;     /* the name's first (up to) 8 bytes, little-endian, and their mask */
} Key;

typedef struct {
  const uint8_t *b;
  size_t blen;         /* the whole buffer (8-byte loads of key names stay inside it) */
  size_t p, end;
  int depth;
  int unsure;          /* valid JSON, but let the full parser read it */
  const Key *keys;
  int nkeys;
  uint64_t by_len[64]; /* bit i set: key i has this length (keys of 64+ bytes never match) */
  int32_t *rec;        /* this line's per-key triples */
  double *f;
  /* The root object's members as they are parsed (see Shape): key text offsets and slots. */
  int tn;              /* members recorded; -1: this line cannot be a shape (not compact, too many) */
  uint32_t toff[MAX_MEMBERS];
  uint16_t tlen[MAX_MEMBERS];
  int8_t tslot[MAX_MEMBERS];
} Parser;

/*
 * The shape of the last line read in full: its root object's member keys, byte for byte (quotes
 * and colon included), in order, each with its named slot. Trace and log lines nearly always
 * repeat the shape of the line before, so a line is first matched against it: '{', then each
 * member's exact key bytes ("," between members) and its value parsed by parse_value() exactly
 * as the full walk would parse it, then '}' at the line's end. Keys that equal, byte for byte,
 * the keys of a line the full walk accepted are valid, unescaped and free of duplicate named
 * keys, so such a line gets the full walk's verdict and values without scanning or looking up
 * its keys. Anything else (other keys or order, blanks, a value that does not parse) resets the
 * line's outputs and takes the full walk, which then becomes the new shape if it qualifies.
 */
typedef struct {
  int n;               /* members; 0: no shape */
  uint32_t off[MAX_MEMBERS];
  uint16_t len[MAX_MEMBERS];
  int8_t slot[MAX_MEMBERS];
  uint64_t w[MAX_MEMBERS][2], m[MAX_MEMBERS][2]; /* keys of up to 16 bytes as two masked words */
  uint8_t text[SHAPE_BYTES];
} Shape;

/*
 * Blanks inside a line. Not '\n': a line ends at its first '\n', so a full walk never meets one,
 * and the shape match (whose end is the chunk's, not the line's) stops at it instead of walking on
 * into the next line.
 */
static inline void skip_ws(Parser *x) {
  while (x->p < x->end) {
    uint8_t c = x->b[x->p];
    if (c == ' ' || c == '\t' || c == '\r') x->p++;
    else break;
  }
}

static inline int is_hex(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* At an opening quote: moves past the closing quote. Returns 0, or -1 for invalid JSON. */
static inline __attribute__((always_inline)) int scan_string(Parser *x, int *flags) {
  const uint8_t *b = x->b;
  size_t p = x->p + 1, end = x->end;
  int fl = 0;
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
#endif
  for (;;) {
#if defined(__SSE2__)
    while (p + 16 <= end) {
      __m128i v = _mm_loadu_si128((const __m128i *)(b + p));
      int hm = _mm_movemask_epi8(v); /* bytes >= 0x80 */
      int cm = _mm_movemask_epi8(_mm_cmplt_epi8(v, space)) & ~hm; /* control bytes (signed compare) */
      int sm = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash))) | cm;
      if (sm == 0) { if (hm) fl |= F_HIGH; p += 16; continue; }
      int i = __builtin_ctz((unsigned)sm);
      if (hm & ((1 << i) - 1)) fl |= F_HIGH;
      p += (size_t)i;
      break;
    }
#endif
    if (p >= end) return -1;
    uint8_t c = b[p];
    if (c == '"') { x->p = p + 1; *flags = fl; return 0; }
    if (c == '\\') {
      fl |= F_ESC;
      if (++p >= end) return -1;
      c = b[p];
      if (c == 'u') {
        if (p + 4 >= end || !is_hex(b[p + 1]) || !is_hex(b[p + 2]) || !is_hex(b[p + 3]) || !is_hex(b[p + 4])) return -1;
        p += 5;
      } else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' || c == 't') p++;
      else return -1;
      continue;
    }
    if (c < 0x20) return -1;
    if (c >= 0x80) fl |= F_HIGH;
    p++;
  }
}

static inline int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

/* JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int scan_number(Parser *x) {
  const uint8_t *b = x->b;
  size_t p = x->p, end = x->end;
  if (p < end && b[p] == '-') p++;
  if (p >= end) return -1;
  if (b[p] == '0') p++;
  else if (b[p] >= '1' && b[p] <= '9') { while (p < end && is_digit(b[p])) p++; }
  else return -1;
  if (p < end && b[p] == '.') {
    p++;
    if (p >= end || !is_digit(b[p])) return -1;
    while (p < end && is_digit(b[p])) p++;
  }
  if (p < end && (b[p] == 'e' || b[p] == 'E')) {
    p++;
    if (p < end && (b[p] == '+' || b[p] == '-')) p++;
    if (p >= end || !is_digit(b[p])) return -1;
    while (p < end && is_digit(b[p])) p++;
  }
  x->p = p;
  return 0;
}

static int d2(const uint8_t *s, size_t n, size_t i) {
  if (i + 1 >= n) return -1;
  int a = s[i] - '0', c = s[i + 1] - '0';
  return a >= 0 && a <= 9 && c >= 0 && c <= 9 ? a * 10 + c : -1;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (d may exceed the month, as in Date.UTC). */
static int days_in_month(int y, int m) {
  return m == 2 ? (((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : 28) : (m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31;
}

static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

/*
 * TsParser.iso() for strings that name their zone (Z, +-HH:MM, +-HHMM, +-HH), with the same
 * arithmetic in the same order; NaN for anything else (the caller then uses TsParser itself).
 */
static double iso_zoned(const uint8_t *s, size_t n) {
  if (n < 16 || s[4] != '-' || s[7] != '-') return NAN;
  int y1 = d2(s, n, 0), y2 = d2(s, n, 2), mo = d2(s, n, 5), d = d2(s, n, 8);
  uint8_t sep = s[10];
  if ((sep != 'T' && sep != ' ' && sep != 't') || s[13] != ':') return NAN;
  int h = d2(s, n, 11), mi = d2(s, n, 14);
  if (y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 24 || mi < 0 || mi > 59 || (h == 24 && mi > 0)) return NAN;
  int y = y1 * 100 + y2;
  if (d > 28 && d > days_in_month(y, mo)) return NAN; /* 2024-02-30: TsParser.iso() refuses it */
  if (y < 100) return NAN; /* Date.UTC maps years 0-99 to 1900-1999: leave it to TsParser */
  double base = (double)(days_from_civil(y, mo, 1) + d - 1) * 86400000.0 + (double)h * 3600000.0 + (double)mi * 60000.0;
  size_t i = 16;
  int sec = 0;
  double frac = 0;
  if (i < n && s[i] == ':') { sec = d2(s, n, 17); i = 19; }
  if (i < n && (s[i] == '.' || s[i] == ',')) {
    i++;
    double scale = 100;
    while (i < n && is_digit(s[i])) { frac += (s[i] - '0') * scale; scale /= 10; i++; }
  }
  if (sec < 0 || sec > 60 || (h == 24 && sec + frac > 0)) return NAN; /* (24:00 only: the end of the day) */
  double local = base + sec * 1000.0 + frac;
  if (i >= n) return NAN; /* no zone: TsParser applies the assumed one */
  uint8_t z = s[i];
  if ((z == 'Z' || z == 'z') && i + 1 == n) return local;
  if (z == '+' || z == '-') {
    int oh = d2(s, n, i + 1), om = 0;
    size_t j = i + 3;
    if (j < n && s[j] == ':') j++;
    if (j + 2 <= n) { om = d2(s, n, j); j += 2; }
    if (oh < 0 || oh > 23 || om < 0 || om > 59 || j != n) return NAN;
    return local - (z == '-' ? -1.0 : 1.0) * (double)((oh * 60 + om) * 60000);
  }
  return NAN;
}

static int parse_value(Parser *x, int slot);

/* Up to 8 bytes at k as a little-endian word (bytes past the buffer read as 0). */
static inline uint64_t load8(const Parser *x, const uint8_t *k) {
  uint64_t w = 0;
  size_t avail = x->blen - (size_t)(k - x->b);
  memcpy(&w, k, avail >= 8 ? 8 : avail);
  return w;
}

static inline int find_key(const Parser *x, int parent, const uint8_t *k, size_t len) {
  if (len >= 64) return -1;
  uint64_t m = x->by_len[len];
  if (!m) return -1;
  uint64_t w = load8(x, k);
  while (m) {
    int i = __builtin_ctzll(m);
    m &= m - 1;
    const Key *e = &x->keys[i];
    if ((w & e->m8) != e->w8 || e->parent != parent) continue;
    if (len <= 8 || memcmp(e->name + 8, k + 8, len - 8) == 0) return i;
  }
  return -1;
}

/* At '{'. parent: the key whose value this object is (-1 top level, -2 not named). */
static int parse_object(Parser *x, int parent) {
  if (++x->depth > MAX_DEPTH) { x->unsure = 1; return -1; }
  x->p++;
  skip_ws(x);
  if (x->p < x->end && x->b[x->p] == '}') { x->p++; x->depth--; return 0; }
  for (;;) {
    if (x->p >= x->end || x->b[x->p] != '"') return -1;
    size_t ks = x->p + 1;
    int kf = 0;
    if (scan_string(x, &kf)) return -1;
    int slot = -1;
    if (parent != -2) {
      if (kf & F_ESC) x->unsure = 1; /* "\u0065pisode" is "episode" to JSON.parse */
      else slot = find_key(x, parent, x->b + ks, x->p - 1 - ks);
    }
    int compact = 1;
    if (x->p < x->end && x->b[x->p] == ':') x->p++; /* compact JSON: no blanks around ':' */
    else {
      compact = 0;
      skip_ws(x);
      if (x->p >= x->end || x->b[x->p] != ':') return -1;
      x->p++;
    }
    if (parent == -1 && x->tn >= 0) { /* the root's members: a shape for the lines after */
      if (!compact || x->tn >= MAX_MEMBERS || x->p - ks + 1 > 0xffff) x->tn = -1;
      else { x->toff[x->tn] = (uint32_t)(ks - 1); x->tlen[x->tn] = (uint16_t)(x->p - ks + 1); x->tslot[x->tn] = (int8_t)slot; x->tn++; }
    }
    if (x->p < x->end && x->b[x->p] > ' ') { if (parse_value(x, slot)) return -1; }
    else { if (parent == -1) x->tn = -1; skip_ws(x); if (parse_value(x, slot)) return -1; }
    if (x->p < x->end && x->b[x->p] == ',' && x->p + 1 < x->end && x->b[x->p + 1] == '"') { x->p++; continue; }
    if (parent == -1 && !(x->p < x->end && x->b[x->p] == '}')) x->tn = -1;
    skip_ws(x);
    if (x->p < x->end && x->b[x->p] == ',') { x->p++; skip_ws(x); continue; }
    if (x->p < x->end && x->b[x->p] == '}') { x->p++; x->depth--; return 0; }
    return -1;
  }
}

static int parse_array(Parser *x) {
  if (++x->depth > MAX_DEPTH) { x->unsure = 1; return -1; }
  x->p++;
  skip_ws(x);
  if (x->p < x->end && x->b[x->p] == ']') { x->p++; x->depth--; return 0; }
  for (;;) {
    if (parse_value(x, -1)) return -1;
    skip_ws(x);
    if (x->p < x->end && x->b[x->p] == ',') { x->p++; skip_ws(x); continue; }
    if (x->p < x->end && x->b[x->p] == ']') { x->p++; x->depth--; return 0; }
    return -1;
  }
}

static int literal(Parser *x, const char *word, size_t len) {
  if (x->end - x->p < len || memcmp(x->b + x->p, word, len) != 0) return -1;
  x->p += len;
  return 0;
}

/* One value at x->p; slot: the named key it belongs to, or -1. */
static int parse_value(Parser *x, int slot) {
  if (x->p >= x->end) return -1;
  int32_t *r = slot >= 0 ? x->rec + 3 * slot : NULL;
  if (r && r[0] != T_ABSENT) x->unsure = 1; /* duplicate: JSON.parse keeps the last one */
  size_t start = x->p;
  uint8_t c = x->b[start];
  int type, fl = 0;
  double num = NAN;
  if (c == '"') {
    if (scan_string(x, &fl)) return -1;
    type = T_STR;
    if (r && !(fl & (F_ESC | F_HIGH))) num = iso_zoned(x->b + start + 1, x->p - start - 2);
    if (r) { r[0] = type | fl; r[1] = (int32_t)(start + 1); r[2] = (int32_t)(x->p - start - 2); x->f[slot] = num; }
    return 0;
  }
  if (c == '{') {
    if (parse_object(x, slot >= 0 && x->keys[slot].has_children ? slot : -2)) return -1;
    type = T_OBJ;
  } else if (c == '[') {
    if (parse_array(x)) return -1;
    type = T_ARR;
  } else if (c == '-' || is_digit(c)) {
    if (scan_number(x)) return -1;
    type = T_NUM;
    if (r) {
      char tmp[64];
      size_t n = x->p - start;
      if (n >= sizeof tmp) x->unsure = 1;
      else { memcpy(tmp, x->b + start, n); tmp[n] = 0; num = strtod(tmp, NULL); }
    }
  } else if (c == 't') { if (literal(x, "true", 4)) return -1; type = T_TRUE; }
  else if (c == 'f') { if (literal(x, "false", 5)) return -1; type = T_FALSE; }
  else if (c == 'n') { if (literal(x, "null", 4)) return -1; type = T_NULL; }
  else return -1;
  if (r) { r[0] = type; r[1] = (int32_t)start; r[2] = (int32_t)(x->p - start); x->f[slot] = num; }
  return 0;
}

/*
 * The bytes from p against the shape, up to end (the chunk's end: the line's own end is not known
 * yet): the index of the line's closing '}' when the line is exactly the shape with valid values
 * (outputs set), -1 otherwise. No part of it can cross a '\n' (a raw newline is a control byte
 * inside strings and no blank elsewhere), so the caller finds the line's end just after the '}'.
 */
static long match_shape(Parser *x, const Shape *sh, size_t p, size_t end) {
  const uint8_t *b = x->b;
  if (b[p] != '{') return -1;
  size_t q = p + 1;
  x->depth = 1;
  for (int j = 0; j < sh->n; j++) {
    if (j > 0) { if (q >= end || b[q] != ',') return -1; q++; }
    size_t n = sh->len[j];
    if (end - q < n) return -1;
    if (n <= 16 && x->blen - q >= 16) { /* two word compares instead of a memcmp call */
      uint64_t w0, w1;
      memcpy(&w0, b + q, 8); memcpy(&w1, b + q + 8, 8);
      if (((w0 ^ sh->w[j][0]) & sh->m[j][0]) | ((w1 ^ sh->w[j][1]) & sh->m[j][1])) return -1;
    } else if (memcmp(b + q, sh->text + sh->off[j], n) != 0) return -1;
    x->p = q + n;
    if (parse_value(x, sh->slot[j])) return -1;           /* (a blank or the end fails here) */
    q = x->p;
  }
  if (q >= end || b[q] != '}') return -1;
  x->p = q + 1;
  return (long)q;
}

/* Keeps the line just read in full as the shape (its recorded members). */
static void keep_shape(const Parser *x, Shape *sh) {
  size_t at = 0;
  sh->n = 0;
  for (int j = 0; j < x->tn; j++) {
    if (at + x->tlen[j] > SHAPE_BYTES) return;
    memcpy(sh->text + at, x->b + x->toff[j], x->tlen[j]);
    sh->off[j] = (uint32_t)at; sh->len[j] = x->tlen[j]; sh->slot[j] = x->tslot[j];
    uint8_t wb[16] = { 0 }, mb[16] = { 0 };
    size_t n = x->tlen[j] < 16 ? x->tlen[j] : 16;
    memcpy(wb, sh->text + at, n);
    memset(mb, 0xff, n);
    memcpy(sh->w[j], wb, 16); memcpy(sh->m[j], mb, 16);
    at += x->tlen[j];
  }
  sh->n = x->tn;
}

static int parse_spec(const uint8_t *s, size_t n, Key *keys) {
  int k = 0;
  size_t i = 0;
  while (i < n) {
    if (k >= MAX_KEYS) return -1;
    int parent = (int)(s[i] & 0x7f) - 1;
    keys[k].same = (s[i] & 0x80) != 0;
    if (parent >= k) return -1;
    size_t j = i + 1;
    while (j < n && s[j] != 0) j++;
    if (j >= n) return -1;
    keys[k].parent = parent;
    keys[k].has_children = 0;
    keys[k].name = s + i + 1;
    keys[k].len = j - i - 1;
    keys[k].w8 = 0;
    memcpy(&keys[k].w8, keys[k].name, keys[k].len < 8 ? keys[k].len : 8);
    uint8_t ones[8] = { 0 };  /* the mask of the bytes compared, in the machine's byte order */
    memset(ones, 0xff, keys[k].len < 8 ? keys[k].len : 8);
    memcpy(&keys[k].m8, ones, 8);
    if (parent >= 0) keys[parent].has_children = 1;
    k++;
    i = j + 1;
  }
  return k;
}

#define fail napi_fail
#define typed napi_typed

static napi_value scan(napi_env env, napi_callback_info info) {
  NAPI_ARGS(6);
  if (argc < 6) return fail(env, "scan(buf, from, to, spec, outI, outF): 6 arguments");
  uint8_t *buf, *spec;
  int32_t *outI;
  double *outF;
  size_t blen, slen, ilen, flen;
  int64_t from, to;
  if (typed(env, argv[0], napi_uint8_array, (void **)&buf, &blen)) return fail(env, "scan: buf must be a Buffer");
  if (napi_get_value_int64(env, argv[1], &from) != napi_ok || napi_get_value_int64(env, argv[2], &to) != napi_ok) return fail(env, "scan: from/to must be numbers");
  if (typed(env, argv[3], napi_uint8_array, (void **)&spec, &slen)) return fail(env, "scan: spec must be a Buffer");
  if (typed(env, argv[4], napi_int32_array, (void **)&outI, &ilen)) return fail(env, "scan: outI must be an Int32Array");
  if (typed(env, argv[5], napi_float64_array, (void **)&outF, &flen)) return fail(env, "scan: outF must be a Float64Array");
  if (from < 0 || to < from || (uint64_t)to > blen || blen > INT32_MAX) return fail(env, "scan: bad range");
  Key keys[MAX_KEYS];
  int k = parse_spec(spec, slen, keys);
  if (k < 0) return fail(env, "scan: malformed spec");
  size_t si = 4 + 3 * (size_t)k, sf = (size_t)k;
  size_t cap = ilen / si;
  if (sf > 0 && flen / sf < cap) cap = flen / sf;
  Parser x = { .b = buf, .blen = blen, .keys = keys, .nkeys = k };
  Shape shape; /* the shape of the line before, within this call */
  shape.n = 0;
  for (int i = 0; i < k; i++) if (keys[i].len > 0 && keys[i].len < 64) x.by_len[keys[i].len] |= 1ull << i;
  size_t p = (size_t)from, lines = 0;
  int32_t *prev = NULL;
  while (lines < cap && p < (size_t)to) {
    int32_t *rec = outI + lines * si;
    double *f = outF + lines * sf;
    for (int i = 0; i < k; i++) { rec[4 + 3 * i] = T_ABSENT; f[i] = NAN; }
    x.p = p; x.end = (size_t)to; x.depth = 0; x.unsure = 0; x.rec = rec + 4; x.f = f;
    int status, tried = 0;
    size_t nl = 0, end = 0;
    /* The shape first, against the rest of the chunk: its '}' followed by the line's end ("\n" or "\r\n") is the whole line. */
    if (shape.n > 0 && buf[p] == '{') {
      tried = 1;
      long q = match_shape(&x, &shape, p, (size_t)to);
      if (q >= 0 && (size_t)q + 1 < (size_t)to && buf[q + 1] == '\n') { end = (size_t)q + 1; nl = end; }
      else if (q >= 0 && (size_t)q + 2 < (size_t)to && buf[q + 1] == '\r' && buf[q + 2] == '\n') { end = (size_t)q + 1; nl = end + 1; }
    }
    if (nl > 0) status = x.unsure ? 1 : 0;
    else {
      const uint8_t *nlp = memchr(buf + p, '\n', (size_t)to - p);
      if (!nlp) break;
      nl = (size_t)(nlp - buf); end = nl;
      if (end > p && buf[end - 1] == '\r') end--;
      x.end = end;
      if (tried) { /* not the shape after all: start the line again */
        for (int i = 0; i < k; i++) { rec[4 + 3 * i] = T_ABSENT; f[i] = NAN; }
        x.p = p; x.depth = 0; x.unsure = 0;
      }
      x.tn = 0;
      skip_ws(&x);
      if (x.p != p) x.tn = -1; /* leading blanks: not a shape */
      if (x.p >= end) status = 2;
      else if (buf[x.p] != '{' || parse_object(&x, -1)) status = 1;
      else { if (x.p != end) x.tn = -1; skip_ws(&x); status = x.p != end || x.unsure ? 1 : 0; }
      if (status == 0 && x.tn > 0) keep_shape(&x, &shape);
    }
    rec[0] = (int32_t)p; rec[1] = (int32_t)nl; rec[2] = status; rec[3] = (int32_t)end;
    if (status == 0 && prev) {
      for (int i = 0; i < k; i++) {
        int32_t *a = rec + 4 + 3 * i, *o = prev + 4 + 3 * i;
        int t = a[0] & 15;
        if (!keys[i].same || t == T_ABSENT || a[0] != (o[0] & ~F_SAME) || a[2] != o[2] || a[2] > 128) continue;
        if (memcmp(buf + a[1], buf + o[1], (size_t)a[2]) == 0) a[0] |= F_SAME;
      }
    }
    prev = status == 0 ? rec : NULL;
    lines++;
    p = nl + 1;
  }
  napi_value out;
  napi_create_int64(env, (int64_t)lines, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "scan", NAPI_AUTO_LENGTH, scan, NULL, &fn);
  napi_set_named_property(env, exports, "scan", fn);
  trace_link_register(env, exports);
  name_ids_register(env, exports);
  flow_digest_register(env, exports);
  json_skip_register(env, exports);
  sorted_merge_register(env, exports);
  return exports;
}
