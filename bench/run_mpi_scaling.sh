#!/usr/bin/env bash
# Reproduces "Runs over MPI ranks" of docs/performance.md: one run of `simulate` in one process and
# over 1 to 4 MPI ranks, on the shipped model compiled onto chips/default.yaml (four chips) and on
# the 46M shape compiled onto chips/large.yaml with --objective cores (716 units on seven chips);
# prints, per run, wall time and what the windows cost (the summary's window line).
#   ./bench/run_mpi_scaling.sh [work dir, default /tmp/spiketile-mpi-scaling] [tokens, default 16]
# Needs build/spiketile, build/bench/make_random_model and mpirun (Open MPI).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-/tmp/spiketile-mpi-scaling}"
tokens="${2:-16}"
spiketile="$root/build/spiketile"
mkdir -p "$dir"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1   # Open MPI refuses root without them

"$spiketile" compile --chip "$root/chips/default.yaml" -o "$dir/shipped.stmap" --progress off > /dev/null
[[ -f "$dir/m46.safetensors" ]] || "$root/build/bench/make_random_model" --shape 12,512,5458 -o "$dir/m46.safetensors" > /dev/null
"$spiketile" compile --model "$dir/m46.safetensors" --chip "$root/chips/large.yaml" --objective cores --progress off \
  -o "$dir/m46.stmap" > /dev/null

# One run: prints ranks, wall seconds, simulated tokens per wall second, and the window line's figures.
measure() {
  local name="$1" ranks="$2"; shift 2
  local launcher=()
  [[ "$ranks" == "-" ]] || launcher=(mpirun -n "$ranks" --oversubscribe --bind-to none)
  local start end
  start=$(date +%s.%N)
  "${launcher[@]}" "$spiketile" simulate "$@" --progress off > /dev/null 2> "$dir/$name.err"
  end=$(date +%s.%N)
  local sim windows
  sim=$(grep '^simulation:' "$dir/$name.err")
  windows=$(grep '^windows' "$dir/$name.err" || true)
  printf '%-10s ranks %-2s  wall %7.2f s  %s\n' "$name" "$ranks" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" "${sim#simulation: }"
  printf '           %s\n' "${windows#windows (chips apart, sim/README.md): }"
}

echo "machine: $(nproc) cores; $(mpirun --version | head -1)"
for ranks in - 1 2 3 4; do
  measure "shipped$ranks" "$ranks" --map "$dir/shipped.stmap" --prompt "the meaning of life is " -n "$tokens" --sample-seed 1
done
for ranks in - 1 2 3 4; do
  measure "m46_$ranks" "$ranks" --map "$dir/m46.stmap" --prompt-ids 11,22 -n "$tokens" --temperature 0
done
