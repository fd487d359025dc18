"""Training-step throughput on the CPU: our GPT and BERT against transformers' GPT-2 and
BERT with the same config, optimizer and batch, measured side by side in one run.

    python benchmarks/train_throughput.py [--rounds 5] [--steps 10]

Config (issue #3): 4 layers, 4 heads, width 128, vocab 65, block 64, batch 12, AdamW.
Rounds interleave the models so background load hits all of them alike; each figure is
the median step time. Also reports GFLOP/s reached against a large fp32 matmul.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from bertgpt import hf
from bertgpt.config import ModelConfig
from bertgpt.models import build

V, B, T, L, H, C = 65, 12, 64, 4, 4, 128


def matmul_gflops(n=2048, reps=5):
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def flops_per_step(model, arch):
    """6 N per token for the weights (forward + backward) plus attention's 12 L T C."""
    n = sum(p.numel() for p in model.parameters()) - model.tok_emb.weight.numel() \
        - model.pos_emb.weight.numel()
    head = V * C  # the tied output layer is real work even though it is not a new weight
    per_token = 6 * (n + head) + 12 * L * T * C
    if arch == "bert":  # our BERT runs its vocabulary head only at masked positions
        per_token -= 6 * head * 0.85
    return per_token * B * T


def make(arch, ours: bool):
    cfg = ModelConfig(arch, vocab_size=V, n_layer=L, n_head=H, n_embd=C, block_size=T)
    torch.manual_seed(0)
    if ours:
        return build(cfg).train()
    import transformers
    cls = transformers.GPT2LMHeadModel if arch == "gpt" else transformers.BertForMaskedLM
    model = cls(hf.config_to_hf(cfg)).train()
    return model


def batch(arch):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, V, (B, T + 1), generator=g)
    labels = torch.full((B, T), -100)
    sel = torch.rand(B, T, generator=g) < 0.15
    labels[sel] = ids[:, :T][sel]
    return ids, labels


def step_fn(arch, ours, model):
    ids, labels = batch(arch)
    ones, zeros = torch.ones(B, T, dtype=torch.long), torch.zeros(B, T, dtype=torch.long)
    if arch == "gpt" and ours:
        return lambda: model.loss(ids[:, :-1], ids[:, 1:])
    if arch == "gpt":
        return lambda: model(input_ids=ids[:, :-1], labels=ids[:, :-1]).loss
    if ours:
        return lambda: model.pretraining_loss(ids[:, :-1], zeros, ones, labels)[0]
    return lambda: model(input_ids=ids[:, :-1], attention_mask=ones, labels=labels).loss


def time_steps(model, loss_fn, steps):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    times = []
    for _ in range(steps + 2):
        t = time.perf_counter()
        loss = loss_fn()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    return times[2:]  # the first steps allocate


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=10)
    args = p.parse_args()
    peak = matmul_gflops()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"large fp32 matmul: {peak:.0f} GFLOP/s")
    runs = {(a, o): (m := make(a, o), step_fn(a, o, m))
            for a in ("gpt", "bert") for o in (True, False)}
    times = {k: [] for k in runs}
    for _ in range(args.rounds):
        for key, (model, fn) in runs.items():
            times[key] += time_steps(model, fn, args.steps)
    print(f"{'model':28s} {'ms/step':>8s} {'tokens/s':>9s} {'GFLOP/s':>8s} {'% of matmul':>11s}")
    for arch in ("gpt", "bert"):
        med = {o: statistics.median(times[(arch, o)]) for o in (True, False)}
        for o in (True, False):
            model = runs[(arch, o)][0]
            name = ("bertgpt " if o else "transformers ") + arch.upper()
            gf = flops_per_step(runs[(arch, True)][0], arch) / med[o] / 1e9
            print(f"{name:28s} {med[o] * 1e3:8.1f} {B * T / med[o]:9.0f} {gf:8.1f} {gf / peak:10.1%}")
        print(f"  -> bertgpt {arch.upper()} is {med[False] / med[True]:.2f}x transformers' tokens/s")


if __name__ == "__main__":
    main()
