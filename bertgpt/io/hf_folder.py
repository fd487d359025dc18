"""A model folder in transformers' layout, read into our from-scratch model.

config.json says which model (BERT or GPT-2) and its sizes; the weights come from
model.safetensors or pytorch_model.bin (or their shards) and are converted by `hf.py`;
the tokenizer from tokenizer.json, vocab.txt or vocab.json + merges.txt. `hub.py` finds
or downloads such a folder; this module only reads one. Every failure is a
CheckpointError naming what is wrong with which file.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from .checkpoint import Loaded
from ..errors import BertGptError, CheckpointError

# Tried in this order: safetensors first (no pickle, memory-friendly), then the old .bin.
WEIGHTS = ("model.safetensors", "model.safetensors.index.json",
           "pytorch_model.bin", "pytorch_model.bin.index.json")
TOKENIZERS = (("tokenizer.json",), ("vocab.txt",), ("vocab.json", "merges.txt"))
EXTRAS = ("tokenizer_config.json", "special_tokens_map.json")


def _read_config(path: Path) -> dict:
    try:
        meta = json.loads((path / "config.json").read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{path} has no config.json: a transformers model folder needs "
                              "config.json, the weights and the tokenizer files") from None
    except (ValueError, OSError) as e:
        raise CheckpointError(f"{path}/config.json is not valid JSON ({e})") from None
    mtype = meta.get("model_type") if isinstance(meta, dict) else None
    if mtype not in ("bert", "gpt2"):
        arch = ", ".join(meta.get("architectures") or []) if isinstance(meta, dict) else ""
        raise CheckpointError(
            f"{path}: model_type {mtype!r}{f' ({arch})' if arch else ''} is not supported; "
            "bertgpt's from-scratch core runs BERT ('bert') and GPT-2 ('gpt2') checkpoints")
    return meta


def _read_one(file: Path) -> dict:
    if file.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file
        try:
            return load_file(str(file))
        except (SafetensorError, OSError, ValueError, RuntimeError) as e:
            raise CheckpointError(f"{file} is corrupt ({str(e)[:160]})") from None
    try:  # weights_only: a .bin is a pickle, and this refuses anything but tensors
        sd = torch.load(str(file), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises pickle, zip and runtime errors alike
        raise CheckpointError(f"{file} is corrupt or not a weights file "
                              f"({str(e).splitlines()[0][:160]})") from None
    return sd.get("state_dict", sd) if isinstance(sd, dict) else {}


def read_weights(path: Path) -> tuple[dict, str]:
    """The state dict in `path` (the first of WEIGHTS present) and the file it came from."""
    for name in WEIGHTS:
        file = path / name
        if not file.is_file():
            continue
        if name.endswith(".index.json"):
            try:
                shards = sorted(set(json.loads(file.read_text())["weight_map"].values()))
            except (ValueError, KeyError, TypeError, AttributeError):
                raise CheckpointError(f"{file} is not a valid shard index") from None
            sd = {}
            for shard in shards:
                if not (path / shard).is_file():
                    raise CheckpointError(f"{path}: shard {shard} listed in {name} is missing")
                sd.update(_read_one(path / shard))
        else:
            sd = _read_one(file)
        return sd, name
    raise CheckpointError(f"{path} has no weights: expected model.safetensors or "
                          "pytorch_model.bin (or their sharded .index.json)")


def _fresh(name: str, shape) -> torch.Tensor:
    """A freshly initialised tensor for a head the checkpoint lacks (a BertForMaskedLM has no
    NSP head), as our models initialise: LayerNorm 1, biases 0, weights N(0, 0.02)."""
    leaf = name.rsplit(".", 1)[-1]
    is_norm = any(p.startswith("ln") or p.endswith("_ln") for p in name.split(".")[:-1])
    if is_norm and leaf == "weight":
        return torch.ones(shape)
    if leaf == "bias" or name == "mlm_bias":
        return torch.zeros(shape)
    g = torch.Generator().manual_seed(0)
    return torch.randn(shape, generator=g) * 0.02


def assemble(cfg, hf_state: dict):
    """Our model holding a transformers state dict: built on the meta device and given the
    converted tensors as they are (assign=True), so a 6 GB gpt2-xl is not allocated and
    randomly initialised first. Returns (model, names of heads left fresh)."""
    from . import hf
    from ..model.build import build
    ours = hf.from_hf(hf_state, cfg)
    # safetensors maps the file lazily; a tensor taken over as it is would keep the whole
    # mapping (every page read by the conversion) resident beside the converted copies. An
    # own copy of each lets the mapping close: measured for gpt2, 895 -> 573 MB of RSS.
    # Half-precision checkpoints become float32 here, in the same single copy.
    mapped = {id(v) for v in hf_state.values()}
    ours = {k: v.to(torch.float32, copy=id(v) in mapped) if v.is_floating_point() else v
            for k, v in ours.items()}
    with torch.device("meta"):
        model = build(cfg)
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for k, v in ours.items():
        if k in want and tuple(v.shape) != want[k]:
            raise CheckpointError(f"weight {k} has shape {list(v.shape)} but config.json "
                                  f"needs {list(want[k])}: the files do not belong together")
    missing, _ = model.load_state_dict(ours, strict=False, assign=True)
    for name in missing:
        owner, leaf = name.rsplit(".", 1) if "." in name else ("", name)
        module = model.get_submodule(owner)
        setattr(module, leaf, torch.nn.Parameter(_fresh(name, want[name])))
    for p in model.parameters():
        p.requires_grad_(False)  # inference only; a trainer may switch it back on
    return model.eval(), sorted(missing)


def tokenizer_from_folder(path: Path):
    """Our Tokenizer from transformers' files: tokenizer.json as it is; vocab.txt as BERT's
    WordPiece (lowercased unless tokenizer_config.json says do_lower_case false); vocab.json +
    merges.txt as GPT-2's byte-level BPE."""
    from tokenizers import Tokenizer as Backend
    from tokenizers import decoders, models, normalizers, pre_tokenizers, processors

    from ..text.tokenizer import ROLE_TOKENS, Tokenizer
    if (path / "tokenizer.json").is_file():
        return Tokenizer.load(path / "tokenizer.json")
    opts = {}
    if (path / "tokenizer_config.json").is_file():
        try:
            opts = json.loads((path / "tokenizer_config.json").read_text())
        except ValueError:
            raise CheckpointError(f"{path}/tokenizer_config.json is not valid JSON") from None
    try:
        if (path / "vocab.txt").is_file():
            backend = Backend(models.WordPiece.from_file(str(path / "vocab.txt"),
                                                         unk_token="[UNK]"))
            lower = bool(opts.get("do_lower_case", True))  # BertTokenizer's default
            backend.normalizer = normalizers.BertNormalizer(
                clean_text=True, handle_chinese_chars=opts.get("tokenize_chinese_chars", True),
                strip_accents=opts.get("strip_accents"), lowercase=lower)
            backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
            backend.decoder = decoders.WordPiece(prefix="##")
            specials = [t for r, t in ROLE_TOKENS.items() if r != "eos"]
        elif (path / "vocab.json").is_file() and (path / "merges.txt").is_file():
            backend = Backend(models.BPE.from_file(str(path / "vocab.json"),
                                                   str(path / "merges.txt")))
            prefix = bool(opts.get("add_prefix_space", False))
            backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=prefix)
            backend.decoder = decoders.ByteLevel()
            backend.post_processor = processors.ByteLevel(trim_offsets=False)
            specials = [ROLE_TOKENS["eos"]]
        else:
            have = "vocab.json without merges.txt" if (path / "vocab.json").is_file() else (
                "merges.txt without vocab.json" if (path / "merges.txt").is_file() else "none")
            raise CheckpointError(f"{path} has no tokenizer files ({have}): expected "
                                  "tokenizer.json, vocab.txt, or vocab.json + merges.txt")
    except BertGptError:
        raise
    except Exception as e:  # the Rust side raises bare Exceptions
        raise CheckpointError(f"{path}: the tokenizer files are corrupt "
                              f"({str(e).splitlines()[0][:160]})") from None
    # Specials must never be split or lowercased: "[MASK]" stays one token.
    backend.add_special_tokens([t for t in specials if backend.token_to_id(t) is not None])
    if backend.token_to_id("[CLS]") is not None and backend.token_to_id("[SEP]") is not None:
        backend.post_processor = processors.BertProcessing(
            ("[SEP]", backend.token_to_id("[SEP]")), ("[CLS]", backend.token_to_id("[CLS]")))
    return Tokenizer(backend)


def load_folder(path, device=None, name: str | None = None):
    """A transformers-layout folder as a checkpoint.Loaded (record says where it came from
    and which heads, if any, were missing and left freshly initialised)."""
    from .hf import config_from_hf
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"no model folder at {str(path)!r}")
    meta = _read_config(path)
    try:
        cfg = config_from_hf(meta)
    except KeyError as e:
        raise CheckpointError(f"{path}/config.json lacks {e.args[0]!r}") from None
    tokenizer = tokenizer_from_folder(path)
    if tokenizer.vocab_size > cfg.vocab_size:
        raise CheckpointError(f"{path}: the tokenizer has {tokenizer.vocab_size} tokens but the "
                              f"model only {cfg.vocab_size}; they do not belong together")
    state, weights = read_weights(path)
    model, fresh = assemble(cfg, state)
    del state
    if device is not None:
        model.to(device)
    record = {"source": "transformers", "name": name or str(path), "weights": weights,
              "model_type": meta["model_type"], "architectures": meta.get("architectures"),
              "fresh_heads": fresh}
    return Loaded(model, tokenizer, record, str(path))
