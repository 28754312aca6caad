#!/usr/bin/env bash
# Why: one idempotent setup for a fresh Debian machine (root). Installs the system
# components Corral drives (bubblewrap, nftables, bpftrace, openssh-server for the lab,
# socat, iproute2), mounts tracefs, enables kernel logging from namespaces, and builds
# the npm package (TypeScript + the native helpers).
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(bubblewrap nftables bpftrace openssh-server socat iproute2 util-linux procps gcc libc6-dev python3 make g++ curl wget chromium ripgrep nats-server postgresql zstd xz-utils bzip2 e2fsprogs)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "corral setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# sshd must not start on the host; the lab starts its own instances.
systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true

# loop devices: resources.workspace_disk mounts each capped workspace from a sparse file
[ -e /dev/loop-control ] || modprobe loop 2>/dev/null || true
if ! mountpoint -q /sys/kernel/tracing 2>/dev/null; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || echo "corral setup: could not mount tracefs (exec/connect sensor will be unavailable)" >&2
fi
# Blocked non-TCP packets are logged by nft from sandbox namespaces; the kernel drops
# such logs from non-initial namespaces unless this is set.
sysctl -qw net.netfilter.nf_log_all_netns=1 2>/dev/null || modprobe nf_log_syslog 2>/dev/null || true
sysctl -qw net.netfilter.nf_log_all_netns=1 2>/dev/null || true

if [ ! -d node_modules ] || [ package.json -nt node_modules/.corral-installed ]; then
  npm install --no-audit --no-fund --loglevel=error
  touch node_modules/.corral-installed
fi
npm run -s build

# `corral` on PATH, for the docs' examples and for callers that run it by name (a Claude Code hook's
# "command": "corral check --hook claude-code"). A wrapper with absolute paths, rewritten on every setup.
node_bin=$(command -v node)
printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$node_bin" "$PWD/dist/src/cli/main.js" > /usr/local/bin/corral.new
chmod 755 /usr/local/bin/corral.new && mv -f /usr/local/bin/corral.new /usr/local/bin/corral
