"""The logit lens (nostalgebraist, "interpreting GPT: the logit lens", 2020): read every
layer's hidden state as if it were the last one, through the model's own output head.

GPT:  h_l -> ln_f -> tied unembedding (the token embedding matrix).
BERT: h_l -> the MLM head (dense + GELU + LayerNorm, then the tied decoder and its bias).
      BERT's blocks are post-LN, so every h_l has just come out of a LayerNorm and there is
      no final LayerNorm to apply first.

Layer 0 is the embeddings (what the model "predicts" before any block has run), layer L is
the last block, where the lens is by construction exactly the model's own output. The
walk below repeats the models' forward passes step by step (embed, blocks, masks as the
models build them) instead of hooking into them: a hook registered on a model that a
whole class shares would also catch another student's forward pass running at the same
time. tests/test_lens.py holds the walk to the models' own logits.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import masks
from ..errors import ConfigError


@torch.no_grad()
def layer_states(model, ids, segment_ids=None, attention_mask=None) -> list[torch.Tensor]:
    """Hidden states after the embeddings and after each block: L + 1 tensors (B, T, C).

    ids, segment_ids (BERT only), attention_mask: (B, T), 1 = real token, as the models take
    them. The masks are the ones the models' forward passes build."""
    arch = model.cfg.arch
    if arch == "gpt":
        x = model.embed(ids)
        mask, is_causal = None, True
        if attention_mask is not None:
            # As GPT.forward does with padding: causal AND padding, and each query may see
            # itself, so a left-padding query has a finite softmax.
            T = ids.shape[1]
            pos = torch.arange(T, device=ids.device)
            mask = masks.combine(masks.causal_mask(T, device=ids.device),
                                 masks.padding_mask(attention_mask))
            mask, is_causal = mask | (pos[:, None] == pos[None, :]), False
    elif arch == "bert":
        x = model.embed(ids, segment_ids)
        mask, is_causal = model.attention_mask(attention_mask), False
    else:
        raise ConfigError(f"the logit lens reads BERT or GPT, not arch={arch!r}")
    states = [x]
    for block in model.blocks:
        x, _, _ = block(x, mask, is_causal=is_causal)
        states.append(x)
    return states


def read_out(model, hidden: torch.Tensor) -> torch.Tensor:
    """Logits (..., V) of hidden states (..., C) through the model's own output head."""
    if model.cfg.arch == "gpt":
        return F.linear(model.ln_f(hidden), model.tok_emb.weight)  # as GPT.forward
    return model.mlm_head(hidden)  # BERT: the MLM head as BERT.forward applies it


@torch.no_grad()
def lens_probs(model, ids, segment_ids=None, attention_mask=None, positions=None
               ) -> torch.Tensor:
    """Softmax of the read-out of every layer: (L + 1, B, T', V) in float32, T' = the
    `positions` asked for (all by default): the head is only applied where it is read."""
    states = layer_states(model, ids, segment_ids, attention_mask)
    h = torch.stack(states)  # (L + 1, B, T, C)
    if positions is not None:
        h = h[:, :, list(positions)]
    return read_out(model, h).float().softmax(-1)


def logit_lens(model, ids: list[int], *, top: int = 5, positions=None,
               segment_ids: list[int] | None = None) -> dict:
    """The logit lens of one sequence, as the UI draws it: for each layer (0 = embeddings,
    1..L = after block l) and each position read, the `top` tokens with probabilities.

    Also, per layer and position: the probability of the token the last layer ranks
    first ("answer_prob": how early the final answer surfaces), and the KL divergence
    from the last layer's distribution in nats ("kl_to_final": how far that layer's
    reading is from what the model ends up saying; 0 at the last layer).

    positions: which positions to read (default: all). GPT's row at a position is its
    guess for the *next* token; BERT's is its guess for the token at that position.
    """
    if not isinstance(top, int) or not 1 <= top <= 50:
        raise ConfigError(f"top must be a whole number from 1 to 50, got {top}")
    if not ids:
        raise ConfigError("the logit lens needs at least one token")
    T = len(ids)
    positions = list(range(T)) if positions is None else [int(p) for p in positions]
    if not positions or any(not 0 <= p < T for p in positions):
        raise ConfigError(f"positions must lie in 0..{T - 1}, got {positions}")
    model.eval()
    device = next(model.parameters()).device
    x = torch.tensor([ids], device=device)
    seg = None if segment_ids is None else torch.tensor([segment_ids], device=device)
    probs = lens_probs(model, x, seg, positions=positions)[:, 0].cpu()  # (L + 1, P, V)
    final = probs[-1]                                                   # (P, V)
    answer = final.argmax(-1)                                           # (P,)
    values, indices = probs.topk(min(top, probs.shape[-1]), dim=-1)     # (L + 1, P, top)
    # KL(final || layer): the expected extra nats of reading the layer instead of the
    # model's output; 0 * log(0 / q) counts as 0.
    log_final = final.clamp_min(1e-30).log()
    kl = (final * (log_final - probs.clamp_min(1e-30).log())).sum(-1)   # (L + 1, P)
    return {
        "arch": model.cfg.arch, "n_layers": len(probs) - 1,
        "ids": list(ids), "positions": positions,
        "input": [ids[p] for p in positions],
        "top": [[[{"id": int(i), "prob": float(v)} for v, i in zip(values[l, j], indices[l, j])]
                 for j in range(len(positions))] for l in range(len(probs))],
        "answer": answer.tolist(),
        "answer_prob": probs.gather(-1, answer[None, :, None].expand(len(probs), -1, 1))
        .squeeze(-1).tolist(),
        "kl_to_final": [[max(0.0, float(v)) if math.isfinite(float(v)) else float("inf")
                         for v in row] for row in kl],
    }


def window(n_tokens: int, limit: int, keep: int | None = None) -> list[int]:
    """At most `limit` consecutive positions of a sequence of `n_tokens`: the last ones, or
    (given `keep`) a run that contains position `keep`, as centred on it as fits."""
    if n_tokens <= limit:
        return list(range(n_tokens))
    if keep is None:
        return list(range(n_tokens - limit, n_tokens))
    start = min(max(0, keep - limit // 2), n_tokens - limit)
    return list(range(start, start + limit))
