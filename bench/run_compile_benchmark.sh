#!/usr/bin/env bash
# Reproduces "Compiler: 216M compile" of docs/performance.md: compiles a random-weight checkpoint
# of the 216M shape (L18 C768 V50277, upstream layout) onto chips/large.yaml and reports wall
# time, peak resident memory and its ratio to the int8 weight bytes; then the placement-effort
# trade-off, and the not-fit error on chips/default.yaml.
#   ./bench/run_compile_benchmark.sh [work dir, default /tmp/sf216]
# Needs build/spiketile and build/bench/make_random_model
# (cmake --build build --target spiketile make_random_model) and GNU time (/usr/bin/time).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-/tmp/sf216}"
spiketile="$root/build/spiketile"
make_model="$root/build/bench/make_random_model"
model="$dir/spikegpt-216m.safetensors"
for tool in "$spiketile" "$make_model" /usr/bin/time; do
  [[ -x "$tool" ]] || { echo "missing $tool: build it first (see the header of $0)" >&2; exit 1; }
done
mkdir -p "$dir"

if [[ ! -f "$model" || ! -f "$dir/spikegpt-216m.calib.json" ]]; then
  echo "\$ make_random_model --shape 18,768,50277 -o $model   (860 MB float32 + calibration; about a minute)"
  "$make_model" --shape 18,768,50277 -o "$model"
  echo
fi

# Runs `spiketile compile ARGS...` under /usr/bin/time -v; leaves its output in $dir/compile.out
# and compile.err, and prints wall time and peak RSS.
timed_compile() {
  echo "\$ spiketile compile $*"
  local status=0
  /usr/bin/time -v -o "$dir/compile.time" "$spiketile" compile "$@" >"$dir/compile.out" 2>"$dir/compile.err" || status=$?
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir/compile.time")
  rss_kib=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/compile.time")
  echo "  exit $status, wall $wall, peak RSS $rss_kib KiB"
  return $status
}

timed_compile --model "$model" --chip "$root/chips/large.yaml" -o "$dir/spikegpt-216m.stmap"
grep -E '^(model|cores used|weights):|placement cost' "$dir/compile.out"
weight_bytes=$(sed -n 's/^weights: *\([0-9]*\) bytes at.*/\1/p' "$dir/compile.out")
parameters=$((2 * 50277 * 768 + 18 * (13 * 768 * 768 + 11 * 768) + 4 * 768))
awk -v rss="$rss_kib" -v w="$weight_bytes" -v p="$parameters" 'BEGIN {
  peak = rss * 1024
  printf "  peak %.1f MB = %.3f x the crossbar int8 weight bytes (QuantizedSpikeGpt::weight_bytes %d)\n", peak / 1e6, peak / w, w
  printf "                 %.3f x all %d parameters at one byte each (embedding included)\n", peak / p, p
}'
echo

echo "placement effort (annealing moves per unit; 120 is the default):"
for effort in 0 120 500; do
  timed_compile --model "$model" --chip "$root/chips/large.yaml" --placement-effort "$effort" -o "$dir/effort.stmap"
  grep 'placement cost' "$dir/compile.out"
done
rm -f "$dir/effort.stmap"
echo

# The .pth reader streams too: the same checkpoint written by torch.save must compile to the same
# bytes. Both are compiled as "spikegpt-216m" from their own folder, so the recorded model path
# (and the calibration found beside it) is the same.
if /usr/bin/python3 -c "import torch" 2>/dev/null; then
  if [[ ! -f "$dir/spikegpt-216m.pth" ]]; then
    echo "\$ torch.save of the same tensors -> $dir/spikegpt-216m.pth"
    /usr/bin/python3 - "$model" "$dir/spikegpt-216m.pth" <<'PY'
import collections, json, struct, sys, torch
source, target = sys.argv[1], sys.argv[2]
with open(source, "rb") as f:
    (length,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(length), object_pairs_hook=collections.OrderedDict)
    data = bytearray(f.read())
state = collections.OrderedDict()
for name, spec in header.items():
    if name == "__metadata__":
        continue
    assert spec["dtype"] == "F32", spec["dtype"]
    begin, end = spec["data_offsets"]
    state[name] = torch.frombuffer(data, dtype=torch.float32, count=(end - begin) // 4, offset=begin).reshape(spec["shape"]).clone()
torch.save(state, target)
PY
  fi
  for format in safetensors pth; do
    mkdir -p "$dir/as-$format"
    ln -sf "../spikegpt-216m.$format" "$dir/as-$format/spikegpt-216m"
    cp "$dir/spikegpt-216m.calib.json" "$dir/as-$format/"
    (cd "$dir/as-$format" && timed_compile --model spikegpt-216m --chip "$root/chips/large.yaml" -o "$dir/as-$format.stmap")
  done
  cmp "$dir/as-safetensors.stmap" "$dir/as-pth.stmap" && echo "  .pth and .safetensors give byte-identical mappings"
  rm -f "$dir/as-safetensors.stmap" "$dir/as-pth.stmap"
  echo
fi

echo "the default configuration (one chip, 256 cores) cannot hold it; expected: exit 2 and the reason"
status=0
timed_compile --model "$model" --chip "$root/chips/default.yaml" -o "$dir/default.stmap" || status=$?
sed 's/^/  /' "$dir/compile.err"
[[ $status -eq 2 ]] || { echo "expected exit 2 (does not fit), got $status" >&2; exit 1; }
