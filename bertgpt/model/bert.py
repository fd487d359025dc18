"""BERT (Devlin et al. 2018): an encoder that sees the whole sentence at once.

Embeddings = token + position + segment (sentence A/B), then LayerNorm. A stack of post-LN
blocks with a bidirectional mask (only padding is hidden). Two pre-training heads: masked
language modelling (MLM, tied to the input embeddings) and next sentence prediction (NSP,
from the pooled [CLS]: dense + tanh, paper §3.1 and the released code).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import masks
from .config import ModelConfig
from .transformer import Block, dropout, gelu_kind, init_weights


@dataclass
class BertOutput:
    hidden: torch.Tensor                   # (B, T, C) last layer
    pooled: torch.Tensor                   # (B, C) tanh(dense([CLS]))
    mlm_logits: torch.Tensor | None = None  # (B, T, V), or (N, V) at selected positions
    nsp_logits: torch.Tensor | None = None  # (B, 2); index 0 = IsNext, as transformers
    attentions: list | None = None         # per layer (B, H, T, T) when asked for


class BERT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        assert cfg.arch == "bert", "BERT needs a config with arch='bert'"
        self.cfg = cfg
        C = cfg.n_embd
        self.tok_emb = nn.Embedding(cfg.vocab_size, C)
        self.pos_emb = nn.Embedding(cfg.block_size, C)
        self.seg_emb = nn.Embedding(cfg.type_vocab_size, C)
        self.emb_ln = nn.LayerNorm(C, eps=cfg.eps)
        self.drop = dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg, pre_ln=False) for _ in range(cfg.n_layer))
        self.pooler = nn.Linear(C, C)
        # MLM head: a transform (dense + GELU + LayerNorm), then the embedding matrix
        # itself as the output layer (weight tying) plus a per-token bias.
        self.mlm_dense = nn.Linear(C, C)
        self.mlm_ln = nn.LayerNorm(C, eps=cfg.eps)
        self.mlm_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.nsp = nn.Linear(C, 2)
        init_weights(self)

    def embed(self, input_ids, segment_ids=None):
        """(B, T) ids -> (B, T, C): token + position + segment embeddings, LayerNorm."""
        B, T = input_ids.shape
        if T > self.cfg.block_size:
            raise ValueError(f"sequence of {T} tokens is longer than block_size "
                             f"{self.cfg.block_size}")
        # Positions built on the input's device (the seed article built them on the CPU).
        pos = torch.arange(T, device=input_ids.device)
        if segment_ids is None:
            segment_ids = torch.zeros_like(input_ids)
        x = self.tok_emb(input_ids) + self.pos_emb(pos) + self.seg_emb(segment_ids)
        return self.drop(self.emb_ln(x))

    @staticmethod
    def attention_mask(attention_mask):
        """(B, T) with 1 = real token -> the bidirectional mask (B, 1, 1, T): every token
        may see every real token; padding is hidden. None when nothing is padded: an
        all-ones mask hides nothing, and without one SDPA may use its fused kernels (on
        CUDA, flash attention takes no mask). Not while torch.compile traces: reading a
        tensor's value would break its graph."""
        if attention_mask is None or (not torch.compiler.is_compiling()
                                      and bool(attention_mask.all())):
            return None
        return masks.padding_mask(attention_mask)

    def encode(self, input_ids, segment_ids=None, attention_mask=None, need_weights=False):
        """input_ids, segment_ids, attention_mask: (B, T); attention_mask 1 = real token.
        Returns the last layer's (B, T, C) and, when asked, each layer's attention."""
        x = self.embed(input_ids, segment_ids)
        mask = self.attention_mask(attention_mask)
        attentions = [] if need_weights else None
        for block in self.blocks:
            x, w, _ = block(x, mask, need_weights=need_weights)
            if need_weights:
                attentions.append(w)
        return x, attentions

    def pool(self, hidden):
        return torch.tanh(self.pooler(hidden[:, 0]))  # (B, C) from [CLS]

    def mlm_head(self, h):
        h = self.mlm_ln(F.gelu(self.mlm_dense(h), approximate=gelu_kind(self.cfg)))
        return F.linear(h, self.tok_emb.weight, self.mlm_bias)  # tied decoder: (..., V)

    def forward(self, input_ids, segment_ids=None, attention_mask=None, need_weights=False):
        hidden, attentions = self.encode(input_ids, segment_ids, attention_mask, need_weights)
        pooled = self.pool(hidden)
        return BertOutput(hidden, pooled, self.mlm_head(hidden), self.nsp(pooled), attentions)

    def pretraining_loss(self, input_ids, segment_ids, attention_mask, labels, nsp_labels=None):
        """MLM (+ NSP) loss: cross-entropy at the selected positions (every other position
        carries label -100 and is ignored), plus NSP's from the pooled [CLS].
        Returns (loss, parts): each loss and accuracy as tensors, for the training log."""
        out = self(input_ids, segment_ids, attention_mask)
        return pretraining_loss_from(out.mlm_logits, out.nsp_logits, labels, nsp_labels)


def pretraining_loss_from(mlm_logits, nsp_logits, labels, nsp_labels=None):
    """BERT's loss and its parts from the heads' logits. mlm_logits: (B, T, V) with labels
    (B, T), or already only the selected positions, (N, V) with labels (N,)."""
    logits, target = mlm_logits.reshape(-1, mlm_logits.shape[-1]), labels.reshape(-1)
    selected = target != -100
    n = int(selected.sum())
    if n:
        mlm_loss = F.cross_entropy(logits.float(), target, ignore_index=-100)
    else:  # nothing selected in this batch: a zero that still has a graph
        mlm_loss = logits.sum() * 0.0
    correct = ((logits.argmax(-1) == target) & selected).sum()
    parts = {"mlm_loss": mlm_loss.detach(), "mlm_correct": correct.detach(), "mlm_count": n}
    loss = mlm_loss
    if nsp_labels is not None:
        nsp_loss = F.cross_entropy(nsp_logits.float(), nsp_labels)
        loss = loss + nsp_loss
        parts.update(nsp_loss=nsp_loss.detach(),
                     nsp_correct=(nsp_logits.argmax(-1) == nsp_labels).sum().detach(),
                     nsp_count=nsp_labels.numel())
    return loss, parts
