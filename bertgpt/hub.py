"""Real checkpoints in the from-scratch models: bert-base-uncased, gpt2 and their siblings.

`load(name_or_path)` takes a Hub id ("gpt2", "google-bert/bert-base-uncased") or a local
folder in transformers' layout (config.json, model.safetensors or pytorch_model.bin,
tokenizer.json or vocab.txt or vocab.json + merges.txt), builds our config from theirs,
converts the weights with `hf.py` and reads the tokenizer with `tokenizers`. The Hub is
reached only through `huggingface_hub` and its cache: a cached model loads with no network,
and HF_HUB_OFFLINE=1 is respected. Every failure is a CheckpointError naming what is
missing (a file, the network, a supported architecture), never a stack trace.

`shared(name)` is the app's server-wide cache: at most BERTGPT_REAL_MODELS (default 2)
real models in memory, least recently used dropped first, because gpt2-xl alone is 6 GB.
"""
from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections import OrderedDict
from pathlib import Path
from urllib.parse import urlparse

import torch

from .errors import BertGptError, CheckpointError

# The real checkpoints the app offers: name -> (arch, parameters, download size of the
# weights file on the Hub, rounded). Any other bert/gpt2 Hub id loads through `load` too.
REAL = {
    "bert-base-uncased": ("bert", "110M", "440 MB"),
    "bert-large-uncased": ("bert", "335M", "1.3 GB"),
    "gpt2": ("gpt", "124M", "550 MB"),
    "gpt2-medium": ("gpt", "355M", "1.5 GB"),
    "gpt2-large": ("gpt", "774M", "3.3 GB"),
    "gpt2-xl": ("gpt", "1.5B", "6.4 GB"),
}
DEFAULT_REAL = {"bert": "bert-base-uncased", "gpt": "gpt2"}  # what source "real" means
# Tried in this order: safetensors first (no pickle, memory-friendly), then the old .bin.
WEIGHTS = ("model.safetensors", "model.safetensors.index.json",
           "pytorch_model.bin", "pytorch_model.bin.index.json")
TOKENIZERS = (("tokenizer.json",), ("vocab.txt",), ("vocab.json", "merges.txt"))
EXTRAS = ("tokenizer_config.json", "special_tokens_map.json")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


# ------------------------------------------------------------------- what a source is
def is_hub_id(source) -> bool:
    """A string shaped like a Hub id ("gpt2", "org/name") that is not a path on disk."""
    return (isinstance(source, str) and bool(_HUB_ID.match(source)) and ".." not in source
            and not os.path.exists(source))


def is_transformers_folder(path) -> bool:
    """A folder whose config.json is transformers' (it has a model_type; ours has 'format')."""
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return False
    try:
        meta = json.loads(cfg.read_text())
    except (ValueError, OSError):
        return False
    return isinstance(meta, dict) and "model_type" in meta and "format" not in meta


def handles(source) -> bool:
    """True when `checkpoint.load` should hand `source` to this module."""
    return is_hub_id(source) or (Path(source).is_dir() and is_transformers_folder(source))


# ------------------------------------------------------------------- the Hub and its cache
def offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE), read now: huggingface_hub reads it once
    at import, and a test or a server may set it later."""
    from huggingface_hub import constants
    env = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")
    if env is not None:
        return env.strip().upper() in ("1", "ON", "YES", "TRUE")
    return bool(constants.HF_HUB_OFFLINE)


def cache_dir() -> str:
    """The Hub cache folder, from the environment as it is now (HF_HUB_CACHE, HF_HOME)."""
    from huggingface_hub import constants
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return constants.HF_HUB_CACHE


def endpoint() -> str:
    from huggingface_hub import constants
    return os.environ.get("HF_ENDPOINT") or constants.ENDPOINT


def reachable(timeout: float = 3.0) -> bool:
    """Can the Hub be reached at all? One TCP connect; huggingface_hub itself would retry a
    dead network for ~25 s before giving up, far too long for a click in class."""
    url = urlparse(endpoint())
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return True
    except (OSError, ValueError, TypeError):
        return False


class _NotHere(Exception):
    """A file that is not in the cache (local-only) or not in the repo (online)."""


def _get(repo: str, filename: str, local_only: bool) -> Path:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError
    try:
        return Path(hf_hub_download(repo, filename, cache_dir=cache_dir(),
                                    local_files_only=local_only, endpoint=endpoint()))
    except EntryNotFoundError:  # LocalEntryNotFoundError (not cached) is one of these too
        raise _NotHere(filename) from None


def _first(repo: str, names, local_only: bool) -> Path | None:
    for name in names:
        try:
            return _get(repo, name, local_only)
        except _NotHere:
            continue
    return None


def _fetch_files(repo: str, local_only: bool) -> Path:
    """The snapshot folder holding config, weights and tokenizer files of `repo`."""
    config = _get(repo, "config.json", local_only)
    weights = _first(repo, WEIGHTS, local_only)
    if weights is None:
        raise _NotHere(" or ".join(WEIGHTS[::2]))
    if weights.name.endswith(".index.json"):  # sharded: fetch every shard it lists
        for shard in sorted(set(json.loads(weights.read_text()).get("weight_map", {}).values())):
            _get(repo, shard, local_only)
    for names in TOKENIZERS:
        try:
            for name in names:
                _get(repo, name, local_only)
            break
        except _NotHere:
            continue
    else:
        raise _NotHere("tokenizer.json, vocab.txt or vocab.json + merges.txt")
    _first(repo, EXTRAS[:1], local_only)  # optional: do_lower_case and friends
    return config.parent


def fetch(repo: str) -> Path:
    """A local folder with `repo`'s files: from the cache if complete there, else
    downloaded. CheckpointError says exactly why not (offline, no network, no such repo)."""
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, HFValidationError,
                                        RepositoryNotFoundError, RevisionNotFoundError)
    try:
        return _fetch_files(repo, local_only=True)
    except _NotHere as e:
        missing = str(e)
    except HFValidationError as e:
        raise CheckpointError(f"{repo!r} is not a valid Hub model id ({e})") from None
    where = f"the Hugging Face cache ({cache_dir()})"
    if offline():
        raise CheckpointError(
            f"{repo!r} is not in {where} ({missing} missing) and Hub downloads are off "
            "(HF_HUB_OFFLINE=1). Download it once online (`hf download "
            f"{repo}`), or pass a local folder holding config.json, the weights and the "
            "tokenizer files.")
    if not reachable():
        raise CheckpointError(
            f"{repo!r} is not in {where} ({missing} missing) and this machine is offline: "
            f"{endpoint()} cannot be reached. Download it once on a machine with internet "
            f"(`hf download {repo}`), or pass a local folder in transformers' layout.")
    try:
        return _fetch_files(repo, local_only=False)
    except _NotHere as e:
        raise CheckpointError(f"{repo!r} on the Hub has no {e}; bertgpt needs config.json, "
                              "weights and tokenizer files") from None
    except (GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError) as e:
        raise CheckpointError(f"no public model {repo!r} on the Hub (or it is gated): "
                              f"{str(e).splitlines()[0][:160]}") from None
    except (HfHubHTTPError, OSError) as e:
        raise CheckpointError(f"downloading {repo!r} failed: {str(e).splitlines()[0][:200]}; "
                              "check the connection and try again") from None


_probed: dict[str, tuple[float, bool]] = {}  # endpoint -> (when, reachable), for labels


def status(name: str, probe: bool = False) -> str:
    """'cached', 'offline' (not cached, and downloads are off, or with `probe` the Hub
    cannot be reached) or 'download' (not cached yet): for the app's selector labels.
    Without `probe` no network is touched; a probe is remembered for a minute."""
    try:
        _fetch_files(name, local_only=True)
        return "cached"
    except (_NotHere, BertGptError, ValueError):
        pass
    if offline():
        return "offline"
    if probe:
        when, ok = _probed.get(endpoint(), (0.0, True))
        if time.monotonic() - when > 60:
            ok = reachable()
            _probed[endpoint()] = (time.monotonic(), ok)
        if not ok:
            return "offline"
    return "download"


def choices(arch: str) -> list[tuple[str, str]]:
    """(label, name) of each real checkpoint of `arch` ('bert' or 'gpt') for a selector,
    the label saying whether it is ready, needs a download, or cannot be had offline."""
    notes = {"cached": "ready", "offline": "offline, not cached"}
    return [(f"{name} ({params}) · "
             f"{notes.get(status(name, probe=True), f'downloads {size} on first use')}", name)
            for name, (a, params, size) in REAL.items() if a == arch]


# ------------------------------------------------------------------- a transformers folder
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
    from .models import build
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

    from .tokenizer import ROLE_TOKENS, Tokenizer
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
    from .checkpoint import Loaded
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


def load(source, device=None):
    """A Hub id or a transformers-layout folder, in our from-scratch model."""
    if not is_hub_id(source):
        return load_folder(source, device)
    try:
        folder = fetch(source)
    except CheckpointError as e:
        if source in REAL:
            raise
        # "runs/gpt" typed for a folder that is not there reads as a Hub id too: say both.
        raise CheckpointError(f"no model folder {source!r} here, and as a Hub id: {e}") from None
    return load_folder(folder, device, name=source)


# ------------------------------------------------------------------- the app's shared cache
_lock = threading.Lock()       # guards _models
_loading = threading.Lock()    # one load at a time: two 6 GB loads at once could OOM a box
_models: OrderedDict = OrderedDict()


def capacity() -> int:
    try:
        return max(1, int(os.environ.get("BERTGPT_REAL_MODELS", 2)))
    except ValueError:
        return 2


def shared(name: str):
    """A real model for every session of the app: loaded once, read-only (no gradients,
    eval mode), least recently used dropped when more than `capacity()` are held."""
    with _lock:
        if name in _models:
            _models.move_to_end(name)
            return _models[name]
    with _loading:
        with _lock:
            if name in _models:  # another request loaded it while this one waited
                return _models[name]
        # Files first: a model that cannot be had (offline) must not evict one that works.
        folder = fetch(name) if is_hub_id(name) else name
        with _lock:
            while len(_models) >= capacity():  # make room before, not after, the load
                _models.popitem(last=False)
        loaded = load_folder(folder, name=name)
        with _lock:
            _models[name] = loaded
        return loaded


def held() -> list[str]:
    """Names in the shared cache, least recently used first (for tests and the app)."""
    with _lock:
        return list(_models)
