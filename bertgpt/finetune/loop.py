"""Fine-tuning, measured: the same head on a pre-trained BERT and on a randomly
initialised copy of it, trained with the same budget, scored on the same held-out set.

"Pre-train for general language knowledge, fine-tune to adapt to a task" is a claim a
class can test here: `compare` trains both side by side (a live learning curve),
`sweep` repeats that for 16, 64, 256 and all labelled examples (the data-efficiency
curve), and `inspect` shows what a fine-tuned head sees in one input. GPT's way, with
no gradient step at all (prompting and in-context learning), lives in `bertgpt.finetune.prompting`.

Every function is pure and seeded: the model passed in is copied, never changed; the
only randomness (head initialisation, the scratch model, batch order) comes from `seed`
through a private generator, so the same call gives the same numbers on every machine.
Runs are generators yielding plain dicts: "step" (loss), "eval" (held-out metrics),
then "done" with the fine-tuned model, so a UI can draw while they train.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass

import torch

from . import tasks
from ..errors import ConfigError, TextError
from ..model.heads import QASpan, SequenceClassifier, TokenClassifier
from ..model.build import build
from ..pretrain.streams import round_robin

SIZES = (16, 64, 256, None)  # None = every training example (tasks.MAX_TRAIN at most)
INITS = ("pre-trained", "scratch")
MAX_ANSWER_TOKENS = 8        # longest answer span QA decoding considers
# The figure each task is judged by (the others are reported beside it).
MAIN_METRIC = {"classify": "accuracy", "qa": "exact_match", "ner": "f1"}


@dataclass(frozen=True)
class FinetuneConfig:
    steps: int = 80            # optimizer steps: the same budget for both inits
    batch_size: int = 16       # examples per step (fewer if the set is smaller)
    lr: float = 1e-3           # peak AdamW rate; tiny models take a larger one than BERT-base
    warmup: float = 0.1        # share of steps with a linearly rising rate, then linear decay
    weight_decay: float = 0.01
    eval_every: int = 20       # steps between held-out evaluations (0: only at the end)
    seed: int = 0
    freeze: bool = False       # train only the head (a linear probe on frozen features)

    def __post_init__(self):
        if not 1 <= self.steps <= 5000:
            raise ConfigError(f"steps must be from 1 to 5000, got {self.steps}")
        if not 1 <= self.batch_size <= 256:
            raise ConfigError(f"batch_size must be from 1 to 256, got {self.batch_size}")
        if not 0 < self.lr <= 0.1:
            raise ConfigError(f"lr must be in (0, 0.1], got {self.lr}")
        if not 0 <= self.warmup < 1 or self.eval_every < 0:
            raise ConfigError("warmup must be in [0, 1) and eval_every >= 0")


# Per-task budgets: each run takes a few seconds on 2 CPU cores, and is enough for the
# pre-trained head to learn its task from 16-64 examples (benchmarks/finetune_sweep.py).
# NER has 13 tags, most words are O: it needs more steps to leave "everything is O"
# behind (at lr 3e-3 one seed in three stayed there; 2e-3 learned with all three).
TASK_DEFAULTS = {"classify": dict(steps=30, batch_size=8, lr=1e-3),
                 "qa": dict(steps=30, batch_size=16, lr=2e-3),
                 "ner": dict(steps=60, batch_size=16, lr=2e-3)}


def default_config(task: str, **overrides) -> FinetuneConfig:
    """The task's default budget, with any field replaced (None values are ignored)."""
    if task not in TASK_DEFAULTS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(tasks.TASKS)}")
    given = {k: v for k, v in overrides.items() if v is not None}
    return FinetuneConfig(**{**TASK_DEFAULTS[task], **given})


def make_head(task: str, loaded, n_labels: int, pretrained: bool, seed: int = 0):
    """The task's head on a copy of `loaded`'s BERT, or on a fresh random BERT of the
    same shape. Head weights are drawn from `seed` alike in both, so only the encoder's
    starting point differs."""
    if loaded.cfg.arch != "bert":
        raise ConfigError("fine-tuning heads need a BERT (an encoder); this model is a "
                          f"{loaded.cfg.arch.upper()}: use GPT through prompting instead")
    with torch.random.fork_rng(devices=[]):  # seeded, and leaves the global RNG alone
        torch.manual_seed(seed)
        bert = build(loaded.cfg) if not pretrained else copy.deepcopy(loaded.model).cpu()
        torch.manual_seed(seed + 1)
        if task == "qa":
            head = QASpan(bert, dropout=0.0)
        elif task == "ner":
            head = TokenClassifier(bert, n_labels, dropout=0.0)
        else:
            head = SequenceClassifier(bert, n_labels, dropout=0.0)
    for p in head.parameters():  # the bundled minis are loaded frozen
        p.requires_grad_(True)
    return head.float()


def _forward(task, model, batch):
    """(outputs, loss) for a batch dict from tasks.encode."""
    args = (batch["input_ids"], batch["segment_ids"], batch["attention_mask"])
    if task == "qa":
        s, e, loss = model(*args, start=batch.get("start"), end=batch.get("end"))
        return (s, e), loss
    logits, loss = model(*args, labels=batch.get("labels"))
    return logits, loss


def _take(enc: dict, idx) -> dict:
    """Rows `idx` of an encoded set, cut to their longest real sequence (a batch of short
    reviews should not pay for the longest passage in the set)."""
    out = {k: v[idx] for k, v in enc.items() if isinstance(v, torch.Tensor)}
    width = int(out["attention_mask"].sum(-1).max())
    return {k: v[:, :width] if v.dim() == 2 else v for k, v in out.items()}


@torch.no_grad()
def evaluate(task: str, model, enc: dict, examples: list[dict], batch_size: int = 64) -> dict:
    """Held-out metrics: accuracy; exact match and F1 of the answer text; entity F1."""
    model.eval()
    n = len(examples)
    right, em, f1s, pred_spans, gold_spans, words, words_right = 0, 0.0, 0.0, set(), set(), 0, 0
    for lo in range(0, n, batch_size):
        idx = torch.arange(lo, min(n, lo + batch_size))
        out, _ = _forward(task, model, _take(enc, idx))
        for row, i in enumerate(idx.tolist()):
            if task == "classify":
                right += int(out[row].argmax()) == examples[i]["label"]
            elif task == "qa":
                answer = _best_span(out[0][row], out[1][row], enc["maps"][i],
                                    examples[i]["context"])[0]
                e, f = tasks.answer_scores(answer, examples[i]["answer"])
                em, f1s = em + e, f1s + f
            else:
                keep = enc["labels"][i] != -100
                gold = [tasks.NER_TAGS[t] for t in enc["labels"][i][keep].tolist()]
                pred = [tasks.NER_TAGS[t] for t in out[row][keep].argmax(-1).tolist()]
                pred_spans |= {(i, *s) for s in tasks.spans(pred)}
                gold_spans |= {(i, *s) for s in tasks.spans(gold)}
                words += len(gold)
                words_right += sum(p == g for p, g in zip(pred, gold))
    model.train()
    if task == "classify":
        return {"accuracy": right / n}
    if task == "qa":
        return {"exact_match": em / n, "f1": f1s / n}
    p, r, f = tasks.f1(pred_spans, gold_spans)
    return {"f1": f, "precision": p, "recall": r, "word_accuracy": words_right / max(1, words)}


def _best_span(start_logits, end_logits, info: dict, context: str):
    """The highest-scoring passage span (start <= end, at most MAX_ANSWER_TOKENS long),
    as (answer text, first token, last token, probability of the pair)."""
    first, n = info["first"], len(info["offsets"])
    ps = start_logits[first:first + n].float().softmax(-1)
    pe = end_logits[first:first + n].float().softmax(-1)
    pair = torch.triu(torch.tril(ps[:, None] * pe[None, :], MAX_ANSWER_TOKENS - 1))
    flat = int(pair.argmax())
    i, j = divmod(flat, n)
    a, b = info["offsets"][i][0], info["offsets"][j][1]
    return context[a:b], i, j, float(pair[i, j])


def _lr(step: int, cfg: FinetuneConfig) -> float:
    warm = max(1, round(cfg.warmup * cfg.steps))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    return cfg.lr * max(0.0, (cfg.steps - step) / max(1, cfg.steps - warm))


def finetune(task: str, loaded, data: dict, *, pretrained: bool = True,
             n_examples: int | None = None, cfg: FinetuneConfig = FinetuneConfig(),
             stop=None):
    """Fine-tune one head; yield "step" and "eval" events, then "done" (with the model).

    data: tasks.world_task / tasks.parse_csv output. n_examples: how many training
    examples to use (a seeded subset; None = all). stop: anything with is_set()."""
    if task not in tasks.TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(tasks.TASKS)}")
    train = tasks.subset(data["train"], n_examples, cfg.seed)
    if not train or not data["test"]:
        raise TextError("there are no training or no test examples for this task")
    tok, max_len = loaded.tokenizer, loaded.cfg.block_size
    enc_train = tasks.encode(task, train, tok, max_len)
    enc_test = tasks.encode(task, data["test"], tok, max_len)
    model = make_head(task, loaded, len(data["labels"]), pretrained, cfg.seed)
    model.freeze_encoder(cfg.freeze)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    g = torch.Generator().manual_seed(cfg.seed)
    batch_size = min(cfg.batch_size, len(train))
    order, cursor = torch.randperm(len(train), generator=g), 0
    history, start, step, stopped = [], time.perf_counter(), 0, False
    model.train()
    while step < cfg.steps:
        if stop is not None and stop.is_set():
            stopped = True
            break
        if cursor + batch_size > len(train):  # a new epoch: a new seeded order
            order, cursor = torch.randperm(len(train), generator=g), 0
        idx = order[cursor:cursor + batch_size]
        cursor += batch_size
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg)
        _, loss = _forward(task, model, _take(enc_train, idx))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        event = {"type": "step", "step": step, "loss": loss.item()}
        history.append(event)
        yield event
        if cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps:
            event = {"type": "eval", "step": step, **evaluate(task, model, enc_test, data["test"])}
            history.append(event)
            yield event
    final = {"type": "eval", "step": step, **evaluate(task, model, enc_test, data["test"])}
    history.append(final)
    yield final
    model.eval()
    yield {"type": "done", "model": model, "metrics": {k: v for k, v in final.items()
                                                       if k not in ("type", "step")},
           "history": history, "steps": step, "stopped": stopped,
           "seconds": time.perf_counter() - start, "examples": len(train),
           "init": INITS[0] if pretrained else INITS[1], "config": asdict(cfg)}


def compare(task: str, loaded, data: dict, *, n_examples: int | None = None,
            cfg: FinetuneConfig = FinetuneConfig(), stop=None):
    """Pre-trained and scratch, step by step in turn (both curves grow together).
    Yields each run's events with "init" added; the two "done" events come last."""
    runs = {name: finetune(task, loaded, data, pretrained=name == INITS[0],
                           n_examples=n_examples, cfg=cfg, stop=stop) for name in INITS}
    done = {}
    for name, event in round_robin(runs):
        if event["type"] == "done":
            done[name] = event
        else:
            yield {"init": name, **event}
    for name in INITS:
        yield {"init": name, **done[name]}


def sweep(task: str, loaded, data: dict, *, sizes=SIZES, cfg: FinetuneConfig = FinetuneConfig(),
          stop=None):
    """The data-efficiency curve: for each training-set size, fine-tune from the
    pre-trained and from random init with the same budget. Yields "progress" after every
    run (cell), then one "table" with every cell and the task's trivial baseline."""
    rows, total, n_done = [], 2 * len(sizes), 0
    available = len(data["train"])
    for n in sizes:
        if n is not None and not 1 <= n:
            raise ConfigError(f"example counts must be positive, got {n}")
        used = available if n is None else min(n, available)
        for init in INITS:
            if stop is not None and stop.is_set():
                break
            done = None
            for event in finetune(task, loaded, data, pretrained=init == INITS[0],
                                  n_examples=used, cfg=cfg, stop=stop):
                done = event if event["type"] == "done" else done
            n_done += 1
            row = {"examples": used, "asked": "all" if n is None else n, "init": init,
                   "seconds": round(done["seconds"], 2), **done["metrics"]}
            rows.append(row)
            yield {"type": "progress", "done": n_done, "total": total, "row": row}
    yield {"type": "table", "task": task, "rows": rows, "metric": MAIN_METRIC[task],
           "baseline": tasks.baseline(task, data), "config": asdict(cfg),
           "test_examples": len(data["test"]), "source": data.get("source", "")}


# ---------------------------------------------------------------- inspection
@torch.no_grad()
def inspect(task: str, model, tokenizer, text: str, question: str = "", labels=()) -> dict:
    """What a fine-tuned head says about one input, with its probabilities:
    classify: P(label) from [CLS]; qa: start/end distributions over the passage and the
    best span; ner: each token's tag and its probability (continuations included)."""
    if not text or not text.strip():
        raise TextError("the text is empty: type a sentence (or a passage for QA)")
    if task == "qa" and not (question or "").strip():
        raise TextError("the question is empty: type a question about the passage")
    ex = {"text": text, "context": text, "question": question, "entities": []}
    enc = tasks.encode(task, [ex], tokenizer, model.bert.cfg.block_size)
    model.eval()
    out, _ = _forward(task, model, _take(enc, torch.tensor([0])))
    info = enc["maps"][0]
    pieces = [text[s:e] for s, e in info["offsets"]]
    if task == "classify":
        probs = out[0].float().softmax(-1).tolist()
        return {"task": task, "probs": dict(zip(labels, probs)),
                "label": labels[max(range(len(probs)), key=probs.__getitem__)]}
    if task == "qa":
        answer, i, j, p = _best_span(out[0][0], out[1][0], info, text)
        first, n = info["first"], len(pieces)
        return {"task": task, "tokens": pieces, "answer": answer, "span": [i, j], "prob": p,
                "start": out[0][0][first:first + n].float().softmax(-1).tolist(),
                "end": out[1][0][first:first + n].float().softmax(-1).tolist()}
    probs = out[0][1:1 + len(pieces)].float().softmax(-1)
    best = probs.max(-1)
    words = info["words"]
    rows = [{"token": piece, "tag": tasks.NER_TAGS[int(k)], "prob": float(v),
             "continues": w is not None and m > 0 and words[m - 1] == w,
             "start": info["offsets"][m][0], "end": info["offsets"][m][1]}
            for m, (piece, k, v, w) in enumerate(zip(pieces, best.indices, best.values, words))]
    firsts = [r["tag"] for r in rows if not r["continues"]]
    starts = [m for m, r in enumerate(rows) if not r["continues"]]
    ents = []
    for a, b, kind in sorted(tasks.spans(firsts)):
        last = starts[b] - 1 if b < len(starts) else len(rows) - 1  # word b-1's last piece
        lo, hi = info["offsets"][starts[a]][0], info["offsets"][last][1]
        ents.append({"text": text[lo:hi], "type": kind})
    return {"task": task, "tokens": rows, "entities": ents}


def format_table(table: dict) -> str:
    """A sweep table as Markdown: one row per example count, both inits side by side."""
    metric_names = {"classify": ["accuracy"], "qa": ["exact_match", "f1"], "ner": ["f1"]}
    names = metric_names[table["task"]]
    head = ["examples"] + [f"{m} ({i})" for m in names for i in INITS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by = {(r["asked"], r["init"]): r for r in table["rows"]}
    for asked in dict.fromkeys(r["asked"] for r in table["rows"]):
        examples = next(r["examples"] for r in table["rows"] if r["asked"] == asked)
        cells = [f"{asked}" + (f" ({examples})" if asked == "all" else "")]
        for m in names:
            cells += [f"{by[(asked, i)][m]:.3f}" if (asked, i) in by else "–" for i in INITS]
        lines.append("| " + " | ".join(cells) + " |")
    base = table["baseline"]
    shown = ", ".join(f"{k} {v:.3f}" for k, v in base.items() if isinstance(v, float))
    return "\n".join(lines) + f"\n\nBaseline ({base['rule']}): {shown}."
