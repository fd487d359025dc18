"""A model directory: config.json + model.safetensors + tokenizer.json + training.json.

Written to a temporary sibling and renamed into place, so an interrupted save never
leaves a half-written directory that looks like a good checkpoint.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .config import ModelConfig
from .errors import BertGptError, CheckpointError

FORMAT = "bertgpt-checkpoint/1"


@dataclass
class Loaded:
    model: torch.nn.Module
    tokenizer: object
    record: dict = field(default_factory=dict)
    path: str = ""

    @property
    def cfg(self) -> ModelConfig:
        return self.model.cfg


def save(path, model, tokenizer, record: dict | None = None) -> Path:
    from safetensors.torch import save_file
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        (tmp / "config.json").write_text(json.dumps(
            {"format": FORMAT, "model": model.cfg.to_dict(), "tokenizer_kind": tokenizer.kind},
            indent=2))
        state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"))
        tokenizer.save(tmp / "tokenizer.json")
        (tmp / "training.json").write_text(json.dumps(record or {}, indent=1, default=float))
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def load(path, device=None) -> Loaded:
    """Load a directory written by `save`; CheckpointError says what is wrong with it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .models import build
    from .tokenizer import Tokenizer
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"no model directory at {str(path)!r}; train one with "
                              "`bertgpt train` or pass a directory holding config.json")
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (path / name).is_file():
            raise CheckpointError(f"{path} is not a complete checkpoint: {name} is missing")
    try:
        meta = json.loads((path / "config.json").read_text())
        cfg = ModelConfig.from_dict(meta["model"])
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}/config.json is corrupt or not a bertgpt config ({e})") from None
    try:
        state = load_file(str(path / "model.safetensors"))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path}/model.safetensors is corrupt ({e})") from None
    model = build(cfg)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).splitlines()[0][:200]
        raise CheckpointError(f"{path}: weights do not match config.json ({first})") from None
    try:
        tokenizer = Tokenizer.load(path / "tokenizer.json")
    except BertGptError:
        raise
    except Exception as e:  # the tokenizers library raises plain Exceptions
        raise CheckpointError(f"{path}/tokenizer.json is corrupt ({e})") from None
    if tokenizer.vocab_size > cfg.vocab_size:
        raise CheckpointError(f"{path}: tokenizer has {tokenizer.vocab_size} tokens but the "
                              f"model only {cfg.vocab_size}; they do not belong together")
    record = {}
    if (path / "training.json").is_file():
        try:
            record = json.loads((path / "training.json").read_text())
        except ValueError:
            record = {}
    model.eval()
    if device is not None:
        model.to(device)
    return Loaded(model, tokenizer, record, str(path))
