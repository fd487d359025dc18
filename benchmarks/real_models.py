"""Real-size BERT and GPT-2 on the CPU: the from-scratch core against transformers' pipelines.

    python benchmarks/real_models.py [--repeat 5] [--tokens 50] [--bert DIR --gpt DIR]
                                     [--random-into DIR] [--json out.json]

1. Latency: one fill-mask with bert-base (ours: sampling.fill_mask; theirs:
   pipeline("fill-mask")), and --tokens new tokens of greedy gpt2 generation (ours:
   sampling.generate with the KV cache; theirs: pipeline("text-generation"), do_sample=False,
   min_new_tokens so both make exactly --tokens). Both sides load the same files, run in
   the same process with the same torch threads, interleaved, so background load on a
   shared box hits them alike: the ratio is the figure to read, not the milliseconds.
2. Memory: the RSS a fresh process gains by loading each model (ours: bertgpt.load;
   theirs: from_pretrained), and its peak RSS after one forward pass, each in its own
   subprocess so nothing else is counted.

Weights: the cached Hub checkpoints bert-base-uncased and gpt2 when they are in the Hugging
Face cache (or --bert / --gpt folders); otherwise random-init models at exactly the real
sizes (BertConfig() and GPT2Config() are bert-base and gpt2) saved to a temporary folder,
with a world-corpus tokenizer. Latency and memory do not depend on the weights' values, only
on the sizes, so the figures hold for the real checkpoints; the output says which were used.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the other benchmarks and the app
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no load reports in the output

FILL_TEXT = "the capital of france is [MASK] ."
PROMPT = "The capital of France is"


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_mb() -> float:
    """VmHWM: this process's peak RSS. (getrusage's ru_maxrss survives fork + exec, so a
    child would report its parent's peak.)"""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def random_real_size(root: Path) -> dict:
    """bert-base and gpt2 sized models with random weights, in transformers' layout."""
    import torch
    import transformers

    from bertgpt.text.corpus import generate_world
    from bertgpt.text.tokenizer import train_tokenizer
    text = generate_world(seed=0, size=200_000)
    torch.manual_seed(0)
    wp = train_tokenizer("wordpiece", text, 2000)
    transformers.BertForPreTraining(transformers.BertConfig()).save_pretrained(root / "bert")
    transformers.BertTokenizerFast(
        tokenizer_object=wp.backend, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
        sep_token="[SEP]", mask_token="[MASK]").save_pretrained(root / "bert")
    bpe = train_tokenizer("bpe", text, 2000)
    transformers.GPT2LMHeadModel(transformers.GPT2Config()).save_pretrained(root / "gpt")
    transformers.GPT2TokenizerFast(
        tokenizer_object=bpe.backend, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
        unk_token="<|endoftext|>").save_pretrained(root / "gpt")
    return {"bert": root / "bert", "gpt": root / "gpt"}


def pick_weights(args, tmp: Path) -> tuple[dict, str]:
    from bertgpt.io import hub
    if args.bert and args.gpt:
        return {"bert": Path(args.bert), "gpt": Path(args.gpt)}, "the folders given"
    if args.random_into:  # skip the Hub: random real-size weights, kept for the next run
        root = Path(args.random_into)
        if not (root / "gpt" / "config.json").is_file():
            random_real_size(root)
        return {"bert": root / "bert", "gpt": root / "gpt"}, RANDOM
    try:
        return ({"bert": hub.fetch("bert-base-uncased"), "gpt": hub.fetch("gpt2")},
                "the real bert-base-uncased and gpt2 from the Hugging Face cache")
    except Exception as e:  # offline with an empty cache: fall back to real-size random
        print(f"real checkpoints unavailable ({str(e)[:120]}...)", file=sys.stderr)
        return random_real_size(tmp), RANDOM


RANDOM = ("random-init weights at the real sizes (bert-base, gpt2), saved with save_pretrained; "
          "latency and memory depend on the sizes, not on the weights' values")


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1e3


def latency(paths: dict, repeat: int, tokens: int) -> dict:
    import torch
    import transformers

    import bertgpt
    from bertgpt.model.sampling import fill_mask, generate
    out = {"torch_threads": torch.get_num_threads()}
    bert = bertgpt.load(paths["bert"])
    fm = transformers.pipeline("fill-mask", model=str(paths["bert"]), device=-1, top_k=5)
    ours_fm = lambda: fill_mask(bert.model, bert.tokenizer, FILL_TEXT, top_k=5)  # noqa: E731
    theirs_fm = lambda: fm(FILL_TEXT)  # noqa: E731
    gpt = bertgpt.load(paths["gpt"])
    tg = transformers.pipeline("text-generation", model=str(paths["gpt"]), device=-1)

    def ours_gen():
        return generate(gpt.model, gpt.tokenizer, PROMPT, max_new_tokens=tokens,
                        temperature=0.0, stop_at_eos=False)

    def theirs_gen():
        return tg(PROMPT, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False,
                  return_tensors=True)

    # The pipeline may rank [CLS]/[SEP]... among its guesses; ours never offers a special.
    theirs_ids = [r["token"] for r in theirs_fm() if r["token"] not in bert.tokenizer.special_ids]
    ours_ids = [c["id"] for c in ours_fm()[0]["candidates"]]
    generated = list(theirs_gen()[0]["generated_token_ids"])[-tokens:]
    same = {"fill_mask_guesses": ours_ids[:len(theirs_ids)] == theirs_ids,
            "generated_ids": [t["id"] for t in ours_gen()["tokens"]] == generated}
    times = {k: [] for k in ("ours_fill_mask", "theirs_fill_mask", "ours_gen", "theirs_gen")}
    with torch.inference_mode():
        for _ in range(repeat):  # interleaved: a burst of load hits both sides
            times["ours_fill_mask"].append(_timed(ours_fm))
            times["theirs_fill_mask"].append(_timed(theirs_fm))
            times["ours_gen"].append(_timed(ours_gen))
            times["theirs_gen"].append(_timed(theirs_gen))
    med = {k: round(statistics.median(v), 1) for k, v in times.items()}
    out.update({f"{k}_ms": v for k, v in med.items()})
    out["fill_mask_ratio_theirs_over_ours"] = round(
        med["theirs_fill_mask"] / med["ours_fill_mask"], 2)
    out["gen_ratio_theirs_over_ours"] = round(med["theirs_gen"] / med["ours_gen"], 2)
    out["ours_gen_tokens_per_s"] = round(tokens / med["ours_gen"] * 1e3, 1)
    out["theirs_gen_tokens_per_s"] = round(tokens / med["theirs_gen"] * 1e3, 1)
    out["same_answers"] = same
    out["process_peak_rss_mb"] = round(peak_mb())
    return out


def memory_child(side: str, arch: str, path: str) -> dict:
    """Run in a fresh process: RSS gained by loading, and peak after one forward pass."""
    import torch
    import transformers  # imported on both sides so library code is not counted

    import bertgpt
    base = rss_mb()
    t = time.perf_counter()
    if side == "ours":
        m = bertgpt.load(path).model
    else:
        cls = transformers.BertForPreTraining if arch == "bert" else transformers.GPT2LMHeadModel
        m = cls.from_pretrained(path).eval()
    load_s = time.perf_counter() - t
    loaded = rss_mb()
    with torch.inference_mode():
        m(torch.randint(5, 1000, (1, 32)))
    params = sum(p.numel() for p in m.parameters())
    # After the load alone RSS undercounts a lazily mapped file (pages come in when first
    # touched); after one forward pass every weight has been read.
    return {"side": side, "arch": arch, "load_s": round(load_s, 2),
            "params_mb_fp32": round(params * 4 / 2**20),
            "rss_gain_after_load_mb": round(loaded - base),
            "rss_gain_after_forward_mb": round(rss_mb() - base),
            "peak_rss_gain_mb": round(peak_mb() - base), "baseline_rss_mb": round(base)}


def memory(paths: dict) -> list[dict]:
    rows = []
    for arch in ("bert", "gpt"):
        for side in ("ours", "theirs"):
            res = subprocess.run([sys.executable, __file__, "--memory-child", side, arch,
                                  str(paths[arch])], capture_output=True, text=True)
            if res.returncode:
                rows.append({"side": side, "arch": arch, "error": res.stderr[-300:]})
            else:
                rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--tokens", type=int, default=50)
    p.add_argument("--bert", help="a bert-base folder in transformers' layout")
    p.add_argument("--gpt", help="a gpt2 folder in transformers' layout")
    p.add_argument("--random-into", metavar="DIR", help="use (and keep in DIR) random-init "
                   "real-size models instead of looking in the Hugging Face cache")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--memory-child", nargs=3, metavar=("SIDE", "ARCH", "PATH"),
                   help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.memory_child:
        print(json.dumps(memory_child(*args.memory_child)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        paths, which = pick_weights(args, Path(tmp))
        result = {"weights": which, "load_average": os.getloadavg(), "repeat": args.repeat,
                  "tokens": args.tokens, "latency": latency(paths, args.repeat, args.tokens),
                  "memory": memory(paths)}
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
