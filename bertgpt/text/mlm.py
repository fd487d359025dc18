"""Masking for the masked-language-model task (BERT paper §3.1 Task #1, Appendix A.1).

BERT picks 15% of the token positions to predict. Of those, 80% become [MASK], 10% a random
token and 10% stay unchanged; the loss is computed only at the picked positions (every other
label is -100, PyTorch's `ignore_index`).

Why not always [MASK]? [MASK] never appears when the model is fine-tuned, so a model that
only learned "predict at [MASK]" would meet inputs unlike anything it trained on. Because a
picked position may also hold a random or the original token, the model cannot tell which
tokens it will be asked about and must keep a good representation of *every* token
(paper, §3.1 and Appendix C.2).

Over the seed article's `MLMDataset` (errata, bug 1): special tokens ([CLS], [SEP], [PAD],
...) are never picked, as in google-research/bert and transformers (the article can pick
the [CLS] and [SEP] its `encode` adds). And, a cleanliness choice of this course, a random
replacement is always a real token: google-research/bert and transformers draw it from the
whole vocabulary, specials included. `seed_article_masking` keeps the article's loop so the
app can contrast them.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from ..errors import ConfigError, TextError

FATES = ("not selected", "[MASK]", "random", "kept")  # codes 0..3 in MaskResult.fate
NOT_SELECTED, MASKED, RANDOM, KEPT = range(4)
IGNORE = -100  # labels at unpicked positions: cross_entropy's default ignore_index


def _namer(id_to_token):
    """A callable id -> str from a callable, a tokenizer, a list/dict, or None (str(id))."""
    if id_to_token is None:
        return str
    if hasattr(id_to_token, "id_to_token"):
        return id_to_token.id_to_token
    if callable(id_to_token):
        return id_to_token
    return id_to_token.__getitem__


@dataclass
class MaskResult:
    input_ids: torch.Tensor  # (T,) or (B, T) long: the model input after masking
    labels: torch.Tensor     # original id where selected, -100 elsewhere
    fate: torch.Tensor       # 0..3 per position, see FATES
    original: torch.Tensor   # the ids before masking
    maskable: torch.Tensor | None = None  # bool: positions that could be picked

    def trace(self, id_to_token=None, row: int = 0) -> list[dict]:
        """One dict per position of one row: what it was, what the model sees, what it
        must predict (label None = not in the loss), and why (fate)."""
        name = _namer(id_to_token)
        pick = (lambda t: t) if self.original.dim() == 1 else (lambda t: t[row])
        orig, inp = pick(self.original).tolist(), pick(self.input_ids).tolist()
        lab, fate = pick(self.labels).tolist(), pick(self.fate).tolist()
        return [{"position": i, "original_id": o, "original_token": name(o),
                 "input_id": x, "input_token": name(x),
                 "label": None if y == IGNORE else y, "fate": FATES[f]}
                for i, (o, x, y, f) in enumerate(zip(orig, inp, lab, fate))]

    def counts(self) -> dict:
        """How many positions were maskable, selected, and what became of the selected.
        selected_rate is over maskable positions; the three shares are over selected."""
        per = torch.bincount(self.fate.flatten().cpu(), minlength=4).tolist()
        maskable = int(self.maskable.sum()) if self.maskable is not None else self.fate.numel()
        selected = per[MASKED] + per[RANDOM] + per[KEPT]
        share = (lambda k: per[k] / selected if selected else 0.0)
        return {"maskable": maskable, "selected": selected, "masked": per[MASKED],
                "random": per[RANDOM], "kept": per[KEPT],
                "selected_rate": selected / maskable if maskable else 0.0,
                "masked_share": share(MASKED), "random_share": share(RANDOM),
                "kept_share": share(KEPT)}


def _check_rates(prob, mask_rate, random_rate):
    for name, v, note in (("prob", prob, "BERT uses 0.15"), ("mask_rate", mask_rate,
                          "BERT uses 0.8"), ("random_rate", random_rate, "BERT uses 0.1")):
        if not 0.0 <= float(v) <= 1.0:
            raise ConfigError(f"{name} must be between 0 and 1 ({note}), got {v}")
    if mask_rate + random_rate > 1.0 + 1e-9:
        raise ConfigError(f"mask_rate + random_rate must be at most 1 (the rest is kept; BERT "
                          f"uses 0.8 + 0.1), got {mask_rate} + {random_rate}")


def mask_tokens(input_ids, *, mask_id: int, special_ids, vocab_size: int, prob: float = 0.15,
                mask_rate: float = 0.8, random_rate: float = 0.1, seed: int | None = None,
                generator: torch.Generator | None = None, maskable=None,
                selection: str = "bernoulli", max_predictions: int | None = None) -> MaskResult:
    """BERT's 15% / 80-10-10 masking, vectorized over a (T,) or (B, T) batch (or a list).

    Which positions are picked, two ways the reference implementations differ:
    - selection="bernoulli": each maskable position independently with probability `prob`,
      as transformers' DataCollatorForLanguageModeling. A short sentence can get none
      (8 positions, 6 maskable: 0.85**6 = 38% of seeds pick nothing).
    - selection="exact": exactly min(max_predictions, max(1, round(prob x T))) per row, T
      the row's length with [CLS] and [SEP], as google-research/bert's
      create_pretraining_data.py (`num_to_predict`; it masks unpadded sequences, so pass
      rows without padding). At least one position is always picked.
    Specials are never maskable; `maskable` (bool, same shape) narrows further. Randomness
    comes only from `generator`, or from a fresh CPU generator seeded with `seed` (0 if
    neither is given): same seed, same masks on any machine. Results live on the input's
    device.
    """
    _check_rates(prob, mask_rate, random_rate)
    if seed is not None and generator is not None:
        raise ConfigError("give either seed or generator, not both")
    ids = torch.as_tensor(input_ids, dtype=torch.long) if not torch.is_tensor(input_ids) \
        else input_ids
    if ids.dtype != torch.long:
        raise ConfigError(f"input_ids must be integer token ids (torch.long), got {ids.dtype}")
    if ids.dim() not in (1, 2):
        raise ConfigError(f"input_ids must be (T,) or (B, T), got shape {tuple(ids.shape)}")
    if not 0 <= mask_id < vocab_size:
        raise ConfigError(f"mask_id {mask_id} is outside the vocabulary (0..{vocab_size - 1}); "
                          "pass the tokenizer's special_id('mask') and its vocab_size")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ConfigError(f"token ids range {int(ids.min())}..{int(ids.max())} but vocab_size is "
                          f"{vocab_size}: the tokenizer and vocab_size do not match")
    specials = torch.as_tensor(sorted({int(s) for s in special_ids} | {int(mask_id)}),
                               dtype=torch.long)
    # The pool for random replacements: every real token, never a special (the article's
    # randint(0, vocab_size - 1) can draw [CLS], [PAD], even [MASK]).
    is_special_id = torch.zeros(vocab_size, dtype=torch.bool)
    is_special_id[specials[(specials >= 0) & (specials < vocab_size)]] = True
    pool = torch.nonzero(~is_special_id).flatten()
    if len(pool) == 0:
        raise ConfigError(f"every id in the vocabulary (size {vocab_size}) is special: there is "
                          "no real token to draw a random replacement from")

    g = generator if generator is not None else torch.Generator().manual_seed(
        0 if seed is None else int(seed))
    dev = g.device
    cpu_ids = ids.to(dev)
    can = ~is_special_id.to(dev)[cpu_ids]  # specials are never picked
    if maskable is not None:
        can &= torch.as_tensor(maskable, dtype=torch.bool).to(dev)
    # Three draws of the same shape, always in this order: the result depends only on the
    # seed and the shape, never on which positions happened to be picked.
    pick_u = torch.rand(ids.shape, generator=g, device=dev)
    fate_u = torch.rand(ids.shape, generator=g, device=dev)
    rand_tok = pool.to(dev)[torch.randint(len(pool), ids.shape, generator=g, device=dev)]

    if selection == "bernoulli":
        selected = can & (pick_u < prob)
    elif selection == "exact":
        selected = _pick_exactly(can, pick_u, prob, max_predictions)
    else:
        raise ConfigError(f"selection must be 'bernoulli' or 'exact', got {selection!r}")
    fate = torch.full(ids.shape, NOT_SELECTED, dtype=torch.long, device=dev)
    fate[selected & (fate_u < mask_rate)] = MASKED
    fate[selected & (fate_u >= mask_rate) & (fate_u < mask_rate + random_rate)] = RANDOM
    fate[selected & (fate_u >= mask_rate + random_rate)] = KEPT
    # A random draw may equal the original token; it still counts as "random", as in BERT.
    out = torch.where(fate == MASKED, torch.full_like(cpu_ids, mask_id), cpu_ids)
    out = torch.where(fate == RANDOM, rand_tok, out)
    labels = torch.where(selected, cpu_ids, torch.full_like(cpu_ids, IGNORE))
    to = ids.device
    return MaskResult(out.to(to), labels.to(to), fate.to(to), ids, can.to(to))


def _pick_exactly(can: torch.Tensor, pick_u: torch.Tensor, prob: float,
                  max_predictions: int | None) -> torch.Tensor:
    """The `num_to_predict` maskable positions of each row with the lowest draws: a uniform
    random subset of that size (the reference shuffles the candidates and takes the
    first ones). Python's round, as the reference's int(round(...))."""
    rows_can, rows_u = can.reshape(-1, can.shape[-1]), pick_u.reshape(-1, can.shape[-1])
    length = can.shape[-1]
    want = max(1, int(round(length * prob)))
    if max_predictions is not None:
        want = min(want, int(max_predictions))
    # Positions that cannot be picked sort last; ties cannot happen among real draws.
    order = torch.where(rows_can, rows_u, torch.full_like(rows_u, 2.0)).argsort(dim=-1)
    rank = torch.empty_like(order)
    rank.scatter_(-1, order, torch.arange(length, device=can.device).expand_as(order))
    return ((rank < want) & rows_can).reshape(can.shape)


def seed_article_masking(ids, *, vocab_size: int, mask_id: int, prob: float = 0.15,
                         seed: int = 0) -> MaskResult:
    """THE BUGGY VERSION, kept to contrast: the seed article's `MLMDataset.__getitem__`.

    A per-token Python loop exactly as the article wrote it, except that its global
    `random` is replaced by `random.Random(seed)`. Its bug, left in on purpose: any
    position can be picked, so the [CLS] and [SEP] its `encode` adds become prediction
    targets (the article masks one unpadded text at a time; handed a padded row, this
    would pick [PAD] too). Its random replacement `randint(0, vocab_size - 1)` can be a
    special token, as in google-research/bert. Use `mask_tokens` for training.
    """
    _check_rates(prob, 0.8, 0.1)
    rng = random.Random(seed)
    tokens = [int(t) for t in (ids.tolist() if torch.is_tensor(ids) else ids)]
    labels, fate = list(tokens), [NOT_SELECTED] * len(tokens)
    original = list(tokens)
    for i in range(len(tokens)):
        if rng.random() < prob:
            rand = rng.random()
            if rand < 0.8:
                tokens[i], fate[i] = mask_id, MASKED
            elif rand < 0.9:
                tokens[i], fate[i] = rng.randint(0, vocab_size - 1), RANDOM
            else:
                fate[i] = KEPT
        else:
            labels[i] = IGNORE
    t = (lambda x: torch.tensor(x, dtype=torch.long))
    return MaskResult(t(tokens), t(labels), t(fate), t(original),
                      torch.ones(len(tokens), dtype=torch.bool))


def mask_text(text: str, tokenizer, *, seed: int = 0, prob: float = 0.15,
              mask_rate: float = 0.8, random_rate: float = 0.1, max_tokens: int = 512,
              selection: str = "bernoulli") -> dict:
    """Encode `text`, wrap it as [CLS] text [SEP], mask it, and return the trace as JSON-able
    data for the CLI and the MLM tab. `tokenizer` needs encode(text) -> ids (no specials),
    special_id(role), special_ids, vocab_size and id_to_token(i).

    Returns {"tokens": trace (one dict per position), "counts": ..., "input_tokens": what
    the model sees, "original_tokens", "labels": ids with -100 where not predicted (as the
    loss sees them), "label_tokens": the token to predict or None}.
    """
    if not isinstance(text, str) or not text.strip():
        raise TextError("the text is empty: type a sentence to mask")
    body = list(tokenizer.encode(text))
    if len(body) + 2 > max_tokens:
        raise TextError(f"the text is {len(body) + 2} tokens long; the masking view shows at "
                        f"most {max_tokens}: use a shorter text")
    ids = [tokenizer.special_id("cls")] + body + [tokenizer.special_id("sep")]
    res = mask_tokens(ids, mask_id=tokenizer.special_id("mask"),
                      special_ids=list(tokenizer.special_ids), vocab_size=tokenizer.vocab_size,
                      prob=prob, mask_rate=mask_rate, random_rate=random_rate, seed=seed,
                      selection=selection)
    trace = res.trace(tokenizer.id_to_token)
    maskable = int(res.maskable.sum())
    return {"seed": seed, "prob": prob, "selection": selection, "tokens": trace,
            "counts": res.counts(),
            # Under Bernoulli selection, the chance that this text gets no position at all
            # (what a student sees as "nothing to predict"): (1 - prob) ** maskable.
            "p_none": (1 - prob) ** maskable if selection == "bernoulli" else 0.0,
            "input_tokens": [t["input_token"] for t in trace],
            "original_tokens": [t["original_token"] for t in trace],
            "labels": res.labels.tolist(),
            "label_tokens": [t["original_token"] if t["label"] is not None else None
                             for t in trace]}
