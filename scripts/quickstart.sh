#!/usr/bin/env bash
# README command 1: install dependencies, build, and run the main job on the shipped model.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
cd "$root"
echo "== spikeforge inspect (shipped model) =="
./build/spikeforge inspect | sed -n "1,11p"   # sed reads to the end: no SIGPIPE under pipefail
echo
echo "== spikeforge run: golden float32 SpikeGPT, 200 characters =="
./build/spikeforge run --prompt "the meaning of life is " -n 200 --seed 1
echo
echo "== spikeforge run --quantized: the integer contract, with event counts per layer =="
./build/spikeforge run --quantized --prompt "the meaning of life is " -n 100 --seed 1
