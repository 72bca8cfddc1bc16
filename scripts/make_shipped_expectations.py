#!/usr/bin/env python3
"""Independent PyTorch figures for the shipped model, committed for the C++ tests.

Writes tests/data/shipped_model_expect.json with:
  * the PyTorch evaluation (scripts/eval_spikegpt.py, parallel training graph carried across
    chunks) of the committed held-out excerpt and of the full held-out split
    (tests/data/fortunes_heldout.txt): BPC, tokens, per-layer firing rates, ReLU² density;
  * a greedy continuation computed by the independent RNN reference (scripts/reference_rnn.py).

Run with Debian's interpreter:  /usr/bin/python3 scripts/make_shipped_expectations.py
"""
import hashlib
import json
import os
import subprocess
import sys

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))
import reference_rnn as ref  # noqa: E402

MODEL = os.path.join(REPO, "models", "spikegpt-fortunes.pth")
EXCERPT = os.path.join(REPO, "tests", "data", "heldout_excerpt.txt")
HELDOUT = os.path.join(REPO, "tests", "data", "fortunes_heldout.txt")
PROMPT_IDS = [0, 65, 53, 50, 8, 58, 50, 46, 59, 54, 59, 52, 8, 60, 51, 8, 57, 54, 51, 50, 8, 54, 64, 8]  # "\nthe meaning of life is "
GREEDY_TOKENS = 64


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def pytorch_eval(text):
    out = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "eval_spikegpt.py"), MODEL, "--text", text,
                          "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def greedy():
    weights = ref.Weights(ref.load_checkpoint(MODEL))
    rnn = ref.RNN(weights, ref.resolve_binary_embedding("auto", weights.V), record=False)
    logits = None
    for t in PROMPT_IDS:
        logits = rnn.step(t)
    generated = []
    for _ in range(GREEDY_TOKENS):
        nxt = int(torch.argmax(logits))
        generated.append(nxt)
        logits = rnn.step(nxt)
    return generated


def main():
    torch.set_num_threads(2)
    expect = {
        "model": "models/spikegpt-fortunes.pth",
        "model_sha256": sha256(MODEL),
        "excerpt": {"file": "tests/data/heldout_excerpt.txt", "sha256": sha256(EXCERPT), **pytorch_eval(EXCERPT)},
        "heldout": {"file": "tests/data/fortunes_heldout.txt", "sha256": sha256(HELDOUT), **pytorch_eval(HELDOUT)},
        "greedy": {"prompt_ids": PROMPT_IDS, "generated": greedy(), "source": "scripts/reference_rnn.py"},
    }
    path = os.path.join(REPO, "tests", "data", "shipped_model_expect.json")
    with open(path, "w") as f:
        json.dump(expect, f, indent=1)
        f.write("\n")
    print(json.dumps({k: (v["bpc"] if isinstance(v, dict) and "bpc" in v else None) for k, v in expect.items()}))


if __name__ == "__main__":
    main()
