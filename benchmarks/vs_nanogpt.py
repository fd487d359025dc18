"""`bertgpt train` against nanoGPT's `train.py`, as whole processes, side by side.

What a user runs is the command, not a model step in a loop: start-up, tokenizer, data,
the event stream, the progress printing and the last evaluation all count. Each tool is
run for a short and a long number of steps, alternately; the difference of the two wall
times over the difference of the steps is the cost of one step, with start-up (and
nanoGPT's evaluation at step 0, bertgpt's at the end) cancelled. Best of --rounds.

The config is nanoGPT's README recipe for a CPU (config/train_shakespeare_char.py with
--device=cpu --compile=False --block_size=64 --batch_size=12 --n_layer=4 --n_head=4
--n_embd=128 --dropout=0.0), at lr 1e-3, char-level, evaluation out of the loop.

nanoGPT is not a dependency. Give the path of a checkout of karpathy/nanoGPT (a git clone
of its GitHub repository); without one this script says how to get it and exits 0. Its
files are copied to a temporary folder and run from there, so the checkout is left as
it was; its own prepare.py encodes the text.

    python benchmarks/vs_nanogpt.py --nanogpt ~/nanoGPT [--text FILE] [--rounds 2]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEXT = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"
SHAPE = dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12)
LR, WARMUP = 1e-3, 100  # nanoGPT's train_shakespeare_char: lr 1e-3, 100 warm-up iters


def nanogpt_cmd(steps: int, out: Path) -> list[str]:
    s = SHAPE
    return [sys.executable, "train.py", "config/train_shakespeare_char.py",
            "--device=cpu", "--compile=False", "--dtype=float32", "--dropout=0.0",
            f"--block_size={s['block_size']}", f"--batch_size={s['batch_size']}",
            f"--n_layer={s['n_layer']}", f"--n_head={s['n_head']}", f"--n_embd={s['n_embd']}",
            f"--learning_rate={LR}", f"--warmup_iters={WARMUP}",
            f"--max_iters={steps}", f"--lr_decay_iters={steps}",
            "--eval_iters=1", "--eval_interval=1000000", "--log_interval=1000000",
            "--always_save_checkpoint=False", f"--out_dir={out}"]


def bertgpt_cmd(steps: int, text: Path, out: Path) -> list[str]:
    s = SHAPE
    exe = shutil.which("bertgpt") or "bertgpt"
    return [exe, "train", "gpt", "--text", str(text), "--tokenizer", "char",
            "--layers", str(s["n_layer"]), "--heads", str(s["n_head"]), "--dim",
            str(s["n_embd"]), "--block", str(s["block_size"]), "--batch",
            str(s["batch_size"]), "--lr", str(LR), "--warmup", str(WARMUP),
            "--steps", str(steps), "--eval-every", "1000000", "--device", "cpu",
            "--out", str(out)]


def timed(cmd: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one whole process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-2000:]}")
    return seconds, usage.ru_maxrss * 1024


def prepare_nanogpt(checkout: Path, text: Path, work: Path) -> Path:
    """A runnable copy of nanoGPT with `text` encoded by its own char-level prepare.py."""
    run = work / "nanogpt"
    run.mkdir()
    for name in ("train.py", "model.py", "configurator.py"):
        shutil.copy(checkout / name, run / name)
    shutil.copytree(checkout / "config", run / "config")
    data = run / "data" / "shakespeare_char"
    data.mkdir(parents=True)
    shutil.copy(checkout / "data" / "shakespeare_char" / "prepare.py", data / "prepare.py")
    shutil.copy(text, data / "input.txt")  # present, so prepare.py downloads nothing
    subprocess.run([sys.executable, "prepare.py"], cwd=data, check=True,
                   stdout=subprocess.DEVNULL)
    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nanogpt", type=Path, help="path of a karpathy/nanoGPT checkout")
    ap.add_argument("--text", type=Path, default=DEFAULT_TEXT)
    ap.add_argument("--short", type=int, default=50)
    ap.add_argument("--long", type=int, default=450)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.nanogpt is None or not (args.nanogpt / "train.py").is_file():
        print("No nanoGPT checkout given: clone karpathy/nanoGPT from GitHub and pass its "
              "folder as --nanogpt PATH. Nothing was measured.")
        return 0
    if not args.text.is_file():
        raise SystemExit(f"--text {args.text}: no such file")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        nano = prepare_nanogpt(args.nanogpt, args.text, work)
        runs = {"nanogpt": lambda n: timed(nanogpt_cmd(n, work / "out"), nano),
                "bertgpt": lambda n: timed(bertgpt_cmd(n, args.text, work / "bertgpt"), ROOT)}
        best = {(tool, n): (float("inf"), 0) for tool in runs for n in (args.short, args.long)}
        for r in range(args.rounds):
            order = list(runs) if r % 2 == 0 else list(runs)[::-1]   # alternate who goes first
            for n in (args.short, args.long):
                for tool in order:
                    seconds, rss = runs[tool](n)
                    if seconds < best[tool, n][0]:
                        best[tool, n] = (seconds, rss)
    steps = args.long - args.short
    result = {"config": {**SHAPE, "lr": LR, "text": args.text.name}, "rounds": args.rounds,
              "steps": [args.short, args.long]}
    for tool in runs:
        short, long = best[tool, args.short], best[tool, args.long]
        result[tool] = {"ms_per_step": 1000 * (long[0] - short[0]) / steps,
                        "startup_s": short[0] - args.short * (long[0] - short[0]) / steps,
                        "wall_s": [short[0], long[0]], "peak_rss_mb": long[1] / 2**20}
    result["speedup"] = result["nanogpt"]["ms_per_step"] / result["bertgpt"]["ms_per_step"]
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for tool in runs:
            r = result[tool]
            print(f"{tool:8s} {r['ms_per_step']:6.1f} ms/step  start-up {r['startup_s']:5.1f} s"
                  f"  peak RSS {r['peak_rss_mb']:6.0f} MB")
        print(f"bertgpt train is {result['speedup']:.2f}x nanoGPT's train.py per step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
