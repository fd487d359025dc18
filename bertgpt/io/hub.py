"""Real checkpoints in the from-scratch models: bert-base-uncased, gpt2 and their siblings.

`load(name_or_path)` takes a Hub id ("gpt2", "google-bert/bert-base-uncased") or a local
folder in transformers' layout (config.json, model.safetensors or pytorch_model.bin,
tokenizer.json or vocab.txt or vocab.json + merges.txt) and reads it with `hf_folder.py`:
our config from theirs, the weights converted by `hf.py`, the tokenizer. The Hub is
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

from . import checkpoint
from .. import settings
from ..errors import BertGptError, CheckpointError
# The folder reader lives in hf_folder.py; its entry points stay reachable as hub.<name>.
from .hf_folder import EXTRAS, TOKENIZERS, WEIGHTS, assemble, load_folder, read_weights, tokenizer_from_folder

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
    """True for a Hub id or a transformers-layout folder; other sources are bertgpt's own
    checkpoint directories."""
    return is_hub_id(source) or (Path(source).is_dir() and is_transformers_folder(source))


# ------------------------------------------------------------------- the Hub and its cache
# huggingface_hub reads its variables once, when it is imported (gradio imports it early).
# These three take them from settings.current() instead and pass them to every call, so
# what this process's settings say is what the Hub calls use; a test that changes the
# variables calls settings.reset() (tests/conftest.py does it before each test).
def offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE); unset, huggingface_hub's own reading."""
    from huggingface_hub import constants
    flag = settings.current().hub_offline()
    return bool(constants.HF_HUB_OFFLINE) if flag is None else flag


def cache_dir() -> str:
    """The Hub cache folder: HF_HUB_CACHE, else HF_HOME/hub, else huggingface_hub's."""
    from huggingface_hub import constants
    env = settings.current()
    if env.hf_hub_cache:
        return env.hf_hub_cache
    if env.hf_home:
        return os.path.join(env.hf_home, "hub")
    return constants.HF_HUB_CACHE


def endpoint() -> str:
    from huggingface_hub import constants
    return settings.current().hf_endpoint or constants.ENDPOINT


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
    def note(name, size):
        state = status(name, probe=True)
        return {"cached": "ready",
                "offline": f"⊘ unavailable offline (not downloaded: hf download {name})"
                }.get(state, f"downloads {size} on first use")
    return [(f"{name} ({params}) · {note(name, size)}", name)
            for name, (a, params, size) in REAL.items() if a == arch]


def load(source, device=None):
    """A Hub id or a transformers-layout folder in our from-scratch model, or else a
    directory written by checkpoint.save."""
    if not handles(source):
        return checkpoint.load(source, device)
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
    return max(1, settings.current().bertgpt_real_models)


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
