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
from .precision import Linear, linear
from .transformer import Block, dropout, init_weights, take_rows


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
        self.mlm_dense = Linear(C, C)
        self.mlm_ln = nn.LayerNorm(C, eps=cfg.eps)
        self.mlm_bias = nn.Parameter(torch.zeros(cfg.vocab_size))
        self.nsp = nn.Linear(C, 2)
        init_weights(self)

    def encode(self, input_ids, segment_ids=None, attention_mask=None, need_weights=False,
               rows=None):
        """input_ids, segment_ids, attention_mask: (B, T); attention_mask 1 = real token.
        Returns the last layer's (B, T, C), or with `rows` (indices into the B*T
        positions) only those positions, (N, C): the last layer then runs its output
        projection, LayerNorms and MLP on those rows alone."""
        B, T = input_ids.shape
        if T > self.cfg.block_size:
            raise ValueError(f"sequence of {T} tokens is longer than block_size "
                             f"{self.cfg.block_size}")
        # Positions built on the input's device (the seed article built them on the CPU).
        pos = torch.arange(T, device=input_ids.device)
        if segment_ids is None:
            segment_ids = torch.zeros_like(input_ids)
        x = self.tok_emb(input_ids) + self.pos_emb(pos) + self.seg_emb(segment_ids)
        x = self.drop(self.emb_ln(x))
        # Bidirectional: every token may see every real token; padding is hidden.
        # An all-ones mask hides nothing: dropping it saves building (B, 1, 1, T) every
        # step and, on CUDA, lets SDPA use its flash kernel, which takes no mask. (On
        # this CPU the two measured alike.) Not while torch.compile traces: reading a
        # tensor's value would break its graph.
        if (attention_mask is not None and not torch.compiler.is_compiling()
                and bool(attention_mask.all())):
            attention_mask = None
        mask = None if attention_mask is None else masks.padding_mask(attention_mask)
        attentions = [] if need_weights else None
        last = len(self.blocks) - 1
        for i, block in enumerate(self.blocks):
            x, w, _ = block(x, mask, need_weights=need_weights, rows=rows if i == last else None)
            if need_weights:
                attentions.append(w)
        return x, attentions

    def pool(self, hidden):
        return self.pool_cls(hidden[:, 0])  # (B, C) from [CLS]

    def pool_cls(self, cls):
        return torch.tanh(self.pooler(cls))

    def mlm_head(self, h):
        h = self.mlm_ln(F.gelu(self.mlm_dense(h), approximate=_approx(self.cfg)))
        return linear(h, self.tok_emb.weight, self.mlm_bias, training=self.training)  # (..., V)

    def forward(self, input_ids, segment_ids=None, attention_mask=None, need_weights=False):
        hidden, attentions = self.encode(input_ids, segment_ids, attention_mask, need_weights)
        pooled = self.pool(hidden)
        return BertOutput(hidden, pooled, self.mlm_head(hidden), self.nsp(pooled), attentions)

    def pretraining_loss(self, input_ids, segment_ids, attention_mask, labels, nsp_labels=None):
        """MLM (+ NSP) loss. Only the positions the losses read are carried through the
        last layer's position-wise half and the heads: the ~15% selected for MLM (the
        others carry label -100 and would be thrown away) and, for NSP, each [CLS].
        That is the same loss as running every position, for a sixth or so of the last
        layer's position-wise work. Returns (loss, parts): each loss and accuracy as floats-to-be."""
        B, T = input_ids.shape
        # The selected positions by index: one nonzero for hidden states and labels alike,
        # and a backward that adds rows back (index_add) rather than a masked scatter.
        sel = (labels.reshape(-1) != -100).nonzero().squeeze(1)
        rows = sel
        if nsp_labels is not None:  # and each sequence's [CLS], at position 0
            rows = torch.cat([sel, torch.arange(B, device=sel.device) * T])
        if LAST_LAYER_READ_ROWS_ONLY:
            hidden, _ = self.encode(input_ids, segment_ids, attention_mask, rows=rows)
        else:  # every position through every layer, then the rows (benchmark ablation)
            hidden = take_rows(self.encode(input_ids, segment_ids, attention_mask)[0], rows)
        n = sel.numel()
        mlm_logits = self.mlm_head(hidden[:n])  # (N, V)
        target = labels.reshape(-1).index_select(0, sel)  # (N,)
        if n:
            mlm_loss = F.cross_entropy(mlm_logits.float(), target)
        else:  # nothing selected in this batch: a zero that still has a graph
            mlm_loss = mlm_logits.sum() * 0.0
        parts = {"mlm_loss": mlm_loss.detach(),
                 "mlm_correct": (mlm_logits.argmax(-1) == target).sum().detach(),
                 "mlm_count": n}
        loss = mlm_loss
        if nsp_labels is not None:
            nsp_logits = self.nsp(self.pool_cls(hidden[n:]))  # (B, 2)
            nsp_loss = F.cross_entropy(nsp_logits.float(), nsp_labels)
            loss = loss + nsp_loss
            parts.update(nsp_loss=nsp_loss.detach(),
                         nsp_correct=(nsp_logits.argmax(-1) == nsp_labels).sum().detach(),
                         nsp_count=nsp_labels.numel())
        return loss, parts


# Switch for the throughput benchmark's ablation run (`train_throughput.py --ablate`).
LAST_LAYER_READ_ROWS_ONLY = True


def _approx(cfg):
    return "tanh" if cfg.act == "gelu_tanh" else "none"
