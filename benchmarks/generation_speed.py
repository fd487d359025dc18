"""Generate & sample speed with the bundled GPT mini on this machine.

    python benchmarks/generation_speed.py [--repeat 30] [--tokens 256] [--json out.json]

1. Step mode: the `next_token` handler's compute (forward pass, sampling, the figure),
   called directly; then end to end through gradio_client, next to a no-op endpoint in
   the same app and the same run (the target: < 50 ms compute, < 1.5x the no-op).
2. Full generation: tokens/s for --tokens new tokens with the KV cache and recomputing
   the whole prefix every token, and the cache's speed-up. Past block_size (128 for the
   mini) the window slides and both recompute, so 256 tokens include that part.
Also the app's /generate endpoint end to end for the same length.

The load average is printed too: on a shared box, other processes change every figure.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import time
from types import SimpleNamespace

# Before torch loads OpenMP: idle OpenMP threads sleep instead of spinning. On a busy
# 2-core box (the app's handler threads, a training thread, other processes) spinning
# threads starve each other and a mini-model step gets ~10x slower. app.py should do the same.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

PROMPT = "The capital of France is"


def _median_ms(fn, repeat: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def handler_compute(repeat: int) -> dict:
    from bertgpt.app.tab_generate import next_token
    call = lambda: next_token("bundled", PROMPT, 1.0, 10, 0.9, 0, None)  # noqa: E731
    return {"next_token_handler_ms": _median_ms(call, repeat)}


def end_to_end(repeat: int, tokens: int) -> dict:
    import gradio as gr
    from gradio_client import Client

    from bertgpt.app import tab_generate
    with gr.Blocks() as demo:
        own = gr.State(None)
        tab_generate.build(SimpleNamespace(own=own, demo=demo))
        gr.Button("no-op").click(lambda: None, None, None, api_name="noop")
    demo.queue(default_concurrency_limit=4)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, url, _ = demo.launch(prevent_thread_lock=True, server_port=port, quiet=True)
    try:
        c = Client(url, verbose=False)
        noop = _median_ms(lambda: c.predict(api_name="/noop"), repeat)
        step = _median_ms(lambda: c.predict("bundled", PROMPT, 1.0, 10, 0.9, 0,
                                            api_name="/next_token"), repeat)
        t = time.perf_counter()
        out = c.predict("bundled", PROMPT, 1.0, 0, 1.0, 0, tokens, api_name="/generate")
        wall = time.perf_counter() - t
    finally:
        demo.close()
    return {"noop_ms": noop, "next_token_ms": step, "next_token_over_noop": step / noop,
            "generate_endpoint_tokens": out[2]["new_tokens"],
            "generate_endpoint_tokens_per_s_in_handler": out[2]["tokens_per_s"],
            "generate_endpoint_wall_s": wall}


def full_generation(tokens: int, repeat: int = 3) -> dict:
    from bertgpt.io.assets import bundled
    from bertgpt.model.sampling import generate_stream
    loaded = bundled("gpt")

    def rate(use_cache: bool, n_new: int) -> float:
        best = 0.0
        for _ in range(repeat):
            t = time.perf_counter()
            n = sum(1 for _ in generate_stream(loaded.model, loaded.tokenizer, PROMPT,
                                               max_new_tokens=n_new, temperature=1.0, seed=0,
                                               use_cache=use_cache, stop_at_eos=False))
            best = max(best, n / (time.perf_counter() - t))
        return best
    block = loaded.model.cfg.block_size
    inside = block - len(loaded.tokenizer.encode(PROMPT))  # new tokens before the window slides
    cached, recompute = rate(True, tokens), rate(False, tokens)
    cached_in, recompute_in = rate(True, inside), rate(False, inside)
    return {"new_tokens": tokens, "block_size": block,
            "kv_cache_tokens_per_s": cached, "recompute_tokens_per_s": recompute,
            "kv_cache_speedup": cached / recompute,
            "within_block_new_tokens": inside, "within_block_kv_cache_tokens_per_s": cached_in,
            "within_block_recompute_tokens_per_s": recompute_in,
            "within_block_kv_cache_speedup": cached_in / recompute_in}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--repeat", type=int, default=30)
    p.add_argument("--tokens", type=int, default=256)
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args()
    import torch

    from bertgpt.io.assets import bundled
    if bundled("gpt") is None:
        print("the bundled GPT is missing (assets/models/gpt-mini): build it first")
        return 1
    figures = {"date": time.strftime("%Y-%m-%d"), "torch": torch.__version__,
               "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
               "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
               "load_average_1m": os.getloadavg()[0],
               **handler_compute(args.repeat), **end_to_end(args.repeat, args.tokens),
               **full_generation(args.tokens)}
    text = json.dumps(figures, indent=1, default=float)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
