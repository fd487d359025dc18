"""benchmarks/gpu.py: its code runs (on a tiny model, on the CPU) before a GPU machine's
minutes are spent on it, and without CUDA a plain run says so and exits cleanly."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu.py"


def _run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True,
                          text=True, timeout=300)


def test_smoke_run_goes_through_every_part():
    r = _run("--smoke")
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out["smoke"] is True
    tp = out["throughput"]
    assert tp["card"] == "cpu" and tp["mfu"] is None  # no peak to divide by on a CPU
    assert tp["tokens_per_s"] > 0 and tp["ms_per_step"] > 0
    assert 0 < tp["last_loss"] < 20  # a real loss came out of the step
    live = out["live"]
    assert live["device"] == "cpu" and live["steps"] >= 1
    assert live["final"]["type"] == "eval" and live["final"]["val_bpc"] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_without_cuda_it_says_so_and_exits_0():
    r = _run("--live", "0")
    assert r.returncode == 0
    assert "no CUDA device" in r.stdout


def test_peak_table_knows_the_cards_the_issue_names():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import gpu
    finally:
        sys.path.remove(str(SCRIPT.parent))
    assert gpu.peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert gpu.peak_flops("NVIDIA H200") == 989e12
    assert gpu.peak_flops("some unknown card") is None
