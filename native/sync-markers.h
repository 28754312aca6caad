/* sync-markers: the sensor barrier's per-CPU markers (see sync-markers.c). */
#ifndef CORRAL_SYNC_MARKERS_H
#define CORRAL_SYNC_MARKERS_H
#include <node_api.h>

/* The prctl option of a marker ('CorS'): no kernel defines it. src/sensors/bpftrace-program.ts SYNC_PRCTL holds the same. */
#define CORRAL_SYNC_PRCTL 0x436f7253

napi_value napi_sync_markers(napi_env env, napi_callback_info info);

#endif
