"""The fast CPU training path: the loss the model defines, computed with bigger ops.

The model files are the plain PyTorch a student reads. On a CPU, a training step spends
its time in a few places that the plain code could only avoid by getting harder to read,
so `FastLoss` computes the *same* loss from the *same* parameters another way:

* BERT's loss reads only the ~15% of positions selected for MLM and each [CLS]. After
  attention, a layer works position by position, so the last layer's output projection,
  LayerNorms and MLP, and the heads, run on those rows alone: the same loss and
  gradients (exactly, in fp32) for about a sixth of that work.
* On CPUs with AMX, the large matmuls in bf16 (bf16.py), with the MLP and attention each
  as one autograd function.

`choose` decides once, for the training loop and the benchmarks; the model never
imports this module (tests/test_layout.py) and tests/test_fastpath.py holds it to the
plain model's loss and gradients.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import bf16
from ..model.bert import pretraining_loss_from
from ..model.transformer import gelu_kind


@dataclass(frozen=True)
class Options:
    bf16: bool = False             # large matmuls in bf16 (pays on CPUs with AMX)
    rows_only: bool = True         # BERT: the last layer's position-wise half at read rows
    fused_mlp: bool = True         # bf16: fc, GELU and proj as one function
    fused_attention: bool = True   # bf16: qkv and flash attention as one function
    # GPT-2's tanh GELU and BERT's erf GELU differ by at most 4.7e-4 (slopes by 8.7e-4),
    # less than bf16 resolves: ATen's own bf16 tanh-GELU is 7.8e-3 off the exact curve at
    # these activations. The erf kernel is ~4x faster forward and ~2x backward on the
    # CPU (a GPT step 38.1 -> 32.6 ms; validation bpc after 800 steps of the default
    # recipe 2.289 -> 2.287), so the bf16 MLP runs it for both models.
    tanh_as_erf: bool = True
    # Below this many multiply-adds a product stays fp32: each bf16 oneDNN call costs
    # ~35 us whatever its size (fp32: ~18 us), more than AMX saves on a small product
    # (whole training steps measured with 0, 16M and 40M; benchmarks/README.md).
    min_macs: int = 16_000_000


def choose(model: nn.Module, device: torch.device, precision: str = "auto",
           compiled: bool = False) -> Options | None:
    """The fast path's options for training `model` on `device`, or None for the plain
    model: on GPUs (autocast does the job there), under torch.compile, or with dropout
    (the fast path computes dropout-free layers)."""
    if device.type != "cpu" or compiled or model.cfg.dropout > 0:
        return None
    use_bf16 = precision == "bf16" or (precision == "auto" and bf16.cpu_has_amx())
    fused = bf16.available()
    return Options(bf16=use_bf16, fused_mlp=fused["mlp"], fused_attention=fused["attention"])


class FastLoss(nn.Module):
    """The model's training losses (`loss` for GPT, `pretraining_loss` for BERT), same
    signature and result, computed the fast way. It holds the model, so its parameters
    are the model's: an optimizer or DistributedDataParallel sees the same tensors."""

    def __init__(self, model: nn.Module, options: Options):
        super().__init__()
        self.model, self.options = model, options

    def _bf16(self, x, weight) -> bool:
        o = self.options
        return (o.bf16 and self.model.training and torch.is_grad_enabled()
                and x.numel() * weight.shape[0] >= o.min_macs)

    def linear(self, x, weight, bias=None):
        if self._bf16(x, weight):
            return bf16.Linear.apply(x, weight, bias)
        return F.linear(x, weight, bias)

    def attention(self, attn, x, mask, causal, rows=None):
        """SelfAttention's output (B, T, C), or at `rows` only (N, C)."""
        B, T, C = x.shape
        if mask is None and self.options.fused_attention and self._bf16(x, attn.qkv.weight):
            y = bf16.Attention.apply(x, attn.qkv.weight, attn.qkv.bias, attn.n_head, causal)
        else:
            q, k, v = self.linear(x, attn.qkv.weight, attn.qkv.bias).split(C, dim=2)
            q, k, v = (t.view(B, T, attn.n_head, attn.head_dim).transpose(1, 2)
                       for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                               is_causal=causal and mask is None)
            y = y.transpose(1, 2).reshape(B, T, C)
        return self.linear(take_rows(y, rows), attn.proj.weight, attn.proj.bias)

    def mlp(self, mlp, x):
        kind = mlp.approximate
        if self.options.fused_mlp and self._bf16(x, mlp.fc.weight):
            kind = "none" if self.options.tanh_as_erf else kind
            return bf16.MLP.apply(x, mlp.fc.weight, mlp.fc.bias, mlp.proj.weight,
                                  mlp.proj.bias, kind)
        h = F.gelu(self.linear(x, mlp.fc.weight, mlp.fc.bias), approximate=kind)
        return self.linear(h, mlp.proj.weight, mlp.proj.bias)

    def block(self, block, x, mask=None, causal=False, rows=None):
        """Block.forward without dropout; with `rows`, only those positions come out."""
        if block.pre_ln:
            x = take_rows(x, rows) + self.attention(block.attn, block.ln1(x), mask, causal, rows)
            return x + self.mlp(block.mlp, block.ln2(x))
        x = block.ln1(take_rows(x, rows) + self.attention(block.attn, x, mask, causal, rows))
        return block.ln2(x + self.mlp(block.mlp, x))

    def loss(self, idx, targets):
        """GPT.loss."""
        m = self.model
        x = m.embed(idx)
        for block in m.blocks:
            x = self.block(block, x, causal=True)
        logits = self.linear(m.ln_f(x), m.tok_emb.weight)
        return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100)

    def pretraining_loss(self, input_ids, segment_ids, attention_mask, labels, nsp_labels=None):
        """BERT.pretraining_loss, with the last layer and the heads at the read rows."""
        m = self.model
        B, T = input_ids.shape
        x, mask = m.embed(input_ids, segment_ids), m.attention_mask(attention_mask)
        # The selected positions by index: one nonzero for hidden states and labels
        # alike, and a backward that adds rows back (index_add), not a masked scatter.
        sel = (labels.reshape(-1) != -100).nonzero().squeeze(1)
        rows = sel
        if nsp_labels is not None:  # and each sequence's [CLS], at position 0
            rows = torch.cat([sel, torch.arange(B, device=sel.device) * T])
        last = len(m.blocks) - 1
        for i, block in enumerate(m.blocks):
            read = rows if i == last and self.options.rows_only else None
            x = self.block(block, x, mask, rows=read)
        if not self.options.rows_only:
            x = take_rows(x, rows)
        n = sel.numel()
        h = m.mlm_ln(F.gelu(self.linear(x[:n], m.mlm_dense.weight, m.mlm_dense.bias),
                            approximate=gelu_kind(m.cfg)))
        mlm_logits = self.linear(h, m.tok_emb.weight, m.mlm_bias)  # (N, V)
        nsp_logits = None
        if nsp_labels is not None:
            nsp_logits = m.nsp(torch.tanh(m.pooler(x[n:])))  # (B, 2)
        return pretraining_loss_from(mlm_logits, nsp_logits, labels.reshape(-1)[sel],
                                     nsp_labels)


def take_rows(x, rows):
    """x (B, T, C) as it is, or only the positions `rows` (indices into B*T) as (N, C)."""
    return x if rows is None else x.reshape(-1, x.shape[-1]).index_select(0, rows)


def for_training(model: nn.Module, options: Options | None) -> nn.Module:
    """What the training loop calls its losses on: the fast path, or the model itself."""
    return model if options is None else FastLoss(model, options)
