#!/usr/bin/env bash
# Records the measured GPU baseline (docs/performance.md, "A measured GPU baseline") on a machine
# with an NVIDIA GPU: the shipped model, the 46M and the 216M shapes, every precision, batch 1, 8
# and 64, stream and CUDA Graph variants, each checked against the golden model first; then the
# shipped model's report beside the roofline.
#
#   ./bench/gpu/run_gpu_baseline.sh [OUT_DIR]
#
# Environment: SECONDS_PER_ROW (timed seconds per configuration, default 5), IDLE_SECONDS
# (default 10), GPU_SPEC (the roofline to print beside it: h100 or h200, default h100).
# Needs build/bench/gpu/spiketile_gpu_bench (cmake --build build --target spiketile_gpu_bench).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$root/build/gpu-measured}"
seconds="${SECONDS_PER_ROW:-5}"
idle="${IDLE_SECONDS:-10}"
spec="${GPU_SPEC:-h100}"
bench="$root/build/bench/gpu/spiketile_gpu_bench"
if [ ! -x "$bench" ]; then
  echo "no $bench: build it with 'cmake --build build --target spiketile_gpu_bench' (needs nvcc)" >&2
  exit 1
fi
mkdir -p "$out"

run() { echo "\$ $*"; "$@"; echo; }

if command -v nvidia-smi >/dev/null; then
  run nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem,power.limit,temperature.gpu --format=csv
fi
common=(--seconds "$seconds" --idle-seconds "$idle")
run "$bench" --model "$root/models/spikegpt-fortunes.pth" "${common[@]}" --json "$out/fortunes.json"
# The same random weights build/bench/make_random_model --shape writes (seed 1).
run "$bench" --shape 12,512,5458 "${common[@]}" --json "$out/46m.json"
run "$bench" --shape 18,768,50277 "${common[@]}" --json "$out/216m.json"

if [ -x "$root/build/spiketile" ]; then
  run "$root/build/spiketile" run --quantized -n 32 --prompt "The " --quiet-stats --stats "$out/fortunes-stats.json"
  run "$root/build/spiketile" report --stats "$out/fortunes-stats.json" --gpu "$spec" --gpu-measured "$out/fortunes.json" \
      --json "$out/fortunes-report.json" --html "$out/fortunes-report.html"
fi
echo "measurements in $out"
