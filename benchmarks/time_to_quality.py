"""Quality per second: train the CLI's default GPT recipe for N seconds of wall time and
report validation bits per character on the held-out end of the text.

    python benchmarks/time_to_quality.py --text ../shared/data/tinyshakespeare.txt --seconds 60

Tokenizer training is inside the clock. bpc = nats/token x tokens/char / ln 2, so runs
with different tokenizers compare honestly. The text is read at run time, never copied.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from bertgpt.text.corpus import load_text
from bertgpt.pretrain.recipes import GPT_DEFAULT
from bertgpt.text.tokenizer import train_tokenizer
from bertgpt.pretrain.loop import TrainConfig, train


# Encoding the text, building the model and the final validation pass happen outside the
# loop's own clock (about 2.5 s on 2 cores for 1 MB of text); the loop gets what is left,
# so the whole run, tokenizer to last figure, fits in --seconds.
RESERVE = 2.5


def run(text: str, seconds: float, recipe: dict, seed: int = 0, reserve: float = RESERVE) -> dict:
    start = time.perf_counter()
    tok = train_tokenizer(recipe["tokenizer"], text[: int(len(text) * 0.9)], recipe["vocab"])
    spent = time.perf_counter() - start
    # Validation every `eval_every` steps (TrainConfig's default unless the recipe says),
    # as `bertgpt train` does: the run ends on the best of those weights (keep_best).
    cfg = TrainConfig(**{**recipe["train"], "time_budget": seconds - spent - reserve,
                         "steps": 10**9, "seed": seed})
    done = None
    for ev in train("gpt", text, tokenizer=tok, model=recipe["model"], cfg=cfg):
        done = ev
    final = done["record"]["final"]
    return {"val_bpc": final["val_bpc"], "val_nats_per_token": final["val_loss"],
            "steps": done["step"], "best_step": done["best_step"], "tokenizer_seconds": spent,
            "total_seconds": time.perf_counter() - start, "vocab": tok.vocab_size,
            "tokens_per_s": done["record"]["history"][-2]["tokens_per_s"]}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--text", required=True, help="UTF-8 text file (e.g. tinyshakespeare.txt)")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--override", default="{}", help="JSON merged into the recipe, to compare")
    args = p.parse_args()
    from pathlib import Path
    text = load_text(Path(args.text), max_bytes=50_000_000)
    recipe = json.loads(json.dumps(GPT_DEFAULT))
    for k, v in json.loads(args.override).items():
        recipe[k] = {**recipe[k], **v} if isinstance(v, dict) else v
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, recipe {json.dumps(recipe)}")
    out = run(text, args.seconds, recipe, args.seed)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
