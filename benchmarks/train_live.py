"""The Train live tab against `bertgpt train`, same config, side by side in one run.

    python benchmarks/train_live.py [--seconds 30] [--threads 1 2]

Issue #19 asks for Train live's speed within 10% of the command's. Each run here is the
same GPT (the tab's "mini": 4 layers, 4 heads, width 128, block 64), on the world corpus
(200k characters), BPE 2000, batch 32, lr 3e-3, for --seconds of training:
  cli                 `bertgpt train gpt --world ... --json`; tokens/s from its last step
  app, threads N      `python app.py` with BERTGPT_TRAIN_THREADS=N, trained through
                      gradio_client's /train, once alone and once while a second client
                      calls /tokenize in a loop (a student clicking elsewhere), whose
                      latency is reported too
The app reports the run's tokens/s in its status line; both figures count the training
loop's own clock, not start-up.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLICK = ("Hello world, unbelievable", 2000, "unbelievable")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(seconds: float) -> float:
    out = Path(tempfile.mkdtemp()) / "m"
    cmd = [shutil.which("bertgpt") or "bertgpt", "train", "gpt", "--world", "--size",
           "200000", "--tokenizer", "bpe", "--vocab", "2000", "--layers", "4", "--heads", "4",
           "--dim", "128", "--block", "64", "--batch", "32", "--lr", "3e-3", "--warmup", "30",
           "--eval-every", "50", "--time-budget", str(seconds), "--device", "cpu",
           "--out", str(out), "--json"]
    lines = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines()
    steps = [e for e in map(json.loads, (l for l in lines if l.startswith("{")))
             if e["type"] == "step"]
    shutil.rmtree(out.parent, ignore_errors=True)
    return steps[-1]["tokens_per_s"]


def app(threads: int, seconds: float) -> dict:
    from gradio_client import Client
    port = free_port()
    env = {**os.environ, "BERTGPT_TRAIN_THREADS": str(threads), "GRADIO_SERVER_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(120):
            try:
                client = Client(url, verbose=False)
                break
            except Exception:  # not listening yet
                time.sleep(1)
        else:
            raise RuntimeError("the app did not start in 120 s")
        out = {}
        for clicking in (False, True):
            stop, latencies = threading.Event(), []

            def student():
                c = Client(url, verbose=False)
                while not stop.is_set():
                    t = time.perf_counter()
                    c.predict(*CLICK, api_name="/tokenize")
                    latencies.append(time.perf_counter() - t)
            th = threading.Thread(target=student) if clicking else None
            if th:
                th.start()
            status = client.predict("gpt", "mini", "world", 200, "", None, "time", seconds,
                                    300, 32, 3e-3, 0, api_name="/train")[0]
            stop.set()
            if th:
                th.join()
            rate = float(re.search(r"\*\*([\d,]+) tokens/s\*\*", status).group(1).replace(",", ""))
            out["clicking" if clicking else "alone"] = rate
            if clicking and latencies:
                latencies.sort()
                out["click_p50"] = statistics.median(latencies)
                out["click_p95"] = latencies[int(0.95 * (len(latencies) - 1))]
        return out
    finally:
        proc.terminate()
        proc.wait(30)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = p.parse_args()
    ref = cli(args.seconds)
    print(f"{'run':28s} {'tokens/s alone':>15s} {'clicking':>9s} {'click p50/p95 ms':>17s}")
    print(f"{'bertgpt train':28s} {ref:15,.0f}")
    for n in args.threads:
        r = app(n, args.seconds)
        print(f"{'app, threads ' + str(n):28s} {r['alone']:15,.0f} {r['clicking']:9,.0f} "
              f"{r['click_p50'] * 1e3:8.0f} / {r['click_p95'] * 1e3:.0f}"
              f"   alone: {r['alone'] / ref:.2f}x the CLI")


if __name__ == "__main__":
    main()
