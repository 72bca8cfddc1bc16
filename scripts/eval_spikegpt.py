#!/usr/bin/env python3
"""Evaluate a SpikeGPT checkpoint (char vocab, upstream .pth state_dict) on a text file.

Run with Debian's interpreter: /usr/bin/python3 scripts/eval_spikegpt.py CKPT --text FILE

The whole file is ONE sequence evaluated from a zero state, exactly as the C++ RNN
(`spiketile eval`) does token by token: BPC = mean cross-entropy in bits of char t+1 given
chars <= t over the N-1 predicted positions. The parallel graph runs in eval mode (dropout
off) in chunks of --chunk tokens with the WKV state (a, b, p), the token-shift inputs and
both LIF membranes carried across chunks, so the result does not depend on --chunk.
The file is encoded like the tokenizer: characters outside the 77-char vocabulary -> space.

Reports: BPC, tokens evaluated, per-layer firing rates of both LIFs (mean of the spikes over
all N tokens and C channels), per-layer ReLU^2 density (fraction of non-zero entries of h
over N tokens and 4C units); optionally the unigram baseline (--train-text), a cross-check
of the first --check-rnn tokens against the token-by-token RNN transcription of upstream
model_run.py, and RNN-style generations (--generate).
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spikegpt_torch as sg  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--text", default=os.path.join(sg.REPO, "data", "fortunes", "heldout.txt"))
    ap.add_argument("--vocab", default=sg.DEFAULT_VOCAB)
    ap.add_argument("--max-chars", type=int, default=0, help="evaluate only this prefix (0 = all)")
    ap.add_argument("--chunk", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-text", default=None,
                    help="also report the unigram BPC of --text under this file's char frequencies")
    ap.add_argument("--check-rnn", type=int, default=0,
                    help="compare the first N positions with the token-by-token RNN")
    ap.add_argument("--generate", type=int, default=0, help="generate this many chars (RNN mode)")
    ap.add_argument("--prompt", default="\n")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--top-p", type=float, default=0.7)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--float64", action="store_true",
                    help="run the model in float64 (reference value without float32 spike flips)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    vocab = sg.CharVocab(args.vocab)
    model = sg.load_checkpoint(args.checkpoint)
    if args.float64:
        model = model.double()
    model.eval()
    cfg = model.config
    text = open(args.text, encoding="utf-8", errors="replace").read()
    if args.max_chars:
        text = text[: args.max_chars]
    ids = vocab.encode(text)

    t0 = time.time()
    res = sg.evaluate_ids(model, ids, chunk=args.chunk)
    out = {
        "checkpoint": args.checkpoint,
        "text": args.text,
        "n_layer": cfg.n_layer, "n_embd": cfg.n_embd, "vocab_size": cfg.vocab_size,
        "n_params": sum(p.numel() for p in model.parameters()),
        "dtype": "float64" if args.float64 else "float32",
        "chars": len(ids),
        "tokens_evaluated": res["tokens"],
        "bpc": res["bpc"],
        "nll_nats": res["nll_nats"],
        "lif1_firing_rate": res["lif1_rate"],
        "lif2_firing_rate": res["lif2_rate"],
        "relu2_density": res["relu2_density"],
        "seconds": round(time.time() - t0, 2),
    }
    out["lif1_firing_rate_mean"] = sum(res["lif1_rate"]) / cfg.n_layer
    out["lif2_firing_rate_mean"] = sum(res["lif2_rate"]) / cfg.n_layer
    out["relu2_density_mean"] = sum(res["relu2_density"]) / cfg.n_layer
    out["spike_input_steps"] = cfg.spike_input_steps
    if "spike_input_rate" in res:
        out["spike_input_rate"] = res["spike_input_rate"]   # per layer: per projection, fraction of inputs spiking
    if args.train_text:
        tr = open(args.train_text, encoding="utf-8", errors="replace").read()
        out["unigram_bpc"] = sg.unigram_bpc(vocab.decode(vocab.encode(tr)), vocab.decode(ids))
    if args.check_rnn:
        n = min(args.check_rnn, len(ids))
        with torch.no_grad():
            lp, _, _ = model(torch.tensor(ids[:n]).view(1, -1), state=model.zero_state(1))
            rnn = sg.RNN(model)
            lr = torch.stack([rnn.step(t) for t in ids[:n]])
        out["rnn_check_tokens"] = n
        out["rnn_check_max_abs_logit_diff"] = float((lp[0] - lr).abs().max())
    if args.generate:
        out["prompt"] = args.prompt
        out["greedy"] = sg.generate(model, vocab, args.prompt, args.generate, greedy=True)
        out["sampled"] = sg.generate(model, vocab, args.prompt, args.generate, greedy=False,
                                     seed=args.seed, temperature=args.temperature, top_p=args.top_p)
        out["sampling"] = {"seed": args.seed, "top_p": args.top_p, "temperature": args.temperature}

    if args.json:
        print(json.dumps(out))  # one line (callers parse the last stdout line)
        return
    print(f"checkpoint {args.checkpoint}: L={cfg.n_layer} C={cfg.n_embd} V={cfg.vocab_size} "
          f"params={out['n_params']}")
    print(f"text {args.text}: {len(ids)} chars, {res['tokens']} predicted positions "
          f"(one sequence from a zero state)")
    print(f"BPC {res['bpc']:.4f}  (nll {res['nll_nats']:.4f} nats/char, {out['seconds']} s)")
    if "unigram_bpc" in out:
        print(f"unigram BPC (train-split char frequencies) {out['unigram_bpc']:.4f}")
    print("layer  lif1_rate  lif2_rate  relu2_density")
    for i in range(cfg.n_layer):
        print(f"{i:5d}  {res['lif1_rate'][i]:9.4f}  {res['lif2_rate'][i]:9.4f}  "
              f"{res['relu2_density'][i]:13.4f}")
    if args.check_rnn:
        print(f"RNN cross-check over {out['rnn_check_tokens']} tokens: max |logit diff| "
              f"{out['rnn_check_max_abs_logit_diff']:.2e}")
    if args.generate:
        print(f"--- greedy (prompt {args.prompt!r}) ---\n{out['greedy']}")
        print(f"--- sampled (top_p {args.top_p}, T {args.temperature}, seed {args.seed}) ---\n"
              f"{out['sampled']}")


if __name__ == "__main__":
    main()
