#!/usr/bin/env bash
# Quantization sweep of docs/numerics.md §7: BPC and SOPs per token of the quantized model for
# weight bits {4,6,8} x activation bits {4,6,8} on the shipped model's held-out text.
# Usage: scripts/numerics_sweep.sh [max_tokens]   (needs ./build/spiketile; no torch)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cli="$root/build/spiketile"
model="$root/models/spikegpt-fortunes.pth"
text="$root/tests/data/fortunes_heldout.txt"
max="${1:-0}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$cli" eval --model "$model" --text "$text" --max-tokens "$max" --json "$tmp/float.json" >/dev/null 2>&1
float_bpc=$(python3 -c "import json;print('%.4f'%json.load(open('$tmp/float.json'))['bits_per_token'])")
echo "| weight bits | activation bits | BPC | Δ vs float ($float_bpc) | SOP graded / token | SOP bit-serial / token | binary SOP / token |"
echo "|---|---|---|---|---|---|---|"
for wb in 8 6 4; do
  for ab in 8 6 4; do
    "$cli" eval --model "$model" --text "$text" --max-tokens "$max" --quantized --weight-bits "$wb" \
      --activation-bits "$ab" --json "$tmp/q.json" >/dev/null 2>&1
    python3 - "$tmp/q.json" "$wb" "$ab" "$float_bpc" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); wb, ab, fb = sys.argv[2], sys.argv[3], float(sys.argv[4])
sop = j["counts"]["total"]["sop"]; steps = j["tokens_evaluated"] + 1
print(f"| {wb} | {ab} | {j['bits_per_token']:.4f} | {j['bits_per_token'] - fb:+.4f} | {sop['graded'] / steps:,.0f} | {sop['bit_serial'] / steps:,.0f} | {sop['binary'] / steps:,.1f} |")
PY
  done
done
