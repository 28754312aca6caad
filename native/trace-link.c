/*
 * trace-link: the common case of `corral investigate`'s trace pass, in C.
 * Why it exists: 10 M tool calls are 10 M lines; after json-lines' scan() has validated and
 * indexed a batch of them, most lines only add one call to their episode's window and count
 * (and, under an IP with alerts, to that IP's exposure). Doing that in JavaScript cost more
 * than the scan itself: a string per episode name, a Map lookup, an object per episode, and
 * the garbage of 500 k episodes. Here the episodes live in a hash table keyed by their bytes
 * and leave only as a few flat arrays when the range is done. An episode is its run and its
 * name (RL runs restart their numbering: two runs both have an episode "0"): the table's key is
 * the bytes src/investigate/analysis/episode-key.ts builds, ':' + name without a run, else the
 * run's length, ':', the run, then the name.
 * A line is taken here only when it is exactly the common form the JavaScript fast path took
 * (plain-string episode and IP, no "ips", a zoned ISO ts, an end_ts or a duration, end >= ts,
 * plausible times) and no alert of its IP falls into its window; everything else is handed
 * back (verdict SLOW) to the full parser, which reports bad lines with file:line. A call with
 * an alert only after its grace period is handed back as DETACHED: JavaScript decides by its
 * command whether the call could have left a process running (then it is a candidate) or not
 * (then commit() takes it here, and later lines with the same command bytes are taken at once).
 * Threat stopped: a fleet's traces taking minutes to analyse; a hostile trace reading out of
 * bounds (every offset is checked against the buffer, every allocation failure hands the line
 * back instead of crashing).
 *
 * new(layout: Int32Array, params: Float64Array) -> handle
 *   layout: stride, k (the scanner's), then the outI slot of each field F_* below, then its
 *           outF slot. params: skew, lag, grace, min plausible ms, max plausible ms.
 * key(h, ip: string, ts: Float64Array sorted) -> key id (0, 1, … in call order)
 * chunk(h, buf, lines, outI, outF, firstLine, verdict: Uint8Array, before: Float64Array) -> taken
 *   verdict[i]: 0 taken, 1 SLOW, 2 DETACHED, 3 blank. before[i] (not taken): calls taken by
 *   chunk() in this range before line i (JavaScript adds the calls it read itself).
 * commit(h, buf, outI, outF, i, line) -> bool: takes DETACHED line i of the last chunk.
 * take(h, key) -> [start, end, calls, firstLine, run, host, sandbox, keyIds] | undefined, and
 *   forgets the episode (JavaScript folds it into its own episode of that identity, episodeKey()).
 * state(h) -> { fast, late, minTs, maxTs, zoned, dict, keyed, rest, exposure } (exposure windows
 *   per key sorted ascending, starts and ends each).
 */
#include <math.h>
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "napi-util.h"

enum { T_ABSENT = 0, T_STR = 1, T_NUM = 2, T_NULL = 5 };
enum { FL_ESC = 16, FL_HIGH = 32, FL_SAME = 64 };
enum { V_DONE = 0, V_SLOW = 1, V_DETACHED = 2, V_BLANK = 3 };
/* Fields, in the order of the layout array. */
enum { F_EP, F_CMD, F_TS, F_END, F_DUR, F_IP, F_IPS, F_RUN, F_HOST, F_SANDBOX, F_CONTAINER, F_N };

#include "intern.h"

/* ---- the linker ---- */

typedef struct { double *ts; size_t n; Dbl starts, ends; } KeyData;

typedef struct {
  int32_t stride, k, is[F_N], fs[F_N];
  double skew, lag, grace, min_ok, max_ok;
  Intern ips;               /* IPs with alerts -> key id */
  KeyData *keys;
  size_t nkeys, keys_cap;
  Intern names;             /* episode identities (run + name, see above) -> episode id */
  uint8_t *kbuf;            /* the identity of the line at hand */
  size_t kcap_bytes;
  double *start, *end, *first;
  int32_t *calls, *run, *host, *sandbox, *key_head;
  uint8_t *gone;
  size_t ep_cap;
  int32_t *kid, *knext;     /* per-episode key lists */
  size_t kn, kcap;
  Intern dict;              /* run, host and sandbox values */
  Intern plain_cmds;        /* raw command bytes JavaScript judged unable to leave a process running */
  double fast, late, min_ts, max_ts, zoned;
  /* The episode and key of the last line with plain ones (valid while lines are FL_SAME). */
  int cache_ok;
  int32_t cur_ep, cur_key;
  int cur_run_absent;       /* the cached line had no "run" key (F_SAME is never set on absent keys) */
  uint64_t cur_hash;
} Linker;

static void linker_free(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
  Linker *L = data;
  intern_free(&L->ips);
  for (size_t i = 0; i < L->nkeys; i++) { free(L->keys[i].ts); free(L->keys[i].starts.v); free(L->keys[i].ends.v); }
  free(L->keys);
  intern_free(&L->names);
  free(L->kbuf);
  free(L->start); free(L->end); free(L->first); free(L->calls); free(L->run); free(L->host); free(L->sandbox);
  free(L->key_head); free(L->gone); free(L->kid); free(L->knext);
  intern_free(&L->dict);
  intern_free(&L->plain_cmds);
  free(L);
}

static Linker *get_linker(napi_env env, napi_value v) {
  void *p = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external || napi_get_value_external(env, v, &p) != napi_ok) return NULL;
  return p;
}

/* A string field as toStr() reads it: 0 with *id (-1 undefined), or -1: JavaScript must read it. */
static int str_value(Linker *L, const uint8_t *buf, size_t blen, const int32_t *r, int32_t *id) {
  int t = r[0] & 15;
  if (t == T_NUM) return -1;  /* toStr gives String(number): JavaScript's formatting */
  if (t != T_STR) { *id = -1; return 0; }
  if (r[0] & (FL_ESC | FL_HIGH)) return -1;
  if (r[1] < 0 || r[2] < 0 || (size_t)r[1] + (size_t)r[2] > blen) return -1;
  const uint8_t *p = buf + r[1];
  size_t n = (size_t)r[2];
  if (n == 0 || (n == 1 && p[0] == '-')) { *id = -1; return 0; }
  uint64_t h = hash_bytes(p, n);
  int32_t i = intern_find(&L->dict, p, n, h);
  if (i < 0) i = intern_add(&L->dict, p, n, h);
  if (i < 0) return -1;
  *id = i;
  return 0;
}

/* run, host and sandbox (or container) of a line, as the full parser takes them. */
static int line_meta(Linker *L, const uint8_t *buf, size_t blen, const int32_t *rec, int32_t m[3]) {
  if (str_value(L, buf, blen, rec + L->is[F_RUN], &m[0]) || str_value(L, buf, blen, rec + L->is[F_HOST], &m[1])
      || str_value(L, buf, blen, rec + L->is[F_SANDBOX], &m[2])) return -1;
  if (m[2] < 0 && str_value(L, buf, blen, rec + L->is[F_CONTAINER], &m[2])) return -1;
  return 0;
}

/*
 * The episode identity of a line (episode-key.ts's episodeKey) in L->kbuf; NULL when JavaScript
 * must read the line (a numeric run: String(number) is JavaScript's; escapes or UTF-8 in the run).
 * The episode's offsets must have been checked (str_ok).
 */
static const uint8_t *line_key(Linker *L, const uint8_t *buf, size_t blen, const int32_t *rec, size_t *kn) {
  const int32_t *E = rec + L->is[F_EP], *R = rec + L->is[F_RUN];
  const uint8_t *rp = NULL;
  size_t rn = 0;
  int t = R[0] & 15;
  if (t == T_NUM) return NULL;
  if (t == T_STR) {
    if (R[0] & (FL_ESC | FL_HIGH)) return NULL;
    if (R[1] < 0 || R[2] < 0 || (size_t)R[1] + (size_t)R[2] > blen) return NULL;
    rp = buf + R[1]; rn = (size_t)R[2];
    if (rn == 0 || (rn == 1 && rp[0] == '-')) rp = NULL;  /* toStr: no run */
  }
  size_t en = (size_t)E[2], need = en + (rp ? rn + 24 : 1);
  if (grow((void **)&L->kbuf, &L->kcap_bytes, need, 1)) return NULL;
  size_t at = 0;
  if (rp) {
    char digits[24];
    int d = 0;
    size_t v = rn;
    do { digits[d++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (d) L->kbuf[at++] = (uint8_t)digits[--d];
    L->kbuf[at++] = ':';
    memcpy(L->kbuf + at, rp, rn); at += rn;
  } else L->kbuf[at++] = ':';
  memcpy(L->kbuf + at, buf + E[1], en); at += en;
  *kn = at;
  return L->kbuf;
}

static int32_t episode_add(Linker *L, const uint8_t *p, size_t n, uint64_t h) {
  size_t need = (size_t)L->names.n + 1;
  if (need > L->ep_cap) {
    size_t c[9];
    for (int i = 0; i < 9; i++) c[i] = L->ep_cap;
    if (grow((void **)&L->start, &c[0], need, sizeof(double)) || grow((void **)&L->end, &c[1], need, sizeof(double))
        || grow((void **)&L->first, &c[2], need, sizeof(double)) || grow((void **)&L->calls, &c[3], need, sizeof(int32_t))
        || grow((void **)&L->run, &c[4], need, sizeof(int32_t)) || grow((void **)&L->host, &c[5], need, sizeof(int32_t))
        || grow((void **)&L->sandbox, &c[6], need, sizeof(int32_t)) || grow((void **)&L->key_head, &c[7], need, sizeof(int32_t))
        || grow((void **)&L->gone, &c[8], need, 1)) return -1;
    size_t m = c[0];
    for (int i = 1; i < 9; i++) if (c[i] < m) m = c[i];
    L->ep_cap = m;
  }
  int32_t e = intern_add(&L->names, p, n, h);
  if (e < 0) return -1;
  L->start[e] = INFINITY; L->end[e] = -INFINITY; L->first[e] = INFINITY;
  L->calls[e] = 0; L->run[e] = L->host[e] = L->sandbox[e] = -1; L->key_head[e] = -1; L->gone[e] = 0;
  return e;
}

static int episode_key(Linker *L, int32_t e, int32_t key) {
  for (int32_t j = L->key_head[e]; j >= 0; j = L->knext[j]) if (L->kid[j] == key) return 0;
  size_t c1 = L->kcap, c2 = L->kcap;
  if (grow((void **)&L->kid, &c1, L->kn + 1, sizeof *L->kid) || grow((void **)&L->knext, &c2, L->kn + 1, sizeof *L->knext)) return -1;
  L->kcap = c1 < c2 ? c1 : c2;
  /* Appended at the end of the list: keys stay in the order the episode met them. */
  int32_t j = (int32_t)L->kn++;
  L->kid[j] = key; L->knext[j] = -1;
  if (L->key_head[e] < 0) L->key_head[e] = j;
  else { int32_t t = L->key_head[e]; while (L->knext[t] >= 0) t = L->knext[t]; L->knext[t] = j; }
  return 0;
}

static size_t lower_bound(const double *a, size_t n, double x) {
  size_t lo = 0, hi = n;
  while (lo < hi) { size_t mid = (lo + hi) >> 1; if (a[mid] < x) lo = mid + 1; else hi = mid; }
  return lo;
}

/* SpanLinker.quickCheck: 0 no alert in the window, 1 one inside the call or its grace, 2 only later. */
static int quick_check(const Linker *L, int32_t key, double a, double b) {
  const KeyData *k = &L->keys[key];
  size_t i = lower_bound(k->ts, k->n, a - L->skew);
  if (i >= k->n) return 0;
  double t = k->ts[i];
  if (t > b + L->lag + L->skew) return 0;
  return t > b + L->skew + L->grace ? 2 : 1;
}

static int str_ok(const int32_t *r, size_t blen) {
  return (r[0] & 15) == T_STR && !(r[0] & (FL_ESC | FL_HIGH)) && r[2] > 0 && r[1] >= 0 && (size_t)r[1] + (size_t)r[2] <= blen;
}

/* The line's raw command bytes, when they are a string inside the buffer (else n = 0). */
static const uint8_t *command_bytes(const Linker *L, const uint8_t *buf, size_t blen, const int32_t *rec, size_t *n) {
  const int32_t *C = rec + L->is[F_CMD];
  *n = 0;
  if ((C[0] & 15) != T_STR || C[1] < 0 || C[2] < 0 || (size_t)C[1] + (size_t)C[2] > blen) return NULL;
  *n = (size_t)C[2];
  return buf + C[1];
}

/*
 * Whether JavaScript already judged this command (by its raw bytes, as its own cache keys it)
 * unable to leave a process running: such a DETACHED line is taken at once, as commit() would.
 */
static int plain_command(const Linker *L, const uint8_t *buf, size_t blen, const int32_t *rec) {
  size_t n;
  const uint8_t *c = command_bytes(L, buf, blen, rec, &n);
  return c && L->plain_cmds.n > 0 && intern_find(&L->plain_cmds, c, n, hash_bytes(c, n)) >= 0;
}

/* Remembers a committed line's command (up to 1 M commands, 64 MB of them). */
static void remember_plain(Linker *L, const uint8_t *buf, size_t blen, const int32_t *rec) {
  size_t n;
  const uint8_t *c = command_bytes(L, buf, blen, rec, &n);
  if (!c || L->plain_cmds.n >= (1u << 20) || L->plain_cmds.alen + n > (64u << 20)) return;
  uint64_t h = hash_bytes(c, n);
  if (intern_find(&L->plain_cmds, c, n, h) < 0) intern_add(&L->plain_cmds, c, n, h);  /* (out of memory: not remembered) */
}

/*
 * One line of the last scan. late: commit a DETACHED line (the cache of the line before is not
 * used or changed: chunk() has moved past it). Returns a verdict.
 */
static int eval_line(Linker *L, const uint8_t *buf, size_t blen, const int32_t *rec, const double *f, double line, int late) {
  if (rec[2] == 2) return V_BLANK;
  if (rec[2] != 0) return V_SLOW;
  const int32_t *E = rec + L->is[F_EP], *P = rec + L->is[F_IP], *R = rec + L->is[F_RUN];
  int32_t ep, key;
  uint64_t eh;
  const uint8_t *kb = NULL;  /* this line's identity in L->kbuf, when built here (not cached) */
  size_t kn = 0;
  int run_absent = (R[0] & 15) == T_ABSENT;
  if (!late && L->cache_ok && (E[0] & P[0] & FL_SAME) && ((R[0] & FL_SAME) || (run_absent && L->cur_run_absent))) { ep = L->cur_ep; key = L->cur_key; eh = L->cur_hash; }
  else {
    if (!late) L->cache_ok = 0;
    if (!str_ok(E, blen) || !str_ok(P, blen)) return V_SLOW;
    if (memchr(buf + P[1], ',', (size_t)P[2])) return V_SLOW;  /* "a,b" is a list */
    if (E[2] == 1 && buf[E[1]] == '-') return V_SLOW;          /* toStr("-") is no episode */
    key = intern_find(&L->ips, buf + P[1], (size_t)P[2], hash_bytes(buf + P[1], (size_t)P[2]));
    /* An IPv6 address with no alert as spelt: JavaScript spells it canonically and looks again. */
    if (key < 0 && memchr(buf + P[1], ':', (size_t)P[2])) return V_SLOW;
    kb = line_key(L, buf, blen, rec, &kn);
    if (!kb) return V_SLOW;
    eh = hash_bytes(kb, kn);
    ep = intern_find(&L->names, kb, kn, eh);
    if (!late) { L->cache_ok = 1; L->cur_ep = ep; L->cur_key = key; L->cur_hash = eh; L->cur_run_absent = run_absent; }
  }
  if ((rec[L->is[F_IPS]] & 15) != T_ABSENT || (rec[L->is[F_CMD]] & 15) != T_STR || (rec[L->is[F_TS]] & 15) != T_STR) return V_SLOW;
  double a = f[L->fs[F_TS]], b;
  if (a != a) return V_SLOW;  /* not a zoned ISO string: TsParser decides */
  int end_ts = 0, et = rec[L->is[F_END]] & 15;
  if (et == T_STR) { b = f[L->fs[F_END]]; end_ts = 1; if (b != b) return V_SLOW; }
  else if (et == T_ABSENT || et == T_NULL) {
    if ((rec[L->is[F_DUR]] & 15) != T_NUM) return V_SLOW;  /* no end (assumed and noted), or a bad duration */
    double d = f[L->fs[F_DUR]];
    if (!(d >= 0 && d <= 31536000000.0)) return V_SLOW;  /* (over a year: JavaScript reports it, MAX_DURATION_MS) */
    b = a + d;
  } else return V_SLOW;
  if (!(b >= a)) return V_SLOW;
  /* An implausible time is counted (and the first one named) by TsParser, in line order. */
  if (a < L->min_ok || a > L->max_ok || (end_ts && (b < L->min_ok || b > L->max_ok))) return V_SLOW;
  if (key >= 0 && !late) {
    int q = quick_check(L, key, a, b);
    if (q == 1) return V_SLOW;
    if (q == 2 && !plain_command(L, buf, blen, rec)) return V_DETACHED;
  }
  /* A new episode (or a late line before its first) takes run, host and sandbox from its first line. */
  if (ep < 0 || line < L->first[ep]) {
    int32_t m[3];
    if (line_meta(L, buf, blen, rec, m)) return V_SLOW;
    if (ep < 0) {
      if (E[1] < 0 || E[2] <= 0 || (size_t)E[1] + (size_t)E[2] > blen) return V_SLOW;  /* (a cached line's offsets, unchecked so far) */
      if (!kb) kb = line_key(L, buf, blen, rec, &kn);  /* (a cached line's: the same bytes, so the same hash) */
      if (!kb) return V_SLOW;
      ep = episode_add(L, kb, kn, eh);
      if (ep < 0) return V_SLOW;
      if (!late) L->cur_ep = ep;
    }
    L->first[ep] = line; L->run[ep] = m[0]; L->host[ep] = m[1]; L->sandbox[ep] = m[2];
  }
  if (key >= 0) {
    KeyData *k = &L->keys[key];
    if (dbl_push(&k->starts, a - L->skew) || dbl_push(&k->ends, b + L->skew) || episode_key(L, ep, key)) {
      /* Out of memory: keep the two exposure arrays the same length and let JavaScript read the line. */
      if (k->starts.n > k->ends.n) k->starts.n--;
      return V_SLOW;
    }
  }
  if (late) L->late++; else L->fast++;
  if (a < L->min_ts) L->min_ts = a;
  if (b > L->max_ts) L->max_ts = b;
  L->calls[ep]++;
  if (a < L->start[ep]) L->start[ep] = a;
  if (b > L->end[ep]) L->end[ep] = b;
  L->zoned += end_ts ? 2 : 1;
  return V_DONE;
}

static napi_value num(napi_env env, double v) {
  napi_value out;
  napi_create_double(env, v, &out);
  return out;
}

static napi_value tl_new(napi_env env, napi_callback_info info) {
  NAPI_ARGS(2);
  int32_t *layout;
  double *params;
  size_t ln, pn;
  if (argc < 2 || napi_typed(env, argv[0], napi_int32_array, (void **)&layout, &ln) || ln != 2 + 2 * F_N
      || napi_typed(env, argv[1], napi_float64_array, (void **)&params, &pn) || pn != 5) return napi_fail(env, "linkerNew(layout, params)");
  int32_t stride = layout[0], k = layout[1];
  if (k < 1 || k > 64 || stride != 4 + 3 * k) return napi_fail(env, "linkerNew: bad layout");
  Linker *L = calloc(1, sizeof *L);
  if (!L) return napi_fail(env, "linkerNew: out of memory");
  L->stride = stride; L->k = k;
  for (int i = 0; i < F_N; i++) {
    L->is[i] = layout[2 + i]; L->fs[i] = layout[2 + F_N + i];
    if (L->is[i] < 4 || L->is[i] + 3 > stride || (L->is[i] - 4) % 3 || L->fs[i] < 0 || L->fs[i] >= k) { free(L); return napi_fail(env, "linkerNew: bad slot"); }
  }
  L->skew = params[0]; L->lag = params[1]; L->grace = params[2]; L->min_ok = params[3]; L->max_ok = params[4];
  L->min_ts = INFINITY; L->max_ts = -INFINITY;
  napi_value out;
  if (napi_create_external(env, L, linker_free, NULL, &out) != napi_ok) { linker_free(env, L, NULL); return napi_fail(env, "linkerNew: cannot wrap"); }
  return out;
}

/* A JS string's UTF-8 bytes (malloc'd; NULL on failure). */
static uint8_t *utf8_of(napi_env env, napi_value v, size_t *n) {
  if (napi_get_value_string_utf8(env, v, NULL, 0, n) != napi_ok) return NULL;
  uint8_t *s = malloc(*n + 1);
  if (s && napi_get_value_string_utf8(env, v, (char *)s, *n + 1, n) != napi_ok) { free(s); return NULL; }
  return s;
}

static napi_value tl_key(napi_env env, napi_callback_info info) {
  NAPI_ARGS(3);
  Linker *L = argc >= 3 ? get_linker(env, argv[0]) : NULL;
  double *ts;
  size_t tn, n;
  if (!L || napi_typed(env, argv[2], napi_float64_array, (void **)&ts, &tn)) return napi_fail(env, "linkerKey(h, ip, ts)");
  uint8_t *s = utf8_of(env, argv[1], &n);
  if (!s) return napi_fail(env, "linkerKey: ip must be a string");
  uint64_t h = hash_bytes(s, n);
  int32_t id = intern_find(&L->ips, s, n, h);
  if (id >= 0 || (size_t)L->ips.n != L->nkeys) { free(s); return napi_fail(env, "linkerKey: key given twice"); }
  if (grow((void **)&L->keys, &L->keys_cap, L->nkeys + 1, sizeof *L->keys)) { free(s); return napi_fail(env, "linkerKey: out of memory"); }
  KeyData *k = &L->keys[L->nkeys];
  memset(k, 0, sizeof *k);
  k->ts = malloc((tn ? tn : 1) * sizeof *k->ts);
  if (!k->ts) { free(s); return napi_fail(env, "linkerKey: out of memory"); }
  if (tn) memcpy(k->ts, ts, tn * sizeof *ts);
  k->n = tn;
  for (size_t i = 1; i < tn; i++) if (!(ts[i - 1] <= ts[i])) { free(k->ts); free(s); return napi_fail(env, "linkerKey: ts must be sorted"); }
  id = intern_add(&L->ips, s, n, h);
  free(s);
  if (id < 0) { free(k->ts); return napi_fail(env, "linkerKey: out of memory"); }
  L->nkeys++;
  return num(env, id);
}

typedef struct { uint8_t *buf; size_t blen; int32_t *outI; double *outF; size_t ilen, flen; } Batch;

static int batch_args(napi_env env, Linker *L, napi_value *argv, Batch *b) {
  return napi_typed(env, argv[0], napi_uint8_array, (void **)&b->buf, &b->blen)
      || napi_typed(env, argv[1], napi_int32_array, (void **)&b->outI, &b->ilen)
      || napi_typed(env, argv[2], napi_float64_array, (void **)&b->outF, &b->flen) || !L;
}

static napi_value tl_chunk(napi_env env, napi_callback_info info) {
  NAPI_ARGS(8);
  if (argc < 8) return napi_fail(env, "linkerChunk(h, buf, lines, outI, outF, firstLine, verdict, before)");
  Linker *L = get_linker(env, argv[0]);
  Batch b;
  napi_value bargs[3] = { argv[1], argv[3], argv[4] };
  int64_t lines;
  double line;
  uint8_t *verdict;
  double *before;
  size_t vn, bn;
  if (batch_args(env, L, bargs, &b) || napi_get_value_int64(env, argv[2], &lines) != napi_ok || napi_get_value_double(env, argv[5], &line) != napi_ok
      || napi_typed(env, argv[6], napi_uint8_array, (void **)&verdict, &vn) || napi_typed(env, argv[7], napi_float64_array, (void **)&before, &bn))
    return napi_fail(env, "linkerChunk: bad arguments");
  if (lines < 0 || (size_t)lines > vn || (size_t)lines > bn || (size_t)lines * (size_t)L->stride > b.ilen || (size_t)lines * (size_t)L->k > b.flen)
    return napi_fail(env, "linkerChunk: more lines than the arrays hold");
  L->cache_ok = 0;  /* a new batch: "same as the line before" starts over */
  int64_t taken = 0;
  for (int64_t i = 0; i < lines; i++) {
    before[i] = L->fast;
    int v = eval_line(L, b.buf, b.blen, b.outI + i * L->stride, b.outF + i * L->k, line + (double)i, 0);
    verdict[i] = (uint8_t)v;
    if (v == V_DONE) taken++;
  }
  return num(env, (double)taken);
}

static napi_value tl_commit(napi_env env, napi_callback_info info) {
  NAPI_ARGS(6);
  if (argc < 6) return napi_fail(env, "linkerCommit(h, buf, outI, outF, i, line)");
  Linker *L = get_linker(env, argv[0]);
  Batch b;
  int64_t i;
  double line;
  if (batch_args(env, L, argv + 1, &b) || napi_get_value_int64(env, argv[4], &i) != napi_ok || napi_get_value_double(env, argv[5], &line) != napi_ok)
    return napi_fail(env, "linkerCommit: bad arguments");
  if (i < 0 || (size_t)(i + 1) * (size_t)L->stride > b.ilen || (size_t)(i + 1) * (size_t)L->k > b.flen) return napi_fail(env, "linkerCommit: no such line");
  const int32_t *rec = b.outI + i * L->stride;
  int v = eval_line(L, b.buf, b.blen, rec, b.outF + i * L->k, line, 1);
  if (v == V_DONE && rec[2] == 0) remember_plain(L, b.buf, b.blen, rec);
  napi_value out;
  napi_get_boolean(env, v == V_DONE, &out);
  return out;
}

static napi_value dict_str(napi_env env, const Linker *L, int32_t id) {
  napi_value out;
  if (id < 0) napi_get_undefined(env, &out);
  else napi_create_string_latin1(env, (const char *)L->dict.arena + L->dict.off[id], L->dict.len[id], &out);
  return out;
}

static napi_value typed_copy(napi_env env, napi_typedarray_type t, const void *src, size_t n, size_t size) {
  void *data;
  napi_value ab, out;
  if (napi_create_arraybuffer(env, n * size, &data, &ab) != napi_ok) return NULL;
  if (n) memcpy(data, src, n * size);
  if (napi_create_typedarray(env, t, n, ab, 0, &out) != napi_ok) return NULL;
  return out;
}

static napi_value tl_take(napi_env env, napi_callback_info info) {
  NAPI_ARGS(2);
  Linker *L = argc >= 2 ? get_linker(env, argv[0]) : NULL;
  size_t n;
  if (!L) return napi_fail(env, "linkerTake(h, name)");
  uint8_t *s = utf8_of(env, argv[1], &n);
  if (!s) return napi_fail(env, "linkerTake: name must be a string");
  int32_t e = intern_find(&L->names, s, n, hash_bytes(s, n));
  free(s);
  napi_value out;
  if (e < 0 || L->gone[e]) { napi_get_undefined(env, &out); return out; }
  L->gone[e] = 1;
  uint32_t nk = 0;
  napi_value list;
  napi_create_array(env, &list);
  for (int32_t j = L->key_head[e]; j >= 0; j = L->knext[j]) napi_set_element(env, list, nk++, num(env, L->kid[j]));
  napi_value v[8] = { num(env, L->start[e]), num(env, L->end[e]), num(env, L->calls[e]), num(env, L->first[e]),
                      dict_str(env, L, L->run[e]), dict_str(env, L, L->host[e]), dict_str(env, L, L->sandbox[e]), list };
  napi_create_array_with_length(env, 8, &out);
  for (uint32_t i = 0; i < 8; i++) napi_set_element(env, out, i, v[i]);
  return out;
}

/* Episodes of one kind (with keys, or without) as columns. */
static napi_value export_episodes(napi_env env, const Linker *L, int keyed) {
  size_t n = 0, chars = 0, nk = 0;
  for (uint32_t e = 0; e < L->names.n; e++) {
    if (L->gone[e] || (L->key_head[e] >= 0) != keyed) continue;
    n++; chars += L->names.len[e];
    for (int32_t j = L->key_head[e]; j >= 0; j = L->knext[j]) nk++;
  }
  char *names = malloc(chars + 1);
  int32_t *ends = malloc((n + 1) * sizeof *ends), *calls = malloc((n + 1) * sizeof *calls);
  int32_t *meta = malloc((3 * n + 1) * sizeof *meta), *kstarts = malloc((n + 1) * sizeof *kstarts), *kids = malloc((nk + 1) * sizeof *kids);
  double *num3 = malloc((3 * n + 1) * sizeof *num3);
  napi_value out = NULL;
  if (!names || !ends || !calls || !meta || !kstarts || !kids || !num3) goto done;
  size_t i = 0, at = 0, ki = 0;
  for (uint32_t e = 0; e < L->names.n; e++) {
    if (L->gone[e] || (L->key_head[e] >= 0) != keyed) continue;
    memcpy(names + at, L->names.arena + L->names.off[e], L->names.len[e]);
    at += L->names.len[e];
    ends[i] = (int32_t)at;
    calls[i] = L->calls[e];
    num3[3 * i] = L->start[e]; num3[3 * i + 1] = L->end[e]; num3[3 * i + 2] = L->first[e];
    meta[3 * i] = L->run[e]; meta[3 * i + 1] = L->host[e]; meta[3 * i + 2] = L->sandbox[e];
    kstarts[i] = (int32_t)ki;
    for (int32_t j = L->key_head[e]; j >= 0; j = L->knext[j]) kids[ki++] = L->kid[j];
    i++;
  }
  kstarts[n] = (int32_t)ki;
  napi_value s, o;
  if (napi_create_string_latin1(env, names, chars, &s) != napi_ok || napi_create_object(env, &o) != napi_ok) goto done;
  napi_value fields[6] = {
    typed_copy(env, napi_int32_array, ends, n, sizeof *ends), typed_copy(env, napi_int32_array, calls, n, sizeof *calls),
    typed_copy(env, napi_float64_array, num3, 3 * n, sizeof *num3), typed_copy(env, napi_int32_array, meta, 3 * n, sizeof *meta),
    typed_copy(env, napi_int32_array, kstarts, n + 1, sizeof *kstarts), typed_copy(env, napi_int32_array, kids, nk, sizeof *kids),
  };
  const char *names_of[6] = { "nameEnds", "calls", "num", "meta", "keyStarts", "keyIds" };
  napi_set_named_property(env, o, "names", s);
  for (int f = 0; f < 6; f++) { if (!fields[f]) goto done; napi_set_named_property(env, o, names_of[f], fields[f]); }
  out = o;
done:
  free(names); free(ends); free(calls); free(meta); free(kstarts); free(kids); free(num3);
  return out;
}

/*
 * Sorts a ascending (natural merge sort: the exposure windows arrive in line order, mostly in
 * runs of one episode's calls, so the runs are found and merged; V8's sort of the same arrays was
 * ~0.15 s per trace worker). Values are finite doubles (times ± skew), so the order is
 * Float64Array#sort's. Returns -1 when the scratch buffer cannot be had (a is then unchanged).
 */
static int sort_doubles(double *a, size_t n) {
  if (n < 2) return 0;
  size_t runs = 1;
  for (size_t i = 1; i < n; i++) if (a[i] < a[i - 1]) runs++;
  if (runs == 1) return 0;
  if (n <= 32) {
    for (size_t i = 1; i < n; i++) { double v = a[i]; size_t j = i; while (j > 0 && a[j - 1] > v) { a[j] = a[j - 1]; j--; } a[j] = v; }
    return 0;
  }
  double *t = malloc(n * sizeof *t);
  if (!t) return -1;
  double *src = a, *dst = t;
  while (runs > 1) {
    size_t out = 0, i = 0, merged = 0;
    while (i < n) {
      size_t m = i + 1;
      while (m < n && src[m] >= src[m - 1]) m++;           /* first run [i, m) */
      size_t e = m;
      if (e < n) { e++; while (e < n && src[e] >= src[e - 1]) e++; } /* second run [m, e) */
      size_t p = i, q = m;
      while (p < m && q < e) dst[out++] = src[q] < src[p] ? src[q++] : src[p++];  /* stable */
      while (p < m) dst[out++] = src[p++];
      while (q < e) dst[out++] = src[q++];
      merged++;
      i = e;
    }
    runs = merged;
    double *x = src; src = dst; dst = x;
  }
  if (src != a) memcpy(a, src, n * sizeof *a);
  free(t);
  return 0;
}

static napi_value tl_state(napi_env env, napi_callback_info info) {
  NAPI_ARGS(1);
  Linker *L = argc >= 1 ? get_linker(env, argv[0]) : NULL;
  if (!L) return napi_fail(env, "linkerState(h)");
  napi_value o, dict, exposure, keyed = export_episodes(env, L, 1), rest = export_episodes(env, L, 0);
  if (!keyed || !rest) return napi_fail(env, "linkerState: out of memory");
  napi_create_object(env, &o);
  napi_create_array_with_length(env, L->dict.n, &dict);
  for (uint32_t i = 0; i < L->dict.n; i++) napi_set_element(env, dict, i, dict_str(env, L, (int32_t)i));
  napi_create_array_with_length(env, L->nkeys, &exposure);
  for (size_t i = 0; i < L->nkeys; i++) {
    KeyData *k = &L->keys[i];
    if (sort_doubles(k->starts.v, k->starts.n) || sort_doubles(k->ends.v, k->ends.n)) return napi_fail(env, "linkerState: out of memory");
    napi_value x, st = typed_copy(env, napi_float64_array, k->starts.v, k->starts.n, sizeof(double)), en = typed_copy(env, napi_float64_array, k->ends.v, k->ends.n, sizeof(double));
    if (!st || !en) return napi_fail(env, "linkerState: out of memory");
    napi_create_object(env, &x);
    napi_set_named_property(env, x, "starts", st);
    napi_set_named_property(env, x, "ends", en);
    napi_set_element(env, exposure, (uint32_t)i, x);
  }
  napi_set_named_property(env, o, "fast", num(env, L->fast));
  napi_set_named_property(env, o, "late", num(env, L->late));
  napi_set_named_property(env, o, "minTs", num(env, L->min_ts));
  napi_set_named_property(env, o, "maxTs", num(env, L->max_ts));
  napi_set_named_property(env, o, "zoned", num(env, L->zoned));
  napi_set_named_property(env, o, "dict", dict);
  napi_set_named_property(env, o, "keyed", keyed);
  napi_set_named_property(env, o, "rest", rest);
  napi_set_named_property(env, o, "exposure", exposure);
  return o;
}

void trace_link_register(napi_env env, napi_value exports) {
  struct { const char *name; napi_callback cb; } fns[] = {
    { "linkerNew", tl_new }, { "linkerKey", tl_key }, { "linkerChunk", tl_chunk },
    { "linkerCommit", tl_commit }, { "linkerTake", tl_take }, { "linkerState", tl_state },
  };
  for (size_t i = 0; i < sizeof fns / sizeof *fns; i++) {
    napi_value fn;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn);
    napi_set_named_property(env, exports, fns[i].name, fn);
  }
}
