#!/usr/bin/env python3
"""Train a char-level SpikeGPT (upstream src/model.py training graph) on CPU.

Run with Debian's interpreter (python3-torch): /usr/bin/python3 scripts/train_spikegpt.py ...

Data: random windows of ctx_len+1 characters of the training text (upstream Dataset style),
drawn with a seeded generator. Optimiser: Adam (betas 0.9/0.99, eps 1e-8, no weight decay),
linear warm-up then cosine decay lr -> lr_final over --max-steps, grad-norm clip 1.0,
cross-entropy + L2Wrap. Every --eval-every steps the held-out text (its first --eval-chars
characters, the full file at the end) is evaluated as one sequence from a zero state.

Outputs in --out-dir:
  latest.pth  upstream-compatible fp32 state_dict (torch.save(model.state_dict()))
  best.pth    the same for the best periodic held-out BPC
  resume.pt   optimiser/step/RNG state for --resume
  meta.json   config, step, tokens seen, wall time, losses, last/best held-out BPC
Checkpoints are written atomically (tmp + rename) so the run can be killed at any time.
--max-minutes stops the run (after saving) when the wall-time budget is spent.
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spikegpt_torch as sg  # noqa: E402


def atomic_save(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def lr_at(step, args, wall):
    if step < args.warmup_steps:
        return args.lr * (step + 1) / args.warmup_steps
    prog = min(1.0, (step - args.warmup_steps) / max(1, args.max_steps - args.warmup_steps))
    if args.schedule_by_time and args.max_minutes > 0:
        # decay by the larger of step progress and wall-time progress, so the LR reaches
        # lr_final when the time budget is spent whatever the (shared) CPU delivers
        prog = max(prog, min(1.0, wall / (args.max_minutes * 60)))
    if args.lr_schedule == "linear":
        return args.lr + (args.lr_final - args.lr) * prog
    return args.lr_final + 0.5 * (args.lr - args.lr_final) * (1 + math.cos(math.pi * prog))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", default=os.path.join(sg.REPO, "data", "fortunes", "train.txt"))
    ap.add_argument("--heldout", default=os.path.join(sg.REPO, "data", "fortunes", "heldout.txt"))
    ap.add_argument("--vocab", default=sg.DEFAULT_VOCAB)
    ap.add_argument("--out-dir", default=os.path.join(sg.REPO, "data", "runs", "run"))
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-embd", type=int, default=192)
    ap.add_argument("--ctx-len", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--dropout", type=float, default=0.03)
    ap.add_argument("--spike-inputs", choices=list(sg.SPIKE_INPUT_VARIANTS), default="graded",
                    help="graded: the released graph; binary / 2bit / 4bit: every projection "
                         "input passes through a spike function of T = 1 / 3 / 15 steps "
                         "(docs/spiking-frontier.md)")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--lr-final", type=float, default=1e-4)
    ap.add_argument("--lr-schedule", choices=["cosine", "linear"], default="cosine")
    ap.add_argument("--warmup-steps", type=int, default=100)
    ap.add_argument("--max-steps", type=int, default=3000)
    ap.add_argument("--max-minutes", type=float, default=0.0, help="wall-time budget (0 = none)")
    ap.add_argument("--schedule-by-time", action="store_true",
                    help="LR decay progress = max(step/max_steps, wall/max_minutes)")
    ap.add_argument("--grad-clip", type=float, default=1.0)
    ap.add_argument("--no-l2wrap", action="store_true")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=20)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--eval-chars", type=int, default=20000,
                    help="held-out prefix used for periodic evaluation (full file at the end)")
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--bench", type=int, default=0,
                    help="time this many steps (after 2 warm-up steps), print tokens/s, exit")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(args.seed)
    vocab = sg.CharVocab(args.vocab)
    train_text = open(args.train, encoding="ascii").read()
    held_text = open(args.heldout, encoding="ascii").read()
    train_ids = torch.tensor(vocab.encode(train_text), dtype=torch.long)
    held_ids = vocab.encode(held_text)

    cfg = sg.GPTConfig(vocab_size=len(vocab), n_layer=args.n_layer, n_embd=args.n_embd,
                       ctx_len=args.ctx_len, dropout=args.dropout,
                       spike_input_steps=sg.SPIKE_INPUT_VARIANTS[args.spike_inputs])
    model = sg.GPT(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    assert n_params == sg.n_params_formula(cfg.vocab_size, cfg.n_embd, cfg.n_layer)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99), eps=1e-8)
    gen = torch.Generator().manual_seed(args.seed + 1)
    kernels = "cpp" if sg.get_ext() is not None else "torch"

    os.makedirs(args.out_dir, exist_ok=True)
    step, tokens_seen, wall_prev = 0, 0, 0.0
    meta = {"config": cfg.to_dict(), "args": vars(args), "n_params": n_params,
            "kernels": kernels, "history": [], "best_heldout_bpc": None}
    resume_path = os.path.join(args.out_dir, "resume.pt")
    if args.resume and os.path.exists(resume_path):
        r = torch.load(resume_path)
        sd = dict(r["model"])
        recorded = sg.spike_input_steps_of(sd)
        if recorded != cfg.spike_input_steps:
            sys.exit(f"{resume_path}: spike_input_steps is {recorded} in the saved run, "
                     f"{cfg.spike_input_steps} asked by --spike-inputs {args.spike_inputs}")
        sd.pop(sg.SPIKE_INPUT_KEY, None)  # a variant's saved dict carries it; the module has no such tensor
        model.load_state_dict(sd)
        opt.load_state_dict(r["opt"])
        gen.set_state(r["gen"])
        torch.set_rng_state(r["torch_rng"])
        step, tokens_seen, wall_prev = r["step"], r["tokens_seen"], r["wall"]
        meta = r["meta"]
        print(f"resumed at step {step}")

    print(f"SpikeGPT L={cfg.n_layer} C={cfg.n_embd} V={cfg.vocab_size} ctx={cfg.ctx_len} "
          f"spike_inputs={args.spike_inputs} (T={cfg.spike_input_steps}) "
          f"params={n_params} ({n_params * 4 / 1e6:.2f} MB fp32) batch={args.batch_size} "
          f"kernels={kernels} threads={torch.get_num_threads()} train_chars={len(train_ids)}",
          flush=True)

    T, B = args.ctx_len, args.batch_size

    def batch():
        ix = torch.randint(0, len(train_ids) - T - 1, (B,), generator=gen)
        d = torch.stack([train_ids[i:i + T + 1] for i in ix.tolist()])
        return d[:, :-1], d[:, 1:]

    def save(tag_best=False):
        sd = sg.variant_state_dict(model)
        atomic_save(sd, os.path.join(args.out_dir, "latest.pth"))
        if tag_best:
            atomic_save(sd, os.path.join(args.out_dir, "best.pth"))
        atomic_save({"model": sd, "opt": opt.state_dict(), "gen": gen.get_state(),
                     "torch_rng": torch.get_rng_state(), "step": step,
                     "tokens_seen": tokens_seen, "wall": wall, "meta": meta}, resume_path)
        with open(os.path.join(args.out_dir, "meta.json"), "w") as fh:
            json.dump(meta, fh, indent=1)

    def heldout_eval(full):
        ids = held_ids if full else held_ids[: args.eval_chars]
        t0 = time.time()
        res = sg.evaluate_ids(model, ids)
        res["seconds"] = round(time.time() - t0, 1)
        res["full"] = full
        return res

    if args.bench:
        model.train()
        for i in range(args.bench + 2):
            if i == 2:
                t0 = time.time()
            x, y = batch()
            _, loss, _ = model(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        dt = time.time() - t0
        print(f"BENCH tokens/s {args.bench * B * T / dt:.0f}  s/step {dt / args.bench:.3f}  "
              f"loss {float(loss):.3f}", flush=True)
        return

    t_start = time.time()
    wall = wall_prev
    run_loss, run_n, t_log, tok_log = 0.0, 0, time.time(), 0
    stop_reason = "max_steps"
    model.train()
    while step < args.max_steps:
        lr = lr_at(step, args, wall)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = batch()
        logits, loss, _ = model(x, y)
        if args.no_l2wrap:
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip))
        opt.step()
        step += 1
        tokens_seen += B * T
        tok_log += B * T
        run_loss += float(loss)
        run_n += 1
        wall = wall_prev + time.time() - t_start
        if step % args.log_every == 0:
            now = time.time()
            ml = run_loss / run_n
            print(f"step {step} loss {ml:.4f} bpc {ml / math.log(2):.4f} lr {lr:.2e} "
                  f"gnorm {gnorm:.2f} tok/s {tok_log / (now - t_log):.0f} tokens {tokens_seen} "
                  f"wall {wall / 60:.1f}m", flush=True)
            meta["history"].append({"step": step, "train_loss": ml, "lr": lr,
                                    "tokens": tokens_seen, "wall_s": round(wall, 1)})
            run_loss, run_n, t_log, tok_log = 0.0, 0, now, 0
        out_of_time = args.max_minutes > 0 and wall >= args.max_minutes * 60
        if step % args.eval_every == 0 or step == args.max_steps or out_of_time:
            res = heldout_eval(full=False)
            best = meta["best_heldout_bpc"]
            is_best = best is None or res["bpc"] < best
            if is_best:
                meta["best_heldout_bpc"], meta["best_step"] = res["bpc"], step
            meta["last_eval"] = dict(res, step=step)
            print(f"EVAL step {step} heldout[:{len(held_ids) if res['full'] else args.eval_chars}] "
                  f"bpc {res['bpc']:.4f} lif1 {[round(r, 3) for r in res['lif1_rate']]} "
                  f"lif2 {[round(r, 3) for r in res['lif2_rate']]} "
                  f"relu2 {[round(r, 3) for r in res['relu2_density']]} ({res['seconds']}s)"
                  + (f" spike_inputs {[{n: round(r, 3) for n, r in d.items()} for d in res['spike_input_rate']]}"
                     if "spike_input_rate" in res else "") +
                  f"{' *best*' if is_best else ''}", flush=True)
            meta.update(step=step, tokens_seen=tokens_seen, wall_s=round(wall, 1))
            save(tag_best=is_best)
        elif step % args.save_every == 0:
            meta.update(step=step, tokens_seen=tokens_seen, wall_s=round(wall, 1))
            save()
        if out_of_time:
            stop_reason = "max_minutes"
            break

    meta.update(step=step, tokens_seen=tokens_seen, wall_s=round(wall, 1), stop_reason=stop_reason)
    save()
    print(f"DONE step {step} tokens {tokens_seen} wall {wall / 60:.1f} min ({stop_reason}); "
          f"checkpoints in {args.out_dir}", flush=True)


if __name__ == "__main__":
    main()
