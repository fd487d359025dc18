"""Build either model from a config, and count parameters without allocating them."""
from __future__ import annotations

import torch

from .bert import BERT
from .config import ModelConfig, PRESETS, preset
from .gpt import GPT


def build(cfg: ModelConfig, device=None):
    model = BERT(cfg) if cfg.arch == "bert" else GPT(cfg)
    return model if device is None else model.to(device)


def _part(name: str) -> str:
    """Which part of the model a parameter belongs to, for the breakdown chart."""
    if name.startswith(("tok_emb", "pos_emb", "seg_emb", "emb_ln")):
        return "embeddings"
    if ".attn." in name:
        return "attention"
    if ".mlp." in name:
        return "mlp"
    if ".ln" in name or name.startswith("ln_f"):
        return "layernorm"
    if name.startswith("pooler"):
        return "pooler"
    return "pretraining heads"  # MLM transform + bias, NSP


def count_params(cfg_or_name: ModelConfig | str) -> dict:
    """Parameters by part, counted on the meta device: GPT-3 175B costs no memory.

    Tied weights (GPT's LM head, BERT's MLM decoder) are the embedding matrix itself, so
    they are counted once, as the published figures do. `published_total` follows the
    convention of the papers: BERT with its pooler but without pre-training heads.
    """
    cfg = preset(cfg_or_name) if isinstance(cfg_or_name, str) else cfg_or_name
    with torch.device("meta"):
        model = build(cfg)
    parts: dict[str, int] = {}
    for name, p in model.named_parameters():  # named_parameters skips tied duplicates
        parts[_part(name)] = parts.get(_part(name), 0) + p.numel()
    total = sum(parts.values())
    published_total = total - parts.get("pretraining heads", 0)
    out = {"arch": cfg.arch, "parts": parts, "total": total, "published_total": published_total,
           "config": cfg.to_dict()}
    if isinstance(cfg_or_name, str):
        _, published, source = PRESETS[cfg_or_name]
        out.update(preset=cfg_or_name, published=published, source=source)
        if published:
            out["relative_error"] = (published_total - published) / published
    return out
