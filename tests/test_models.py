"""bertgpt/model/ (bert.py, gpt.py, transformer.py, build.py): behaviour that defines each model."""
import pytest
import torch

from bertgpt.model.config import ModelConfig, PRESETS, preset
from bertgpt.errors import ConfigError
from bertgpt.model.build import build, count_params

TINY = dict(vocab_size=40, n_layer=2, n_head=2, n_embd=32, block_size=24)


def _ids(B=2, T=10, seed=0, vocab=40):
    return torch.randint(5, vocab, (B, T), generator=torch.Generator().manual_seed(seed))


def test_gpt_is_causal_and_bert_is_not():
    torch.manual_seed(0)
    gpt, bert = build(ModelConfig("gpt", **TINY)).eval(), build(ModelConfig("bert", **TINY)).eval()
    ids = _ids()
    changed = ids.clone()
    t = 6
    changed[:, t] = (ids[:, t] + 1 - 5) % 35 + 5
    with torch.no_grad():
        g0, g1 = gpt(ids).logits, gpt(changed).logits
        b0, b1 = bert(ids).mlm_logits, bert(changed).mlm_logits
    assert torch.equal(g0[:, :t], g1[:, :t])          # the past cannot see the future
    assert not torch.allclose(g0[:, t:], g1[:, t:])   # from t on, outputs change
    assert not torch.allclose(b0[:, :t], b1[:, :t])   # BERT looks both ways


def test_padding_does_not_change_bert_at_real_tokens():
    torch.manual_seed(0)
    bert = build(ModelConfig("bert", **TINY)).eval()
    ids = _ids(B=1, T=7)
    padded = torch.cat([ids, torch.zeros(1, 5, dtype=torch.long)], dim=1)
    attn = torch.cat([torch.ones(1, 7), torch.zeros(1, 5)], dim=1).long()
    with torch.no_grad():
        alone = bert(ids).mlm_logits
        with_pad = bert(padded, attention_mask=attn).mlm_logits[:, :7]
    torch.testing.assert_close(alone, with_pad, atol=1e-5, rtol=0)


@pytest.mark.parametrize("arch", ["bert", "gpt"])
def test_attention_weights_path_equals_sdpa(arch):
    torch.manual_seed(0)
    model = build(ModelConfig(arch, **TINY)).eval()
    ids = _ids()
    attn = torch.ones_like(ids)
    attn[1, 7:] = 0
    with torch.no_grad():
        a = model(ids, attention_mask=attn) if arch == "gpt" else model(ids, None, attn)
        b = (model(ids, attention_mask=attn, need_weights=True) if arch == "gpt"
             else model(ids, None, attn, need_weights=True))
    key = "logits" if arch == "gpt" else "mlm_logits"
    torch.testing.assert_close(getattr(a, key), getattr(b, key), atol=1e-5, rtol=0)
    w = b.attentions[0]
    assert w.shape == (2, 2, 10, 10)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 2, 10))
    if arch == "gpt":
        assert torch.all(w[0].triu(1) == 0)            # nothing above the diagonal
    assert torch.all(w[1, :, :7, 7:] == 0)             # nobody looks at padding


def test_gpt_kv_cache_matches_full_forward():
    torch.manual_seed(0)
    gpt = build(ModelConfig("gpt", **TINY)).eval()
    ids = _ids(B=1, T=12)
    with torch.no_grad():
        full = gpt(ids).logits
        out = gpt(ids[:, :5], use_cache=True)
        steps = [out.logits[:, -1]]
        cache = out.cache
        for t in range(5, 12):
            out = gpt(ids[:, t:t + 1], cache=cache, use_cache=True)
            cache = out.cache
            steps.append(out.logits[:, -1])
    torch.testing.assert_close(torch.stack(steps[:-1], 1), full[:, 4:11], atol=1e-5, rtol=0)


@pytest.mark.parametrize("arch", ["bert", "gpt"])
def test_tiny_model_overfits_one_batch(arch):
    torch.manual_seed(0)
    model = build(ModelConfig(arch, **TINY))
    ids = _ids(B=4, T=16)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(150):
        if arch == "gpt":
            loss = model.loss(ids[:, :-1], ids[:, 1:])
        else:
            labels = torch.full_like(ids, -100)
            labels[:, 3::4] = ids[:, 3::4]
            masked = ids.clone()
            masked[:, 3::4] = 4  # [MASK]
            nsp = torch.tensor([0, 1, 0, 1])
            loss, _ = model.pretraining_loss(masked, torch.zeros_like(ids), torch.ones_like(ids),
                                             labels, nsp)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1


def test_too_long_input_is_refused():
    gpt = build(ModelConfig("gpt", **TINY))
    with pytest.raises(ValueError, match="block_size"):
        gpt(_ids(T=30))


@pytest.mark.parametrize("name", [n for n, (_, pub, _) in PRESETS.items() if pub])
def test_parameter_counts_match_published(name):
    c = count_params(name)
    assert abs(c["relative_error"]) < 0.01, (name, c["published_total"], c["published"])
    assert sum(c["parts"].values()) == c["total"]


def test_parameter_breakdown_known_values():
    # Exact figures of the released checkpoints, counted by transformers.
    assert count_params("gpt2")["published_total"] == 124_439_808
    assert count_params("bert-base")["published_total"] == 109_482_240
    big = count_params("gpt3-175b")
    assert big["config"]["block_size"] == 2048  # not the 4096 the article says
    assert big["parts"]["mlp"] > big["parts"]["attention"] > big["parts"]["embeddings"]


def test_config_errors_are_clear():
    with pytest.raises(ConfigError, match="unknown preset 'bert-huge'.*bert-base"):
        preset("bert-huge")
    with pytest.raises(ConfigError, match="divisible"):
        ModelConfig("gpt", vocab_size=10, n_head=3, n_embd=32)
    with pytest.raises(ConfigError, match="positive"):
        ModelConfig("gpt", vocab_size=0)
    with pytest.raises(ConfigError, match="unknown config fields"):
        ModelConfig.from_dict({"arch": "gpt", "vocab_size": 5, "wings": 2})
    cfg = preset("gpt-mini")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg


def test_bert_loss_with_nothing_masked_still_backpropagates():
    model = build(ModelConfig("bert", **TINY))
    ids = _ids(B=2, T=8)
    labels = torch.full_like(ids, -100)
    loss, parts = model.pretraining_loss(ids, None, None, labels, torch.tensor([0, 1]))
    loss.backward()
    assert parts["mlm_count"] == 0 and float(parts["mlm_loss"]) == 0.0
    assert model.pooler.weight.grad.abs().sum() > 0  # NSP still trains
    loss, parts = model.pretraining_loss(ids, None, None, labels)
    loss.backward()
    assert float(loss.detach()) == 0.0
