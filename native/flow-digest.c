/*
 * flow-digest: the log pass's native fast path for plain flow records (native/json-lines.c's
 * addon). A million firewall records cost ≈ 2 µs each in JavaScript (a string per field, a
 * record object, a Map of destination → sources for rarity), though almost all of them are
 * benign flows whose only contribution is "this source reached this destination" and a count.
 *
 *   pairsNew()                          a set of distinct (destination, source) byte strings;
 *   pairsAdd(set, buf, quads, n)        adds n pairs given as (dstOff, dstLen, srcOff, srcLen);
 *   pairsTake(set)                      {ips: 'a\nb\n…', pairs: Int32Array [dst, src, …]} in
 *                                       order of first appearance (ips likewise);
 *   delimScan(set, buf, from, to, cfg, params, out)
 *                                       walks Zeek conn TSV or VPC flow lines from `from` and
 *                                       takes every line that is certainly a plain, non-alert
 *                                       flow (or blank); stops before the first line it cannot
 *                                       vouch for, which the JavaScript reader then reads.
 *                                       out = [stop offset, lines taken, records taken].
 *
 * A taken line is exactly one the JavaScript reader would turn into a record that is not
 * alert-like: the right field count, source and destination present, a plain decimal epoch
 * seconds time inside the plausible window, no metadata destination, no mining port or port 22,
 * no action but ACCEPT — and only printable ASCII (anything else, headers, NODATA/SKIPDATA and
 * every error go to JavaScript, so bad lines are reported with file:line exactly as before).
 * Threat stopped: a hostile log steering the fast path into dropping or misreading a record the
 * analysis must see (an alert-like flow is never taken here).
 */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "napi-util.h"
#include "intern.h"

typedef struct {
  Intern ips;
  uint64_t *set;   /* open addressing over (dst << 32 | src) + 1; 0 = empty */
  uint32_t mask, n;
  int32_t *order;  /* pairs in order of first appearance */
  size_t order_cap;
} Pairs;

static void pairs_free(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  Pairs *P = data;
  intern_free(&P->ips);
  free(P->set); free(P->order);
  free(P);
}

static Pairs *get_pairs(napi_env env, napi_value v) {
  napi_valuetype t;
  void *p = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

static uint64_t mix64(uint64_t x);

/* Addresses are short: up to 16 bytes hashed as two words (every id of this table uses this hash). */
static uint64_t addr_hash(const uint8_t *s, size_t n) {
  if (n > 16) return hash_bytes(s, n);
  uint64_t a = 0, b = 0;
  memcpy(&a, s, n < 8 ? n : 8);
  if (n > 8) memcpy(&b, s + 8, n - 8);
  return mix64(a * 0x9e3779b97f4a7c15ull ^ (b + n) * 0xbf58476d1ce4e5b9ull);
}

static int32_t ip_id(Pairs *P, const uint8_t *s, size_t n) {
  uint64_t h = addr_hash(s, n);
  int32_t id = intern_find(&P->ips, s, n, h);
  return id >= 0 ? id : intern_add(&P->ips, s, n, h);
}

static uint64_t mix64(uint64_t x) {  /* the finaliser of MurmurHash3 */
  x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

static int set_rehash(Pairs *P, uint32_t size) {
  uint64_t *s = calloc(size, sizeof *s);
  if (!s) return -1;
  for (uint32_t i = 0; P->set && i <= P->mask; i++) {
    uint64_t v = P->set[i];
    if (!v) continue;
    uint32_t j = (uint32_t)mix64(v) & (size - 1);
    while (s[j]) j = (j + 1) & (size - 1);
    s[j] = v;
  }
  free(P->set);
  P->set = s;
  P->mask = size - 1;
  return 0;
}

/* Adds one pair; 0, or -1 when memory ran out. */
static int pair_add(Pairs *P, const uint8_t *dst, size_t dn, const uint8_t *src, size_t sn) {
  int32_t d = ip_id(P, dst, dn), s = ip_id(P, src, sn);
  if (d < 0 || s < 0) return -1;
  if (!P->set || (uint64_t)(P->n + 1) * 2 > (uint64_t)P->mask + 1) {
    if (set_rehash(P, P->set ? (P->mask + 1) * 2 : 4096)) return -1;
  }
  uint64_t v = ((uint64_t)(uint32_t)d << 32 | (uint32_t)s) + 1;
  uint32_t j = (uint32_t)mix64(v) & P->mask;
  for (; P->set[j]; j = (j + 1) & P->mask) if (P->set[j] == v) return 0;
  if (grow((void **)&P->order, &P->order_cap, 2 * (size_t)P->n + 2, sizeof *P->order)) return -1;
  P->set[j] = v;
  P->order[2 * P->n] = d;
  P->order[2 * P->n + 1] = s;
  P->n++;
  return 0;
}

static napi_value fd_new(napi_env env, napi_callback_info info) {
  (void)info;
  Pairs *P = calloc(1, sizeof *P);
  if (!P) return napi_fail(env, "pairsNew: out of memory");
  napi_value out;
  if (napi_create_external(env, P, pairs_free, NULL, &out) != napi_ok) { pairs_free(env, P, NULL); return napi_fail(env, "pairsNew: cannot wrap"); }
  return out;
}

static napi_value fd_add(napi_env env, napi_callback_info info) {
  NAPI_ARGS(4);
  Pairs *P = argc >= 4 ? get_pairs(env, argv[0]) : NULL;
  uint8_t *buf;
  int32_t *q;
  size_t bn, qn;
  int64_t n;
  if (!P || napi_typed(env, argv[1], napi_uint8_array, (void **)&buf, &bn) || napi_typed(env, argv[2], napi_int32_array, (void **)&q, &qn)
      || napi_get_value_int64(env, argv[3], &n) != napi_ok || n < 0 || (uint64_t)n * 4 > qn) return napi_fail(env, "pairsAdd(set, buf, quads, n)");
  for (int64_t i = 0; i < n; i++) {
    const int32_t *e = q + 4 * i;
    if (e[0] < 0 || e[1] < 0 || e[2] < 0 || e[3] < 0 || (size_t)e[0] + (size_t)e[1] > bn || (size_t)e[2] + (size_t)e[3] > bn) return napi_fail(env, "pairsAdd: a pair lies outside the buffer");
    if (pair_add(P, buf + e[0], (size_t)e[1], buf + e[2], (size_t)e[3])) return napi_fail(env, "pairsAdd: out of memory");
  }
  return NULL;
}

static napi_value fd_take(napi_env env, napi_callback_info info) {
  NAPI_ARGS(1);
  Pairs *P = argc >= 1 ? get_pairs(env, argv[0]) : NULL;
  if (!P) return napi_fail(env, "pairsTake(set)");
  /* The addresses joined by '\n' (a taken address is printable ASCII: never a newline). */
  size_t total = 0;
  for (uint32_t i = 0; i < P->ips.n; i++) total += P->ips.len[i] + 1;
  char *s = malloc(total + 1);
  if (!s) return napi_fail(env, "pairsTake: out of memory");
  size_t at = 0;
  for (uint32_t i = 0; i < P->ips.n; i++) {
    if (i) s[at++] = '\n';
    memcpy(s + at, P->ips.arena + P->ips.off[i], P->ips.len[i]);
    at += P->ips.len[i];
  }
  napi_value ips, ab, pairs, out;
  int32_t *dst;
  napi_status st = napi_create_string_latin1(env, s, at, &ips);
  free(s);
  if (st != napi_ok || napi_create_arraybuffer(env, (size_t)P->n * 2 * sizeof(int32_t), (void **)&dst, &ab) != napi_ok
      || napi_create_typedarray(env, napi_int32_array, (size_t)P->n * 2, ab, 0, &pairs) != napi_ok) return napi_fail(env, "pairsTake: out of memory");
  if (P->n) memcpy(dst, P->order, (size_t)P->n * 2 * sizeof(int32_t));
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "ips", ips);
  napi_set_named_property(env, out, "pairs", pairs);
  return out;
}

/* cfg layout (Int32Array) */
enum { C_MODE, C_SEP, C_NCOLS, C_COLS, C_UNSET_LEN = C_COLS + 7, C_EMPTY_LEN, C_STR, C_N = C_STR + 64 };
enum { M_ZEEK = 0, M_VPC = 1 };

typedef struct { const uint8_t *p; size_t n; } Span;

static int eq(Span f, const char *s, size_t n) { return f.n == n && memcmp(f.p, s, n) == 0; }
static int eq_cfg(Span f, const int32_t *cfg, int at, int len) {
  if ((size_t)len != f.n) return 0;
  for (int i = 0; i < len; i++) if (f.p[i] != (uint8_t)cfg[C_STR + at + i]) return 0;
  return 1;
}

static const double POW10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/*
 * "digits[.digits]" as the double JavaScript's Number() gives (correctly rounded); NaN otherwise.
 * When the integer of all digits is at most 2^53 it is exact as a double, and so is 10^k for
 * k <= 22, so one IEEE division rounds correctly; other numbers go through strtod (which also
 * rounds correctly).
 */
static double plain_decimal(Span f) {
  if (f.n == 0 || f.n > 40) return NAN;
  int dot = -1, digits = 0;
  uint64_t m = 0;
  for (size_t i = 0; i < f.n; i++) {
    uint8_t c = f.p[i];
    if (c == '.' && dot < 0 && i > 0) { dot = (int)i; continue; }
    if (c < '0' || c > '9') return NAN;
    m = m * 10 + (uint64_t)(c - '0');
    digits++;
  }
  int frac = dot < 0 ? 0 : (int)f.n - dot - 1;
  if (digits <= 19 && m <= (1ull << 53) && frac <= 22) return frac ? (double)m / POW10[frac] : (double)m;
  char tmp[48];
  memcpy(tmp, f.p, f.n);
  tmp[f.n] = 0;
  return strtod(tmp, NULL);
}

/* A port that makes no category: -1 absent, 0..65535 plain, -2 when JavaScript must decide. */
static int plain_port(Span f, int absent) {
  if (absent) return -1;
  if (f.n == 0 || f.n > 9) return -2;
  int v = 0;
  for (size_t i = 0; i < f.n; i++) { if (f.p[i] < '0' || f.p[i] > '9') return -2; v = v * 10 + (f.p[i] - '0'); }
  if (v > 65535 || v == 22 || v == 3333 || v == 4444 || v == 5555 || v == 7777 || v == 14433 || v == 14444 || v == 45700) return -2;
  return v;
}

enum { W_TS, W_TS2, W_SRC, W_DST, W_DPORT, W_ACTION, W_STATUS, W_N };
#define MAX_COLS 256

typedef struct {
  int mode, ncols;
  uint8_t sep;
  int8_t slot[MAX_COLS]; /* column -> W_* or -1 */
  const int32_t *cfg;
  const double *params;
} Layout;

/*
 * The IPv4 cloud metadata and credential endpoints (src/policy/address-class.ts METADATA_ADDRESSES; IPv6 ones never
 * get here): a flow to one is a metadata read for JavaScript to categorise. test/investigate-flow-digest.test.ts
 * draws destinations from that list, so a missing entry here makes the digest differ from the reader.
 */
#define ADDR(s) {s, sizeof s - 1}
static int metadata_dst(Span d) {
  static const struct { const char *s; size_t n; } M[] = {
    ADDR("169.254.169.254"), ADDR("169.254.170.2"), ADDR("169.254.170.23"), ADDR("169.254.0.23"),
    ADDR("100.100.100.200"), ADDR("168.63.129.16"), ADDR("192.0.0.192"),
  };
  for (size_t i = 0; i < sizeof M / sizeof *M; i++) if (eq(d, M[i].s, M[i].n)) return 1;
  return 0;
}
#undef ADDR

/* A field is unset when it is '-' (VPC) or Zeek's #unset_field / #empty_field. */
static int unset(const Layout *L, Span s) {
  if (L->mode == M_VPC) return eq(s, "-", 1);
  const int32_t *cfg = L->cfg;
  return eq_cfg(s, cfg, 0, cfg[C_UNSET_LEN]) || eq_cfg(s, cfg, cfg[C_UNSET_LEN], cfg[C_EMPTY_LEN]);
}

/* One line [p, e) (no '\n'; a trailing '\r' already cut): 1 taken as a record, 0 taken as blank, -1 for JavaScript. */
static int take_line(Pairs *P, const Layout *L, const uint8_t *p, const uint8_t *e) {
  size_t n = (size_t)(e - p);
  uint8_t sep = L->sep;
  /* Printable ASCII or the separator only (branch-free, so the compiler vectorises it). */
  unsigned bad = 0, ink = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    bad |= ((uint8_t)(c - 0x20) > 0x5e) & (c != sep);
    ink |= (c != ' ') & (c != '\t') & (c != '\r');
  }
  if (!ink) return 0;                               /* blank (spaces, tabs, '\r' only): skipped */
  if (bad) return -1;                               /* control bytes, UTF-8: JavaScript */
  if (L->mode == M_ZEEK && *p == '#') return -1;
  Span want[W_N] = {{0}};
  int have[W_N] = {0};
  int col = 0;
  const uint8_t *f = p;
  for (;;) {
    const uint8_t *q = f;
    while (q < e && *q != sep) q++;                 /* fields are short: no memchr call per field */
    if (L->mode == M_VPC && q == f) { if (q == e) break; f = q + 1; continue; }  /* runs of spaces */
    if (col < MAX_COLS) { int k = L->slot[col]; if (k >= 0) { want[k].p = f; want[k].n = (size_t)(q - f); have[k] = 1; } }
    else return -1;
    col++;
    if (q == e) break;
    f = q + 1;
  }
  if (col != L->ncols) return -1;
  if (L->mode == M_VPC) {
    /* A field-list header holds "srcaddr" or "${" (checked after the split: most lines are data). */
    if (memchr(p, '$', n)) { if (memmem(p, n, "${", 2)) return -1; }
    for (const uint8_t *q = memchr(p, 's', n); q; q = memchr(q + 1, 's', (size_t)(e - q - 1)))  /* data lines rarely hold an 's' */
      if (e - q >= 7 && memcmp(q, "srcaddr", 7) == 0) return -1;
    if (have[W_STATUS] && (eq(want[W_STATUS], "NODATA", 6) || eq(want[W_STATUS], "SKIPDATA", 8))) return -1;
  }
  Span src = want[W_SRC], dst = want[W_DST];
  if (!have[W_SRC] || !have[W_DST] || src.n == 0 || dst.n == 0 || unset(L, src) || unset(L, dst)) return -1;
  /* IPv6 (a ':'): JavaScript spells it canonically (normalise.ts canonicalIp), so the same address meets across logs */
  if (memchr(src.p, ':', src.n) || memchr(dst.p, ':', dst.n)) return -1;
  Span ts;
  if (have[W_TS] && !unset(L, want[W_TS])) ts = want[W_TS];
  else if (have[W_TS2] && !unset(L, want[W_TS2])) ts = want[W_TS2];
  else return -1;
  double v = plain_decimal(ts);
  if (!(v > 0) || !(v < 1e11)) return -1;          /* not epoch seconds by magnitude: JavaScript notes it */
  double ms = v / 1e-3;                            /* exactly TsParser.epoch()'s conversion */
  if (ms < L->params[0] || ms > L->params[1]) return -1; /* implausible: JavaScript counts and names it */
  if (plain_port(want[W_DPORT], !have[W_DPORT] || unset(L, want[W_DPORT])) == -2) return -1;
  if (metadata_dst(dst)) return -1;
  if (have[W_ACTION] && !unset(L, want[W_ACTION]) && !eq(want[W_ACTION], "ACCEPT", 6)) return -1;
  return pair_add(P, dst.p, dst.n, src.p, src.n) ? -2 : 1;
}

static napi_value fd_delim(napi_env env, napi_callback_info info) {
  NAPI_ARGS(7);
  Pairs *P = argc >= 7 ? get_pairs(env, argv[0]) : NULL;
  uint8_t *buf;
  int32_t *cfg;
  double *params, *out;
  size_t bn, cn, pn, on;
  int64_t from, to;
  if (!P || napi_typed(env, argv[1], napi_uint8_array, (void **)&buf, &bn) || napi_get_value_int64(env, argv[2], &from) != napi_ok
      || napi_get_value_int64(env, argv[3], &to) != napi_ok || napi_typed(env, argv[4], napi_int32_array, (void **)&cfg, &cn) || cn != C_N
      || napi_typed(env, argv[5], napi_float64_array, (void **)&params, &pn) || pn != 2
      || napi_typed(env, argv[6], napi_float64_array, (void **)&out, &on) || on != 3) return napi_fail(env, "delimScan(set, buf, from, to, cfg, params, out)");
  if (from < 0 || to < from || (uint64_t)to > bn) return napi_fail(env, "delimScan: range outside the buffer");
  if ((cfg[C_MODE] != M_ZEEK && cfg[C_MODE] != M_VPC) || cfg[C_SEP] < 1 || cfg[C_SEP] > 127 || cfg[C_NCOLS] < 1
      || cfg[C_UNSET_LEN] < 0 || cfg[C_EMPTY_LEN] < 0 || cfg[C_UNSET_LEN] + cfg[C_EMPTY_LEN] > 64) return napi_fail(env, "delimScan: bad cfg");
  Layout L = {.mode = cfg[C_MODE], .ncols = cfg[C_NCOLS], .sep = (uint8_t)cfg[C_SEP], .cfg = cfg, .params = params};
  memset(L.slot, -1, sizeof L.slot);
  for (int k = 0; k < W_N; k++) { int c = cfg[C_COLS + k]; if (c >= 0 && c < MAX_COLS) L.slot[c] = (int8_t)k; }
  const uint8_t *p = buf + from, *stop = buf + to;
  double lines = 0, records = 0;
  while (p < stop) {
    const uint8_t *nl = memchr(p, '\n', (size_t)(stop - p));
    if (!nl) break;                                /* an unterminated last line: JavaScript */
    const uint8_t *e = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
    int r = take_line(P, &L, p, e);
    if (r == -2) return napi_fail(env, "delimScan: out of memory");
    if (r < 0) break;
    records += r;
    lines++;
    p = nl + 1;
  }
  out[0] = (double)(p - buf);
  out[1] = lines;
  out[2] = records;
  return NULL;
}

void flow_digest_register(napi_env env, napi_value exports) {
  static const struct { const char *name; napi_callback cb; } fns[] = {
    {"pairsNew", fd_new}, {"pairsAdd", fd_add}, {"pairsTake", fd_take}, {"delimScan", fd_delim},
  };
  for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
    napi_value fn;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn);
    napi_set_named_property(env, exports, fns[i].name, fn);
  }
}
