"""How fast the app's tabs answer: `python benchmarks/app_latency.py [--reps 30]`.

Two numbers per (non-training) endpoint of the tokenize / MLM / NSP / masks / attention /
sizes tabs:
  compute    the handler itself, called in-process (median and p95, ms). Target < 100 ms.
  end to end p50 / p95 through `gradio_client` against the launched app, next to a no-op
             endpoint measured in the same run, interleaved with the others so both see the
             same machine. Target: p50 within 1.5x of the no-op's (Gradio's own round trip
             is ~100-170 ms on a 2-core CPU).
The no-op is added to the built app as a hidden event before launch; the app is otherwise
exactly what `python app.py` serves. Endpoints that need the bundled models are reported
as n/a when assets/models is empty.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gradio as gr  # noqa: E402

from bertgpt.io.assets import bundled  # noqa: E402
from bertgpt.app import build_app, launch  # noqa: E402
from bertgpt.app import tab_attention, tab_masks, tab_mlm, tab_nsp, tab_sizes  # noqa: E402
from bertgpt.app import tab_tokenize  # noqa: E402

TEXT = "The capital of France is Paris. People in France speak French."
# endpoint -> (handler, arguments for call i, needs the bundled models). The seed moves
# with i, as a student re-rolling it does, so no cached result flatters a number.
CASES = {
    "tokenize": (tab_tokenize.tokenize, lambda i: (TEXT, 2000, "unbelievably"), False),
    "mask": (tab_mlm.mask, lambda i: (TEXT, 8 + i, 0.15, 0.8, 0.1), False),
    "mask_predict": (tab_mlm.mask_predict, lambda i: (TEXT, 7 + i, 0.3, 0.8, 0.1, 5,
                                                      "bundled"), True),
    "pairs": (tab_nsp.pairs, lambda i: ("world corpus", "", 1 + i, 24, False, 1), False),
    "nsp_predict": (tab_nsp.nsp_predict, lambda i: ("Anna lives in Paris.",
                                                    "She is a teacher.", "bundled"), True),
    "masks": (tab_masks.masks,
              lambda i: (tab_masks.DEFAULT_TEXT, "causal+padding", i + 1, 2), False),
    "attention": (tab_attention.attention, lambda i: (TEXT, "bundled", 1 + i % 4, 1), True),
    "params": (tab_sizes.params, lambda i: ("bert-base", "bert", 30522, 12, 12, 768, 512),
               False),
}


def _pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def _ms(x):
    return f"{x * 1000:6.1f}"


def compute_times(reps: int, have_models: bool) -> dict:
    out = {}
    for name, (fn, args, needs) in CASES.items():
        if needs and not have_models:
            continue
        fn(*args(-1))  # warm: static caches, first model call
        times = []
        for i in range(reps):
            start = time.perf_counter()
            result = fn(*args(i))
            # What Gradio does next with a figure: serialise it.
            for r in result if isinstance(result, tuple) else (result,):
                if hasattr(r, "to_json"):
                    r.to_json()
            times.append(time.perf_counter() - start)
        out[name] = times
    return out


def end_to_end(reps: int, have_models: bool) -> dict:
    demo = build_app()
    with demo:  # the yardstick: an endpoint that does nothing
        box = gr.Textbox(visible=False)
        box.submit(lambda s: s, box, box, api_name="noop")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    launch(demo, prevent_thread_lock=True, server_port=port)
    from gradio_client import Client
    client = Client(demo.local_url, verbose=False)
    names = ["noop"] + [n for n, (_, _, needs) in CASES.items() if have_models or not needs]
    args = {"noop": lambda i: ("x",), **{n: CASES[n][1] for n in names[1:]}}
    times = {n: [] for n in names}
    try:
        for n in names:  # warm each once
            client.predict(*args[n](-1), api_name=f"/{n}")
        for i in range(reps):  # interleaved, so slow moments hit every endpoint alike
            for n in names:
                start = time.perf_counter()
                client.predict(*args[n](1000 + i), api_name=f"/{n}")
                times[n].append(time.perf_counter() - start)
    finally:
        demo.close()
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=30)
    a = ap.parse_args()
    have_models = bundled("bert") is not None and bundled("gpt") is not None
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"# app latency: {a.reps} reps, {os.cpu_count()} CPUs, load average {load:.1f}"
          + ("" if have_models else "; bundled models missing: model endpoints n/a"))
    comp = compute_times(a.reps, have_models)
    e2e = end_to_end(a.reps, have_models)
    base = statistics.median(e2e["noop"])
    print()
    print("| endpoint | compute median (ms) | compute p95 (ms) | e2e p50 (ms) | e2e p95 (ms) "
          "| p50 / no-op | < 100 ms | <= 1.5x |")
    print("|---|---:|---:|---:|---:|---:|:-:|:-:|")
    print(f"| /noop | — | — | {_ms(base)} | {_ms(_pct(e2e['noop'], .95))} | 1.00 | | |")
    for name in CASES:
        if name not in comp:
            print(f"| /{name} | n/a | n/a | n/a | n/a | n/a | | |")
            continue
        c, e = comp[name], e2e[name]
        ratio = statistics.median(e) / base
        print(f"| /{name} | {_ms(statistics.median(c))} | {_ms(_pct(c, .95))} | "
              f"{_ms(statistics.median(e))} | {_ms(_pct(e, .95))} | {ratio:.2f} | "
              f"{'yes' if statistics.median(c) < 0.1 else 'NO'} | "
              f"{'yes' if ratio <= 1.5 else 'NO'} |")


if __name__ == "__main__":
    main()
