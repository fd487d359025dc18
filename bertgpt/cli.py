"""`bertgpt` on the command line. Every subcommand prints for people by default and a
stable JSON shape with --json (documented in README.md). Bad input: one line on stderr,
exit code 2, no traceback."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import settings
from .errors import BertGptError


def _text_arg(args) -> str:
    from .text.corpus import generate_world, load_text
    if getattr(args, "text_file", None):
        return load_text(Path(args.text_file))  # a Path: a plain str is taken as the text
    size = getattr(args, "size", None)  # `or` would turn an explicit --size 0 into the default
    return generate_world(seed=args.seed, size=400_000 if size is None else size)


def cmd_params(args):
    from .model.build import count_params
    out = count_params(args.preset)
    if args.json:
        return out
    print(f"{args.preset}: {out['published_total']:,} parameters"
          + (f" (published {out['published']:,}; {out['relative_error']:+.2%})" if out.get("published") else ""))
    for part, n in out["parts"].items():
        print(f"  {part:18s} {n:>16,}  {n / out['total']:6.1%}")


def cmd_tokenize(args):
    from .io.assets import world_tokenizer
    from .text.tokenizer import explain
    if not args.text.strip():
        raise BertGptError("the text is empty: give some words to tokenize")
    out = explain(world_tokenizer(args.kind), args.text)
    if args.json:
        return out
    print(" ".join(f"{p}:{i}" for p, i in zip(out["display"], out["ids"])))
    print(f"{out['n_tokens']} tokens for {out['n_chars']} characters ({args.kind})")


def cmd_mask(args):
    from .io.assets import world_tokenizer
    from .text.mlm import mask_text
    out = mask_text(args.text, world_tokenizer("wordpiece"), seed=args.seed, prob=args.prob,
                    selection=args.selection)
    if args.json:
        return out
    for t in out["tokens"]:
        mark = "" if t["fate"] == "not selected" else f"  <- {t['fate']}, label {t['original_token']}"
        print(f"{t['original_token']:>12s} -> {t['input_token']:<12s}{mark}")


def cmd_pairs(args):
    from .io.assets import world_tokenizer
    from .text.corpus import split_documents
    from .text.nsp import explain_pairs
    from .text.segments import explain_segments
    docs, tok = split_documents(_text_arg(args)), world_tokenizer("wordpiece")
    if args.segments:
        out = explain_segments(docs, tok, seed=args.seed, max_len=args.max_len, n=args.n)
    else:
        out = explain_pairs(docs, tok, seed=args.seed, max_len=args.max_len,
                            same_document_bug=args.same_document, n=args.n)
    if args.json:
        return out
    for p in out["pairs"]:
        print(f"[{p['label']}] A: {p['a']}\n          B: {p['b']}")
    print(json.dumps(out["stats"]))


def cmd_corpus(args):
    from .text.corpus import generate_world
    sys.stdout.write(generate_world(seed=args.seed, size=args.size))


def cmd_train(args):
    from .io.checkpoint import check_target, save
    from .pretrain.recipes import BERT_DEFAULT, GPT_DEFAULT
    from .pretrain.loop import TrainConfig, train
    recipe = GPT_DEFAULT if args.arch == "gpt" else BERT_DEFAULT
    out = args.out or f"runs/{args.arch}"
    check_target(out)  # fail before training, not after it, when --out cannot be written
    text = _text_arg(args)
    given = {k: v for k, v in dict(n_layer=args.layers, n_head=args.heads, n_embd=args.dim,
                                   block_size=args.block).items() if v is not None}
    model = {**recipe["model"], **given}
    cfg = TrainConfig(**{**recipe["train"], **{k: v for k, v in dict(
        steps=args.steps, time_budget=args.time_budget, batch_size=args.batch, lr=args.lr,
        min_lr=args.min_lr, warmup=args.warmup, eval_every=args.eval_every, seed=args.seed,
        device=args.device, precision=args.precision).items() if v is not None}})
    kind = args.tokenizer or recipe["tokenizer"]
    vocab = args.vocab or recipe["vocab"]
    done = None
    init = None
    if args.init:
        from .io.hub import load
        init = load(args.init)
    for ev in train(args.arch, text, tokenizer_kind=kind, vocab_size=vocab, model=model, cfg=cfg,
                    init=init):
        if ev["type"] == "done":
            done = ev
            break
        if ev["type"] == "start" or settings.current().rank != 0:
            continue  # "start" holds the model itself: nothing to print
        if args.json:
            print(json.dumps(ev), flush=True)
        elif ev["type"] == "note":
            print(f"note: {ev['message']}", file=sys.stderr)
        elif ev["type"] == "eval" or ev["step"] % 20 == 0:
            extra = f" val {ev['val_loss']:.3f}" if ev["type"] == "eval" else f" loss {ev['loss']:.3f}"
            bpc = f" ({ev['val_bpc']:.3f} bpc)" if "val_bpc" in ev else ""
            print(f"\rstep {ev['step']:5d}{extra}{bpc}   ", end="\n" if ev["type"] == "eval" else "",
                  file=sys.stderr, flush=True)
    if done.get("rank", 0) != 0:  # under torchrun only rank 0 saves and reports
        return None
    save(out, done["model"], done["tokenizer"], done["record"])
    summary = {"type": "done", "out": out, "steps": done["step"], "seconds": done["elapsed"],
               "stopped_by": done["stopped_by"], "final": done["record"]["final"]}
    if args.json:
        return summary
    print(f"\nsaved {out}: {summary['steps']} steps in {summary['seconds']:.1f}s; final {summary['final']}")


def _load_model(name):
    from .io.hub import load
    return load(name)


def cmd_sample(args):
    from .model.sampling import generate
    m = _load_model(args.model)
    if m.model.cfg.arch != "gpt":
        raise BertGptError(f"{args.model} is a BERT model; sampling needs a GPT (try assets/models/gpt-mini)")
    out = generate(m.model, m.tokenizer, args.prompt, max_new_tokens=args.max_new_tokens,
                   temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    if args.json:
        return out
    print(args.prompt + out["text"])


def cmd_fill_mask(args):
    from .model.sampling import fill_mask
    if args.top_k < 1:  # 0 printed nothing and a negative one crashed inside torch.topk
        raise BertGptError(f"--top-k must be at least 1, got {args.top_k}")
    m = _load_model(args.model)
    if m.model.cfg.arch != "bert":
        raise BertGptError(f"{args.model} is a GPT model; fill-mask needs a BERT (try assets/models/bert-mini)")
    masks = fill_mask(m.model, m.tokenizer, args.text, top_k=args.top_k)
    if args.json:
        return {"text": args.text, "masks": masks}
    for mk in masks:
        print(", ".join(f"{c['token']} {c['prob']:.2f}" for c in mk["candidates"]))


def cmd_finetune(args):
    from .finetune import loop as ft, tasks
    from .io.assets import bundled_path
    m = _load_model(args.model or bundled_path("bert"))
    if m.model.cfg.arch != "bert":
        raise BertGptError(f"{args.model} is a GPT model; fine-tuning heads need a BERT "
                           "(try assets/models/bert-mini)")
    if args.csv:
        if args.task != "classify":
            raise BertGptError("--csv gives a classification set: use it with `classify`")
        from .text.corpus import load_text
        data = tasks.parse_csv(load_text(Path(args.csv)), seed=args.seed)
    else:
        data = tasks.world_task(args.task, m.tokenizer, m.model.cfg.block_size)
    cfg = ft.default_config(args.task, steps=args.steps, batch_size=args.batch, lr=args.lr,
                            seed=args.seed, freeze=args.freeze or None, eval_every=0)
    if args.sweep:
        try:
            sizes = tuple(None if s.strip() == "all" else int(s) for s in args.sizes.split(","))
        except ValueError:
            raise BertGptError(f"--sizes takes counts and 'all' separated by commas, e.g. "
                               f"16,64,256,all; got {args.sizes!r}") from None
        for ev in ft.sweep(args.task, m, data, sizes=sizes, cfg=cfg):
            if ev["type"] == "progress" and not args.json:
                r = ev["row"]
                print(f"[{ev['done']}/{ev['total']}] {r['examples']:5d} examples, {r['init']:11s}"
                      f" {ft.MAIN_METRIC[args.task]} {r[ft.MAIN_METRIC[args.task]]:.3f}"
                      f" ({r['seconds']:.1f}s)", file=sys.stderr, flush=True)
        if args.json:
            return ev
        print(ft.format_table(ev))
        return None
    done = None
    for ev in ft.finetune(args.task, m, data, pretrained=not args.from_scratch,
                          n_examples=args.examples, cfg=cfg):
        done = ev if ev["type"] == "done" else done
    out = {"task": args.task, "init": done["init"], "examples": done["examples"],
           "test_examples": len(data["test"]), "steps": done["steps"],
           "seconds": round(done["seconds"], 2), "metrics": done["metrics"],
           "baseline": tasks.baseline(args.task, data), "config": done["config"],
           "losses": [e["loss"] for e in done["history"] if e["type"] == "step"],
           "source": data["source"]}
    if args.json:
        return out
    shown = ", ".join(f"{k} {v:.3f}" for k, v in out["metrics"].items())
    print(f"{args.task}, {out['init']}, {out['examples']} examples, {out['steps']} steps in "
          f"{out['seconds']:.1f}s: {shown} on {out['test_examples']} held-out examples")
    base = out["baseline"]
    print(f"baseline ({base['rule']}): " + ", ".join(
        f"{k} {v:.3f}" for k, v in base.items() if isinstance(v, float)))


def cmd_lab(args):
    import torch
    from .finetune import lab
    # One thread by default: the same order of floating-point sums on every machine (so
    # the shipped table is reproducible), and no threads fighting over a busy CPU.
    torch.set_num_threads(args.threads)
    cfg = lab.LabConfig(**{k: v for k, v in dict(steps=args.steps, examples=args.examples).items()
                           if v is not None})
    table = None
    for ev in lab.run_lab(args.arms or tuple(lab.ARMS), args.seeds, cfg):
        if ev["type"] == "pretrain" and ev["step"] % 50 == 0 and not args.quiet:
            print(f"\r[{ev['done'] + 1}/{ev['total']}] {ev['arm']} seed {ev['seed']}: step "
                  f"{ev['step']}/{ev['steps']} loss {ev['loss']:.3f}   ", end="",
                  file=sys.stderr, flush=True)
        elif ev["type"] == "row":
            r = ev["row"]
            if not args.quiet:
                shown = " ".join(f"{m} {r[m]:.3f}" for m in lab.METRICS + ("next_acc",)
                                 if r.get(m) is not None)
                print(f"\r[{ev['done']}/{ev['total']}] {r['arm']} seed {r['seed']}: {shown} "
                      f"({r['seconds']:.0f}s)", file=sys.stderr, flush=True)
            if args.out:  # after every row: a run cut short keeps what it measured
                _write_json(args.out, ev["table"])
        elif ev["type"] == "table":
            table = ev
    if args.out:
        _write_json(args.out, table)
    if args.json:
        return table
    print(lab.format_table(table))
    print(f"\n{len(table['rows'])} runs, seeds {table['seeds']}, {table['config']['steps']} "
          f"pre-training steps each, {table['seconds']:.0f}s on {table['threads']} threads")


def _write_json(path, obj):
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n")


def cmd_lessons(args):
    from .course.export import export
    written = export(args.export, app_url=args.app_url)
    if not written:
        raise BertGptError("no lessons found under lessons/en or lessons/ko")
    if args.json:
        return {"written": [str(p) for p in written]}
    for path in written:
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bertgpt", description="BERT and GPT pre-training, from scratch.")
    sub = p.add_subparsers(dest="cmd", required=True)

    def add(name, fn, help_):
        sp = sub.add_parser(name, help=help_)
        sp.set_defaults(fn=fn)
        sp.add_argument("--json", action="store_true", help="print one stable JSON document")
        return sp

    sp = add("params", cmd_params, "parameter count of a preset, by part")
    sp.add_argument("preset")
    sp = add("tokenize", cmd_tokenize, "show how a text is split into tokens")
    sp.add_argument("text")
    sp.add_argument("--kind", choices=["wordpiece", "bpe", "char"], default="wordpiece")
    sp = add("mask", cmd_mask, "mask a text for MLM and show each token's fate")
    sp.add_argument("text")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--prob", type=float, default=0.15)
    sp.add_argument("--selection", choices=["bernoulli", "exact"], default="bernoulli",
                    help="bernoulli: each token with probability --prob (transformers); "
                         "exact: round(prob x length), at least 1 (google-research/bert)")
    sp = add("pairs", cmd_pairs, "build NSP sentence pairs")
    sp.add_argument("--text", dest="text_file", help="a UTF-8 text file (blank lines between documents)")
    sp.add_argument("--world", action="store_true", help="use the bundled world corpus (default)")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--size", type=int, default=20_000)
    sp.add_argument("--max-len", type=int, default=64)
    sp.add_argument("--n", type=int, default=8, help="pairs to show")
    sp.add_argument("--same-document", action="store_true", help="the seed article's buggy sampling")
    sp.add_argument("--segments", action="store_true",
                    help="BERT's packed segments of several sentences (create_pretraining_data.py)")
    sp = add("corpus", cmd_corpus, "write the world corpus to stdout")
    sp.add_argument("--seed", type=int, default=0)
    sp.add_argument("--size", type=int, default=200_000, help="characters")
    sp = add("train", cmd_train, "train a BERT or a GPT and save it")
    sp.add_argument("arch", choices=["bert", "gpt"])
    sp.add_argument("--text", dest="text_file")
    sp.add_argument("--world", action="store_true")
    sp.add_argument("--size", type=int, default=None, help="world corpus characters")
    sp.add_argument("--tokenizer", choices=["char", "bpe", "wordpiece"])
    sp.add_argument("--vocab", type=int, help="vocabulary size (default: the recipe's)")
    for flag in ("layers", "heads", "dim", "block", "batch", "steps", "warmup", "eval-every"):
        sp.add_argument(f"--{flag}", type=int)
    for flag in ("time-budget", "lr", "min-lr"):
        sp.add_argument(f"--{flag}", type=float)
    sp.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"])
    sp.add_argument("--precision", choices=["auto", "fp32", "bf16"],
                    help="auto: bf16 on CUDA, bf16 matmuls on CPUs with AMX, else fp32")
    sp.add_argument("--out")
    sp.add_argument("--init", help="continue training this checkpoint directory")
    sp.add_argument("--seed", type=int, default=0)
    sp = add("sample", cmd_sample, "generate text with a GPT")
    sp.add_argument("--model", required=True)
    sp.add_argument("--prompt", default="")
    sp.add_argument("--temperature", type=float, default=1.0)
    sp.add_argument("--top-k", type=int, default=0)
    sp.add_argument("--top-p", type=float, default=1.0)
    sp.add_argument("--max-new-tokens", type=int, default=50)
    sp.add_argument("--seed", type=int, default=0)
    sp = add("fill-mask", cmd_fill_mask, "BERT's guesses for each [MASK]")
    sp.add_argument("text")
    sp.add_argument("--model", required=True)
    sp.add_argument("--top-k", type=int, default=5)
    sp = add("finetune", cmd_finetune, "fine-tune a BERT head on a held-out world task")
    sp.add_argument("task", choices=["classify", "qa", "ner"])
    sp.add_argument("--model", help="a BERT checkpoint directory (default: bundled bert-mini)")
    sp.add_argument("--from-scratch", action="store_true", help="same shape, random init")
    sp.add_argument("--examples", type=int, help="labelled training examples (default: all)")
    sp.add_argument("--csv", help="classify: a text,label CSV file instead of the world reviews")
    sp.add_argument("--sweep", action="store_true",
                    help="data-efficiency table: --sizes x (pre-trained, scratch)")
    sp.add_argument("--sizes", default="16,64,256,all")
    sp.add_argument("--steps", type=int)
    sp.add_argument("--batch", type=int)
    sp.add_argument("--lr", type=float)
    sp.add_argument("--freeze", action="store_true", help="train only the head")
    sp.add_argument("--seed", type=int, default=0)
    sp = add("lab", cmd_lab, "pre-training ablations: matched minis, one choice changed, "
                              "carried to the same fine-tuning tasks")
    sp.add_argument("--arms", nargs="+", default=None, help="default: every arm")
    sp.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    sp.add_argument("--steps", type=int, help="pre-training steps per arm (default 200)")
    sp.add_argument("--examples", type=int, help="labelled examples per task (default 64)")
    sp.add_argument("--out", help="also write the table as JSON to this file")
    sp.add_argument("--quiet", action="store_true", help="no progress on stderr")
    sp.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    sp = add("lessons", cmd_lessons, "write the lessons as one printable HTML file per language")
    sp.add_argument("--export", required=True, metavar="DIR", help="folder to write into")
    sp.add_argument("--app-url", default="http://127.0.0.1:7860/",
                    help="where the lessons' links to the app's tabs should point")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        out = args.fn(args)
        if out is not None:
            print(json.dumps(out, ensure_ascii=False, default=float))
            sys.stdout.flush()
    except BertGptError as e:
        print(f"bertgpt {args.cmd}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `bertgpt ... | head`: the reader left; that is not an error
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    except OSError as e:  # an unwritable --out, a full disk: the user's to fix, not a crash
        where = f" ({e.filename})" if e.filename else ""
        print(f"bertgpt {args.cmd}: error: {e.strerror or e}{where}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
