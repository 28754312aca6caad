#!/usr/bin/env bash
# Why: Corral's GPU adapter (src/gpu/) was written and tested on a machine with no GPU,
# against hand-written fixtures in nvidia-smi's documented format. This script is the check
# on a real NVIDIA host: it records the real outputs (so they can replace the fixtures),
# parses them with Corral's parsers, samples the live tool, checks that bwrap's fresh /dev
# hides the GPU unless granted, and, if a GPU load tool is already installed, captures a
# busy GPU with a compute process. It downloads and installs nothing, opens no network
# connection, and bounds every step (total well under 60 s).
#
# Usage (repo root, after `npx tsc -p tsconfig.json`, or with dist/ carried over):
#   OUT=/some/dir bash scripts/device-check-gpu.sh
# Results: $OUT/gpu-fixtures/ (raw captures), $OUT/gpu-check/ (parsed JSON, logs).
# Exit: 0 all checks passed; 1 a capture could not be parsed or a check failed; 3 no GPU / no nvidia-smi; 4 not built.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-$(mktemp -d /tmp/corral-gpu-check-XXXXXX)}
FIX="$OUT/gpu-fixtures"
RES="$OUT/gpu-check"
mkdir -p "$FIX" "$RES"
CLI=dist/src/gpu/check-cli.js
BUDGET=55
FAIL=0
SECONDS=0
GPU_Q='--query-gpu=index,uuid,name,utilization.gpu,utilization.memory,memory.used,memory.total,power.draw,temperature.gpu'
APPS_Q='--query-compute-apps=gpu_uuid,pid,process_name,used_memory'
FMT='--format=csv,noheader,nounits'

say() { printf '== [%2ds] %s\n' "$SECONDS" "$*"; }
FAILS=()
bad() { printf 'FAIL: %s\n' "$*"; FAIL=1; FAILS+=("$*"); }
left() { echo $((BUDGET - SECONDS)); }
# t SECS CMD...: run with a hard timeout that never exceeds what is left of the budget.
t() { local s=$1; shift; local l; l=$(left); [ "$l" -lt "$s" ] && s=$l; [ "$s" -lt 1 ] && { echo "(skipped: time budget spent)"; return 124; }; timeout -k 2 "$s" "$@"; }

say "host: $(uname -r), node $(node --version 2>/dev/null || echo missing), out: $OUT"
if ! command -v nvidia-smi >/dev/null 2>&1; then echo "nvidia-smi not found on PATH: not a GPU host"; exit 3; fi
if [ ! -f "$CLI" ]; then
  if [ -x node_modules/.bin/tsc ]; then say "building (dist/ missing)"; t 40 node_modules/.bin/tsc -p tsconfig.json >"$RES/tsc.log" 2>&1; fi
  [ -f "$CLI" ] || { echo "$CLI missing: run 'npx tsc -p tsconfig.json' first or carry dist/"; exit 4; }
fi

say "nvidia-smi version"
{ t 10 nvidia-smi --version 2>&1 || t 10 nvidia-smi 2>&1 | head -n 4; } | tee "$FIX/nvidia-smi-version.txt"
t 10 nvidia-smi -L >"$FIX/list.txt" 2>&1; rc=$?
cat "$FIX/list.txt"
[ $rc -eq 0 ] || { echo "nvidia-smi -L failed (exit $rc)"; exit 3; }

say "capturing the two queries (idle) and nvidia-smi -q"
t 10 nvidia-smi "$GPU_Q" "$FMT" >"$FIX/query-gpu.csv" 2>"$FIX/query-gpu.stderr" || bad "query-gpu exited $?"
t 10 nvidia-smi "$APPS_Q" "$FMT" >"$FIX/query-compute-apps.csv" 2>"$FIX/query-compute-apps.stderr" || bad "query-compute-apps exited $?"
t 15 nvidia-smi -q >"$FIX/nvidia-smi-q.txt" 2>&1 || echo "(nvidia-smi -q exited $?)"
t 15 nvidia-smi -q -x >"$FIX/nvidia-smi-q.xml" 2>&1 || echo "(nvidia-smi -q -x exited $?; kept for reference only)"
grep -E '^(Driver|CUDA) Version|Minor Number|Product Name|^        Current' "$FIX/nvidia-smi-q.txt" | head -n 20

say "parsing the captures with Corral's parsers"
if t 10 node "$CLI" --gpu-file "$FIX/query-gpu.csv" --apps-file "$FIX/query-compute-apps.csv" --q-file "$FIX/nvidia-smi-q.txt" \
    --proc-cgroups --json >"$RES/parsed-idle.json" 2>"$RES/parsed-idle.stderr"; then
  cat "$RES/parsed-idle.json"
else bad "idle captures did not parse (see below)"; cat "$RES/parsed-idle.json" "$RES/parsed-idle.stderr"; fi

say "live sampler (GpuSampler running the real nvidia-smi)"
t 15 node "$CLI" --live --count 2 --interval-ms 500 --q-file "$FIX/nvidia-smi-q.txt" >"$RES/live-idle.txt" 2>&1 || bad "live sampler failed"
cat "$RES/live-idle.txt"

say "device plan for a grant of all GPUs on this host (nvidia-smi -q minor numbers)"
t 10 node "$CLI" --gpu-file "$FIX/query-gpu.csv" --q-file "$FIX/nvidia-smi-q.txt" --grant all 2>&1 | sed -n '/bwrap device args/,$p' | tee "$RES/device-plan-all.txt"

say "device isolation through bwrap (fresh /dev; GPU nodes only when granted)"
if command -v bwrap >/dev/null 2>&1; then
  BASE=(bwrap --unshare-user --unshare-pid --unshare-ipc --die-with-parent)
  for d in usr etc opt var sys bin sbin lib lib64; do
    if [ -L "/$d" ]; then BASE+=(--symlink "$(readlink "/$d")" "/$d"); elif [ -d "/$d" ]; then BASE+=(--ro-bind "/$d" "/$d"); fi
  done
  BASE+=(--dev /dev --proc /proc --tmpfs /tmp)
  mapfile -d '' NONE < <(node "$CLI" --gpu-file "$FIX/query-gpu.csv" --q-file "$FIX/nvidia-smi-q.txt" --grant none --args0)
  mapfile -d '' GPU0 < <(node "$CLI" --gpu-file "$FIX/query-gpu.csv" --q-file "$FIX/nvidia-smi-q.txt" --grant 0 --args0)
  echo "grant 0 -> ${GPU0[*]:-(error)}"
  t 10 "${BASE[@]}" "${NONE[@]}" -- /bin/sh -c 'ls /dev | grep nvidia; nvidia-smi -L' >"$RES/bwrap-none.txt" 2>&1; rc_none=$?
  t 10 "${BASE[@]}" "${GPU0[@]}" -- /bin/sh -c 'ls /dev | grep nvidia; nvidia-smi -L' >"$RES/bwrap-gpu0.txt" 2>&1; rc_gpu0=$?
  echo "-- no grant (exit $rc_none):"; cat "$RES/bwrap-none.txt"
  echo "-- grant GPU 0 (exit $rc_gpu0):"; cat "$RES/bwrap-gpu0.txt"
  if grep -q '^nvidia' "$RES/bwrap-none.txt" || grep -q '^GPU [0-9]' "$RES/bwrap-none.txt"; then bad "a GPU is visible without a grant"; else echo "ok: no GPU without a grant"; fi
  if [ ${#GPU0[@]} -eq 0 ]; then bad "no device args for grant 0"
  elif grep -q '^GPU 0' "$RES/bwrap-gpu0.txt"; then echo "ok: GPU usable with a grant"; else bad "granted GPU 0 not usable inside bwrap"; fi
else echo "(bwrap not installed: skipped; apt-get is not used here)"; fi

say "bounded GPU load, only with a tool already installed"
LOAD=()
LOAD_S=15
if command -v dcgmproftester12 >/dev/null 2>&1; then LOAD=(dcgmproftester12 --no-dcgm-validation -t 1004 -d "$LOAD_S")
elif command -v dcgmproftester11 >/dev/null 2>&1; then LOAD=(dcgmproftester11 --no-dcgm-validation -t 1004 -d "$LOAD_S")
elif command -v gpu_burn >/dev/null 2>&1; then LOAD=(gpu_burn "$LOAD_S")
elif timeout 20 python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
  LOAD=(python3 -c "import time, torch
a = torch.randn(8192, 8192, device='cuda'); end = time.time() + $LOAD_S; n = 0
while time.time() < end and n < 100000:
    a = (a @ a).clamp_(-1, 1); n += 1
torch.cuda.synchronize(); print('matmuls', n)")
fi
if [ ${#LOAD[@]} -eq 0 ]; then echo "(no GPU load tool installed: dcgmproftester, gpu_burn or python3+torch; skipped)"
elif [ "$(left)" -lt $((LOAD_S + 10)) ]; then echo "(skipped: not enough of the time budget left)"
else
  echo "load: ${LOAD[0]} for ${LOAD_S} s"
  timeout -k 2 $((LOAD_S + 5)) "${LOAD[@]}" >"$RES/load.log" 2>&1 &
  LOAD_PID=$!
  sleep 6
  t 10 nvidia-smi "$GPU_Q" "$FMT" >"$FIX/query-gpu-load.csv" 2>&1 || bad "query-gpu under load exited $?"
  t 10 nvidia-smi "$APPS_Q" "$FMT" >"$FIX/query-compute-apps-load.csv" 2>&1 || bad "query-compute-apps under load exited $?"
  t 10 node "$CLI" --live --count 2 --interval-ms 1000 --json >"$RES/live-load.json" 2>"$RES/live-load.stderr" || bad "live sampler under load failed"
  wait "$LOAD_PID"; echo "load exited $? ($(tail -n 1 "$RES/load.log"))"
  if t 10 node "$CLI" --gpu-file "$FIX/query-gpu-load.csv" --apps-file "$FIX/query-compute-apps-load.csv" --proc-cgroups --json >"$RES/parsed-load.json" 2>"$RES/parsed-load.stderr"; then
    cat "$RES/parsed-load.json"
  else bad "captures under load did not parse"; cat "$RES/parsed-load.json" "$RES/parsed-load.stderr"; fi
  [ -s "$FIX/query-compute-apps-load.csv" ] || bad "no compute process listed while the load ran"
fi

say "done in ${SECONDS}s: $([ $FAIL -eq 0 ] && echo PASS || echo FAIL)"
for f in "${FAILS[@]}"; do echo "  failed: $f"; done
echo "captures: $FIX  results: $RES"
exit $FAIL
