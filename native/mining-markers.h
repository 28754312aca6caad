/* mining-markers: the gateway's search for mining JSON-RPC marker strings (see mining-markers.c). */
#ifndef CORRAL_MINING_MARKERS_H
#define CORRAL_MINING_MARKERS_H
#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

long mining_marker_at(const uint8_t *p, size_t n, size_t from);
napi_value napi_mining_marker_at(napi_env env, napi_callback_info info);

#endif
