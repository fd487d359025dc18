"""GPU throughput and model-FLOP utilisation (MFU) of a GPT-2-small-size model in bf16,
and a 60-second live training run through the same code path the app uses.

    python benchmarks/gpu.py [--steps 30] [--batch 16] [--compile] [--live 60]
    python benchmarks/gpu.py --smoke     # the same code on a tiny model, on this CPU

Without CUDA it says so and exits 0. Write the figures, date and card into
benchmarks/README.md. `--smoke` runs every part of the script for a few steps on the CPU
with a tiny model, so a GPU machine's scarce minutes are not spent finding a typo
(tests/test_gpu_benchmark.py runs it); its figures mean nothing.
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


def throughput(args, dev: torch.device) -> dict:
    from bertgpt.model.config import ModelConfig
    from bertgpt.model.build import build
    from bertgpt.pretrain.loop import TrainConfig, make_optimizer
    if args.smoke:
        cfg = ModelConfig("gpt", vocab_size=512, n_layer=2, n_head=2, n_embd=64, block_size=64)
    else:
        cfg = ModelConfig("gpt", vocab_size=50304, n_layer=12, n_head=12, n_embd=768,
                          block_size=1024)
    torch.backends.cuda.matmul.allow_tf32 = True
    model = build(cfg, dev).train()
    opt = make_optimizer(model, TrainConfig(lr=6e-4), dev)
    step_model = torch.compile(model) if args.compile else model
    B, T = args.batch, cfg.block_size
    x = torch.randint(0, cfg.vocab_size, (B, T + 1), device=dev)
    cuda = dev.type == "cuda"

    def step():
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cuda):
            loss = step_model.loss(x[:, :-1], x[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    def sync():
        if cuda:
            torch.cuda.synchronize()

    for _ in range(2 if args.smoke else 5):
        step()
    sync()
    t = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    sync()
    dt = (time.perf_counter() - t) / args.steps
    n = sum(p.numel() for p in model.parameters()) - model.pos_emb.weight.numel()
    flops_per_token = 6 * n + 12 * cfg.n_layer * cfg.n_embd * T  # PaLM appendix B
    tps = B * T / dt
    name = torch.cuda.get_device_name() if cuda else "cpu"
    peak = peak_flops(name)  # None for "cpu": no MFU on a smoke run
    return {"card": name, "params": n, "batch": B, "block": T, "ms_per_step": dt * 1e3,
            "tokens_per_s": tps, "mfu": flops_per_token * tps / peak if peak else None,
            "compile": args.compile, "last_loss": loss.detach().item()}


def live(seconds: float, dev: torch.device, smoke: bool = False) -> dict:
    """The app's path: train() with the default GPT recipe on the world corpus."""
    from bertgpt.text.corpus import generate_world
    from bertgpt.pretrain.recipes import GPT_DEFAULT
    from bertgpt.pretrain.loop import TrainConfig, train
    cfg = TrainConfig(**{**GPT_DEFAULT["train"], "steps": 10**9, "time_budget": seconds,
                         "eval_every": 10**9, "device": dev.type,
                         **({"eval_batches": 2} if smoke else {})})
    done = None
    for done in train("gpt", generate_world(size=50_000 if smoke else 2_000_000),
                      vocab_size=300 if smoke else GPT_DEFAULT["vocab"],
                      model=GPT_DEFAULT["model"], cfg=cfg):
        pass
    steps = [e for e in done["record"]["history"] if e["type"] == "step"]
    return {"seconds": done["elapsed"], "steps": done["step"], "device": steps[-1]["device"],
            "tokens_per_s": steps[-1]["tokens_per_s"], "final": done["record"]["final"]}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--live", type=float, default=60, help="seconds of live training (0 = skip)")
    p.add_argument("--smoke", action="store_true",
                   help="run the script's code on a tiny model on the CPU (figures mean nothing)")
    args = p.parse_args(argv)
    if args.smoke:
        args.steps, args.batch, args.live = 2, 2, min(args.live, 2.0)
        dev = torch.device("cpu")
    elif torch.cuda.is_available():
        dev = torch.device("cuda")
    else:
        print("no CUDA device here: nothing to measure (run this on a GPU machine)")
        return 0
    print(json.dumps({"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__,
                      "smoke": args.smoke, "throughput": throughput(args, dev),
                      "live": live(args.live, dev, args.smoke) if args.live else None},
                     indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
