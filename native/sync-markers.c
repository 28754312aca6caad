/*
 * sync-markers: the kernel sensor's barrier. bpftrace drains one perf buffer per CPU, each in order but not the
 * CPUs in order, so "every record written before now has been read" needs a marker in every CPU's buffer. This
 * pins the calling thread (the runtime's main thread, for a few microseconds) to each CPU in turn and makes there
 * a prctl() with an option no kernel knows (it fails with EINVAL and does nothing); the sensor's probe on it,
 * filtered to Corral's own process, prints the CPU and the barrier's token from inside that CPU's buffer. The
 * thread's affinity is put back before returning. Cost: one migration and one syscall per CPU, no process
 * (the exec chain it replaces cost one exec per CPU). Threat stopped: records lost to a session's close —
 * attribution and capture completeness depend on the barrier being one.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "napi-util.h"
#include "sync-markers.h"

/* syncMarkers(cpus: Int32Array, lo: number, hi: number): Int32Array — the CPUs a marker was made on */
napi_value napi_sync_markers(napi_env env, napi_callback_info info) {
  NAPI_ARGS(3);
  void *data;
  size_t n;
  uint32_t lo = 0, hi = 0;
  if (argc < 3 || napi_typed(env, argv[0], napi_int32_array, &data, &n) != 0) return napi_fail(env, "syncMarkers: an Int32Array of CPUs, then two uint32 token halves");
  if (napi_get_value_uint32(env, argv[1], &lo) != napi_ok || napi_get_value_uint32(env, argv[2], &hi) != napi_ok) return napi_fail(env, "syncMarkers: the token halves must be numbers");
  const int32_t *cpus = data;
  int32_t *done = malloc((n ? n : 1) * sizeof *done);
  if (!done) return napi_fail(env, "syncMarkers: out of memory");
  size_t k = 0;
  cpu_set_t old, one;
  if (sched_getaffinity(0, sizeof old, &old) == 0) {
    for (size_t i = 0; i < n; i++) {
      if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) continue;
      CPU_ZERO(&one);
      CPU_SET(cpus[i], &one);
      /* (returns once this thread runs on that CPU; a CPU taken offline or outside the cpuset is skipped: sandboxes are held off it, src/sandbox/cpu-confine.ts) */
      if (sched_setaffinity(0, sizeof one, &one) != 0) continue;
      syscall(SYS_prctl, (unsigned long)CORRAL_SYNC_PRCTL, (unsigned long)lo, (unsigned long)hi, 0UL, 0UL);
      done[k++] = cpus[i];
    }
    sched_setaffinity(0, sizeof old, &old);
  }
  napi_value ab, out;
  void *abData = NULL;
  napi_create_arraybuffer(env, k * sizeof(int32_t), &abData, &ab);
  if (k && abData) memcpy(abData, done, k * sizeof(int32_t));
  free(done);
  napi_create_typedarray(env, napi_int32_array, k, ab, 0, &out);
  return out;
}
