"""Training-step throughput on the CPU: our GPT and BERT against transformers' GPT-2 and
BERT with the same config, optimizer and batch, measured side by side in one run.

    python benchmarks/train_throughput.py [--rounds 12] [--steps 5] [--seed 0] [--ablate]

Config (issue #3): 4 layers, 4 heads, width 128, vocab 65, block 64, batch 12, AdamW
(lr 1e-3, torch's defaults otherwise). The runs take turns of a few steps, in a shuffled
order each round, so background load hits all of them alike; each figure is the median
step time. Also reports GFLOP/s reached against a large fp32 matmul.

Four runs per model, so every gain is visible on its own:
  bertgpt            as `bertgpt train` runs it on this CPU: the fast path's losses
                     (bertgpt/pretrain/fastpath.py), with the matmuls in bf16 where the CPU has
                     AMX, and fused AdamW
  bertgpt fp32       the same, all fp32, with torch.optim.AdamW's defaults
  transformers       GPT2LMHeadModel / BertForMaskedLM with torch.optim.AdamW's defaults
  transformers fused the same with fused AdamW, the optimizer half of our settings
The headline ratio is bertgpt against transformers as it comes. --ablate adds one run
per fast-path choice turned off: BERT's last layer at every position (not just the ~15%
its loss reads), the plain model itself, and with bf16: the MLP as two Linears,
attention op by op, and GPT's tanh-GELU kernel.
"""
from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import time

import torch

from bertgpt.pretrain import fastpath
from bertgpt.io import hf
from bertgpt.pretrain.allocator import keep_freed_memory
from bertgpt.pretrain.bf16 import cpu_has_amx
from bertgpt.model.config import ModelConfig
from bertgpt.model.build import build

V, B, T, L, H, C = 65, 12, 64, 4, 4, 128


def matmul_gflops(n=2048, reps=5, tries=3):
    """The machine's large fp32 matmul rate: the best of a few tries, as it is a peak and
    this shared box has slow spells."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = 0.0
    for _ in range(tries):
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = max(best, 2 * n**3 * reps / (time.perf_counter() - t) / 1e9)
    return best


def flops_per_step(model):
    """6 N per token for the weights (forward + backward) plus attention's 12 L T C: the
    textbook model's work, the same figure for every run of an architecture. (Our BERT
    skips some of it -- the vocabulary head and the last layer's position-wise half at
    the ~85% of positions its loss does not read -- so its GFLOP/s is an effective rate,
    the work a full computation would have done in that time.)"""
    unused = [model.tok_emb, model.pos_emb]  # lookups, not products
    unused += [getattr(model, k) for k in ("pooler", "nsp") if hasattr(model, k)]  # no NSP here
    skipped = {id(p) for m in unused for p in m.parameters()}
    n = sum(p.numel() for p in model.parameters() if id(p) not in skipped)
    head = V * C  # the tied output layer is real work even though it is not a new weight
    return (6 * (n + head) + 12 * L * T * C) * B * T


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


def step_fn(arch, ours, model, options):
    """One loss, as each run computes it: ours through the training loop's choice (the
    fast path with `options`, or the plain model for None), transformers' as it comes."""
    ids, labels = batch(arch)
    ones, zeros = torch.ones(B, T, dtype=torch.long), torch.zeros(B, T, dtype=torch.long)
    if ours:
        losses = fastpath.for_training(model, options)
        if arch == "gpt":
            return lambda: losses.loss(ids[:, :-1], ids[:, 1:])
        return lambda: losses.pretraining_loss(ids[:, :-1], zeros, ones, labels)[0]
    if arch == "gpt":
        return lambda: model(input_ids=ids[:, :-1], labels=ids[:, :-1]).loss
    return lambda: model(input_ids=ids[:, :-1], attention_mask=ones, labels=labels).loss


class Run:
    """One variant's model, optimizer and batch, ready to take single timed steps."""

    def __init__(self, model, loss_fn, fused: bool):
        self.model, self.loss_fn = model, loss_fn
        self.opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=fused or None)
        self.times: list[list[float]] = []  # one list of step times per round

    def step(self) -> float:
        t = time.perf_counter()
        loss = self.loss_fn()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return time.perf_counter() - t


# (label, ours, fused AdamW, fast-path options or None). The first is what `bertgpt train`
# would choose here (fastpath.choose with precision "auto").
def variants(ablate=False, arch="gpt"):
    cpu = torch.device("cpu")
    probe = build(ModelConfig(arch, vocab_size=V, n_layer=1, n_head=H, n_embd=C, block_size=T))
    auto = fastpath.choose(probe, cpu, "auto")
    v = [("bertgpt", True, True, auto),
         ("bertgpt fp32", True, False, fastpath.choose(probe, cpu, "fp32")),
         ("transformers", False, False, None),
         ("transformers fused", False, True, None)]
    if ablate:
        off = lambda **k: dataclasses.replace(auto, **k)  # noqa: E731
        v.append(("bertgpt, plain model", True, True, None))
        if arch == "bert":
            v.append(("bertgpt, full last layer", True, True, off(rows_only=False)))
        if auto.bf16:  # what each bf16 choice buys on its own
            v += [("bertgpt, MLP as 2 Linears", True, True, off(fused_mlp=False)),
                  ("bertgpt, attention op by op", True, True, off(fused_attention=False))]
            if arch == "gpt":  # BERT's GELU is the erf one already
                v.append(("bertgpt, tanh-GELU kernel", True, True, off(tanh_as_erf=False)))
    return v


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--steps", type=int, default=5, help="consecutive steps per turn")
    p.add_argument("--instances", type=int, default=3,
                   help="models per run, pooled: two copies of one model differ by up to 12%%")
    p.add_argument("--warmup", type=int, default=3, help="untimed first steps per model")
    p.add_argument("--seed", type=int, default=0, help="seeds the order within a round")
    p.add_argument("--ablate", action="store_true",
                   help="add runs with one of the fast path's choices turned off")
    args = p.parse_args()
    # As `bertgpt train` sets it (bertgpt/pretrain/allocator.py): process-wide, so every run gets it.
    tuned = keep_freed_memory()
    peak = matmul_gflops()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, AMX: "
          f"{cpu_has_amx()}; malloc keeps freed memory: {tuned}; "
          f"large fp32 matmul: {peak:.0f} GFLOP/s")
    # Several models per run: on this box two copies of the same model, same code, same
    # process, differ by up to 12% in step time (where their weights and optimizer state
    # happen to sit in memory), so one copy per run would make that luck the result.
    runs = {(arch, v): [] for arch in ("gpt", "bert") for v in variants(args.ablate, arch)}
    for (arch, v), copies in runs.items():
        for _ in range(args.instances):
            model = make(arch, v[1])
            copies.append(Run(model, step_fn(arch, v[1], model, v[3]), fused=v[2]))
    order = [run for copies in runs.values() for run in copies]
    for run in order:
        for _ in range(args.warmup):  # the first steps allocate
            run.step()
    # Every model takes a turn of a few consecutive steps each round (a model trains step
    # after step, with its weights warm in the cache), in a shuffled order: a slow spell on
    # this shared box lands on all runs alike instead of on whichever ran through it.
    rng = random.Random(args.seed)
    for _ in range(args.rounds):
        rng.shuffle(order)
        for run in order:
            run.times.append([run.step() for _ in range(args.steps)])
    print(f"{'model':50s} {'ms/step':>8s} {'tokens/s':>9s} {'GFLOP/s':>8s} {'% of matmul':>11s}")
    for arch in ("gpt", "bert"):
        flops = flops_per_step(runs[(arch, variants(False, arch)[0])][0].model)
        med = {}
        for v in variants(args.ablate, arch):
            med[v[0]] = statistics.median(steps(runs[(arch, v)]))
            gf = flops / med[v[0]] / 1e9
            extra = " (bf16 matmuls)" if v[3] is not None and v[3].bf16 else ""
            print(f"{v[0] + ' ' + arch.upper() + extra:50s} {med[v[0]] * 1e3:8.1f} "
                  f"{B * T / med[v[0]]:9.0f} {gf:8.1f} {gf / peak:10.1%}")
        print(f"  -> bertgpt {arch.upper()} is {med['transformers'] / med['bertgpt']:.2f}x "
              f"transformers' tokens/s ({med['transformers fused'] / med['bertgpt']:.2f}x "
              f"transformers with fused AdamW; fp32 with the same AdamW: "
              f"{med['transformers'] / med['bertgpt fp32']:.2f}x)")
        base = variants(False, arch)
        ours, theirs = runs[(arch, base[0])], runs[(arch, base[2])]
        q = max(1, args.rounds // 4)
        spread = [statistics.median(steps(theirs, r, r + q))
                  / statistics.median(steps(ours, r, r + q))
                  for r in range(0, args.rounds - q + 1, q)]
        print("     the same ratio in each quarter of the rounds: "
              + ", ".join(f"{r:.2f}x" for r in spread))


def steps(copies, first=0, last=None):
    """Every timed step of a run's models, in rounds first..last."""
    return [t for run in copies for turn in run.times[first:last] for t in turn]


if __name__ == "__main__":
    main()
