"""The pre-training Lab: matched pairs of minis, one pre-training choice changed.

Every arm pre-trains the same BERT-shaped mini on the same world text with the same
tokenizer, seeds and step budget; only the arm's one change differs. Each is then carried
through the same measurements:

* fill-mask on *unmasked* input (`visible_acc`): the sentence as it is, no [MASK] in it;
  at every real position, does the MLM head name the token that is there? This is the
  position a fine-tuned model always reads from (fine-tuning never shows [MASK]), and the
  question behind BERT's 80/10/10 (paper §3.1 and Appendix C.2): a model that only ever
  had to predict at [MASK] never learned what to say at a token it can see.
* fill-mask at [MASK] (`masked_acc`): 15% of the positions, all shown as [MASK].
* the three held-out fine-tuning tasks (finetune/tasks.py: sentiment accuracy, QA exact
  match, NER entity F1), each with its default budget from a small labelled set.

The "causal" arm is this course's miniature of BERT's left-to-right ablation (paper §5.1,
"LTR & No NSP"): the same BERT (post-LN, segment embeddings, tied MLM head) with a causal
attention mask, trained to predict the *next* token at every position instead of the
masked ones, without NSP, and fine-tuned with the causal mask still on (as the paper did:
removing it at fine-tuning would be a new mismatch). A left-to-right reader's [CLS] has
seen only itself, so its classifier reads the last real token instead (`CausalBERT`).
Its fill-mask figures do not apply (it predicts the next token): `next_acc` stands there.

"scratch" is no pre-training at all: the floor each arm should clear.

`run_arm` is a generator of events ("pretrain" steps, then "row"); `run_lab` runs arms x
seeds and ends with a "table" holding every row, a summary per arm and metric (mean, min,
max over seeds) and one verdict per comparison, computed from the numbers.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import torch

from . import tasks
from .loop import MAIN_METRIC, default_config, finetune
from ..errors import ConfigError
from ..model import masks
from ..model.bert import BERT
from ..model.build import build
from ..model.config import ModelConfig
from ..pretrain.data import BertData, split_text
from ..pretrain.loop import TrainConfig, run
from ..text.corpus import generate_world
from ..text.tokenizer import train_tokenizer

# name -> the one change from the "bert" arm (BERT's recipe: 15% selected, 80/10/10,
# NSP with NotNext partners from another document, bidirectional attention). The mask
# splits are named in the column order of the BERT paper's Table 8: MASK/SAME/RND.
ARMS = {
    "bert": {},
    "mask-100": {"mlm_mask_rate": 1.0, "mlm_random_rate": 0.0},
    "mask-80-0-20": {"mlm_mask_rate": 0.8, "mlm_random_rate": 0.2},
    "mask-80-20-0": {"mlm_mask_rate": 0.8, "mlm_random_rate": 0.0},
    "no-nsp": {"nsp": False},
    "nsp-same-doc": {"nsp_same_document": True},
    "rate-40": {"mlm_prob": 0.40},
    "causal": {"causal": True, "nsp": False},
    "scratch": {"scratch": True},
}
METRICS = ("visible_acc", "masked_acc", "classify", "qa", "ner")
DOWNSTREAM = ("classify", "qa", "ner")
# (comparison id, the baseline arm, the changed arm, the metrics it is judged by, what the
# paper found downstream: "a" or "b" better, "same", or None where no paper settles it)
COMPARISONS = (
    # BERT Appendix C.2, Table 8: "fine-tuning is surprisingly robust to different masking
    # strategies" (MNLI 84.2 / 84.3 / 84.1 / 84.4 for 80/10/10, 100/0/0, 80/0/20, 80/20/0)
    ("masking", "bert", "mask-100", ("visible_acc",) + DOWNSTREAM, "same"),
    ("masking_random", "bert", "mask-80-0-20", ("visible_acc",) + DOWNSTREAM, "same"),
    ("masking_keep", "bert", "mask-80-20-0", ("visible_acc",) + DOWNSTREAM, "same"),
    # BERT Table 5 found NSP helps; RoBERTa section 4.2 found removing it matches or
    # slightly improves: the papers disagree, so no direction is held against the minis
    ("nsp", "bert", "no-nsp", DOWNSTREAM, None),
    ("negatives", "bert", "nsp-same-doc", DOWNSTREAM, None),  # the seed's bug: no paper
    # Wettig et al. 2023: 40% beats 15% for BERT-large size models
    ("rate", "bert", "rate-40", ("masked_acc",) + DOWNSTREAM, "b"),
    # BERT Table 5: "LTR & No NSP" worse than "No NSP" on all tasks
    ("direction", "no-nsp", "causal", DOWNSTREAM, "a"),
    ("pretraining", "bert", "scratch", DOWNSTREAM, None),
)


@dataclass(frozen=True)
class LabConfig:
    # Sized so the default table (9 arms x 2 seeds) runs in about 20 minutes on 2 shared
    # CPU cores: a mini, and a budget far below the bundled bert-mini's 5,500 steps.
    steps: int = 200             # pre-training steps, every arm
    batch_size: int = 32
    lr: float = 3e-3
    warmup: int = 20
    text_size: int = 300_000     # characters of world text (seed 0), every arm
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 64
    block_size: int = 64
    vocab_size: int = 2000
    examples: int = 64           # labelled fine-tuning examples per task (seeded subset)
    eval_sequences: int = 256    # held-out sequences for the fill-mask figures
    precision: str = "fp32"      # the same arithmetic on every CPU (no AMX-dependent bf16)
    time_budget: float | None = None  # seconds of pre-training at most (the app's cap)

    def __post_init__(self):
        if not isinstance(self.steps, int) or self.steps < 1:
            raise ConfigError(f"steps must be a whole number of at least 1, got {self.steps}")
        if not isinstance(self.examples, int) or self.examples < 1:
            raise ConfigError(f"examples must be at least 1, got {self.examples}")


class CausalBERT(BERT):
    """BERT with a left-to-right attention mask, for the Lab's "causal" arm. The model
    files stay plain: masks are passed in there, and this is the one place that passes
    a causal one. The pooled summary is read from the last real token (the one that has
    seen the whole input) by placing its vector where the [CLS] reader looks."""

    def attention_mask(self, attention_mask):
        causal = masks.causal_mask(attention_mask.shape[1], device=attention_mask.device)
        return masks.combine(masks.padding_mask(attention_mask), causal)

    def encode(self, input_ids, segment_ids=None, attention_mask=None, need_weights=False):
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        hidden, attentions = super().encode(input_ids, segment_ids, attention_mask, need_weights)
        last = attention_mask.sum(-1).clamp(min=1) - 1
        hidden = hidden.clone()
        hidden[:, 0] = hidden[torch.arange(len(hidden)), last]
        return hidden, attentions


class LeftToRightData(BertData):
    """The same sequences as BERT's MLM-only batches, with the left-to-right objective:
    no token is hidden, and the label at position t is the token at t + 1."""

    def targets(self, ids, attn, g):
        labels = torch.full_like(ids, -100)
        labels[:, :-1] = ids[:, 1:]
        labels[:, :-1][attn[:, 1:] == 0] = -100  # nothing to predict after the last token
        return ids, labels


@dataclass
class Pretrained:
    """What fine-tuning needs from a pre-trained model (finetune.loop reads .model,
    .tokenizer and .cfg), without the io layer's checkpoint class."""
    model: torch.nn.Module
    tokenizer: object
    record: dict = field(default_factory=dict)

    @property
    def cfg(self):
        return self.model.cfg


@lru_cache(maxsize=2)
def world_setup(text_size: int, vocab_size: int):
    """(train text, validation text, tokenizer), the same for every arm: the tokenizer is
    trained once on the training part, so no arm differs in its vocabulary."""
    train_text, val_text = split_text(generate_world(seed=0, size=text_size))
    tok = train_tokenizer("wordpiece", train_text, vocab_size, model="bert")
    return train_text, val_text, tok


def _train_config(arm: str, seed: int, lab: LabConfig) -> TrainConfig:
    change = {k: v for k, v in ARMS[arm].items() if k not in ("causal", "scratch")}
    return TrainConfig(steps=lab.steps, batch_size=lab.batch_size, lr=lab.lr, warmup=lab.warmup,
                       eval_every=lab.steps, seed=seed, device="cpu", precision=lab.precision,
                       keep_best=False, time_budget=lab.time_budget, **change)


def _eval_sequences(data: BertData, n: int) -> list[list[int]]:
    """Held-out token sequences: runs of consecutive validation sentences that fit."""
    out = []
    for doc in data.val_docs:
        cur = []
        for s in doc:
            if cur and len(cur) + len(s) > data.block - 2:
                out.append(cur)
                cur = []
            cur = cur + s
        out.append(cur)
    return [s for s in out if s][:n]


@torch.no_grad()
def fill_mask_scores(model, tok, seqs: list[list[int]], causal: bool, seed: int = 1234) -> dict:
    """Accuracy of the MLM head on held-out sequences, three ways: at every visible token
    of the unmasked input (is the token that is there named?); at 15% of positions all
    shown as [MASK]; and, for a left-to-right model, of the next token."""
    model.eval()
    cls, sep, mask, pad = (tok.special_id(r) for r in ("cls", "sep", "mask", "pad"))
    rows = [[cls] + s + [sep] for s in seqs]
    T = max(len(r) for r in rows)
    ids = torch.full((len(rows), T), pad, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
    attn = (ids != pad).long()
    real = attn.bool() & (ids != cls) & (ids != sep)
    logits = model(ids, None, attn).mlm_logits
    if causal:
        nxt = attn[:, 1:].bool()
        right = (logits[:, :-1].argmax(-1) == ids[:, 1:]) & nxt
        return {"visible_acc": None, "masked_acc": None,
                "next_acc": float(right.sum() / nxt.sum())}
    visible = float(((logits.argmax(-1) == ids) & real).sum() / real.sum())
    g = torch.Generator().manual_seed(seed)
    picked = real & (torch.rand(ids.shape, generator=g) < 0.15)
    masked_logits = model(torch.where(picked, torch.full_like(ids, mask), ids), None, attn).mlm_logits
    masked = float(((masked_logits.argmax(-1) == ids) & picked).sum() / picked.sum())
    return {"visible_acc": visible, "masked_acc": masked, "next_acc": None}


def pretrain_arm(arm: str, seed: int, lab: LabConfig, stop=None):
    """Pre-train one arm for one seed; yields the loop's "step"/"eval" events, then
    {"type": "pretrained", "model", "data", "record"}."""
    if arm not in ARMS:
        raise ConfigError(f"unknown arm {arm!r}; choose from {', '.join(ARMS)}")
    train_text, val_text, tok = world_setup(lab.text_size, lab.vocab_size)
    cfg = _train_config(arm, seed, lab)
    causal = ARMS[arm].get("causal", False)
    mcfg = ModelConfig("bert", vocab_size=tok.vocab_size, n_layer=lab.n_layer,
                       n_head=lab.n_head, n_embd=lab.n_embd, block_size=lab.block_size)
    data = (LeftToRightData if causal else BertData)(tok, train_text, val_text,
                                                     lab.block_size, cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the same initial weights for every arm of a seed
        net = CausalBERT(mcfg) if causal else build(mcfg)
    record = {"steps": 0, "seconds": 0.0, "final": {}}
    if ARMS[arm].get("scratch"):
        yield {"type": "pretrained", "model": net.eval(), "data": data, "record": record}
        return
    for ev in run(net, data, cfg, stop):
        if ev["type"] == "done":
            record = {"steps": ev["step"], "seconds": ev["elapsed"],
                      "final": {k: v for k, v in ev["record"]["final"].items() if k != "type"}}
        else:
            yield ev
    yield {"type": "pretrained", "model": net.eval(), "data": data, "record": record}


def run_arm(arm: str, seed: int, lab: LabConfig = LabConfig(), stop=None):
    """One row of the Lab: pre-train, measure fill-mask, fine-tune the three tasks.
    Yields {"type": "pretrain", "step", "loss"} while pre-training, {"type": "finetune",
    "task"} as each task starts, then {"type": "row", "row": {...}}."""
    start = time.perf_counter()
    done = None
    for ev in pretrain_arm(arm, seed, lab, stop):
        if ev["type"] == "step":
            yield {"type": "pretrain", "arm": arm, "seed": seed, "step": ev["step"],
                   "steps": lab.steps, "loss": ev["loss"]}
        elif ev["type"] == "pretrained":
            done = ev
    model, tok = done["model"], done["data"].tok
    seqs = _eval_sequences(done["data"], lab.eval_sequences)
    scores = fill_mask_scores(model, tok, seqs, causal=isinstance(model, CausalBERT))
    loaded = Pretrained(model, tok)
    downstream = {}
    for task in DOWNSTREAM:
        yield {"type": "finetune", "arm": arm, "seed": seed, "task": task}
        data = tasks.world_task(task, tok, lab.block_size)
        cfg = default_config(task, seed=seed, eval_every=0)
        for ev in finetune(task, loaded, data, n_examples=lab.examples, cfg=cfg, stop=stop):
            if ev["type"] == "done":
                downstream[task] = ev["metrics"][MAIN_METRIC[task]]
    row = {"arm": arm, "seed": seed, **scores, **downstream,
           "pretrain_steps": done["record"]["steps"],
           "pretrain_seconds": round(done["record"]["seconds"], 2),
           "pretrain_final": done["record"]["final"],
           "seconds": round(time.perf_counter() - start, 2)}
    yield {"type": "row", "row": row}


def summarize(rows: list[dict]) -> dict:
    """arm -> metric -> {"mean", "min", "max", "n"} over the seeds that measured it."""
    out = {}
    for r in rows:
        for m in METRICS + ("next_acc",):
            if r.get(m) is not None:
                out.setdefault(r["arm"], {}).setdefault(m, []).append(r[m])
    return {arm: {m: {"mean": sum(v) / len(v), "min": min(v), "max": max(v), "n": len(v)}
                  for m, v in ms.items()} for arm, ms in out.items()}


def verdicts(summary: dict) -> list[dict]:
    """One verdict per comparison and metric: which arm scored higher, and whether the
    seeds separate them (every seed of one above every seed of the other) or their
    ranges overlap (a difference the seeds cannot tell from noise)."""
    out = []
    for cid, a, b, metrics, paper in COMPARISONS:
        if a not in summary or b not in summary:
            continue
        for m in metrics:
            sa, sb = summary[a].get(m), summary[b].get(m)
            if sa is None or sb is None:
                continue
            separated = sa["min"] > sb["max"] or sb["min"] > sa["max"]
            better = ("same" if not separated else "a" if sa["mean"] > sb["mean"] else "b")
            out.append({"comparison": cid, "a": a, "b": b, "metric": m,
                        "mean_a": sa["mean"], "mean_b": sb["mean"],
                        "diff": sb["mean"] - sa["mean"], "separated": separated,
                        "better": better, "paper": paper if m in DOWNSTREAM else None,
                        "agrees": (better == paper) if m in DOWNSTREAM and paper else None})
    return out


def run_lab(arms=tuple(ARMS), seeds=(0, 1), lab: LabConfig = LabConfig(), stop=None):
    """Every arm for every seed. Yields run_arm's events with "done"/"total" counts
    added, then {"type": "table", "rows", "summary", "verdicts", "config", "seconds"}."""
    arms, seeds = list(arms), list(seeds)
    for arm in arms:
        if arm not in ARMS:
            raise ConfigError(f"unknown arm {arm!r}; choose from {', '.join(ARMS)}")
    if not seeds:
        raise ConfigError("give at least one seed")
    rows, start, total = [], time.perf_counter(), len(arms) * len(seeds)
    # Seeds outside, arms inside: a run cut short still holds every arm for its seeds.
    for seed in seeds:
        for arm in arms:
            for ev in run_arm(arm, seed, lab, stop):
                if ev["type"] == "row":
                    rows.append(ev["row"])
                    ev = {**ev, "table": make_table(rows, arms, seeds, lab, start)}
                yield {**ev, "done": len(rows), "total": total}
    yield make_table(rows, arms, seeds, lab, start)


def make_table(rows, arms, seeds, lab: LabConfig, start: float) -> dict:
    summary = summarize(rows)
    return {"type": "table", "rows": list(rows), "summary": summary,
            "verdicts": verdicts(summary), "arms": list(arms), "seeds": list(seeds),
            "config": asdict(lab), "threads": torch.get_num_threads(),
            "seconds": round(time.perf_counter() - start, 1)}


def format_table(table: dict) -> str:
    """The table as Markdown: one row per arm, each metric as mean [min-max]."""
    head = ["arm", "change"] + list(METRICS) + ["next_acc"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for arm in table["arms"]:
        s = table["summary"].get(arm, {})
        cells = [arm, describe(arm)]
        for m in METRICS + ("next_acc",):
            v = s.get(m)
            cells.append("–" if v is None else f"{v['mean']:.3f} [{v['min']:.3f}–{v['max']:.3f}]")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def describe(arm: str) -> str:
    """The arm's one change in words (English; the app has its own strings)."""
    change = ARMS[arm]
    if not change:
        return "BERT's recipe"
    return ", ".join(f"{k}={v}" for k, v in change.items())


def load_results(path) -> dict:
    """A saved table (the shipped assets/lab/defaults.json or a `bertgpt lab --out`)."""
    table = json.loads(Path(path).read_text())
    for k in ("rows", "summary", "verdicts", "arms", "seeds", "config"):
        if k not in table:
            raise ConfigError(f"{path} is not a Lab table: it has no {k!r}")
    return table


def with_row(table: dict, row: dict) -> dict:
    """The table with one (arm, seed) row replaced by a fresh one (a live re-run), its
    summary and verdicts recomputed; the input is not changed."""
    rows = [r for r in table["rows"] if (r["arm"], r["seed"]) != (row["arm"], row["seed"])]
    rows.append(row)
    summary = summarize(rows)
    arms = table["arms"] + ([row["arm"]] if row["arm"] not in table["arms"] else [])
    return {**table, "rows": rows, "summary": summary, "verdicts": verdicts(summary),
            "arms": arms}
