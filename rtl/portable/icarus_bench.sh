#!/usr/bin/env bash
# The self-checking bench in Icarus Verilog: the Verilator bench writes its stimulus and the C++
# reference's expected outputs as a vector file (rtl_bench --write-vectors), and
# rtl/portable/vectors_tb.sv replays it on the RTL, or on a gate-level netlist, in vvp.
#   rtl/portable/icarus_bench.sh RTL_BENCH CONFIG CYCLES SEED WORK_DIR [--netlist FILE]
# RTL_BENCH: the built rtl_bench; CONFIG: small, narrow or default. The design is every module
# in rtl/, or with --netlist a gate-level netlist of CONFIG (rtl/portable/synth.sh --netlist)
# beside rtl/synapse_memory.sv, the model of the SRAM macro it instantiates. Exits 0 iff both
# the Verilator bench and the replay pass.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rtl="$(dirname "$here")"
[[ $# -ge 5 ]] || { sed -n '2,10p' "${BASH_SOURCE[0]}" >&2; exit 2; }
bench="$1" config="$2" cycles="$3" seed="$4" work="$5"
shift 5
design=("$rtl"/synapse_memory.sv "$rtl"/multiplier_table.sv "$rtl"/accumulator_array.sv "$rtl"/requantizer.sv
        "$rtl"/neuron_param_table.sv "$rtl"/neuron_unit.sv "$rtl"/neuron_core.sv)
defines=()
if [[ "${1:-}" == --netlist ]]; then
  design=("$2" "$rtl"/synapse_memory.sv)
  defines=(-DVECTORS_TB_NETLIST)
fi
mkdir -p "$work"
vectors="$work/$config.$seed.vec"
"$bench" --config "$config" --cycles "$cycles" --seed "$seed" --write-vectors "$vectors" --max-report 5
overrides=()
for p in $("$bench" --config "$config" --parameters); do overrides+=(-P "vectors_tb.$p"); done
iverilog -g2012 -Wall -Wno-timescale "${defines[@]}" -o "$work/$config.vvp" -s vectors_tb "${overrides[@]}" \
         "$here/vectors_tb.sv" "${design[@]}"
vvp -n "$work/$config.vvp" +vectors="$vectors" | tee "$work/$config.replay.log"
grep -q "^vectors_tb: PASS" "$work/$config.replay.log"
