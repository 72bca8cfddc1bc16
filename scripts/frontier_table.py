#!/usr/bin/env python3
"""The energy-accuracy frontier of docs/spiking-frontier.md, from a finished `spiketile explore`
of chips/sweeps/spiking-frontier.yaml: one markdown row per model (bits per character, chip energy
per token dynamic and static, cycles per token, SOPs by kind, synapse SRAM reads, measured R̂ per
projection) and the page's bits-per-character plot as a standalone SVG.

    build/spiketile explore chips/sweeps/spiking-frontier.yaml -j 2 -o build/frontier
    python3 scripts/frontier_table.py build/frontier [--svg docs/spiking-frontier.svg]

Every figure is read from the sweep's own files (results.json, each point's report.json); nothing
is computed here but ratios to the first point (the released graph).
"""
import argparse
import json
import os
import re
import sys


def action(report, name):
    for a in report["chip"]["actions"]:
        if a["action"] == name:
            return a["count_per_token"]
    return 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", help="the explore -o folder")
    ap.add_argument("--svg", help="write the bits-per-character plot here")
    args = ap.parse_args()
    results = json.load(open(os.path.join(args.out_dir, "results.json")))
    rows = []
    for point in results["points"]:
        if point["status"] != "ok":
            sys.exit(f"point {point['index']} ({point['label']}) failed: {point['error']}")
        report = json.load(open(os.path.join(args.out_dir, point["dir"], "report.json")))
        m = point["metrics"]
        inputs = report["projection_inputs"]
        rows.append({
            "model": os.path.basename(point["model"]),
            "T": inputs["spike_input_steps"],
            "bpc": m["bits_per_token"],
            "dynamic_uj": m["dynamic_per_token_pj"] / 1e6,
            "static_uj": m["static_per_token_pj"] / 1e6,
            "total_uj": m["energy_per_token_pj"] / 1e6,
            "cycles": m["latency_per_token_cycles"],
            "sop_binary": action(report, "synaptic_op.binary"),
            "sop_graded": action(report, "synaptic_op.graded"),
            "synapse_reads": action(report, "sram.synapse_read"),
            "rate": inputs["rate_mean"],
            "per_op": {p["op"]: p["rate"] for p in inputs["per_op"]},
            "paper": report["paper"],
        })
    base = rows[0]
    print("| model | projection inputs | held-out BPC | Δ BPC | dynamic µJ/token | static µJ/token | total µJ/token "
          "| released dynamic / this | cycles/token | binary SOPs/token | graded SOPs/token | synapse SRAM reads/token "
          "| non-zero inputs (R̂) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        kind = "graded (released graph)" if r["T"] == 0 else "binary spikes" if r["T"] == 1 else f"{r['T']}-step counts"
        print(f"| `{r['model']}` | {kind} | {r['bpc']:.4f} | {r['bpc'] - base['bpc']:+.4f} | {r['dynamic_uj']:.3f} | "
              f"{r['static_uj']:.3f} | {r['total_uj']:.3f} | {base['dynamic_uj'] / r['dynamic_uj']:.2f}× | "
              f"{r['cycles']:,.0f} | {r['sop_binary']:,.0f} | {r['sop_graded']:,.0f} | {r['synapse_reads']:,.0f} | "
              f"{r['rate']:.4f} |")
    ops = list(base["per_op"])
    print()
    print("| model | " + " | ".join(ops) + " |")
    print("|---|" + "---|" * len(ops))
    for r in rows:
        print(f"| `{r['model']}` | " + " | ".join(f"{r['per_op'][op]:.4f}" for op in ops) + " |")
    print()
    print("| model | R̂ used | Table 1 at the paper's T, d | Table 1 at this model's T, d | dense MACs / chip SOPs "
          "| 45 nm convention ratio | GPU roofline / chip (batch 1) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        p = r["paper"]
        print(f"| `{r['model']}` | {p['measured_rate']['rate']:.4f} | {p['measured_rate']['ratio_paper_T_d']:.2f}× | "
              f"{p['measured_rate']['ratio_model_T_d']:.2f}× | {p['counted']['operation_ratio']:.2f}× | "
              f"{p['counted']['convention_ratio']:.2f}× | {p['counted']['roofline_ratio']:.3g}× |")
    if args.svg:
        html = open(os.path.join(args.out_dir, "explore.html"), encoding="utf-8").read()
        found = re.search(r'<svg class="chart"[^>]*aria-label="bits per token against energy per token">.*?</svg>',
                          html, re.S)
        if not found:
            sys.exit("explore.html has no bits-per-token plot: did the sweep set run.eval_text?")
        svg = found.group(0).replace('<svg class="chart"', '<svg xmlns="http://www.w3.org/2000/svg"', 1)
        style = ("<style>text{font-family:sans-serif}.title{font-size:13px}.label{font-size:11px}</style>")
        svg = svg.replace(">", ">" + style, 1)
        with open(args.svg, "w", encoding="utf-8") as f:
            f.write(svg + "\n")


if __name__ == "__main__":
    main()
