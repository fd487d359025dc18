"""bf16 matrix multiplies for training on CPUs with AMX, everything else in fp32.

Why not plain `torch.autocast("cpu")`? On the 2-core Xeon this project measures on,
autocast made a training step *slower* (benchmarks/README.md): it also runs attention,
GELU and LayerNorm in bf16, and their CPU kernels are slower in bf16 than in fp32
(flash-attention's backward by about 10x). The matmuls are the only part AMX speeds up
(about 3x at width 128), so these autograd functions send just those through bf16:

* `Linear` computes `x @ W.T` with bf16 inputs (fp32 weights stay the master copy; the
  optimizer never sees bf16) and hands fp32 on to the next op; its backward computes both
  gradients in bf16 too;
* `MLP` (fc, GELU, proj) stays in bf16 from fc's input to proj's output, so its wide
  (tokens, 4C) activation is never cast back and forth;
* `Attention` is the qkv projection and flash attention in one function, with the q/k/v
  gradients written straight into one bf16 tensor.

The fast training path (fastpath.py) decides where they are used; the model never does.

Three of the ops used here are private to PyTorch (`torch._C._cpu._init_amx`, the CPU
flash-attention kernels and `aten.gelu_backward`): `available()` says which exist, and
the fast path uses them only on the torch releases in `TESTED_TORCH`.
"""
from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

# The torch releases (major, minor) these functions were tested on. Outside them the fast
# path keeps to public ops (fastpath.choose), whatever the private ones do there.
TESTED_TORCH = {(2, 13)}

_FLASH = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
_FLASH_BACKWARD = getattr(torch.ops.aten,
                          "_scaled_dot_product_flash_attention_for_cpu_backward", None)
_GELU_BACKWARD = getattr(torch.ops.aten, "gelu_backward", None)


def torch_tested(version: str | None = None) -> bool:
    """True if this torch (or the `version` given) is a release in TESTED_TORCH."""
    version = torch.__version__ if version is None else version
    major, minor = (int(p) for p in version.split("+")[0].split(".")[:2])
    return (major, minor) in TESTED_TORCH


def available() -> dict:
    """Which fused functions can run on this torch: {"mlp": bool, "attention": bool}."""
    tested = torch_tested()
    return {"mlp": tested and _GELU_BACKWARD is not None,
            "attention": tested and _FLASH is not None and _FLASH_BACKWARD is not None}


@functools.cache
def cpu_has_amx() -> bool:
    """True on CPUs with AMX tiles (Sapphire Rapids and later), where bf16 matmuls pay."""
    init = getattr(getattr(torch._C, "_cpu", None), "_init_amx", None)
    try:
        return bool(init and init())
    except RuntimeError:  # pragma: no cover - a build without the probe
        return False


class Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        x2 = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)
        w = weight.to(torch.bfloat16)
        ctx.save_for_backward(x2, w)  # bf16 activations: half the memory, too
        ctx.has_bias = bias is not None
        # The product (bias included) back to fp32 for the next op.
        return _affine(x2, w, bias).float().view(*x.shape[:-1], weight.shape[0])

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


class MLP(torch.autograd.Function):
    """fc -> GELU -> proj as one function, bf16 from fc's input to proj's input.

    Two bf16 `Linear`s around an fp32 GELU would cast the (tokens, 4C) activation to fp32
    after fc, add the bias, run GELU, and cast back to bf16 for proj -- and the same
    three passes again in the backward. Here the bias rides in fc's bf16 addmm and GELU
    and its backward run on the bf16 tensor, as autocast would; only the block's input
    and output are fp32."""

    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2, approximate):
        xb = x.reshape(-1, x.shape[-1]).to(torch.bfloat16)
        w1b, w2b = w1.to(torch.bfloat16), w2.to(torch.bfloat16)
        h = _affine(xb, w1b, b1)  # (N, 4C) pre-activation
        a = F.gelu(h, approximate=approximate)
        ctx.save_for_backward(xb, w1b, w2b, h, a)
        ctx.approximate = approximate
        y = _affine(a, w2b, b2).float()
        return y.view(*x.shape[:-1], w2.shape[0])

    @staticmethod
    def backward(ctx, grad):
        xb, w1b, w2b, h, a = ctx.saved_tensors
        g = grad.reshape(-1, grad.shape[-1])
        gb = g.to(torch.bfloat16)
        gw2 = _weight_grad(a, gb)
        gh = _GELU_BACKWARD(gb @ w2b, h, approximate=ctx.approximate)
        gx, gw1, gb1 = _bf16_grads(gh, xb, w1b)
        return gx.view(*grad.shape[:-1], w1b.shape[1]), gw1, gb1, gw2, g.sum(0), None


class Attention(torch.autograd.Function):
    """The qkv Linear (bf16) and flash attention (fp32) as one function: (B, T, C) in,
    the heads' outputs merged back to (B, T, C) out, ready for the output projection.

    As separate ops, autograd records a split, three views and three transposes, and its
    backward concatenates the three gradients in fp32 before the Linear casts them to
    bf16. Here the backward writes them straight into one bf16 tensor. Flash attention
    stays fp32: its bf16 backward is ~10x slower on this CPU."""

    @staticmethod
    def forward(ctx, x, weight, bias, n_head, causal):
        B, T, C = x.shape
        xb = x.reshape(-1, C).to(torch.bfloat16)
        wb = weight.to(torch.bfloat16)
        qkv = _affine(xb, wb, bias).float()
        # (B*T, 3C) -> three (B, H, T, D) views, the layout scaled_dot_product_attention uses
        q, k, v = qkv.view(B, T, 3, n_head, C // n_head).permute(2, 0, 3, 1, 4).unbind(0)
        out, lse = _FLASH(q, k, v, 0.0, causal)
        ctx.save_for_backward(xb, wb, q, k, v, out, lse)
        ctx.causal = causal
        return out.transpose(1, 2).reshape(B, T, C)

    @staticmethod
    def backward(ctx, grad):
        xb, wb, q, k, v, out, lse = ctx.saved_tensors
        B, H, T, D = q.shape
        gq, gk, gv = _FLASH_BACKWARD(grad.reshape(B, T, H, D).transpose(1, 2), q, k, v, out,
                                     lse, 0.0, ctx.causal)
        g = torch.empty(B, T, 3, H, D, dtype=torch.bfloat16)
        for i, part in enumerate((gq, gk, gv)):
            g[:, :, i].copy_(part.transpose(1, 2))  # cast and re-layout in one pass
        gx, gw, gbias = _bf16_grads(g.view(B * T, 3 * H * D), xb, wb)
        return gx.view(B, T, H * D), gw, gbias, None, None


def _affine(x2, w, bias):
    """x2 @ w.T (+ bias) for bf16 x2 and w. The bias rides in the product (oneDNN adds it
    to the fp32 accumulator): a separate `bf16 product + fp32 bias` is a slow mixed-dtype
    path, ~6x a plain add here."""
    if bias is None:
        return x2 @ w.t()
    return torch.addmm(bias.to(torch.bfloat16), x2, w.t())


def _bf16_grads(gb, x2, w):
    """(dx fp32, dW, dbias) of y = x2 @ w.T + bias from a bf16 output gradient. The bias
    gradient is summed in bf16 (fp32 accumulators inside, like the products'):
    `sum(dtype=float32)` would first copy the whole gradient to fp32."""
    return (gb @ w).float(), _weight_grad(x2, gb), gb.sum(0).float()


def _weight_grad(x2, gb):
    """dW = g^T x for y = x W^T, made in the weight's own (out, in) layout. (x^T g,
    transposed while casting to fp32, measured slower: that strided cast cost more than
    the product's orientation saved, 0.2-1.2 ms a step in interleaved runs.)"""
    return (gb.t() @ x2).float()
