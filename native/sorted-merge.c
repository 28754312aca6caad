/*
 * sorted-merge: merges the trace workers' sorted call windows per source key on a thread of the
 * libuv pool, for `corral investigate`.
 * Why it exists: after the trace pass only the main thread works, and one of the two cores idles.
 * Merging the windows (2.7 M starts and as many ends for 10 M calls, from four ranges) took the main
 * thread 0.1-0.2 s, and the arrays it allocated for each pairwise step as much again in page
 * faults. Here the merge runs beside the main thread's own merge of the episodes, in one pass per
 * key, into memory the result then owns.
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
#include "napi-util.h"

typedef struct { double *v; size_t n; } Run; /* v: the job's own copy of the input */
typedef struct { Run *runs; size_t nruns; double *out; size_t n; } Group;

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  Group *groups;
  size_t ngroups;
  int failed;
} Job;

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
  for (size_t g = 0; g < j->ngroups; g++) {
    Group *gr = &j->groups[g];
    gr->out = malloc((gr->n ? gr->n : 1) * sizeof(double));
    if (!gr->out) { j->failed = 1; return; }
    merge_group(gr);
  }
}

static void free_out(napi_env env, void *data, void *hint) { (void)env; (void)hint; free(data); }

static void job_free(napi_env env, Job *j) {
  for (size_t g = 0; g < j->ngroups; g++) {
    Group *gr = &j->groups[g];
    if (gr->runs) for (size_t r = 0; r < gr->nruns; r++) free(gr->runs[r].v);
    free(gr->runs); free(gr->out);
  }
  free(j->groups);
  if (j->work) napi_delete_async_work(env, j->work);
  free(j);
}

static void complete(napi_env env, napi_status status, void *data) {
  Job *j = data;
  napi_value result, err;
  if (status != napi_ok || j->failed || napi_create_array_with_length(env, j->ngroups, &result) != napi_ok) {
    napi_value msg;
    napi_create_string_utf8(env, "mergeSortedRuns: out of memory", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, j->deferred, err);
    job_free(env, j);
    return;
  }
  for (size_t g = 0; g < j->ngroups; g++) {
    Group *gr = &j->groups[g];
    napi_value ab, arr;
    if (napi_create_external_arraybuffer(env, gr->out, gr->n * sizeof(double), free_out, NULL, &ab) != napi_ok) {
      /* (no external buffers here: a copy instead) */
      void *copy;
      if (napi_create_arraybuffer(env, gr->n * sizeof(double), &copy, &ab) != napi_ok) { napi_value msg; napi_create_string_utf8(env, "mergeSortedRuns: out of memory", NAPI_AUTO_LENGTH, &msg); napi_create_error(env, NULL, msg, &err); napi_reject_deferred(env, j->deferred, err); job_free(env, j); return; }
      memcpy(copy, gr->out, gr->n * sizeof(double));
      free(gr->out);
    }
    gr->out = NULL; /* owned by the ArrayBuffer now (or freed after the copy) */
    napi_create_typedarray(env, napi_float64_array, gr->n, ab, 0, &arr);
    napi_set_element(env, result, (uint32_t)g, arr);
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
      /* A copy, taken now: a pointer into the array would be read on the pool thread after this
         returns, when JavaScript may have detached (and the GC freed) or rewritten its buffer. */
      if (!(gr->runs[r].v = malloc(n ? n * sizeof(double) : 1))) { job_free(env, j); return napi_fail(env, "mergeSortedRuns: out of memory"); }
      if (n) memcpy(gr->runs[r].v, v, n * sizeof(double));
      gr->runs[r].n = n; gr->n += n;
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
