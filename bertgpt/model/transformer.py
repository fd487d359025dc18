"""The part BERT and GPT share: multi-head self-attention, the MLP, and the block.

Shape legend, used in every comment below:
    B  batch size          T  sequence length (queries)     S  keys (T, or past + T)
    C  model width         H  attention heads               D  head width = C / H
    V  vocabulary size

Masks are boolean with True = "may attend" (the meaning PyTorch's
`scaled_dot_product_attention` gives them); `bertgpt.model.masks` builds them. The models take
masks; they do not invent them. The seed article's `triu(...).bool()` means the opposite
(True = hidden) -- a classic source of silent bugs.

This file and bert.py / gpt.py are plain PyTorch on purpose. Training on a CPU swaps in
faster arithmetic for the same loss from the training side (train's fast path); nothing
here knows about it.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ModelConfig


class SelfAttention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim
        # One Linear for Q, K and V: three products become one (and transformers'
        # checkpoints split into it on loading).
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)
        self.dropout = cfg.dropout

    def forward(self, x, mask=None, *, is_causal=False, need_weights=False, cache=None):
        """x: (B, T, C). mask: bool, broadcastable to (B, H, T, S), True = may attend.

        is_causal lets SDPA use its fused causal kernel instead of a materialised mask.
        cache: (k, v) of earlier positions, each (B, H, S_past, D), for generation.
        Returns (y (B, T, C), weights (B, H, T, S) or None, new cache (k, v)).
        """
        B, T, C = x.shape
        p_drop = self.dropout if self.training else 0.0
        q, k, v = self.qkv(x).split(C, dim=2)
        # (B, T, C) -> (B, H, T, D): each head attends in its own D-wide subspace.
        q, k, v = (t.view(B, T, self.n_head, self.head_dim).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            k = torch.cat([cache[0], k], dim=2)  # (B, H, S, D)
            v = torch.cat([cache[1], v], dim=2)
            # A query at the end of the sequence may see every cached key: causality is
            # already guaranteed by the cache holding only the past.
            is_causal = is_causal and cache[0].shape[2] == 0
        if need_weights:
            y, weights = attention_with_weights(q, k, v, mask, is_causal, p_drop, self.training)
        else:
            weights = None
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=mask, dropout_p=p_drop, is_causal=is_causal and mask is None)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, H, T, D) -> (B, T, C)
        return self.proj(y), weights, (k, v)


def attention_with_weights(q, k, v, mask, is_causal, p_drop, training):
    """The same computation as SDPA, written out so the weights can be shown."""
    T, S = q.shape[2], k.shape[2]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, H, T, S)
    if is_causal:
        # Query t sits at absolute position S - T + t and may see keys up to there.
        causal = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(S - T)
        mask = causal if mask is None else mask & causal
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    y = F.dropout(weights, p_drop, training) @ v
    return y, weights


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.n_embd, cfg.inner)
        self.proj = nn.Linear(cfg.inner, cfg.n_embd)
        self.approximate = gelu_kind(cfg)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate=self.approximate))


def gelu_kind(cfg: ModelConfig) -> str:
    """transformers' BERT (hidden_act "gelu") uses the exact erf GELU, GPT-2 the tanh
    approximation (so does google-research/bert's modeling.py today). Matching each one
    is what makes real checkpoints reproduce exactly."""
    return "tanh" if cfg.act == "gelu_tanh" else "none"


class Block(nn.Module):
    """One transformer layer. `pre_ln` picks GPT-2's order, otherwise BERT's.

    BERT (post-LN, as the original Transformer): x = LN(x + Attn(x)); x = LN(x + MLP(x)).
    GPT-2 (pre-LN, GPT-2 paper §2.3):            x = x + Attn(LN(x)); x = x + MLP(LN(x)).
    Pre-LN keeps a clean residual path, which is why deep GPTs train without warm-up tricks.
    """

    def __init__(self, cfg: ModelConfig, pre_ln: bool):
        super().__init__()
        self.pre_ln = pre_ln
        self.ln1 = nn.LayerNorm(cfg.n_embd, eps=cfg.eps)
        self.attn = SelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.n_embd, eps=cfg.eps)
        self.mlp = MLP(cfg)
        self.drop = dropout(cfg.dropout)

    def forward(self, x, mask=None, *, is_causal=False, need_weights=False, cache=None):
        if self.pre_ln:
            a, w, cache = self.attn(self.ln1(x), mask, is_causal=is_causal,
                                    need_weights=need_weights, cache=cache)
            x = x + self.drop(a)
            x = x + self.drop(self.mlp(self.ln2(x)))
        else:
            a, w, cache = self.attn(x, mask, is_causal=is_causal,
                                    need_weights=need_weights, cache=cache)
            x = self.ln1(x + self.drop(a))
            x = self.ln2(x + self.drop(self.mlp(x)))
        return x, w, cache


def dropout(p: float) -> nn.Module:
    """nn.Dropout, or nothing at p = 0: even a zero-rate dropout costs a pass over the
    activations in training mode, and the small models here train without dropout."""
    return nn.Dropout(p) if p > 0 else nn.Identity()


def init_weights(module: nn.Module, std: float = 0.02):
    """Normal(0, 0.02) for Linear and Embedding, as both BERT and GPT-2 initialise."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=std)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
