"""bf16 matrix multiplies for training on CPUs with AMX, everything else in fp32.

Why not plain `torch.autocast("cpu")`? On the 2-core Xeon this project measures on,
autocast made a training step *slower* (benchmarks/README.md): it also runs attention,
GELU and LayerNorm in bf16, and their CPU kernels are slower in bf16 than in fp32
(flash-attention's backward by about 10x). The matmuls are the only part AMX speeds up
(about 3x at width 128), so this module sends just those through bf16:

* the Linear layers of the blocks compute `x @ W.T` with bf16 inputs (fp32 weights stay
  the master copy; the optimizer never sees bf16) and hand fp32 on to the next op;
* their backward computes both gradients in bf16 too;
* a block's MLP (fc, GELU, proj) is one function that stays in bf16 from fc's input to
  proj's output, so its wide (tokens, 4C) activation is never cast back and forth.

It is switched on per thread by `bf16_matmuls()`, which the training loop enters when the
precision is bf16 on a CPU (`TrainConfig.precision`, "auto" picks it on AMX). Outside it,
and always in eval mode, a Linear is exactly `nn.Linear` -- inference and the
transformers-equivalence tests stay fp32.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

_ON: contextvars.ContextVar[bool] = contextvars.ContextVar("bf16_matmuls", default=False)


@functools.cache
def cpu_has_amx() -> bool:
    """True on CPUs with AMX tiles (Sapphire Rapids and later), where bf16 matmuls pay."""
    init = getattr(getattr(torch._C, "_cpu", None), "_init_amx", None)
    try:
        return bool(init and init())
    except RuntimeError:  # pragma: no cover - a build without the probe
        return False


@contextlib.contextmanager
def bf16_matmuls(enabled: bool = True):
    token = _ON.set(enabled)
    try:
        yield
    finally:
        _ON.reset(token)


class _Bf16Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        x2 = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)
        w = weight.to(torch.bfloat16)
        ctx.save_for_backward(x2, w)  # bf16 activations: half the memory, too
        ctx.has_bias = bias is not None
        # The bias rides in the product (oneDNN adds it to the fp32 accumulator), then
        # back to fp32 for the next op. (Not `bf16 product + fp32 bias`: that mixed-dtype
        # broadcast add takes a slow path, ~6x a plain add here.)
        if bias is None:
            y = x2 @ w.t()
        else:
            y = torch.addmm(bias.to(torch.bfloat16), x2, w.t())
        return y.float().view(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        x2, w = ctx.saved_tensors
        g = grad.reshape(-1, grad.shape[-1])
        gb = g.to(torch.bfloat16)
        gx = gw = gbias = None
        if ctx.needs_input_grad[0]:
            gx = (gb @ w).float().view(*grad.shape[:-1], w.shape[1])
        if ctx.needs_input_grad[1]:
            gw = _weight_grad(x2, gb)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            gbias = g.sum(0)
        return gx, gw, gbias


class _Bf16MLP(torch.autograd.Function):
    """fc -> GELU -> proj as one function, bf16 from fc's input to proj's input.

    Two `_Bf16Linear`s around an fp32 GELU would cast the (tokens, 4C) activation to fp32
    after fc, add the bias, run GELU, and cast back to bf16 for proj -- and the same
    three passes again in the backward. Here the bias rides in fc's bf16 addmm and GELU
    and its backward run on the bf16 tensor, as autocast would; only the block's input
    and output are fp32."""

    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2, approximate):
        xb = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)
        w1b, w2b = w1.to(torch.bfloat16), w2.to(torch.bfloat16)
        h = torch.addmm(b1.to(torch.bfloat16), xb, w1b.t())  # (N, 4C) pre-activation
        a = F.gelu(h, approximate=approximate)
        ctx.save_for_backward(xb, w1b, w2b, h, a)
        ctx.approximate = approximate
        y = (a @ w2b.t()).float().add_(b2)
        return y.view(*x.shape[:-1], w2.shape[0])

    @staticmethod
    def backward(ctx, grad):
        xb, w1b, w2b, h, a = ctx.saved_tensors
        g = grad.reshape(-1, grad.shape[-1])
        gb = g.to(torch.bfloat16)
        gw2 = _weight_grad(a, gb)
        gh = torch.ops.aten.gelu_backward(gb @ w2b, h, approximate=ctx.approximate)
        gw1 = _weight_grad(xb, gh)
        gx = (gh @ w1b).float().view(*grad.shape[:-1], w1b.shape[1])
        return gx, gw1, gh.sum(0, dtype=torch.float32), gw2, g.sum(0), None


def _weight_grad(x2, gb):
    """dW = g^T x for y = x W^T, made in the weight's own (out, in) layout. (An earlier
    version multiplied x^T g and transposed while casting to fp32: that strided cast cost
    more than the product's orientation saved, 0.2-1.2 ms a step in interleaved runs.)"""
    return (gb.t() @ x2).float()


# Below this many multiply-adds a product stays fp32: each bf16 oneDNN call costs ~35 us
# whatever its size (fp32: ~18 us), more than AMX saves on a small product. Measured in
# whole training steps: bf16 for every Linear vs only those above 16M vs 40M, on the
# throughput benchmark's GPT and BERT and the 60 s recipe's GPT (benchmarks/README.md).
MIN_MACS = 16_000_000


def linear(x, weight, bias=None, *, training: bool):
    """F.linear, in bf16 when training inside `bf16_matmuls()` on the CPU and the product
    is large enough to gain. Also used for the tied output layers, whose weight is the
    embedding matrix, not a Linear's."""
    if _use_bf16(x, weight, training):
        return _Bf16Linear.apply(x, weight, bias)
    return F.linear(x, weight, bias)


FUSED_MLP = True  # a switch for benchmarks/README.md's comparison


def mlp(x, fc: nn.Linear, proj: nn.Linear, approximate: str, *, training: bool):
    """proj(GELU(fc(x))): one bf16 function when `linear` would take bf16 for fc."""
    if FUSED_MLP and _use_bf16(x, fc.weight, training):
        return _Bf16MLP.apply(x, fc.weight, fc.bias, proj.weight, proj.bias, approximate)
    return proj(F.gelu(fc(x), approximate=approximate))


def _use_bf16(x, weight, training: bool) -> bool:
    return (training and _ON.get() and x.device.type == "cpu" and torch.is_grad_enabled()
            and x.numel() * weight.shape[0] >= MIN_MACS)


class Linear(nn.Linear):
    """nn.Linear that multiplies in bf16 while training inside `bf16_matmuls()`."""

    def forward(self, x):
        return linear(x, self.weight, self.bias, training=self.training)
