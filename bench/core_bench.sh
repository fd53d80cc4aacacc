#!/usr/bin/env bash
# Core engine benchmarks, side by side in one run (medians of 3, alternating the tools):
#  1. 1,000 independent `run: [true]` steps with --parallel 2 vs `make -j2` over 1,000 phony targets
#     running `true` (target: slipway <= 1.5x make's wall time);
#  2. `slipway validate` of a generated 10,000-step plan (target: < 1 s);
#  3. the checkpoint's cost: the executor with and without state on the 1,000-step plan (target < 1.3x).
# Usage: bench/core_bench.sh [BUILD_DIR]
set -euo pipefail
build=$(realpath "${1:-build}")
slipway="$build/slipway"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

{
  echo "apiVersion: slipway/v1"; echo "kind: Plan"; echo "metadata: {name: bench1k}"; echo "steps:"
  for i in $(seq 1 1000); do echo "  - {id: s$i, run: [\"true\"]}"; done
} > p1k.yaml
{
  printf 'all:'; for i in $(seq 1 1000); do printf ' t%d' "$i"; done; echo
  echo ".PHONY: all $(for i in $(seq 1 1000); do printf 't%d ' "$i"; done)"
  for i in $(seq 1 1000); do printf 't%d:\n\ttrue\n' "$i"; done
} > Makefile
{
  echo "apiVersion: slipway/v1"; echo "kind: Plan"; echo "metadata: {name: bench10k}"; echo "vars: {x: y}"; echo "steps:"
  for i in $(seq 1 10000); do
    if (( i > 1 )); then echo "  - {id: s$i, needs: [s$((i - 1))], run: [echo, \"{{ vars.x }}\"]}"
    else echo "  - {id: s$i, run: [echo, \"{{ vars.x }}\"]}"; fi
  done
} > p10k.yaml

now() { date +%s.%N; }
median() { sort -g | sed -n 2p; }
t_make=(); t_slip=(); t_val=()
for round in 1 2 3; do
  s=$(now); make -s -j2 >/dev/null; e=$(now); t_make+=("$(echo "$e - $s" | bc -l)")
  s=$(now); "$slipway" --state "$work/state" -q apply p1k.yaml --parallel 2 --fresh >/dev/null; e=$(now)
  t_slip+=("$(echo "$e - $s" | bc -l)")
  s=$(now); "$slipway" validate p10k.yaml >/dev/null; e=$(now); t_val+=("$(echo "$e - $s" | bc -l)")
done
m_make=$(printf '%s\n' "${t_make[@]}" | median)
m_slip=$(printf '%s\n' "${t_slip[@]}" | median)
m_val=$(printf '%s\n' "${t_val[@]}" | median)
printf '1,000 steps, parallel 2:  make -j2 %.3fs   slipway apply %.3fs   ratio %.2fx (target <= 1.5x)\n' \
  "$m_make" "$m_slip" "$(echo "$m_slip / $m_make" | bc -l)"
printf 'validate 10,000 steps:    %.3fs (target < 1 s)\n' "$m_val"

if [[ -x "$build/checkpoint_bench" ]]; then
  "$build/checkpoint_bench" --benchmark_format=json > cp.json 2>/dev/null
  python3 - <<'PY'
import json
d = json.load(open("cp.json"))
med = {b["run_name"].split("/")[0]: b["real_time"] for b in d["benchmarks"] if b.get("aggregate_name") == "median"}
w, wo = med["BM_ExecutorWithState"], med["BM_ExecutorWithoutState"]
print(f"checkpoint cost, 1,000 steps: without state {wo:.0f} ms, with state {w:.0f} ms, ratio {w / wo:.2f}x (target < 1.3x)")
PY
fi
