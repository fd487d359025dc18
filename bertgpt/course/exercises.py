"""Predict, then reveal: one exercise per tab, asked and graded by the core functions
that draw the tab.

`question(tab, settings, variant)` asks about what the tab would show for `settings` (the
same names as the tab's deep link: `?tab=mlm&seed=7&text=...`); `grade(tab, settings,
answer, variant)` recomputes that result with the same function the tab calls and says
whether `answer` matches. There is no answer key anywhere: a new seed or sentence is a new
question, and its answer is whatever the core function says. `variant` picks among
questions that the settings alone do not fix (which NSP pair, which row of a mask grid).

Both return plain JSON-able data. Words are not written here (this layer has no
language): a prompt or an explanation is {"id", "args"}, the id of a text under
"exercise." in the app's strings (app/strings/*.json), shown in the page's language.

Formats of an answer: "number" (a whole number), "choice" (one value of `choices`),
"multi" (a set of values of `choices`, compared as a set).
"""
from __future__ import annotations

import copy
import functools
import json
import random

import torch

from ..errors import ConfigError, TextError
from ..io.assets import bundled, world_tokenizer
from ..model.masks import KINDS, explain_mask
from ..model.sampling import distribution, fill_mask
from ..text.corpus import world_documents
from ..text.mlm import mask_text
from ..text.nsp import explain_pairs
from ..text.tokenizer import bpe_merges, piece_display

TABS = ("tokenize", "mlm", "nsp", "masks", "attention", "fillmask", "generate")

# What each tab's deep link holds by default: an exercise pushed with part of the settings
# fills in the rest as the tab itself would show it.
DEFAULTS = {
    "tokenize": {"word": "unbelievable", "vocab": 2000},
    "mlm": {"text": "Every morning, Anna wakes up early and drinks a cup of tea.", "seed": 250,
            "prob": 0.15, "mask_rate": 0.8, "random_rate": 0.1},
    "nsp": {"seed": 0, "max_len": 64, "bug": False},
    "masks": {"text": "the cat eats fish\nthe dog barks at the cat\nhello",
              "kind": "causal+padding", "inspect": 1},
    "attention": {"text": "The capital of France is Paris, and people there speak French.",
                  "layer": 4, "head": 3},
    "fillmask": {"text": "the capital of france is [MASK] ."},
    "generate": {"prompt": "The capital of France is", "temperature": 1.0, "top_k": 0,
                 "top_p": 0.5},
}
MAX_TEXT = 2000
N_CHOICES = 4  # fill-mask: BERT's first guess hidden among its next three


def _settings(tab: str, settings: dict | None) -> dict:
    if tab not in TABS:
        raise ConfigError(f"no exercise for tab {tab!r}; there is one for {', '.join(TABS)}")
    merged = dict(DEFAULTS[tab])
    merged.update({k: v for k, v in (settings or {}).items()
                   if k in DEFAULTS[tab] and v is not None})
    for k, v in merged.items():
        if isinstance(v, str) and len(v) > MAX_TEXT:
            raise TextError(f"the {k} is {len(v)} characters; an exercise takes at most "
                            f"{MAX_TEXT}")
    return merged


def _whole(value, name: str, lo: int = 0, hi: int = 2**31 - 1) -> int:
    try:
        n = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if not n.is_integer() or not lo <= n <= hi:
        raise ConfigError(f"{name} must be a whole number from {lo} to {hi}, got {value!r}")
    return int(n)


# ---- each tab: compute what the tab would show, as the question and its answer ----------

def _tokenize(s: dict, variant: int) -> dict:
    word = str(s["word"]).strip()
    if not word:
        raise TextError("the word is empty: type one word for BPE to split")
    tok = world_tokenizer("bpe", _whole(s["vocab"], "vocab", 300, 4000))
    steps = bpe_merges(tok, word)  # the Tokenize tab's merge table, last row = the result
    pieces = [piece_display(tok, p) for p in steps[-1]["pieces"]]
    return {"format": "number", "choices": None,
            "prompt": {"id": "tokenize.prompt",
                       "args": {"word": word, "vocab": int(s["vocab"])}},
            "right": len(pieces),
            "why": {"id": "tokenize.why",
                    "args": {"n": len(pieces), "pieces": " · ".join(pieces),
                             "merges": len(steps) - 1, "bytes": len(steps[0]["pieces"])}},
            "trace": {"pieces": pieces, "merges": len(steps) - 1}}


def _mlm(s: dict, variant: int) -> dict:
    tok = world_tokenizer("wordpiece")
    seed = _whole(s["seed"], "seed")
    res = mask_text(str(s["text"]), tok, seed=seed, prob=float(s["prob"]),
                    mask_rate=float(s["mask_rate"]), random_rate=float(s["random_rate"]))
    specials = set(tok.special_ids)
    body = [t for t in res["tokens"] if t["original_id"] not in specials]
    picked = [t["position"] for t in res["tokens"] if t["label"] is not None]
    # (token, fate) pairs, not a sentence: the app names the fates in the page's language
    fates = [[t["original_token"], t["fate"]] for t in res["tokens"] if t["label"] is not None]
    return {"format": "multi",
            "choices": [(f"{t['position']}: {t['original_token']}", t["position"]) for t in body],
            "prompt": {"id": "mlm.prompt",
                       "args": {"seed": seed, "prob": float(s["prob"]), "n": len(body)}},
            "right": sorted(picked),
            "why": {"id": "mlm.why" if picked else "mlm.why_none",
                    "args": {"n": len(picked), "maskable": len(body), "seed": seed,
                             "fates": fates, "prob": float(s["prob"])}},
            "trace": {"selected": picked, "counts": res["counts"]}}


def _world_docs() -> list[list[str]]:
    return [list(d.sentences) for d in world_documents(seed=0, n_docs=200)]


def _nsp(s: dict, variant: int) -> dict:
    tok = world_tokenizer("wordpiece")
    seed = _whole(s["seed"], "seed")
    bug = str(s["bug"]).lower() in ("1", "true", "yes", "on")
    ex = explain_pairs(_world_docs(), tok, seed=seed, max_len=_whole(s["max_len"], "max_len",
                                                                    8, 512),
                       same_document_bug=bug, n=8)
    p = ex["pairs"][variant % len(ex["pairs"])]  # the NSP tab's shown pairs, one of them
    return {"format": "choice", "choices": [("IsNext", "IsNext"), ("NotNext", "NotNext")],
            "prompt": {"id": "nsp.prompt", "args": {"a": p["a"], "b": p["b"],
                                                             "seed": seed}},
            "right": p["label"],
            "why": {"id": "nsp.why_next" if p["is_next"] else
                    ("nsp.why_same" if p["a_doc"] == p["b_doc"] else
                     "nsp.why_other"),
                    "args": {"a_doc": p["a_doc"], "b_doc": p["b_doc"], "label": p["label"]}},
            "trace": {"pair": p["index"], "a_doc": p["a_doc"], "b_doc": p["b_doc"],
                      "mislabeled": p.get("mislabeled", False)}}


def _masks(s: dict, variant: int) -> dict:
    kind = str(s["kind"])
    if kind not in KINDS:
        raise ConfigError(f"unknown mask kind {kind!r}; choose one of {', '.join(KINDS)}")
    tok = world_tokenizer("wordpiece")
    lines = [ln.strip() for ln in str(s["text"]).splitlines() if ln.strip()][:4]
    if not lines:
        raise TextError("the sentences box is empty: one sentence a line")
    batch = [[tok.id_to_token(i) for i in tok.encode(ln)][:16] for ln in lines]
    if not all(batch):
        raise TextError("a sentence has no tokens: type words")
    ex = explain_mask(kind, [len(b) for b in batch])  # the Masks tab's grids
    b = min(max(_whole(s["inspect"], "inspect", 1, 4), 1), len(batch)) - 1
    names = batch[b] + ["[PAD]"] * (ex["T"] - len(batch[b]))
    row = variant % ex["T"]
    allowed = [c for c, ok in enumerate(ex["allowed"][b][row]) if ok]
    return {"format": "multi", "choices": [(f"{c}: {n}", c) for c, n in enumerate(names)],
            "prompt": {"id": "masks.prompt",
                       "args": {"kind": kind, "sentence": b + 1, "row": row,
                                "token": names[row]}},
            "right": allowed,
            "why": {"id": f"masks.why_{kind.replace('+', '_')}",
                    "args": {"row": row, "token": names[row], "n": len(allowed),
                             "real": len(batch[b])}},
            "trace": {"allowed_row": ex["allowed"][b][row], "T": ex["T"]}}


def _model(arch: str):
    loaded = bundled(arch)
    if loaded is None:
        raise ConfigError(f"the bundled {arch.upper()} is missing (assets/models): this "
                          "exercise needs it")
    return loaded


@torch.no_grad()
def _attention(s: dict, variant: int) -> dict:
    loaded = _model("bert")
    tok, model = loaded.tokenizer, loaded.model
    text = str(s["text"])
    if not text.strip():
        raise TextError("the sentence is empty: type one")
    ids = [tok.special_id("cls")] + tok.encode(text)[:model.cfg.block_size - 2] + \
        [tok.special_id("sep")]
    names = [tok.id_to_token(i) for i in ids]
    model.eval()
    weights = model(torch.tensor([ids]), need_weights=True).attentions  # the tab's maps
    # layer and head as the tab's sliders count them, from 1, clamped as the tab clamps
    layer = min(max(_whole(s["layer"], "layer", 1, 1000), 1), len(weights))
    head = min(max(_whole(s["head"], "head", 1, 1000), 1), weights[0].shape[1])
    row_w = weights[layer - 1][0, head - 1].float()
    # the question's row: one of the sentence's own tokens, never [CLS] or [SEP]
    row = 1 + variant % max(len(ids) - 2, 1)
    w = row_w[row]
    top = int(w.argmax())
    return {"format": "choice", "choices": [(f"{c}: {n}", str(c)) for c, n in enumerate(names)],
            "prompt": {"id": "attention.prompt",
                       "args": {"layer": layer, "head": head, "row": row, "token": names[row]}},
            "right": str(top),
            "why": {"id": "attention.why",
                    "args": {"token": names[row], "top": names[top], "top_pos": top,
                             "weight": float(w[top]), "layer": layer, "head": head}},
            "trace": {"weights": [round(float(x), 4) for x in w], "tokens": names}}


def _fillmask(s: dict, variant: int) -> dict:
    loaded = _model("bert")
    text = str(s["text"])
    found = fill_mask(loaded.model, loaded.tokenizer, text, top_k=N_CHOICES)  # the tab's call
    cands = [c["token"] for c in found[0]["candidates"]]
    shown = cands[:]
    random.Random(variant).shuffle(shown)  # the order must not give the first guess away
    top = found[0]["candidates"][0]
    return {"format": "choice", "choices": [(c, c) for c in shown],
            "prompt": {"id": "fillmask.prompt", "args": {"text": text}},
            "right": cands[0],
            "why": {"id": "fillmask.why",
                    "args": {"token": top["token"], "prob": top["prob"],
                             "others": ", ".join(f"{c['token']} ({c['prob']:.0%})"
                                                 for c in found[0]["candidates"][1:])}},
            "trace": {"candidates": found[0]["candidates"]}}


@torch.no_grad()
def _generate(s: dict, variant: int) -> dict:
    loaded = _model("gpt")
    tok = loaded.tokenizer
    prompt = str(s["prompt"] or "")
    ids = tok.encode(prompt) if prompt else [tok.special_id("eos")]
    ids = ids[-loaded.cfg.block_size:]
    temperature, top_k, top_p = float(s["temperature"]), int(float(s["top_k"])), float(s["top_p"])
    loaded.model.eval()
    logits = loaded.model(torch.tensor([ids])).logits[0, -1]
    step = distribution(logits, temperature, top_k, top_p)  # the Generate tab's cuts
    kept = int(step.kept_p.sum())
    return {"format": "number", "choices": None,
            "prompt": {"id": "generate.prompt",
                       "args": {"prompt": prompt, "temperature": temperature, "top_k": top_k,
                                "top_p": top_p}},
            "right": kept,
            "why": {"id": "generate.why",
                    "args": {"n": kept, "vocab": step.raw.numel(), "top_p": top_p,
                             "top": float(step.scaled.max())}},
            "trace": {"kept": kept, "vocab": step.raw.numel()}}


_KINDS = {"tokenize": _tokenize, "mlm": _mlm, "nsp": _nsp, "masks": _masks,
          "attention": _attention, "fillmask": _fillmask, "generate": _generate}


def _solve(tab: str, settings: dict | None, variant: int) -> tuple[dict, dict]:
    s = _settings(tab, settings)
    key = json.dumps(s, sort_keys=True, default=str)
    # A class asks the same question of thirty students, and each page polls it: solve it
    # once. The copy keeps a caller's changes out of the cache.
    return copy.deepcopy(_solved(tab, key, _whole(variant, "variant")))


@functools.lru_cache(maxsize=256)
def _solved(tab: str, key: str, variant: int) -> tuple[dict, dict]:
    s = json.loads(key)
    return s, _KINDS[tab](s, variant)


def question(tab: str, settings: dict | None = None, variant: int = 0) -> dict:
    """What the student is asked before the tab shows its result (never the answer)."""
    s, solved = _solve(tab, settings, variant)
    return {"tab": tab, "settings": s, "variant": int(variant), "format": solved["format"],
            "choices": solved["choices"], "prompt": solved["prompt"]}


def normalize(fmt: str, answer):
    """An answer in the form it is compared and counted in; ConfigError if it has none."""
    if fmt == "number":
        if answer is None or answer == "":
            raise ConfigError("type a whole number as your answer")
        return _whole(answer, "your answer", 0, 10**9)
    if fmt == "multi":
        items = answer if isinstance(answer, (list, tuple)) else \
            [a for a in str(answer or "").split(",") if a.strip()]
        return sorted({_whole(a, "a choice") for a in items})
    if fmt == "choice":
        if answer is None or str(answer) == "":
            raise ConfigError("pick one of the choices as your answer")
        return str(answer)
    raise ConfigError(f"unknown answer format {fmt!r}")


def answer_label(answer) -> str:
    """An answer as one short string: what the class chart counts and the CSV holds."""
    if isinstance(answer, list):
        return "{" + ", ".join(str(a) for a in answer) + "}" if answer else "{}"
    return str(answer)


def grade(tab: str, settings: dict | None, answer, variant: int = 0) -> dict:
    """Recompute the tab's result and compare: {correct, answer, right_answer, why, trace}.
    For a "multi" answer, `hits` and `misses` say how close a wrong set came."""
    s, solved = _solve(tab, settings, variant)
    fmt = solved["format"]
    if fmt == "choice" and str(answer) not in [v for _, v in solved["choices"]]:
        raise ConfigError(f"{answer!r} is not one of the choices")
    given, right = normalize(fmt, answer), solved["right"]
    out = {"tab": tab, "format": fmt, "correct": given == right, "answer": given,
           "right_answer": right, "why": solved["why"], "trace": solved["trace"]}
    if fmt == "multi":
        out["hits"] = len(set(given) & set(right))
        out["misses"] = len(set(given) ^ set(right))
    return out
