"""GPT's way to a task, as in the article: no new head and no gradient step, only a
prompt. Zero-shot asks the question as text; few-shot (in-context learning) first shows k
solved examples in the prompt. Scored on the same held-out examples as the BERT heads.

- capital: "Q: What is the capital of Italy?\\nA:" (corpus.few_shot_prompt), every country;
- classify: "Review: ...\\nSentiment:", scored by which label word GPT finds likelier
  (the GPT-3 paper's way for multiple choice), so a free-running answer cannot miss;
- qa: the passage, then "Q: ...\\nA:", answered by greedy generation up to the line end.

A prompt longer than the model's block cannot be read whole, so the oldest examples are
dropped until it fits; every result says how many examples the model actually saw.
"""
from __future__ import annotations

import random

import torch

from . import tasks
from ..text.corpus import COUNTRIES, few_shot_prompt
from ..errors import ConfigError
from ..model.sampling import generate

GPT_TASKS = ("capital", "classify", "qa")
MAX_K = 8
MAX_NEW_TOKENS = 6


def _shot(task: str, ex: dict, labels) -> str:
    if task == "classify":
        return f"Review: {ex['text']}\nSentiment: {labels[ex['label']]}\n\n"
    return f"Q: {ex['question']}\nA: {ex['answer']}\n\n"


def _query(task: str, ex: dict) -> str:
    if task == "classify":
        return f"Review: {ex['text']}\nSentiment:"
    return f"{ex['context']}\nQ: {ex['question']}\nA:"


def build_prompt(task: str, ex: dict, k: int, pool: list[dict], tokenizer, block: int,
                 labels=(), seed: int = 0) -> tuple[str, int]:
    """(prompt, examples it holds): k solved examples drawn from `pool` by `seed`, then the
    query; the oldest examples are dropped while the prompt and answer overflow `block`."""
    if not 0 <= k <= MAX_K:
        raise ConfigError(f"k must be from 0 to {MAX_K} examples in the prompt, got {k}")
    if task == "capital":  # corpus.few_shot_prompt's own format; fewer shots if too long
        while k and len(tokenizer.encode(few_shot_prompt(k, ex["country"], seed))) \
                + MAX_NEW_TOKENS > block:
            k -= 1
        return few_shot_prompt(k, ex["country"], seed=seed), k
    rng = random.Random(seed)
    others = [p for p in pool if tasks.key(p) != tasks.key(ex)]
    shots = [_shot(task, p, labels) for p in rng.sample(others, min(k, len(others)))]
    query = _query(task, ex)
    while shots and len(tokenizer.encode("".join(shots) + query)) + MAX_NEW_TOKENS > block:
        shots.pop(0)
    return "".join(shots) + query, len(shots)


@torch.no_grad()
def _label_probs(model, tokenizer, prompt: str, labels) -> list[float]:
    """P(label | prompt) for each label word (" positive"), renormalised over the labels."""
    device = next(model.parameters()).device
    logps = []
    for label in labels:
        p_ids, l_ids = tokenizer.encode(prompt), tokenizer.encode(" " + label)
        ids = (p_ids + l_ids)[-model.cfg.block_size:]
        out = model(torch.tensor([ids], device=device))
        logp = out.logits[0, :-1].float().log_softmax(-1)
        picked = logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])][-len(l_ids):]
        logps.append(float(picked.sum()))
    return torch.tensor(logps).softmax(-1).tolist()


def answer(task: str, loaded, prompt: str, labels=()) -> dict:
    """GPT's answer to one prompt: the label and its probabilities, or generated text."""
    model, tok = loaded.model, loaded.tokenizer
    model.eval()
    if task == "classify":
        probs = _label_probs(model, tok, prompt, labels)
        best = max(range(len(labels)), key=probs.__getitem__)
        return {"output": labels[best], "probs": dict(zip(labels, probs))}
    out = generate(model, tok, prompt, max_new_tokens=MAX_NEW_TOKENS, temperature=0.0)
    text = out["text"].split("\n")[0].strip()
    return {"output": text.rstrip("."), "raw": out["text"]}


def score(task: str, loaded, k: int, data: dict | None = None, n: int = 40,
          seed: int = 0) -> dict:
    """Accuracy (capital, classify) or exact match / F1 (qa) of GPT with k examples in
    the prompt, over up to n held-out examples (capital: every country)."""
    if task not in GPT_TASKS:
        raise ConfigError(f"unknown GPT task {task!r}; choose one of {', '.join(GPT_TASKS)}")
    if loaded.cfg.arch != "gpt":
        raise ConfigError("prompting needs a GPT (a decoder that continues text); this "
                          "model is a BERT: fine-tune a head on it instead")
    if task == "capital":
        items = [{"country": c, "answer": cap} for c, cap, *_ in COUNTRIES]
        pool, labels = [], ()
    else:
        if data is None:
            raise ConfigError(f"the {task} task needs its held-out data (tasks.world_task)")
        items, pool, labels = data["test"][:n], data["train"], data["labels"]
    rows, em, f1s, used = [], 0.0, 0.0, 0
    for i, ex in enumerate(items):
        prompt, k_used = build_prompt(task, ex, k, pool, loaded.tokenizer,
                                      loaded.cfg.block_size, labels, seed=seed + i)
        got = answer(task, loaded, prompt, labels)
        gold = labels[ex["label"]] if task == "classify" else ex["answer"]
        if task == "capital":
            e = float(got["output"].split()[:1] == [gold]) if got["output"] else 0.0
            f = e
        else:
            e, f = tasks.answer_scores(got["output"], gold)
        em, f1s, used = em + e, f1s + f, used + k_used
        rows.append({"prompt": prompt, "output": got["output"], "gold": gold,
                     "correct": bool(e), "k_used": k_used, **({"probs": got["probs"]}
                                                           if "probs" in got else {})})
    m = len(items)
    out = {"task": task, "k": k, "k_used_mean": used / m, "examples": m, "items": rows}
    if task == "qa":
        return {**out, "exact_match": em / m, "f1": f1s / m}
    return {**out, "accuracy": em / m}


def k_curve(task: str, loaded, ks=range(0, MAX_K + 1), data: dict | None = None,
            n: int = 40, seed: int = 0):
    """`score` for each k in turn, yielded as it is measured (for a live chart)."""
    for k in ks:
        yield score(task, loaded, int(k), data, n, seed)
