#!/usr/bin/env python3
"""Measures the default chip's core and router parameters against each other: for every
combination below, chips/default.yaml with those values is compiled (the default objective,
latency), simulated on the quickstart run (prompt "the meaning of life is ", 64 tokens, seed 1)
and reported with the default energy table, and one row of cycles per token, energy per token and
the size proxies is printed (docs/chip.md, "Why these numbers", records the result).

    ./scripts/chip_sweep.py [--quick] [--out DIR]
    ./scripts/chip_sweep.py --branch-buffers [--out DIR]

--branch-buffers keeps chips/default.yaml as it is and varies only
router.multicast_branch_buffer_flits (0, 16, 32, 64).

Needs build/spiketile (./scripts/build.sh). Standard library only.

Superseded by `spiketile explore` (docs/explore.md): a sweep file over any chip parameter,
compile option or model, validated, computed in parallel and cached. This script is kept only
to reproduce the figures docs/chip.md records from it.
"""
import argparse
import itertools
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "build", "spiketile")
PROMPT = "the meaning of life is "


def variant(base, read_bits, lanes, sfus, queue, buffer):
    edits = [
        (r"(read_width_bits: )\d+", read_bits),
        (r"(neuron_unit:\n    lanes: )\d+", lanes),
        (r"(sfu:\n    units: )\d+", sfus),
        (r"(axon_input_queue_depth: )\d+", queue),
        (r"(input_buffer_depth_flits: )\d+", buffer),
    ]
    text = base
    for pattern, value in edits:
        text, n = re.subn(pattern, lambda m: m.group(1) + str(value), text, count=1)
        if n != 1:
            sys.exit(f"chips/default.yaml has no field matching {pattern!r}")
    return text


def with_branch_buffers(base, flits):
    text, n = re.subn(r"(multicast_branch_buffer_flits: )\d+", lambda m: m.group(1) + str(flits), base, count=1)
    if n != 1:
        sys.exit("chips/default.yaml has no router.multicast_branch_buffer_flits")
    return text


def run(args, **kw):
    r = subprocess.run([TOOL] + args, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"spiketile {' '.join(args)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


def energy_table(base, read_bits):
    """chips/energy/default.yaml for a read port of read_bits: the same energy per weight bit read
    (a w-bit read priced as w/64 of its 64-bit reads, docs/chip.md), derived for that width."""
    price = float(re.search(r"synapse_read: ([0-9.]+)", base).group(1))
    text, n1 = re.subn(r"(synapse_read: )[0-9.]+", lambda m: m.group(1) + f"{price * read_bits / 64:.2f}", base, count=1)
    text, n2 = re.subn(r"(synapse_read_width_bits: )\d+", lambda m: m.group(1) + str(read_bits), text, count=1)
    if n1 != 1 or n2 != 1:
        sys.exit("chips/energy/default.yaml has no synapse_read price or synapse_read_width_bits")
    return text


def measure(out, name, yaml_text, table_text):
    chip = os.path.join(out, name + ".yaml")
    with open(chip, "w") as f:
        f.write(yaml_text)
    table = os.path.join(out, name + ".energy.yaml")
    with open(table, "w") as f:
        f.write(table_text)
    mapping = os.path.join(out, name + ".stmap")
    compiled = run(["compile", "--chip", chip, "-o", mapping]).stdout
    bound = float(re.search(r"latency bound: +(\d+) cycles", compiled).group(1))
    cores = int(re.search(r"cores used: +(\d+) of", compiled).group(1))
    stats = os.path.join(out, name + ".stats.json")
    run(["simulate", "--map", mapping, "--prompt", PROMPT, "-n", "64", "--seed", "1", "--progress", "off",
         "--quiet-stats", "--stats", stats])
    report = os.path.join(out, name + ".report.json")
    run(["report", "--stats", stats, "--energy-table", table, "--json", report])
    with open(report) as f:
        chip_report = json.load(f)["chip"]
    with open(stats) as f:
        cycle_stats = json.load(f)["cycles"]
    # Decode cycles per token: the prompt's tokens overlap in the prefill (cycles.prefill), the
    # generated ones run one at a time.
    steps = len(cycle_stats["per_step"])
    prefill = cycle_stats.get("prefill", {"steps": 0, "cycles": 0})
    cycles = (cycle_stats["total"] - prefill["cycles"]) / (steps - prefill["steps"])
    return {
        "cycles": cycles,
        "bound": bound,
        "cores": cores,
        "dynamic_uj": chip_report["dynamic_per_token_pj"] / 1e6,
        "static_uj": chip_report["static_per_token_pj"] / 1e6,
        "total_uj": chip_report["energy_per_token_pj"] / 1e6,
        "steps": steps,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="only the read width / lanes axis")
    ap.add_argument("--out", default="/tmp/spiketile-chip-sweep")
    ap.add_argument("--branch-buffers", action="store_true", help="only router.multicast_branch_buffer_flits")
    a = ap.parse_args()
    if not os.access(TOOL, os.X_OK):
        sys.exit(f"missing {TOOL}: run ./scripts/build.sh first")
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(ROOT, "chips", "default.yaml")) as f:
        base = f.read()
    with open(os.path.join(ROOT, "chips", "energy", "default.yaml")) as f:
        base_table = f.read()
    if a.branch_buffers:
        print("| branch buffer flits | bound | cycles/token | × bound | dynamic µJ | static µJ | total µJ "
              "| branch buffer bits per router |")
        print("|---|---|---|---|---|---|---|---|")
        for flits in [0, 16, 32, 64]:
            m = measure(a.out, f"branch{flits}", with_branch_buffers(base, flits), base_table)
            print(f"| {flits} | {m['bound']:.0f} | {m['cycles']:.0f} | {m['cycles'] / m['bound']:.2f} "
                  f"| {m['dynamic_uj']:.2f} | {m['static_uj']:.2f} | {m['total_uj']:.2f} | {5 * flits * 32} |", flush=True)
        return
    # Lanes match the weights one read delivers (read bits / 8-bit weights): neither waits for the other.
    widths = [64, 128, 256, 512]
    sfus = [1, 4] if a.quick else [1, 2, 4]
    queues = [256] if a.quick else [64, 256]
    buffers = [16] if a.quick else [4, 16]
    print("| read bits | lanes | SFUs | axon queue | buffer flits | cores | bound | cycles/token | × bound "
          "| dynamic µJ | static µJ | total µJ | weights/cycle | queue+buffer bits per core |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for width, sfu, queue, buffer in itertools.product(widths, sfus, queues, buffers):
        lanes = width // 8
        name = f"r{width}_l{lanes}_s{sfu}_q{queue}_b{buffer}"
        m = measure(a.out, name, variant(base, width, lanes, sfu, queue, buffer), energy_table(base_table, width))
        # Storage a core and its router add for the traffic: 5 input buffers of 32-bit flits and an
        # axon queue of events (the 25-bit event packet of this chip).
        storage_bits = 5 * buffer * 32 + queue * 25
        print(f"| {width} | {lanes} | {sfu} | {queue} | {buffer} | {m['cores']} | {m['bound']:.0f} | {m['cycles']:.0f} "
              f"| {m['cycles'] / m['bound']:.2f} | {m['dynamic_uj']:.2f} | {m['static_uj']:.2f} | {m['total_uj']:.2f} "
              f"| {width // 8} | {storage_bits} |", flush=True)


if __name__ == "__main__":
    main()
