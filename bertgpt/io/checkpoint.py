"""A model directory: config.json + model.safetensors + tokenizer.json + training.json.

Written to a temporary sibling and renamed into place, so an interrupted save never
leaves a half-written directory that looks like a good checkpoint.
"""
from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..model.config import ModelConfig
from ..errors import BertGptError, CheckpointError

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


# What a checkpoint directory may hold. `save` replaces a directory only when it holds
# nothing else, so `--out .` or `--out my_project` can never delete a user's files.
FILES = ("config.json", "model.safetensors", "tokenizer.json", "training.json")


def check_target(path) -> Path:
    """Raise CheckpointError unless `path` is free or an (even corrupt) checkpoint that
    `save` may replace. The CLI calls this before training, so a bad --out fails fast."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CheckpointError(f"{path} is a file, not a model directory; "
                              "choose a new directory name")
    if path.is_dir():
        others = sorted(p.name for p in path.iterdir() if p.name not in FILES)
        if others:
            raise CheckpointError(
                f"{path} already exists and holds other files ({', '.join(others[:3])}"
                f"{', ...' if len(others) > 3 else ''}); refusing to overwrite it: choose a new "
                "or empty directory")
    return path


def save(path, model, tokenizer, record: dict | None = None) -> Path:
    from safetensors.torch import save_file
    path = check_target(path)
    full = path.resolve()  # "." or "runs/" have no usable .name for the temporary siblings
    full.parent.mkdir(parents=True, exist_ok=True)
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    # os.mkdir honours the umask; tempfile.mkdtemp would leave the checkpoint 0700, which
    # another user (a Space's server, a classmate) cannot read.
    tmp, old = full.parent / f".{full.name}.partial-{tag}", None
    tmp.mkdir()
    try:
        (tmp / "config.json").write_text(json.dumps(
            {"format": FORMAT, "model": model.cfg.to_dict(), "tokenizer_kind": tokenizer.kind},
            indent=2))
        state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"))
        # safetensors writes 0600; give the weights the same mode as the other files.
        os.chmod(tmp / "model.safetensors", (tmp / "config.json").stat().st_mode & 0o777)
        tokenizer.save(tmp / "tokenizer.json")
        (tmp / "training.json").write_text(json.dumps(record or {}, indent=1, default=float))
        if full.exists():
            # Move the old checkpoint aside (atomic) rather than deleting it first: an
            # interruption now still leaves a good checkpoint at `path`, old or new.
            old = full.parent / f".{full.name}.old-{tag}"
            os.replace(full, old)
        os.replace(tmp, full)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not full.exists():
            os.replace(old, full)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return path


def _check_shapes(path, cfg: ModelConfig) -> None:
    """Compare the weights file's names and shapes with the model config.json describes,
    on the meta device: a mismatch is named precisely, and a corrupt config asking for a
    huge model costs no memory."""
    from safetensors import safe_open

    from ..model.build import build
    with torch.device("meta"):
        want = {k: tuple(v.shape) for k, v in build(cfg).state_dict().items()}
    with safe_open(str(path / "model.safetensors"), "pt") as f:
        have = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    missing, extra = sorted(set(want) - set(have)), sorted(set(have) - set(want))
    wrong = [k for k in want if k in have and want[k] != have[k]]
    if wrong:
        k = wrong[0]
        raise CheckpointError(f"{path}: weights do not match config.json: {k} has shape "
                              f"{list(have[k])} but the config needs {list(want[k])}")
    if missing or extra:
        what = f"missing {missing[0]}" if missing else f"unexpected {extra[0]}"
        raise CheckpointError(f"{path}: weights do not match config.json ({what}"
                              f"{' and others' if len(missing) + len(extra) > 1 else ''})")


def load(path, device=None) -> Loaded:
    """Load a directory written by `save`; CheckpointError says what is wrong with it.
    (`bertgpt.load` also takes Hub ids and transformers-layout folders, through hub.py.)"""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from ..model.build import build
    from ..text.tokenizer import Tokenizer
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"no model directory at {str(path)!r}; train one with "
                              "`bertgpt train` or pass a directory holding config.json")
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (path / name).is_file():
            raise CheckpointError(f"{path} is not a complete checkpoint: {name} is missing")
    try:
        meta = json.loads((path / "config.json").read_text())
        if not isinstance(meta, dict) or not isinstance(meta.get("model"), dict):
            raise ValueError("it has no 'model' settings")
        cfg = ModelConfig.from_dict(meta["model"])
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path}/config.json is corrupt or not a bertgpt config ({e})") from None
    try:
        _check_shapes(path, cfg)
        state = load_file(str(path / "model.safetensors"))
    except CheckpointError:  # a ValueError too: let _check_shapes' own message through
        raise
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
