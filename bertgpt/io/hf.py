"""Weights to and from Hugging Face transformers' BERT and GPT-2.

The names differ, and so do two layouts: BERT stores Q, K and V as three Linears (we fuse
them into one), and GPT-2 stores its projections as `Conv1D`, whose weight is the
transpose of a Linear's. Everything else is a rename. Converting a random-init
transformers model and comparing logits is how the tests prove the from-scratch models
compute exactly what transformers computes; the same code loads real checkpoints.
"""
from __future__ import annotations

import torch

from ..model.config import ModelConfig
from ..errors import CheckpointError

_BERT_ACTS = {"gelu": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh"}


def config_from_hf(hf: dict | object) -> ModelConfig:
    """Our config from a transformers config (object or the dict in config.json)."""
    d = hf if isinstance(hf, dict) else hf.to_dict()
    mtype = d.get("model_type")
    if mtype == "bert":
        act = d.get("hidden_act", "gelu")
        if act not in _BERT_ACTS:
            raise CheckpointError(f"BERT activation {act!r} is not supported (gelu, gelu_new)")
        return ModelConfig("bert", d["vocab_size"], d["num_hidden_layers"],
                           d["num_attention_heads"], d["hidden_size"],
                           d["max_position_embeddings"], n_inner=d["intermediate_size"],
                           type_vocab_size=d.get("type_vocab_size", 2),
                           layer_norm_eps=d.get("layer_norm_eps", 1e-12),
                           activation=_BERT_ACTS[act], pad_token_id=d.get("pad_token_id") or 0)
    if mtype == "gpt2":
        act = d.get("activation_function", "gelu_new")
        if act not in _BERT_ACTS:
            raise CheckpointError(f"GPT-2 activation {act!r} is not supported")
        return ModelConfig("gpt", d["vocab_size"], d["n_layer"], d["n_head"], d["n_embd"],
                           d["n_positions"], n_inner=d.get("n_inner"),
                           layer_norm_eps=d.get("layer_norm_epsilon", 1e-5),
                           activation=_BERT_ACTS[act])
    raise CheckpointError(
        f"model_type {mtype!r} is not supported: bertgpt loads 'bert' and 'gpt2' checkpoints")


def config_to_hf(cfg: ModelConfig):
    """A transformers config object for our config (imports transformers lazily)."""
    import transformers
    act = {"gelu": "gelu", "gelu_tanh": "gelu_new"}[cfg.act]
    if cfg.arch == "bert":
        return transformers.BertConfig(
            vocab_size=cfg.vocab_size, hidden_size=cfg.n_embd, num_hidden_layers=cfg.n_layer,
            num_attention_heads=cfg.n_head, intermediate_size=cfg.inner, hidden_act=act,
            max_position_embeddings=cfg.block_size, type_vocab_size=cfg.type_vocab_size,
            layer_norm_eps=cfg.eps, hidden_dropout_prob=cfg.dropout,
            attention_probs_dropout_prob=cfg.dropout, pad_token_id=cfg.pad_token_id)
    return transformers.GPT2Config(
        vocab_size=cfg.vocab_size, n_positions=cfg.block_size, n_embd=cfg.n_embd,
        n_layer=cfg.n_layer, n_head=cfg.n_head, n_inner=cfg.n_inner, activation_function=act,
        layer_norm_epsilon=cfg.eps, resid_pdrop=cfg.dropout, embd_pdrop=cfg.dropout,
        attn_pdrop=cfg.dropout, bos_token_id=0, eos_token_id=0)


def _clean(sd: dict, prefix: str) -> dict:
    """Drop a model prefix if present and rename TF-era LayerNorm gamma/beta."""
    out = {}
    for k, v in sd.items():
        k = k[len(prefix):] if k.startswith(prefix) else k
        k = k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        out[k] = v
    return out


def _take(sd: dict, key: str):
    try:
        return sd[key]
    except KeyError:
        raise CheckpointError(f"checkpoint is missing weight {key!r}") from None


# our name <- their name, per BERT layer (q/k/v handled apart because they are fused)
_BERT_LAYER = {"attn.proj": "attention.output.dense", "ln1": "attention.output.LayerNorm",
               "mlp.fc": "intermediate.dense", "mlp.proj": "output.dense",
               "ln2": "output.LayerNorm"}
_BERT_TOP = {"tok_emb.weight": "embeddings.word_embeddings.weight",
             "pos_emb.weight": "embeddings.position_embeddings.weight",
             "seg_emb.weight": "embeddings.token_type_embeddings.weight",
             "emb_ln.weight": "embeddings.LayerNorm.weight",
             "emb_ln.bias": "embeddings.LayerNorm.bias"}
_BERT_HEADS = {"pooler.weight": "pooler.dense.weight", "pooler.bias": "pooler.dense.bias",
               "mlm_dense.weight": "cls.predictions.transform.dense.weight",
               "mlm_dense.bias": "cls.predictions.transform.dense.bias",
               "mlm_ln.weight": "cls.predictions.transform.LayerNorm.weight",
               "mlm_ln.bias": "cls.predictions.transform.LayerNorm.bias",
               "mlm_bias": "cls.predictions.bias",
               "nsp.weight": "cls.seq_relationship.weight",
               "nsp.bias": "cls.seq_relationship.bias"}


def bert_from_hf(sd: dict, cfg: ModelConfig) -> dict:
    """Our BERT state dict from BertForPreTraining / BertForMaskedLM / BertModel weights.
    Heads absent from the source (NSP for a MaskedLM, MLM for a BertModel) are left out;
    load with strict=False and they keep their fresh initialisation."""
    sd = _clean(sd, "bert.")
    out = {ours: _take(sd, theirs) for ours, theirs in _BERT_TOP.items()}
    for i in range(cfg.n_layer):
        p = f"encoder.layer.{i}."
        for part in ("weight", "bias"):
            out[f"blocks.{i}.attn.qkv.{part}"] = torch.cat(
                [_take(sd, f"{p}attention.self.{n}.{part}") for n in ("query", "key", "value")])
            for ours, theirs in _BERT_LAYER.items():
                out[f"blocks.{i}.{ours}.{part}"] = _take(sd, f"{p}{theirs}.{part}")
    for ours, theirs in _BERT_HEADS.items():
        if theirs in sd:
            out[ours] = sd[theirs]
    return out


def bert_to_hf(sd: dict, cfg: ModelConfig) -> dict:
    """BertForPreTraining weights from ours (MLM decoder tied to the word embeddings)."""
    out = {"bert." + theirs: sd[ours] for ours, theirs in _BERT_TOP.items()}
    C = cfg.n_embd
    for i in range(cfg.n_layer):
        p = f"bert.encoder.layer.{i}."
        for part in ("weight", "bias"):
            q, k, v = sd[f"blocks.{i}.attn.qkv.{part}"].split(C)
            for name, t in zip(("query", "key", "value"), (q, k, v)):
                out[f"{p}attention.self.{name}.{part}"] = t
            for ours, theirs in _BERT_LAYER.items():
                out[f"{p}{theirs}.{part}"] = sd[f"blocks.{i}.{ours}.{part}"]
    for ours, theirs in _BERT_HEADS.items():
        out[theirs if theirs.startswith("cls.") else "bert." + theirs] = sd[ours]
    out["cls.predictions.decoder.weight"] = sd["tok_emb.weight"]
    out["cls.predictions.decoder.bias"] = sd["mlm_bias"]
    return out


# our name <- their name, per GPT-2 layer; (transpose?) because Conv1D stores (in, out)
_GPT_LAYER = {"ln1": ("ln_1", False), "attn.qkv": ("attn.c_attn", True),
              "attn.proj": ("attn.c_proj", True), "ln2": ("ln_2", False),
              "mlp.fc": ("mlp.c_fc", True), "mlp.proj": ("mlp.c_proj", True)}


def gpt_from_hf(sd: dict, cfg: ModelConfig) -> dict:
    """Our GPT state dict from GPT2LMHeadModel / GPT2Model weights (with or without the
    'transformer.' prefix; the causal-mask buffers old checkpoints carry are ignored)."""
    sd = _clean(sd, "transformer.")
    out = {"tok_emb.weight": _take(sd, "wte.weight"), "pos_emb.weight": _take(sd, "wpe.weight"),
           "ln_f.weight": _take(sd, "ln_f.weight"), "ln_f.bias": _take(sd, "ln_f.bias")}
    for i in range(cfg.n_layer):
        for ours, (theirs, conv) in _GPT_LAYER.items():
            w = _take(sd, f"h.{i}.{theirs}.weight")
            out[f"blocks.{i}.{ours}.weight"] = w.t().contiguous() if conv else w
            out[f"blocks.{i}.{ours}.bias"] = _take(sd, f"h.{i}.{theirs}.bias")
    return out


def gpt_to_hf(sd: dict, cfg: ModelConfig) -> dict:
    """GPT2LMHeadModel weights from ours."""
    out = {"transformer.wte.weight": sd["tok_emb.weight"],
           "transformer.wpe.weight": sd["pos_emb.weight"],
           "transformer.ln_f.weight": sd["ln_f.weight"], "transformer.ln_f.bias": sd["ln_f.bias"],
           "lm_head.weight": sd["tok_emb.weight"]}
    for i in range(cfg.n_layer):
        for ours, (theirs, conv) in _GPT_LAYER.items():
            w = sd[f"blocks.{i}.{ours}.weight"]
            out[f"transformer.h.{i}.{theirs}.weight"] = w.t().contiguous() if conv else w
            out[f"transformer.h.{i}.{theirs}.bias"] = sd[f"blocks.{i}.{ours}.bias"]
    return out


def from_hf(sd: dict, cfg: ModelConfig) -> dict:
    return bert_from_hf(sd, cfg) if cfg.arch == "bert" else gpt_from_hf(sd, cfg)


def to_hf(sd: dict, cfg: ModelConfig) -> dict:
    return bert_to_hf(sd, cfg) if cfg.arch == "bert" else gpt_to_hf(sd, cfg)


def from_hf_model(hf_model):
    """Our model holding a transformers model's weights (for tests and demos)."""
    from ..model.build import build
    cfg = config_from_hf(hf_model.config)
    model = build(cfg)
    missing, _ = model.load_state_dict(from_hf(hf_model.state_dict(), cfg), strict=False)
    return model.eval(), missing
