"""precision.py: bf16 matmuls while training on the CPU, fp32 everywhere else."""
import pytest
import torch
import torch.nn as nn

from bertgpt.config import ModelConfig
from bertgpt.models import build
from bertgpt import precision
from bertgpt.precision import Linear, bf16_matmuls, cpu_has_amx
from bertgpt.train import TrainConfig, _autocast


@pytest.fixture
def every_size(monkeypatch):
    """These tests' products are small; let them take the bf16 path anyway."""
    monkeypatch.setattr(precision, "MIN_MACS", 0)


def _pair(seed=0):
    torch.manual_seed(seed)
    ours = Linear(48, 80)
    ref = nn.Linear(48, 80)
    ref.load_state_dict(ours.state_dict())
    return ours, ref


def test_outside_the_context_it_is_exactly_nn_linear():
    ours, ref = _pair()
    x = torch.randn(3, 7, 48)
    assert torch.equal(ours(x), ref(x))
    with bf16_matmuls():  # eval mode ignores the switch: inference is always fp32
        assert torch.equal(ours.eval()(x), ref(x))
        with torch.no_grad():
            assert torch.equal(ours.train()(x), ref(x))


def test_bf16_forward_and_gradients_match_fp32_to_bf16_precision(every_size):
    ours, ref = _pair()
    x = torch.randn(4, 9, 48, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_()
    g = torch.randn(4, 9, 80)
    with bf16_matmuls():
        y = ours(x)
    y_ref = ref(x_ref)
    assert y.dtype == torch.float32 and y.shape == y_ref.shape
    assert not torch.equal(y, y_ref)  # it really multiplied in bf16
    # bf16 keeps 8 bits of mantissa: relative error of a dot product ~ 2^-8.
    assert torch.allclose(y, y_ref, rtol=0, atol=0.02 * y_ref.abs().max().item())
    y.backward(g)
    y_ref.backward(g)
    for a, b in ((x.grad, x_ref.grad), (ours.weight.grad, ref.weight.grad)):
        assert a.shape == b.shape and a.dtype == torch.float32
        assert torch.allclose(a, b, rtol=0, atol=0.02 * b.abs().max().item())
    assert torch.equal(ours.bias.grad, ref.bias.grad)  # the bias gradient stays fp32


def test_a_model_loss_in_bf16_is_close_and_trains(every_size):
    cfg = ModelConfig("gpt", vocab_size=50, n_layer=2, n_head=2, n_embd=32, block_size=16)
    torch.manual_seed(0)
    model = build(cfg).train()
    ids = torch.randint(0, 50, (4, 17))
    fp32 = model.loss(ids[:, :-1], ids[:, 1:])
    with bf16_matmuls():
        bf16 = model.loss(ids[:, :-1], ids[:, 1:])
    assert bf16.item() == pytest.approx(fp32.item(), rel=0.01)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(30):
        with bf16_matmuls():
            loss = model.loss(ids[:, :-1], ids[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < fp32.item() - 1.0


@pytest.mark.parametrize("mode, expect", [("fp32", False), ("bf16", True),
                                               ("auto", None)])
def test_the_training_loop_picks_bf16_matmuls_on_the_cpu(mode, expect, every_size):
    """"auto" takes bf16 matmuls only where the CPU has AMX (where they measured faster)."""
    expect = cpu_has_amx() if expect is None else expect
    ours, ref = _pair()
    x = torch.randn(2, 48)
    with _autocast(torch.device("cpu"), TrainConfig(precision=mode).precision):
        assert precision._ON.get() is expect
        assert torch.equal(ours(x), ref(x)) is not expect


def test_small_products_stay_fp32_large_ones_go_bf16():
    """bf16's fixed cost per call outweighs AMX's gain on a small product."""
    ours, ref = _pair()
    small = torch.randn(10, 48)               # 10 x 48 x 80 multiply-adds
    big = torch.randn(precision.MIN_MACS // (48 * 80) + 1, 48)
    with bf16_matmuls():
        assert torch.equal(ours(small), ref(small))
        assert not torch.equal(ours(big), ref(big))


@pytest.mark.parametrize("activation", ["gelu", "gelu_tanh"])
def test_the_fused_mlp_matches_the_fp32_mlp_to_bf16_precision(activation, every_size):
    """fc -> GELU -> proj as one bf16 function: same output and gradients as the fp32
    module, within bf16's rounding, for BERT's erf GELU and GPT-2's tanh GELU."""
    from bertgpt.transformer import MLP
    cfg = ModelConfig("gpt", vocab_size=50, n_layer=1, n_head=2, n_embd=32, block_size=16,
                      activation=activation)
    torch.manual_seed(0)
    mlp = MLP(cfg).train()
    x = torch.randn(3, 5, 32, requires_grad=True)
    g = torch.randn(3, 5, 32)
    ref = mlp(x)
    ref.backward(g)
    ref_grads = [t.grad.clone() for t in (x, *mlp.parameters())]
    x.grad = None
    mlp.zero_grad()
    with bf16_matmuls():
        y = mlp(x)
    assert y.grad_fn is not None and "Bf16MLP" in type(y.grad_fn).__name__
    assert y.dtype == torch.float32 and not torch.equal(y, ref)
    assert torch.allclose(y, ref, rtol=0, atol=0.02 * ref.abs().max().item())
    y.backward(g)
    for got, want in zip([t.grad for t in (x, *mlp.parameters())], ref_grads):
        assert got.dtype == torch.float32 and got.shape == want.shape
        assert torch.allclose(got, want, rtol=0, atol=0.03 * want.abs().max().item())


def test_the_fused_mlp_switch_falls_back_to_the_two_linears(every_size, monkeypatch):
    from bertgpt.transformer import MLP
    cfg = ModelConfig("bert", vocab_size=50, n_layer=1, n_head=2, n_embd=32, block_size=16)
    mlp = MLP(cfg).train()
    monkeypatch.setattr(precision, "FUSED_MLP", False)
    with bf16_matmuls():
        y = mlp(torch.randn(2, 32, requires_grad=True))
    assert "Bf16Linear" in type(y.grad_fn).__name__


@pytest.mark.parametrize("causal", [True, False])
def test_the_fused_attention_matches_the_ops_one_by_one(causal, every_size, monkeypatch):
    """qkv + flash attention as one bf16 function: the same forward as the bf16 qkv Linear
    followed by SDPA (both round the same product), and the same gradients up to the bias
    gradient's bf16 sum."""
    from bertgpt.transformer import SelfAttention
    cfg = ModelConfig("gpt", vocab_size=50, n_layer=1, n_head=4, n_embd=32, block_size=16)
    torch.manual_seed(0)
    attn = SelfAttention(cfg).train()
    x = torch.randn(3, 16, 32, requires_grad=True)
    g = torch.randn(3, 16, 32)
    results = []
    for fused in (False, True):
        monkeypatch.setattr(precision, "FUSED_ATTENTION", fused)
        x.grad = None
        attn.zero_grad()
        with bf16_matmuls():
            y, _, cache = attn(x, is_causal=causal)
        assert ("Bf16Attention" in str(y.grad_fn.next_functions)) is fused
        y.backward(g)
        results.append([y.detach()] + [t.grad for t in (x, *attn.parameters())])
    for one_by_one, fused in zip(*results):
        scale = one_by_one.abs().max().item()
        assert torch.allclose(fused, one_by_one, rtol=0, atol=0.01 * scale)
    assert torch.equal(results[0][0], results[1][0])  # the forward is the same arithmetic


def test_attention_with_a_mask_or_weights_takes_the_ops_one_by_one(every_size):
    from bertgpt.transformer import SelfAttention
    cfg = ModelConfig("bert", vocab_size=50, n_layer=1, n_head=4, n_embd=32, block_size=16)
    attn = SelfAttention(cfg).train()
    x = torch.randn(2, 8, 32, requires_grad=True)
    mask = torch.ones(2, 1, 1, 8, dtype=torch.bool)
    with bf16_matmuls():
        for kwargs in ({"mask": mask}, {"need_weights": True}):
            y, _, cache = attn(x, **kwargs)
            assert cache is not None and "Bf16Attention" not in str(y.grad_fn.next_functions)
