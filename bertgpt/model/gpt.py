"""GPT / GPT-2 (Radford et al. 2018, 2019): a decoder that reads left to right.

Embeddings = token + position. Pre-LN blocks under a causal mask, a final LayerNorm, and
a language-model head that reuses the token embedding matrix (weight tying). Trained to
predict token t+1 from tokens 1..t; generation feeds its own samples back in, keeping a
key/value cache so each new token costs one position, not the whole prefix.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import masks
from .config import ModelConfig
from .transformer import Block, dropout, init_weights


@dataclass
class GPTOutput:
    logits: torch.Tensor            # (B, T, V)
    cache: list | None = None       # per layer (k, v), each (B, H, S, D), when use_cache
    attentions: list | None = None  # per layer (B, H, T, S) when asked for


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        assert cfg.arch == "gpt", "GPT needs a config with arch='gpt'"
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.pos_emb = nn.Embedding(cfg.block_size, cfg.n_embd)
        self.drop = dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg, pre_ln=True) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=cfg.eps)
        init_weights(self)
        # GPT-2 §2.3: residual projections scaled by 1/sqrt(number of residual layers).
        for block in self.blocks:
            for proj in (block.attn.proj, block.mlp.proj):
                nn.init.normal_(proj.weight, std=0.02 / (2 * cfg.n_layer) ** 0.5)

    def forward(self, idx, attention_mask=None, *, cache=None, use_cache=False,
                need_weights=False):
        """idx: (B, T) token ids. attention_mask: (B, S) 1 = real token (S counts cached
        positions too). cache: what a previous call returned, to continue generation."""
        B, T = idx.shape
        past = 0 if cache is None else cache[0][0].shape[2]
        x = self.embed(idx, past)
        pos = torch.arange(past, past + T, device=idx.device)
        mask, is_causal = None, True
        if attention_mask is not None:
            # Causal AND padding, materialised. Without padding SDPA's fused causal path
            # is used and no (T, T) mask is ever built.
            S = past + T
            causal = masks.causal_mask(S, device=idx.device)[past:]  # (T, S)
            mask = masks.combine(causal, masks.padding_mask(attention_mask))
            # A padding query (left padding) would see nothing and softmax would give NaN;
            # letting it see itself keeps the numbers finite. Its output is never used.
            self_pos = pos[:, None] == torch.arange(S, device=idx.device)  # (T, S)
            mask, is_causal = mask | self_pos, False
        elif past and T > 1:
            raise ValueError("continuing from a cache takes one new token at a time")
        new_cache = [] if use_cache else None
        attentions = [] if need_weights else None
        for i, block in enumerate(self.blocks):
            layer_cache = cache[i] if cache is not None else None
            x, w, kv = block(x, mask, is_causal=is_causal, need_weights=need_weights,
                             cache=layer_cache)
            if use_cache:
                new_cache.append(kv)
            if need_weights:
                attentions.append(w)
        logits = F.linear(self.ln_f(x), self.tok_emb.weight)  # tied head: (B, T, V)
        return GPTOutput(logits, new_cache, attentions)

    def embed(self, idx, past: int = 0):
        """(B, T) ids -> (B, T, C): token + position embeddings, positions from `past`."""
        T = idx.shape[1]
        if past + T > self.cfg.block_size:
            raise ValueError(f"{past + T} positions exceed block_size {self.cfg.block_size}")
        pos = torch.arange(past, past + T, device=idx.device)
        return self.drop(self.tok_emb(idx) + self.pos_emb(pos))

    def loss(self, idx, targets):
        """Mean next-token cross-entropy in nats; targets (B, T), -100 = ignore."""
        logits = self(idx).logits
        return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100)
