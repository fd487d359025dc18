"""Parity: our from-scratch models compute what transformers computes, given the same
weights. Random-init transformers models built from small configs; no network."""
import pytest
import torch

transformers = pytest.importorskip("transformers")

from bertgpt.io import hf
from bertgpt.model.config import ModelConfig
from bertgpt.model.build import build

SIZES = [dict(n_layer=1, n_head=2, n_embd=16, vocab_size=50),
         dict(n_layer=2, n_head=4, n_embd=64, vocab_size=300),
         dict(n_layer=3, n_head=3, n_embd=48, vocab_size=101, n_inner=100)]


def _batch(vocab, B=3, T=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (B, T), generator=g)
    attn = torch.ones(B, T, dtype=torch.long)
    attn[1, 8:] = 0   # right padding of different lengths
    attn[2, 5:] = 0
    seg = torch.zeros(B, T, dtype=torch.long)
    seg[:, T // 2:] = 1
    return ids, seg, attn


def _hf_bert(cfg, cls=None):
    torch.manual_seed(1)
    m = (cls or transformers.BertForPreTraining)(hf.config_to_hf(cfg)).eval()
    return m


@pytest.mark.parametrize("size", SIZES)
def test_bert_matches_transformers(size):
    cfg = ModelConfig("bert", block_size=64, **size)
    theirs = _hf_bert(cfg)
    ours, missing = hf.from_hf_model(theirs)
    assert missing == []
    ids, seg, attn = _batch(cfg.vocab_size)
    with torch.no_grad():
        ref = theirs(input_ids=ids, token_type_ids=seg, attention_mask=attn)
        out = ours(ids, seg, attn)
    real = attn.bool()
    torch.testing.assert_close(out.mlm_logits[real], ref.prediction_logits[real], atol=1e-4, rtol=0)
    torch.testing.assert_close(out.nsp_logits, ref.seq_relationship_logits, atol=1e-4, rtol=0)


def test_bert_masked_lm_leaves_nsp_fresh():
    cfg = ModelConfig("bert", block_size=32, **SIZES[1])
    theirs = _hf_bert(cfg, transformers.BertForMaskedLM)
    ours, missing = hf.from_hf_model(theirs)
    assert set(missing) == {"pooler.weight", "pooler.bias", "nsp.weight", "nsp.bias"}
    ids, seg, attn = _batch(cfg.vocab_size)
    with torch.no_grad():
        ref = theirs(input_ids=ids, token_type_ids=seg, attention_mask=attn).logits
        got = ours(ids, seg, attn).mlm_logits
    torch.testing.assert_close(got[attn.bool()], ref[attn.bool()], atol=1e-4, rtol=0)


@pytest.mark.parametrize("size", SIZES)
def test_gpt_matches_transformers(size):
    cfg = ModelConfig("gpt", block_size=64, **size)
    torch.manual_seed(2)
    theirs = transformers.GPT2LMHeadModel(hf.config_to_hf(cfg)).eval()
    ours, missing = hf.from_hf_model(theirs)
    assert missing == []
    ids, _, attn = _batch(cfg.vocab_size, T=16)
    with torch.no_grad():
        ref = theirs(input_ids=ids).logits
        torch.testing.assert_close(ours(ids).logits, ref, atol=1e-4, rtol=0)
        ref_pad = theirs(input_ids=ids, attention_mask=attn).logits
        got_pad = ours(ids, attn).logits
    real = attn.bool()
    torch.testing.assert_close(got_pad[real], ref_pad[real], atol=1e-4, rtol=0)


@pytest.mark.parametrize("arch", ["bert", "gpt"])
def test_round_trip_ours_to_theirs(arch):
    cfg = ModelConfig(arch, block_size=32, **SIZES[1])
    torch.manual_seed(3)
    ours = build(cfg).eval()
    hf_cfg = hf.config_to_hf(cfg)
    theirs = (transformers.BertForPreTraining if arch == "bert"
              else transformers.GPT2LMHeadModel)(hf_cfg).eval()
    result = theirs.load_state_dict(hf.to_hf(ours.state_dict(), cfg), strict=False)
    assert not result.unexpected_keys
    # Only non-persistent buffers may be absent from our export.
    assert all("position_ids" in k or k.endswith("attn.bias") for k in result.missing_keys)
    ids, seg, attn = _batch(cfg.vocab_size)
    with torch.no_grad():
        if arch == "bert":
            ref = theirs(input_ids=ids, token_type_ids=seg, attention_mask=attn)
            out = ours(ids, seg, attn)
            torch.testing.assert_close(out.nsp_logits, ref.seq_relationship_logits, atol=1e-4, rtol=0)
            torch.testing.assert_close(out.mlm_logits[attn.bool()],
                                       ref.prediction_logits[attn.bool()], atol=1e-4, rtol=0)
        else:
            torch.testing.assert_close(ours(ids).logits, theirs(input_ids=ids).logits,
                                       atol=1e-4, rtol=0)
    # and back again: ours -> theirs -> ours is the identity
    back = hf.from_hf(hf.to_hf(ours.state_dict(), cfg), cfg)
    for k, v in ours.state_dict().items():
        assert torch.equal(back[k], v), k


def test_config_round_trip_and_errors():
    for arch in ("bert", "gpt"):
        cfg = ModelConfig(arch, vocab_size=99, n_layer=2, n_head=2, n_embd=32, block_size=40)
        assert hf.config_from_hf(hf.config_to_hf(cfg)) == cfg.replace(
            n_inner=cfg.n_inner if arch == "gpt" else cfg.inner,
            layer_norm_eps=cfg.eps, activation=cfg.act)
    with pytest.raises(hf.CheckpointError, match="not supported"):
        hf.config_from_hf({"model_type": "llama"})
    with pytest.raises(hf.CheckpointError, match="missing weight"):
        hf.gpt_from_hf({}, ModelConfig("gpt", vocab_size=10))
