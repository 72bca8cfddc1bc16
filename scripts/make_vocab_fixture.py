#!/usr/bin/python3
"""Creates the fixture of a SpikeGPT with its own character vocabulary, as a user who trains
upstream SpikeGPT on their own corpus gets it, and the expected bits per character of a short
text computed independently in PyTorch.

    /usr/bin/python3 scripts/make_vocab_fixture.py            # (re)write tests/data/own_vocab/
    /usr/bin/python3 scripts/make_vocab_fixture.py --verify   # regenerate in a temp dir, compare bytes

Writes into tests/data/own_vocab/:
  corpus.txt     the "training text" the vocabulary is built from (UTF-8)
  vocab.json     its vocabulary exactly as upstream's training code writes it (src/utils.py,
                 Dataset.__init__): the sorted unique characters of the corpus as {"0": c, ...},
                 json.dumps(..., ensure_ascii=False) into open(..., "w", encoding="utf-16"), i.e.
                 UTF-16 with a byte-order mark, astral characters as surrogate pairs
  model.pth      a random 2-layer SpikeGPT (C = 32, V = the vocabulary's size, float32) in the
                 upstream layout (scripts/reference_rnn.random_state_dict), torch.save'd
  sample.txt     a short text of the vocabulary's characters to evaluate (UTF-8)
  expect.json    the sample's ids (upstream's stoi lookup over Python code points), the model's
                 float32 logits from scripts/reference_rnn.py, and from them the bits per character
                 (mean over positions t of -log2 softmax(logits_t)[id_{t+1}], in float64), as
                 'spiketile eval' computes them

Deterministic: the first seed from BASE_SEED whose run on the sample passes make_fixtures.py's
acceptance checks (spike margins, firing rates, varied logits) is kept, so every run writes
byte-identical files.
"""

import argparse
import collections
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures  # noqa: E402
import reference_rnn as ref  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tests", "data", "own_vocab")

L, C = 2, 32
BASE_SEED = 500
MAX_SEED_TRIES = 200

CORPUS = (
    "The quick brown fox jumps over the lazy dog; THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG.\n"
    "Grüße aus Köln: Straße, Bäcker, Öl, Übermut, größer?\n"
    "Café crème à la française, naïve façade, déjà vu, señor, año 2024!\n"
    "日本語の文章も少し。\n"
    "Musik: 𝄞 (G-Schlüssel) — 'Zitat' & \"noch eins\" [1/2] 3+4=7 #5 @home 100%\n"
    "0123456789\n"
)

SAMPLE = (
    "Grüße aus Köln! Der Bäcker backt Brot für 3 Euro; déjà vu.\n"
    "Café crème, 日本語 und 𝄞 (G-Schlüssel).\n"
    "The lazy dog sleeps.\n"
)


def upstream_vocab(corpus):
    """src/utils.py Dataset.__init__: unique = sorted(list(set(data))); xxObj[i] = unique[i]."""
    unique = sorted(list(set(corpus)))
    return {i: u for i, u in enumerate(unique)}


def write_upstream_vocab_json(path, vocab):
    with open(path, "w", encoding="utf-16") as vocab_file:
        vocab_file.write(json.dumps(vocab, ensure_ascii=False))


def bits_per_character(logits, tokens):
    """Mean over t of -log2 softmax(logits[t])[tokens[t + 1]], in float64."""
    x = torch.from_numpy(logits[:-1].astype(np.float64))
    nll = -torch.log_softmax(x, dim=1)[torch.arange(len(tokens) - 1), torch.tensor(tokens[1:])]
    return float(nll.mean()) / math.log(2.0)


def make(out_dir, quiet=False):
    os.makedirs(out_dir, exist_ok=True)
    vocab = upstream_vocab(CORPUS)
    stoi = {c: i for i, c in vocab.items()}
    missing = sorted(set(SAMPLE) - set(stoi))
    if missing:
        raise SystemExit(f"the sample has characters outside the vocabulary: {missing}")
    V = len(vocab)
    tokens = [stoi[c] for c in SAMPLE]   # Python iterates code points, as upstream's encoder does

    for seed in range(BASE_SEED, BASE_SEED + MAX_SEED_TRIES):
        sd = ref.random_state_dict(L, C, V, seed=seed, gain_att=make_fixtures.GAIN_ATT,
                                   gain_ffn=make_fixtures.GAIN_FFN, dtype=torch.float32)
        gold = make_fixtures.golden(sd, tokens, True, "auto")
        why = make_fixtures.accept([gold], sd, L)
        if why is None:
            break
        if not quiet:
            print(f"  seed {seed} rejected: {why}")
    else:
        raise SystemExit(f"no acceptable seed in {MAX_SEED_TRIES} tries")

    with open(os.path.join(out_dir, "corpus.txt"), "w", encoding="utf-8") as f:
        f.write(CORPUS)
    with open(os.path.join(out_dir, "sample.txt"), "w", encoding="utf-8") as f:
        f.write(SAMPLE)
    write_upstream_vocab_json(os.path.join(out_dir, "vocab.json"), vocab)
    torch.save(sd, os.path.join(out_dir, "model.pth"))
    expect = collections.OrderedDict([
        ("checkpoint", "model.pth"), ("L", L), ("C", C), ("V", V),
        ("generator", {"seed": seed, "gain_att": make_fixtures.GAIN_ATT,
                       "gain_ffn": make_fixtures.GAIN_FFN, "script": "scripts/make_vocab_fixture.py"}),
        ("binary_embedding", gold["switches"]["binary_embedding"]),
        ("text", "sample.txt"),
        ("characters", len(SAMPLE)),
        ("tokens", tokens),
        ("tokens_evaluated", len(tokens) - 1),
        ("bpc", bits_per_character(gold["logits"], tokens)),
        ("min_threshold_margin", gold["margin"]),
        ("argmax", [int(a) for a in gold["logits"].argmax(1)]),
    ])
    make_fixtures.write_json(os.path.join(out_dir, "expect.json"), expect)
    return expect


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=OUT_DIR, help=f"output folder (default {OUT_DIR})")
    ap.add_argument("--verify", action="store_true",
                    help="regenerate into a temp folder and check the files in --out are byte-identical")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.verify:
        return make_fixtures.verify_regenerated(lambda tmp: make(tmp, quiet=True), args.out,
                                                "spiketile_own_vocab_")
    e = make(args.out)
    print(f"V = {e['V']} characters, seed {e['generator']['seed']}, {e['tokens_evaluated']} positions, "
          f"BPC {e['bpc']:.6f}, min |v - 1| {e['min_threshold_margin']:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
