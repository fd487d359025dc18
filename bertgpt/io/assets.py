"""Things every user gets without training: the bundled minis and world-corpus tokenizers.

Loaded once per process and shared read-only (the app never trains these in place:
a session's own models are separate objects in its own state).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "assets"
MODELS = ROOT / "models"
BUNDLED = {"bert": "bert-mini", "gpt": "gpt-mini"}


def bundled_path(arch: str) -> Path:
    return MODELS / BUNDLED[arch]


@lru_cache(maxsize=None)
def bundled(arch: str):
    """The bundled mini for 'bert' or 'gpt' as a checkpoint.Loaded, or None if absent."""
    from .checkpoint import load
    path = bundled_path(arch)
    if not (path / "model.safetensors").is_file():
        return None
    loaded = load(path)
    for p in loaded.model.parameters():
        p.requires_grad_(False)
    return loaded


@lru_cache(maxsize=8)
def world_tokenizer(kind: str, vocab_size: int = 2000, seed: int = 0):
    """A tokenizer trained on the world corpus: the bundled model's own when it matches
    (so ids agree with the model), otherwise trained here in about a second."""
    from ..text.corpus import generate_world
    from ..text.tokenizer import train_tokenizer
    arch = {"wordpiece": "bert", "bpe": "gpt"}.get(kind)
    if arch and vocab_size == 2000 and seed == 0:
        loaded = bundled(arch)
        if loaded is not None and loaded.tokenizer.kind == kind:
            return loaded.tokenizer
    return train_tokenizer(kind, generate_world(seed=seed, size=300_000), vocab_size)
