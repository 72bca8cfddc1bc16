#!/usr/bin/env bash
# README command 1: install dependencies, build, and run the main job on the shipped model:
# compile it onto the default chip, simulate a prompt cycle-accurately, report energy and SOPs
# against a GPU baseline and the paper's arithmetic, and write the HTML report.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh"
cd "$root"
out="build/main-job"
mkdir -p "$out"
tool=./build/spiketile

echo "== 1. compile the shipped model onto chips/default.yaml =="
$tool compile --chip chips/default.yaml -o "$out/spikegpt-fortunes.stmap" > "$out/compile.txt"
sed -n "/^chip:/,/^units by layer/p" "$out/compile.txt" | sed '$d'   # sed reads to the end: no SIGPIPE
echo "(full compile report: $out/compile.txt; 'spiketile inspect $out/spikegpt-fortunes.stmap' prints it again)"
echo
echo "== 2. simulate a prompt on the cycle-accurate SystemC chip (same bits as the functional model) =="
$tool simulate --map "$out/spikegpt-fortunes.stmap" --prompt "the meaning of life is " -n 64 --sample-seed 1 \
  --stats "$out/simulate-stats.json" --progress off
echo
echo "== 3. energy and SOP report: chip vs GPU vs the paper's estimate =="
$tool report --stats "$out/simulate-stats.json" --gpu h200 --paper \
  --json "$out/report.json" --csv "$out/report.csv" --html "$out/report.html"
echo
echo "HTML report: $out/report.html"
