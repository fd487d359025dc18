"""GPU throughput and model-FLOP utilisation (MFU) of a GPT-2-small-size model in bf16,
and a 60-second live training run through the same code path the app uses.

    python benchmarks/gpu.py [--steps 30] [--batch 16] [--compile] [--live 60]

Without CUDA it says so and exits 0. Write the figures, date and card into
benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import time

import torch

# Dense bf16 peak by card name fragment (vendor datasheets), for MFU.
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12,
             "T4": 65e12}


def peak_flops(name: str) -> float | None:
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def throughput(args) -> dict:
    from bertgpt.config import ModelConfig
    from bertgpt.models import build
    from bertgpt.train import TrainConfig, make_optimizer
    cfg = ModelConfig("gpt", vocab_size=50304, n_layer=12, n_head=12, n_embd=768, block_size=1024)
    torch.backends.cuda.matmul.allow_tf32 = True
    dev = torch.device("cuda")
    model = build(cfg, dev).train()
    opt = make_optimizer(model, TrainConfig(lr=6e-4), dev)
    step_model = torch.compile(model) if args.compile else model
    B, T = args.batch, cfg.block_size
    x = torch.randint(0, cfg.vocab_size, (B, T + 1), device=dev)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = step_model.loss(x[:, :-1], x[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(5):
        step()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(args.steps):
        step()
    torch.cuda.synchronize()
    dt = (time.perf_counter() - t) / args.steps
    n = sum(p.numel() for p in model.parameters()) - model.pos_emb.weight.numel()
    flops_per_token = 6 * n + 12 * cfg.n_layer * cfg.n_embd * T  # PaLM appendix B
    tps = B * T / dt
    name = torch.cuda.get_device_name()
    peak = peak_flops(name)
    return {"card": name, "params": n, "batch": B, "block": T, "ms_per_step": dt * 1e3,
            "tokens_per_s": tps, "mfu": flops_per_token * tps / peak if peak else None,
            "compile": args.compile}


def live(seconds: float) -> dict:
    """The app's path: train() with the default GPT recipe on the world corpus, on CUDA."""
    from bertgpt.corpus import generate_world
    from bertgpt.recipes import GPT_DEFAULT
    from bertgpt.train import TrainConfig, train
    cfg = TrainConfig(**{**GPT_DEFAULT["train"], "steps": 10**9, "time_budget": seconds,
                         "eval_every": 10**9, "device": "cuda"})
    done = None
    for done in train("gpt", generate_world(size=2_000_000), vocab_size=GPT_DEFAULT["vocab"],
                      model=GPT_DEFAULT["model"], cfg=cfg):
        pass
    steps = [e for e in done["record"]["history"] if e["type"] == "step"]
    return {"seconds": done["elapsed"], "steps": done["step"], "device": steps[-1]["device"],
            "tokens_per_s": steps[-1]["tokens_per_s"], "final": done["record"]["final"]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--live", type=float, default=60, help="seconds of live training (0 = skip)")
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device here: nothing to measure (run this on a GPU machine)")
        return 0
    print(json.dumps({"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__,
                      "throughput": throughput(args),
                      "live": live(args.live) if args.live else None}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
