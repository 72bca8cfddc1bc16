#!/usr/bin/env bash
# Generic Yosys synthesis of neuron_core for one bench configuration: area figures per module
# and a structural check. The synapse memory stays a macro (a black box: an SRAM is bought, not
# synthesized from flip-flops), so its bits are counted apart from the logic.
#   rtl/portable/synth.sh RTL_BENCH CONFIG [--netlist FILE] [--stat-json FILE]
# RTL_BENCH: the built rtl_bench (it knows each configuration's parameters); CONFIG: small,
# narrow or default. Prints cells and flip-flops per module instance kind and in all, fails if
# `check -assert` finds a latch, a combinational loop, a driver conflict or an undriven net.
# --netlist writes the gate-level Verilog (the synapse memory instantiated as the macro), which
# rtl/portable/icarus_bench.sh can replay beside rtl/synapse_memory.sv as the macro's model.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rtl="$(dirname "$here")"
[[ $# -ge 2 ]] || { sed -n '2,11p' "${BASH_SOURCE[0]}" >&2; exit 2; }
bench="$1" config="$2"
shift 2
netlist="" stat_json=""
while (($#)); do
  case "$1" in
    --netlist) netlist="$2"; shift 2 ;;
    --stat-json) stat_json="$2"; shift 2 ;;
    *) echo "synth.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
[[ -n "$stat_json" ]] || stat_json="$work/stat.json"

params=$("$bench" --config "$config" --parameters)
chparams=""
for p in $params; do chparams+=" -chparam ${p%%=*} ${p#*=}"; done
script="read_verilog -sv -lib $rtl/synapse_memory.sv
read_verilog -sv $rtl/multiplier_table.sv $rtl/accumulator_array.sv $rtl/requantizer.sv $rtl/neuron_param_table.sv $rtl/neuron_unit.sv $rtl/neuron_core.sv
hierarchy -check -top neuron_core$chparams
synth -top neuron_core
check -assert
tee -q -o $stat_json stat -json"
[[ -n "$netlist" ]] && script+="
write_verilog -noattr $netlist"
start=$(date +%s)
yosys -q -l "$work/yosys.log" -p "$script" 2> >(grep -v "Replacing memory .* with list of registers" >&2) >/dev/null || { grep -iE "error|warning.*(latch|loop|driver|undriven)" "$work/yosys.log" >&2; exit 1; }
seconds=$(( $(date +%s) - start ))

python3 - "$stat_json" "$config" "$params" "$seconds" <<'PY'
import json, re, sys
stat, config, params, seconds = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
p = dict(kv.split("=") for kv in params.split())
def base(name):  # "$paramod$<hash>\requantizer" -> "requantizer"
    return re.sub(r"^.*\\", "", name)
modules = {base(m): v for m, v in stat["modules"].items()}
def ffs(cells):
    return sum(n for kind, n in cells.items() if "DFF" in kind)
top = modules["neuron_core"]["num_cells_by_type"]
instances = {"neuron_core": 1}
for kind, n in top.items():
    if not kind.startswith("$_"):
        instances[base(kind)] = n
print(f"neuron_core {config} ({params}), Yosys generic synthesis in {seconds} s, check -assert: clean")
print(f"{'module':<20} {'instances':>9} {'cells each':>11} {'FFs each':>9} {'cells':>9} {'FFs':>8}")
total_cells = total_ffs = 0
for name, v in sorted(modules.items(), key=lambda kv: -kv[1]["num_cells"] * instances.get(kv[0], 0)):
    cells = {k: n for k, n in v["num_cells_by_type"].items() if k.startswith("$_")}  # gates only, not submodules
    c, f, k = sum(cells.values()), ffs(cells), instances.get(name, 0)
    total_cells += c * k
    total_ffs += f * k
    print(f"{name:<20} {k:>9} {c:>11} {f:>9} {c * k:>9} {f * k:>8}")
print(f"{'total (logic)':<20} {'':>9} {'':>11} {'':>9} {total_cells:>9} {total_ffs:>8}")
bits = int(p["AXONS"]) * int(p["NEURONS"]) * int(p["W_W"])
print(f"synapse_memory macro: {p['AXONS']} x {p['NEURONS']} weights x {p['W_W']} bits = {bits} SRAM bits (not in the cells)")
PY
