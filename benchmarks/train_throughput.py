"""Training-step throughput on the CPU: our GPT and BERT against transformers' GPT-2 and
BERT with the same config, optimizer and batch, measured side by side in one run.

    python benchmarks/train_throughput.py [--rounds 5] [--steps 10]

Config (issue #3): 4 layers, 4 heads, width 128, vocab 65, block 64, batch 12, AdamW
(lr 1e-3, torch's defaults otherwise). Rounds interleave the runs so background load hits
all of them alike; each figure is the median step time. Also reports GFLOP/s reached
against a large fp32 matmul.

Four runs per model, so every gain is visible on its own:
  bertgpt            as `bertgpt train` runs it on this CPU: fused AdamW, and the matmuls
                     in bf16 where the CPU has AMX (bertgpt/precision.py)
  bertgpt fp32       the same model with torch.optim.AdamW's defaults, all fp32
  transformers       GPT2LMHeadModel / BertForMaskedLM with torch.optim.AdamW's defaults
  transformers fused the same with fused AdamW, the optimizer half of our settings
The headline ratio is bertgpt against transformers as it comes.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from bertgpt import hf
from bertgpt.config import ModelConfig
from bertgpt.models import build
from bertgpt.precision import bf16_matmuls, cpu_has_amx

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


def time_steps(model, loss_fn, steps, fused=False, bf16=False):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=fused or None)
    times = []
    for _ in range(steps + 2):
        t = time.perf_counter()
        with bf16_matmuls(bf16):
            loss = loss_fn()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t)
    return times[2:]  # the first steps allocate


# (label, ours, fused AdamW, bf16 matmuls); bf16 only where `auto` would choose it.
def variants():
    amx = cpu_has_amx()
    return [("bertgpt", True, True, amx), ("bertgpt fp32", True, False, False),
            ("transformers", False, False, False), ("transformers fused", False, True, False)]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=10)
    args = p.parse_args()
    peak = matmul_gflops()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, AMX: "
          f"{cpu_has_amx()}; large fp32 matmul: {peak:.0f} GFLOP/s")
    runs = {(a, v): (m := make(a, v[1]), step_fn(a, v[1], m))
            for a in ("gpt", "bert") for v in variants()}
    times = {k: [] for k in runs}
    for _ in range(args.rounds):
        for (arch, v), (model, fn) in runs.items():
            times[(arch, v)] += time_steps(model, fn, args.steps, fused=v[2], bf16=v[3])
    print(f"{'model':32s} {'ms/step':>8s} {'tokens/s':>9s} {'GFLOP/s':>8s} {'% of matmul':>11s}")
    for arch in ("gpt", "bert"):
        flops = flops_per_step(runs[(arch, variants()[0])][0], arch)
        med = {}
        for v in variants():
            med[v[0]] = statistics.median(times[(arch, v)])
            gf = flops / med[v[0]] / 1e9
            extra = " (bf16 matmuls)" if v[3] else ""
            print(f"{v[0] + ' ' + arch.upper() + extra:32s} {med[v[0]] * 1e3:8.1f} "
                  f"{B * T / med[v[0]]:9.0f} {gf:8.1f} {gf / peak:10.1%}")
        print(f"  -> bertgpt {arch.upper()} is {med['transformers'] / med['bertgpt']:.2f}x "
              f"transformers' tokens/s ({med['transformers fused'] / med['bertgpt']:.2f}x "
              f"transformers with fused AdamW; fp32 with the same AdamW: "
              f"{med['transformers'] / med['bertgpt fp32']:.2f}x)")


if __name__ == "__main__":
    main()
