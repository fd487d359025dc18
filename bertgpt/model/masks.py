"""Attention masks: which keys each query may look at.

One convention, stated once: a mask is a bool tensor and **True = may attend**, the meaning
`torch.nn.functional.scaled_dot_product_attention` gives a bool `attn_mask`. In a (T, T)
grid the row is the query (the token that looks) and the column is the key (what it may see).

BERT and GPT differ here and almost nowhere else (the BERT paper, §1 and Figure 3): BERT's
encoder is bidirectional (every token sees every real token; only padding is hidden), GPT's
decoder is causal (a token sees itself and what came before, never the future it is trained
to predict). The models take these masks; they never build them, so one model class serves every mask.
"""
from __future__ import annotations

import torch

from ..errors import ConfigError

KINDS = ("bidirectional", "causal", "padding", "causal+padding")
LEGEND = "row = the token that looks, column = what it may see"
MAX_EXPLAIN_LEN = 64  # the explainer draws T x T grids; beyond this they are unreadable


def causal_mask(T: int, device=None) -> torch.Tensor:
    """(T, T) bool, True where column <= row: each token sees itself and the past.

    The seed article writes `torch.triu(torch.ones(T, T), diagonal=1).bool()`, which is True
    above the diagonal, i.e. True where attention is FORBIDDEN: the opposite of this (and of
    SDPA's) convention, so passing it to SDPA would let every token see only the future.
    The article also builds it on the CPU, so a model on a GPU fails with a device mismatch;
    here it is built directly on `device`.
    """
    if T < 0:
        raise ConfigError(f"a mask needs a non-negative length, got T={T}")
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


def bidirectional_mask(T: int, device=None) -> torch.Tensor:
    """(T, T) bool, all True: BERT's encoder lets every token see every token."""
    if T < 0:
        raise ConfigError(f"a mask needs a non-negative length, got T={T}")
    return torch.ones(T, T, dtype=torch.bool, device=device)


def padding_mask(attention_mask) -> torch.Tensor:
    """(B, T) of 1/0 or bool (1 = real token) -> (B, 1, 1, T) bool.

    Padding keys cannot be attended to. The shape broadcasts over heads (dim 1) and over
    queries (dim 2): a padding *query* still sees the real tokens (its output is ignored by
    the loss), which keeps its softmax row finite.
    """
    m = torch.as_tensor(attention_mask)
    if m.dim() != 2:
        raise ConfigError(f"attention_mask must be (B, T) with 1 = real token, got shape "
                          f"{tuple(m.shape)}; add a batch dimension with .unsqueeze(0)")
    m = m if m.dtype == torch.bool else m != 0
    return m[:, None, None, :]  # (B, 1, 1, T)


def combine(*masks):
    """Logical AND of bool masks with broadcasting; None entries are ignored.

    causal (T, T) with padding (B, 1, 1, T) gives (B, 1, T, T): GPT on a padded batch.
    Returns None when every entry is None (no mask: attend everywhere).
    """
    out = None
    for m in masks:
        if m is None:
            continue
        if m.dtype != torch.bool:
            raise ConfigError(f"masks must be bool (True = may attend), got {m.dtype}; "
                              "build them with bertgpt.model.masks")
        out = m if out is None else out & m
    return out


def apply_mask(scores: torch.Tensor, mask) -> torch.Tensor:
    """Raw attention scores with forbidden entries set to -inf (softmax turns them into 0).

    This is what attention does before its softmax; it is exposed to show scores before
    and after masking. `mask` None returns the scores unchanged.
    """
    if mask is None:
        return scores
    return scores.masked_fill(~mask, float("-inf"))


def safe_softmax(masked_scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dim where a row with no allowed key gives zeros, not NaN.

    softmax of an all -inf row is 0/0 = NaN. Such rows only occur for a query that can see
    nothing (e.g. a padding query under a mask that also hides padding queries); its output
    is never used, so showing zeros is honest: it attends to nothing.
    """
    empty = torch.isneginf(masked_scores).all(dim=-1, keepdim=True)
    probs = masked_scores.masked_fill(empty, 0.0).softmax(dim=-1)
    return probs.masked_fill(empty, 0.0)


def _grid(kind: str, lengths: list[int]) -> torch.Tensor:
    """(B, T, T) bool grid for `kind` over a batch padded to max(lengths)."""
    T = max(lengths)
    real = torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]  # (B, T)
    causal = causal_mask(T) if "causal" in kind else None
    pad = padding_mask(real) if "padding" in kind else None
    m = combine(causal, pad)
    if m is None:  # bidirectional: nothing hidden, not even padding
        m = bidirectional_mask(T)
    return torch.broadcast_to(m, (len(lengths), 1, T, T)).reshape(len(lengths), T, T)


def _rounded(t: torch.Tensor, ndigits: int = 4):
    """Nested lists of floats; -inf becomes None (strict JSON has no infinity)."""
    return [[[None if v == float("-inf") else round(v, ndigits) for v in row] for row in mat]
            for mat in t.tolist()]


def explain_mask(kind: str, lengths: list[int], seed: int = 0) -> dict:
    """Everything the masks tab shows, as JSON-able plain data.

    kind: "bidirectional" (BERT, nothing hidden), "causal" (GPT), "padding" (BERT on a
    padded batch: bidirectional, padding keys hidden), "causal+padding" (GPT on a padded
    batch). A batch of sentences with real `lengths`, padded to T = max(lengths):
      allowed        (B, T, T) bool    True = the row token may see the column token
      real           (B, T)    bool    False = a padding position
      scores         (B, T, T) float   raw scores (seeded randn, as q.k / sqrt(d) would be)
      masked_scores  (B, T, T) float or None; **None stands for -inf** (a forbidden entry),
                                       because strict JSON has no infinity
      softmax        (B, T, T) float   each row sums to 1 over its allowed keys, 0 elsewhere
      empty_rows     per sentence, the query rows that may see nothing; their softmax row
                     is shown as zeros instead of NaN (see `safe_softmax`). With these four
                     kinds a padding query still sees real keys, so this is normally empty.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown mask kind {kind!r}; choose one of {', '.join(KINDS)}")
    lengths = [int(n) for n in lengths]
    if not lengths or min(lengths) < 1:
        raise ConfigError(f"give one length >= 1 per sentence, got {lengths}")
    if max(lengths) > MAX_EXPLAIN_LEN:
        raise ConfigError(f"the longest sentence has {max(lengths)} tokens; the mask view "
                          f"shows at most {MAX_EXPLAIN_LEN}: use shorter lengths")
    allowed = _grid(kind, lengths)  # (B, T, T)
    B, T, _ = allowed.shape
    g = torch.Generator().manual_seed(int(seed))  # same picture on every machine
    scores = torch.randn(B, T, T, generator=g)
    masked = apply_mask(scores, allowed)
    probs = safe_softmax(masked)
    empty = ~allowed.any(dim=-1)  # (B, T)
    return {
        "kind": kind,
        "lengths": lengths,
        "T": T,
        "seed": int(seed),
        "legend": LEGEND,
        "neg_inf": "None in masked_scores means -inf: this key is hidden from this query",
        "real": (torch.arange(T)[None, :] < torch.tensor(lengths)[:, None]).tolist(),
        "allowed": allowed.tolist(),
        "scores": _rounded(scores),
        "masked_scores": _rounded(masked),
        "softmax": _rounded(probs),
        "empty_rows": [torch.nonzero(e).flatten().tolist() for e in empty],
    }
