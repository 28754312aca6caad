/*
 * sorted-merge: merges the trace workers' sorted call windows per source key on a thread of the
 * libuv pool, for `corral investigate`.
 * Why it exists: after the trace pass only the main thread works, and one of the two cores idles.
 * Merging the windows (2.7 M starts and as many ends for 10 M calls, from four ranges) took the main
 * thread 0.1-0.2 s, and the arrays it allocated for each pairwise step as much again in page
 * faults. Here the merge runs beside the main thread's own merge of the episodes, in one pass per
 * key, into memory the result then owns.
 * The job's memory (the inputs' copy and the result) is mapped with transparent huge pages where the
 * kernel allows it: filling ~90 MB of fresh 4 KiB pages cost more in page faults than the merge.
 * Threat stopped: none beyond speed. Every input is checked to be a Float64Array and copied before
 * the call returns: the pool thread reads only memory the job owns, so JavaScript that detaches an
 * input (a transfer to a worker, structuredClone) or writes to it while the work runs can neither
 * free what it reads nor change the result. An allocation failure rejects the promise (or throws)
 * instead of writing anywhere.
 *
 * mergeSortedRuns(groups: Float64Array[][]) -> Promise<Float64Array[]>
 *   groups[g]: arrays each sorted ascending; result[g]: their elements, all of them, sorted (the
 *   inputs as they were at the call: they are copied first).
 *   (NaN is not expected: callers merge finite window bounds.)
 */
#include <node_api.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "napi-util.h"

typedef struct { double *v; size_t n; } Run; /* v: the job's own copy of the input */
typedef struct { Run *runs; size_t nruns; double *out; size_t n; } Group; /* out: inside the job's result */

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  Group *groups;
  size_t ngroups;
  size_t total;        /* elements in all groups */
  double *in, *out;    /* the inputs' copy and the result, each `total` doubles (big_alloc) */
  size_t in_len, out_len;
  int failed;
} Job;

/* Anonymous memory for n bytes, with huge pages asked for when large (len: what to munmap). */
static void *big_alloc(size_t n, size_t *len) {
  size_t huge = (size_t)2 << 20;
  size_t l = n < huge ? (n ? n : 1) : (n + huge - 1) / huge * huge;
  void *p = mmap(NULL, l, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
  if (l >= huge) madvise(p, l, MADV_HUGEPAGE); /* (a hint: refused or unsupported, 4 KiB pages still work) */
#endif
  *len = l;
  return p;
}

/* One group: the runs merged by always taking the smallest head (few runs: a linear scan of heads). */
static void merge_group(Group *g) {
  size_t k = g->nruns, at = 0;
  if (k == 1) { if (g->runs[0].n) memcpy(g->out, g->runs[0].v, g->runs[0].n * sizeof(double)); return; }
  size_t pos[64] = { 0 };
  for (;;) {
    int best = -1;
    double bv = 0;
    for (size_t r = 0; r < k; r++) {
      if (pos[r] >= g->runs[r].n) continue;
      double x = g->runs[r].v[pos[r]];
      if (best < 0 || x < bv) { best = (int)r; bv = x; }
    }
    if (best < 0) break;
    /* take the whole stretch of the best run that stays at or below the next smallest head */
    double limit = 0;
    int has = 0;
    for (size_t r = 0; r < k; r++) {
      if ((int)r == best || pos[r] >= g->runs[r].n) continue;
      double x = g->runs[r].v[pos[r]];
      if (!has || x < limit) { limit = x; has = 1; }
    }
    const Run *b = &g->runs[best];
    size_t p = pos[best];
    if (!has) { memcpy(g->out + at, b->v + p, (b->n - p) * sizeof(double)); at += b->n - p; pos[best] = b->n; continue; }
    do g->out[at++] = b->v[p++]; while (p < b->n && b->v[p] <= limit); /* (at least one: progress even past a NaN) */
    pos[best] = p;
  }
}

static void execute(napi_env env, void *data) {
  (void)env;
  Job *j = data;
  j->out = big_alloc(j->total * sizeof(double), &j->out_len);
  if (!j->out) { j->failed = 1; return; }
  size_t at = 0;
  for (size_t g = 0; g < j->ngroups; g++) {
    Group *gr = &j->groups[g];
    gr->out = j->out + at;
    at += gr->n;
    merge_group(gr);
  }
}

static void unmap_out(napi_env env, void *data, void *hint) { (void)env; munmap(data, (size_t)(uintptr_t)hint); }

static void job_free(napi_env env, Job *j) {
  for (size_t g = 0; g < j->ngroups; g++) free(j->groups[g].runs);
  free(j->groups);
  if (j->in) munmap(j->in, j->in_len);
  if (j->out) munmap(j->out, j->out_len);
  if (j->work) napi_delete_async_work(env, j->work);
  free(j);
}

static void reject(napi_env env, Job *j, const char *why) {
  napi_value msg, err;
  napi_create_string_utf8(env, why, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, NULL, msg, &err);
  napi_reject_deferred(env, j->deferred, err);
  job_free(env, j);
}

static void complete(napi_env env, napi_status status, void *data) {
  Job *j = data;
  napi_value result, ab;
  if (status != napi_ok || j->failed || napi_create_array_with_length(env, j->ngroups, &result) != napi_ok) { reject(env, j, "mergeSortedRuns: out of memory"); return; }
  /* One buffer holds every group's result; each group's Float64Array is a view of its part. */
  size_t bytes = j->total * sizeof(double);
  if (napi_create_external_arraybuffer(env, j->out, bytes, unmap_out, (void *)(uintptr_t)j->out_len, &ab) == napi_ok) j->out = NULL; /* the buffer's now */
  else {
    void *copy; /* (no external buffers here: a copy instead) */
    if (napi_create_arraybuffer(env, bytes, &copy, &ab) != napi_ok) { reject(env, j, "mergeSortedRuns: out of memory"); return; }
    if (bytes) memcpy(copy, j->out, bytes);
  }
  size_t at = 0;
  for (size_t g = 0; g < j->ngroups; g++) {
    napi_value arr;
    napi_create_typedarray(env, napi_float64_array, j->groups[g].n, ab, at * sizeof(double), &arr);
    napi_set_element(env, result, (uint32_t)g, arr);
    at += j->groups[g].n;
  }
  napi_resolve_deferred(env, j->deferred, result);
  job_free(env, j);
}

static napi_value merge_sorted_runs(napi_env env, napi_callback_info info) {
  NAPI_ARGS(1);
  bool is_array = false;
  uint32_t ng = 0;
  if (argc < 1 || napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array || napi_get_array_length(env, argv[0], &ng) != napi_ok)
    return napi_fail(env, "mergeSortedRuns(groups: Float64Array[][])");
  Job *j = calloc(1, sizeof *j);
  if (!j || !(j->groups = calloc(ng ? ng : 1, sizeof *j->groups))) { free(j); return napi_fail(env, "mergeSortedRuns: out of memory"); }
  j->ngroups = ng;
  for (uint32_t g = 0; g < ng; g++) {
    napi_value grp;
    uint32_t nr = 0;
    bool arr = false;
    if (napi_get_element(env, argv[0], g, &grp) != napi_ok || napi_is_array(env, grp, &arr) != napi_ok || !arr
        || napi_get_array_length(env, grp, &nr) != napi_ok || nr == 0 || nr > 64) { job_free(env, j); return napi_fail(env, "mergeSortedRuns: each group must be an array of 1 to 64 Float64Arrays"); }
    Group *gr = &j->groups[g];
    if (!(gr->runs = calloc(nr, sizeof *gr->runs))) { job_free(env, j); return napi_fail(env, "mergeSortedRuns: out of memory"); }
    gr->nruns = nr;
    for (uint32_t r = 0; r < nr; r++) {
      napi_value run;
      void *v;
      size_t n;
      if (napi_get_element(env, grp, r, &run) != napi_ok || napi_typed(env, run, napi_float64_array, &v, &n)) { job_free(env, j); return napi_fail(env, "mergeSortedRuns: each group must be an array of 1 to 64 Float64Arrays"); }
      (void)v;
      gr->runs[r].n = n; gr->n += n; /* (sizes only: the arrays are read again, and copied, below) */
    }
    j->total += gr->n;
  }
  /* A copy, taken now: a pointer into an input would be read on the pool thread after this returns,
     when JavaScript may have detached (and the GC freed) or rewritten its buffer. Each array is looked
     up again and copied at once (an element getter may have run in between: its size must not have changed). */
  if (!(j->in = big_alloc(j->total * sizeof(double), &j->in_len))) { job_free(env, j); return napi_fail(env, "mergeSortedRuns: out of memory"); }
  size_t at = 0;
  for (uint32_t g = 0; g < ng; g++) {
    Group *gr = &j->groups[g];
    napi_value grp;
    if (napi_get_element(env, argv[0], g, &grp) != napi_ok) { job_free(env, j); return napi_fail(env, "mergeSortedRuns: the groups changed during the call"); }
    for (uint32_t r = 0; r < gr->nruns; r++) {
      napi_value run;
      void *v;
      size_t n;
      if (napi_get_element(env, grp, r, &run) != napi_ok || napi_typed(env, run, napi_float64_array, &v, &n) || n != gr->runs[r].n) { job_free(env, j); return napi_fail(env, "mergeSortedRuns: the groups changed during the call"); }
      gr->runs[r].v = j->in + at;
      if (n) memcpy(gr->runs[r].v, v, n * sizeof(double));
      at += n;
    }
  }
  napi_value promise, name;
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok) { job_free(env, j); return napi_fail(env, "mergeSortedRuns: cannot start"); }
  napi_create_string_utf8(env, "mergeSortedRuns", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, NULL, name, execute, complete, j, &j->work) != napi_ok || napi_queue_async_work(env, j->work) != napi_ok) {
    napi_value msg, err;
    napi_create_string_utf8(env, "mergeSortedRuns: cannot queue", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, j->deferred, err);
    job_free(env, j);
  }
  return promise;
}

void sorted_merge_register(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "mergeSortedRuns", NAPI_AUTO_LENGTH, merge_sorted_runs, NULL, &fn);
  napi_set_named_property(env, exports, "mergeSortedRuns", fn);
}
