"""fastpath.py and bf16.py: the training side's fast CPU path computes the plain model's
loss and gradients, from the same parameters (exactly in fp32, to bf16's rounding in bf16)."""
import dataclasses

import pytest
import torch
import torch.nn as nn

from bertgpt.pretrain import bf16, fastpath, loop as train
from bertgpt.model.config import ModelConfig
from bertgpt.pretrain.fastpath import FastLoss, Options
from bertgpt.model.build import build

TINY = dict(vocab_size=40, n_layer=2, n_head=2, n_embd=32, block_size=24)
FP32 = Options(bf16=False)
BF16 = Options(bf16=True, min_macs=0)  # these products are small: send them all to bf16


def _ids(B=2, T=10, seed=0, vocab=40):
    return torch.randint(5, vocab, (B, T), generator=torch.Generator().manual_seed(seed))


def _bert_batch():
    ids = _ids(B=3, T=12)
    seg = torch.zeros_like(ids)
    seg[:, 6:] = 1
    attn = torch.ones_like(ids)
    attn[2, 9:] = 0  # one padded sequence, so the masked (non-flash) path runs too
    labels = torch.full_like(ids, -100)
    labels[0, 2], labels[1, 5], labels[1, 11], labels[2, 0] = 7, 8, 9, 10
    return ids, seg, attn, labels, torch.tensor([0, 1, 1])


def _loss_and_grads(model, fn):
    model.zero_grad()
    loss = fn()
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                           if p.grad is not None}


def _assert_same(a, b, tol):
    (loss_a, g_a), (loss_b, g_b) = a, b
    assert torch.allclose(loss_a, loss_b, atol=tol), (loss_a, loss_b)
    assert g_a.keys() == g_b.keys()
    for name in g_a:
        scale = g_a[name].abs().max()
        assert torch.allclose(g_a[name], g_b[name], atol=tol * scale), name


@pytest.mark.parametrize("options, tol", [(FP32, 1e-6), (BF16, 2e-2)])
def test_bert_fast_loss_equals_the_plain_model(options, tol):
    """The last layer's position-wise half runs only at the masked positions and each
    [CLS]; loss and every gradient equal the plain model's full computation."""
    torch.manual_seed(0)
    model = build(ModelConfig("bert", **TINY)).train()
    batch = _bert_batch()
    plain = _loss_and_grads(model, lambda: model.pretraining_loss(*batch)[0])
    fast = FastLoss(model, options)
    _assert_same(plain, _loss_and_grads(model, lambda: fast.pretraining_loss(*batch)[0]), tol)
    _, parts = model.pretraining_loss(*batch)
    _, fast_parts = fast.pretraining_loss(*batch)
    assert parts.keys() == fast_parts.keys()
    assert parts["mlm_count"] == fast_parts["mlm_count"] == 4


def test_bert_fast_loss_reads_only_the_selected_rows(monkeypatch):
    """The last layer's MLP sees 4 masked rows + 3 [CLS] rows, not 36 positions; with
    rows_only off it sees every position."""
    model = build(ModelConfig("bert", **TINY)).train()
    seen, mlp = [], FastLoss.mlp
    monkeypatch.setattr(FastLoss, "mlp", lambda self, m, x: seen.append(x.shape) or mlp(self, m, x))
    for rows_only in (True, False):
        seen.clear()
        FastLoss(model, Options(rows_only=rows_only)).pretraining_loss(*_bert_batch())
        last = seen[-1]
        assert last == ((7, 32) if rows_only else (3, 12, 32))


@pytest.mark.parametrize("pre_ln", [False, True])
def test_a_block_at_some_rows_is_the_full_block_at_those_rows(pre_ln):
    """For BERT's post-LN order and GPT's pre-LN order alike, in the order asked."""
    from bertgpt.model.transformer import Block
    torch.manual_seed(0)
    block = Block(ModelConfig("gpt" if pre_ln else "bert", **TINY), pre_ln=pre_ln).eval()
    x = torch.randn(2, 10, 32)
    rows = torch.tensor([13, 0, 7, 19, 7])  # unsorted, repeated, both sequences
    full, _, _ = block(x, is_causal=pre_ln)
    part = FastLoss(build(ModelConfig("bert", **TINY)), FP32).block(block, x, causal=pre_ln,
                                                                   rows=rows)
    assert part.shape == (5, 32)
    assert torch.allclose(part, full.reshape(-1, 32)[rows], atol=1e-6)


@pytest.mark.parametrize("options, tol", [(FP32, 1e-6), (BF16, 2e-2)])
def test_gpt_fast_loss_equals_the_plain_model(options, tol):
    torch.manual_seed(0)
    model = build(ModelConfig("gpt", **TINY)).train()
    ids = _ids(B=3, T=13)
    plain = _loss_and_grads(model, lambda: model.loss(ids[:, :-1], ids[:, 1:]))
    fast = FastLoss(model, options)
    _assert_same(plain, _loss_and_grads(model, lambda: fast.loss(ids[:, :-1], ids[:, 1:])), tol)


def test_in_eval_mode_and_without_gradients_it_is_fp32():
    """bf16 is for training: validation and no_grad run the exact fp32 arithmetic."""
    torch.manual_seed(0)
    model = build(ModelConfig("gpt", **TINY))
    ids = _ids(B=2, T=11)
    fast = FastLoss(model, BF16)
    with torch.no_grad():
        model.eval()
        assert torch.allclose(fast.loss(ids[:, :-1], ids[:, 1:]),
                              model.loss(ids[:, :-1], ids[:, 1:]), atol=1e-6)
        model.train()
        assert torch.allclose(fast.loss(ids[:, :-1], ids[:, 1:]),
                              model.loss(ids[:, :-1], ids[:, 1:]), atol=1e-6)


def test_the_bf16_linear_matches_fp32_to_bf16_precision():
    torch.manual_seed(0)
    ref = nn.Linear(48, 80)
    x = torch.randn(4, 9, 48, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    w = ref.weight.detach().clone().requires_grad_()
    b = ref.bias.detach().clone().requires_grad_()
    g = torch.randn(4, 9, 80)
    y, y_ref = bf16.Linear.apply(x, w, b), ref(x_ref)
    assert y.dtype == torch.float32 and y.shape == y_ref.shape
    assert not torch.equal(y, y_ref)  # it really multiplied in bf16
    # bf16 keeps 8 bits of mantissa: relative error of a dot product ~ 2^-8.
    assert torch.allclose(y, y_ref, rtol=0, atol=0.02 * y_ref.abs().max().item())
    y.backward(g)
    y_ref.backward(g)
    for a, want in ((x.grad, x_ref.grad), (w.grad, ref.weight.grad)):
        assert a.shape == want.shape and a.dtype == torch.float32
        assert torch.allclose(a, want, rtol=0, atol=0.02 * want.abs().max().item())
    assert torch.equal(b.grad, ref.bias.grad)  # the bias gradient stays fp32


def test_small_products_stay_fp32_large_ones_go_bf16():
    """bf16's fixed cost per call outweighs AMX's gain on a small product."""
    model = build(ModelConfig("gpt", **TINY)).train()
    fast = FastLoss(model, Options(bf16=True))
    w = torch.randn(80, 48)
    small = torch.randn(10, 48)  # 10 x 48 x 80 multiply-adds
    big = torch.randn(Options().min_macs // (48 * 80) + 1, 48)
    assert torch.equal(fast.linear(small, w), small @ w.t())
    assert not torch.equal(fast.linear(big, w), big @ w.t())


@pytest.mark.parametrize("activation", ["gelu", "gelu_tanh"])
def test_the_fused_mlp_matches_the_fp32_mlp_to_bf16_precision(activation):
    """fc -> GELU -> proj as one bf16 function: the plain module's output and gradients,
    within bf16's rounding, for BERT's erf GELU and GPT-2's tanh GELU."""
    from bertgpt.model.transformer import MLP
    cfg = ModelConfig("gpt", **TINY, activation=activation)
    torch.manual_seed(0)
    mlp = MLP(cfg).train()
    fast = FastLoss(build(ModelConfig("gpt", **TINY)).train(), BF16)
    x = torch.randn(3, 5, 32, requires_grad=True)
    g = torch.randn(3, 5, 32)
    ref = mlp(x)
    ref.backward(g)
    ref_grads = [t.grad.clone() for t in (x, *mlp.parameters())]
    x.grad = None
    mlp.zero_grad()
    y = fast.mlp(mlp, x)
    assert "MLPBackward" in type(y.grad_fn).__name__
    assert y.dtype == torch.float32 and not torch.equal(y, ref)
    assert torch.allclose(y, ref, rtol=0, atol=0.02 * ref.abs().max().item())
    y.backward(g)
    for got, want in zip([t.grad for t in (x, *mlp.parameters())], ref_grads):
        assert got.dtype == torch.float32 and got.shape == want.shape
        assert torch.allclose(got, want, rtol=0, atol=0.03 * want.abs().max().item())


def test_without_the_fused_mlp_it_takes_two_bf16_linears():
    from bertgpt.model.transformer import MLP
    mlp = MLP(ModelConfig("bert", **TINY)).train()
    fast = FastLoss(build(ModelConfig("bert", **TINY)).train(),
                    dataclasses.replace(BF16, fused_mlp=False))
    y = fast.mlp(mlp, torch.randn(2, 32, requires_grad=True))
    assert type(y.grad_fn).__name__ == "LinearBackward"


@pytest.mark.parametrize("causal", [True, False])
def test_the_fused_attention_matches_the_ops_one_by_one(causal):
    """qkv + flash attention as one bf16 function: the same forward as the bf16 qkv Linear
    followed by SDPA (both round the same product), and the same gradients up to the bias
    gradient's bf16 sum."""
    from bertgpt.model.transformer import SelfAttention
    cfg = ModelConfig("gpt", vocab_size=50, n_layer=1, n_head=4, n_embd=32, block_size=16)
    torch.manual_seed(0)
    attn = SelfAttention(cfg).train()
    model = build(cfg).train()
    x = torch.randn(3, 16, 32, requires_grad=True)
    g = torch.randn(3, 16, 32)
    results = []
    for fused in (False, True):
        fast = FastLoss(model, dataclasses.replace(BF16, fused_attention=fused))
        x.grad = None
        attn.zero_grad()
        y = fast.attention(attn, x, None, causal)
        assert ("AttentionBackward" in str(y.grad_fn.next_functions)) is fused
        y.backward(g)
        results.append([y.detach()] + [t.grad for t in (x, *attn.parameters())])
    for one_by_one, fused in zip(*results):
        scale = one_by_one.abs().max().item()
        assert torch.allclose(fused, one_by_one, rtol=0, atol=0.01 * scale)
    assert torch.equal(results[0][0], results[1][0])  # the forward is the same arithmetic


def test_attention_with_a_mask_takes_the_ops_one_by_one():
    from bertgpt.model.transformer import SelfAttention
    cfg = ModelConfig("bert", vocab_size=50, n_layer=1, n_head=4, n_embd=32, block_size=16)
    attn = SelfAttention(cfg).train()
    fast = FastLoss(build(cfg).train(), BF16)
    mask = torch.ones(2, 1, 1, 8, dtype=torch.bool)
    y = fast.attention(attn, torch.randn(2, 8, 32, requires_grad=True), mask, False)
    assert "AttentionBackward" not in str(y.grad_fn.next_functions)


def test_a_bf16_gpt_trains():
    torch.manual_seed(0)
    model = build(ModelConfig("gpt", vocab_size=50, n_layer=2, n_head=2, n_embd=32,
                              block_size=16)).train()
    ids = torch.randint(0, 50, (4, 17))
    fast = FastLoss(model, BF16)
    first = model.loss(ids[:, :-1], ids[:, 1:]).item()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(30):
        loss = fast.loss(ids[:, :-1], ids[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first - 1.0


@pytest.mark.parametrize("precision, expect", [("fp32", False), ("bf16", True),
                                               ("auto", None)])
def test_choose_takes_bf16_where_asked_or_where_the_cpu_has_amx(precision, expect):
    expect = bf16.cpu_has_amx() if expect is None else expect
    model = build(ModelConfig("gpt", **TINY))
    assert fastpath.choose(model, torch.device("cpu"), precision).bf16 is expect


def test_choose_leaves_gpus_compiled_models_and_dropout_to_the_plain_model():
    model = build(ModelConfig("gpt", **TINY))
    assert fastpath.choose(model, torch.device("cuda"), "auto") is None
    assert fastpath.choose(model, torch.device("cpu"), "auto", compiled=True) is None
    dropped = build(ModelConfig("gpt", **TINY, dropout=0.1))
    assert fastpath.choose(dropped, torch.device("cpu"), "auto") is None
    assert fastpath.for_training(model, None) is model


def test_private_ops_are_used_only_on_tested_torch_releases():
    assert bf16.torch_tested("2.13.0+cpu") and bf16.torch_tested("2.13.1")
    assert not bf16.torch_tested("2.14.0") and not bf16.torch_tested("2.4.1")


def test_where_the_private_ops_are_missing_it_falls_back_to_public_ones(monkeypatch):
    """No flash-attention kernels or gelu_backward (or an untested torch): the fused
    functions are off and the fast path still gives the plain model's loss and gradients."""
    monkeypatch.setattr(bf16, "_FLASH_BACKWARD", None)
    monkeypatch.setattr(bf16, "_GELU_BACKWARD", None)
    assert bf16.available() == {"mlp": False, "attention": False}
    model = build(ModelConfig("bert", **TINY)).train()
    options = fastpath.choose(model, torch.device("cpu"), "bf16")
    assert options.bf16 and not options.fused_mlp and not options.fused_attention
    options = dataclasses.replace(options, min_macs=0)
    batch = _bert_batch()
    plain = _loss_and_grads(model, lambda: model.pretraining_loss(*batch)[0])
    fast = FastLoss(model, options)
    _assert_same(plain, _loss_and_grads(model, lambda: fast.pretraining_loss(*batch)[0]), 2e-2)
    monkeypatch.setattr(torch, "__version__", "2.99.0")
    monkeypatch.setattr(bf16, "_FLASH_BACKWARD", object())
    monkeypatch.setattr(bf16, "_GELU_BACKWARD", object())
    assert bf16.available() == {"mlp": False, "attention": False}


@pytest.mark.parametrize("arch", ["bert", "gpt"])
def test_the_training_loop_on_the_fast_path_trains_as_the_plain_model(arch, monkeypatch):
    """The same seeded fp32 run, with the fast path and with the plain model: the same
    losses step by step (the fast path changes the arithmetic's shape, not its result)."""
    from bertgpt.text.corpus import generate_world
    text = generate_world(seed=0, size=6_000)
    cfg = train.TrainConfig(steps=6, batch_size=4, eval_every=3, precision="fp32",
                            device="cpu", warmup=2)
    small = {"n_layer": 2, "n_head": 2, "n_embd": 32, "block_size": 32}
    runs = []
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(fastpath, "choose", lambda *a, **k: None)
        events = list(train.train(arch, text, vocab_size=300, model=small, cfg=cfg))
        runs.append([e["loss"] for e in events if e["type"] == "step"]
                    + [e["val_loss"] for e in events if e["type"] == "eval"])
    assert len(runs[0]) == 6 + 2
    assert runs[0] == pytest.approx(runs[1], rel=1e-4)
