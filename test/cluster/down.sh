#!/usr/bin/env bash
# Stops a test cluster started by up.sh DIR: SIGTERM to each component's process group, SIGKILL to
# what is left after a grace period, then removes DIR (KEEP_CLUSTER_DIR=1 keeps it, e.g. for the logs).
#   test/cluster/down.sh DIR
set -uo pipefail
dir=${1:?usage: down.sh DIR}
[[ -f "$dir/pids" ]] || { echo "down.sh: no cluster in $dir"; exit 0; }
pids=$(awk '{print $2}' "$dir/pids")
# Stop in reverse start order: the API server's clients first, etcd last.
for pid in $(echo "$pids" | tac); do kill -TERM -- "-$pid" 2>/dev/null; done
for _ in $(seq 50); do
  alive=""
  for pid in $pids; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
  [[ -z "$alive" ]] && break
  sleep 0.1
done
for pid in $pids; do kill -KILL -- "-$pid" 2>/dev/null; done
rm -f "$dir/pids"
if [[ "${KEEP_CLUSTER_DIR:-}" != 1 ]]; then
  rm -rf "$dir"
fi
echo "down.sh: stopped"
