"""The data-efficiency table for all three fine-tuning tasks, over several seeds: labelled
examples (16 / 64 / 256 / all) x (pre-trained bundled BERT, same shape from random init),
each with the task's default budget (finetune.TASK_DEFAULTS), scored on the held-out test
set; plus GPT's few-shot capital score for k = 0..8.

    python benchmarks/finetune_sweep.py --seeds 0 1 2 [--tasks classify qa ner] [--json]

A seed changes the head's initialisation, the scratch encoder, the subset of examples and
the batch order. Cells are the mean over seeds, with the range when seeds disagree.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from bertgpt.finetune import loop as ft, prompting, tasks
from bertgpt.io.assets import bundled

METRICS = {"classify": ["accuracy"], "qa": ["exact_match", "f1"], "ner": ["f1"]}


def measure(seeds, task_names=tasks.TASKS) -> dict:
    bert, gpt = bundled("bert"), bundled("gpt")
    out = {"seeds": list(seeds), "tasks": {}, "threads": torch.get_num_threads()}
    for task in task_names:
        data = tasks.world_task(task, bert.tokenizer, bert.cfg.block_size)
        cells: dict = {}
        start = time.perf_counter()
        for seed in seeds:
            cfg = ft.default_config(task, seed=seed, eval_every=0)
            for ev in ft.sweep(task, bert, data, cfg=cfg):
                if ev["type"] == "progress":
                    r = ev["row"]
                    cells.setdefault((r["asked"], r["init"]), []).append(r)
        out["tasks"][task] = {
            "train_pool": len(data["train"]), "test": len(data["test"]),
            "baseline": tasks.baseline(task, data), "config": ft.TASK_DEFAULTS[task],
            "seconds": time.perf_counter() - start,
            "cells": [{"examples": str(k[0]), "init": k[1], "runs": len(v),
                       "seconds_per_run": statistics.mean(r["seconds"] for r in v),
                       **{m: [r[m] for r in v] for m in METRICS[task]}}
                      for k, v in cells.items()]}
    out["gpt_capital"] = {k: prompting.score("capital", gpt, k)["accuracy"]
                          for k in range(prompting.MAX_K + 1)}
    return out


def _cell(values: list[float]) -> str:
    mean = statistics.mean(values)
    if max(values) - min(values) < 0.0005:
        return f"{mean:.3f}"
    return f"{mean:.3f} ({min(values):.2f}–{max(values):.2f})"


def markdown(res: dict) -> str:
    lines = []
    for task, t in res["tasks"].items():
        base = ", ".join(f"{k} {v:.3f}" for k, v in t["baseline"].items()
                         if isinstance(v, float))
        lines += [f"\n**{task}** ({t['train_pool']} training examples available, {t['test']} "
                  f"held-out; budget {t['config']}; baseline {t['baseline']['rule']}: {base})\n"]
        head = ["examples"] + [f"{m} {i}" for m in METRICS[task] for i in ft.INITS]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        by = {(c["examples"], c["init"]): c for c in t["cells"]}
        for ex in dict.fromkeys(c["examples"] for c in t["cells"]):
            row = [ex] + [_cell(by[(ex, i)][m]) for m in METRICS[task] for i in ft.INITS]
            lines.append("| " + " | ".join(row) + " |")
        per_run = statistics.mean(c["seconds_per_run"] for c in t["cells"])
        lines.append(f"\n{per_run:.1f} s per run on average, {t['seconds']:.0f} s in all.")
    caps = ", ".join(f"k={k}: {v:.2f}" for k, v in res["gpt_capital"].items())
    lines.append(f"\n**GPT few-shot, capital task** (bundled gpt-mini, greedy, 24 countries): "
                 f"{caps}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--tasks", nargs="+", default=list(tasks.TASKS), choices=tasks.TASKS)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    res = measure(args.seeds, args.tasks)
    print(json.dumps(res, default=str) if args.json else markdown(res))


if __name__ == "__main__":
    main()
