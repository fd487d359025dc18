"""Every environment variable bertgpt reads, read in one place.

`Settings` has one field per variable, named as the variable in lower case
(`BERTGPT_MAX_STEPS` -> `bertgpt_max_steps`), so a reader can go from either to the
other. `Settings.from_env(env)` is a pure function of a mapping: it parses each value and
fills in its default, and a value that cannot be parsed is a one-line `ConfigError`
naming the variable. `current()` is `from_env(os.environ)`, read once per process: the
server, a training process and the CLI each read their environment when they first need
a setting, and no module reads `os.environ` itself. A test builds its own with
`Settings.from_env({...})`, or changes the environment and calls `reset()`.

docs/DEPLOY.md has the operator's table of these variables (tests/test_settings.py
checks that it names exactly these fields).
"""
from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ConfigError

BROWSER_SECRET = "bertgpt-browser-state"  # the key used when BERTGPT_BROWSER_SECRET is unset


@dataclass(frozen=True)
class Settings:
    """The environment as bertgpt understands it. None means "unset" where the code that
    uses a field decides what unset means (a Space's defaults, Gradio's own)."""

    # --- Where the app listens (app/serving.py). Gradio reads GRADIO_SERVER_NAME and
    # GRADIO_SERVER_PORT itself; the app only needs to know whether they are set.
    gradio_server_name: str | None    # address Gradio listens on
    gradio_server_port: str | None    # port Gradio listens on
    bertgpt_host: str | None          # alias of GRADIO_SERVER_NAME, used when that is unset
    bertgpt_port: int | None          # alias of GRADIO_SERVER_PORT (1-65535)
    gradio_mcp_server: bool | None    # serve the explanatory tabs as MCP tools
    bertgpt_login: bool | None        # show "Sign in with Hugging Face"
    bertgpt_browser_secret: str       # key of the browser's stored language choice

    # --- Set by the platform, not by an operator.
    system: str | None                # "spaces" inside a Hugging Face Space
    space_id: str | None              # "owner/name" inside a Hugging Face Space
    spaces_zero_gpu: bool             # a ZeroGPU Space ("1", "t" or "true")
    oauth_client_id: str | None       # set on a Space with `hf_oauth: true`

    # --- Capacity of a class server (app/).
    bertgpt_queue: int                # Gradio's queue size
    bertgpt_concurrency: int          # handlers of one endpoint that run at once
    bertgpt_session_ttl: int          # seconds a session's own models and zip live
    bertgpt_train_concurrency: int    # training runs at once
    bertgpt_train_queue: int          # training runs that may wait in line
    bertgpt_train_threads: int | None  # torch threads per run; None: cores - 1, split
    bertgpt_train_process: bool       # train in a process of its own ("0" turns it off)
    bertgpt_train_nice: int           # how far that process is niced below the server
    bertgpt_max_steps: int            # steps per run, at most
    bertgpt_max_seconds: float        # seconds per run, at most (60 on ZeroGPU, else 120)
    bertgpt_max_train_bytes: int      # size of a pasted or uploaded training text
    bertgpt_real_models: int          # real Hugging Face checkpoints held at once
    bertgpt_malloc_tune: bool         # keep freed memory in a training process (allocator.py)
    bertgpt_class_db: str             # the SQLite file of the Class tab (course/class_store.py)
    bertgpt_class_cap: int            # students one class code admits
    bertgpt_class_hours: float        # hours a class code stays open

    # --- The Hugging Face Hub (hub.py), with huggingface_hub's meanings.
    hf_hub_offline: bool | None       # no downloads ("1", "ON", "YES", "TRUE")
    transformers_offline: bool | None  # the older name, read when HF_HUB_OFFLINE is unset
    hf_hub_cache: str | None          # the Hub cache folder
    hf_home: str | None               # its parent; the cache is HF_HOME/hub
    hf_endpoint: str | None           # the Hub's address

    # --- Set by torchrun for each process (pretrain/loop.py, cli.py).
    rank: int                         # this process among all of them
    world_size: int                   # how many processes train together
    local_rank: int                   # this process on its machine: its GPU

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Parse `env` (os.environ, or a dict in a test). An empty value counts as unset."""
        zero_gpu = _text(env, "SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")
        return cls(
            gradio_server_name=_text(env, "GRADIO_SERVER_NAME"),
            gradio_server_port=_text(env, "GRADIO_SERVER_PORT"),
            bertgpt_host=_text(env, "BERTGPT_HOST"),
            bertgpt_port=_port(env, "BERTGPT_PORT"),
            gradio_mcp_server=_switch(env, "GRADIO_MCP_SERVER"),
            bertgpt_login=_switch(env, "BERTGPT_LOGIN"),
            bertgpt_browser_secret=_text(env, "BERTGPT_BROWSER_SECRET", BROWSER_SECRET),
            system=_text(env, "SYSTEM"),
            space_id=_text(env, "SPACE_ID"),
            spaces_zero_gpu=zero_gpu,
            oauth_client_id=_text(env, "OAUTH_CLIENT_ID"),
            bertgpt_queue=_whole(env, "BERTGPT_QUEUE", 200),
            bertgpt_concurrency=_whole(env, "BERTGPT_CONCURRENCY", 4),
            bertgpt_session_ttl=_whole(env, "BERTGPT_SESSION_TTL", 3600),
            bertgpt_train_concurrency=_whole(env, "BERTGPT_TRAIN_CONCURRENCY", 1),
            bertgpt_train_queue=_whole(env, "BERTGPT_TRAIN_QUEUE", 10),
            bertgpt_train_threads=_whole(env, "BERTGPT_TRAIN_THREADS", None),
            # Only "0" turns these two off (docs/DEPLOY.md); any other value leaves them on.
            bertgpt_train_process=_text(env, "BERTGPT_TRAIN_PROCESS", "1") != "0",
            bertgpt_train_nice=_whole(env, "BERTGPT_TRAIN_NICE", 10),
            bertgpt_max_steps=_whole(env, "BERTGPT_MAX_STEPS", 2000),
            # A ZeroGPU visitor's daily quota is minutes, so runs are shorter there.
            bertgpt_max_seconds=_number(env, "BERTGPT_MAX_SECONDS", 60.0 if zero_gpu else 120.0),
            bertgpt_max_train_bytes=_whole(env, "BERTGPT_MAX_TRAIN_BYTES", 2_000_000),
            bertgpt_real_models=_whole(env, "BERTGPT_REAL_MODELS", 2),
            bertgpt_malloc_tune=_text(env, "BERTGPT_MALLOC_TUNE", "1") != "0",
            bertgpt_class_db=_text(env, "BERTGPT_CLASS_DB", "bertgpt-classes.sqlite"),
            bertgpt_class_cap=_whole(env, "BERTGPT_CLASS_CAP", 200),
            bertgpt_class_hours=_number(env, "BERTGPT_CLASS_HOURS", 8.0),
            hf_hub_offline=_hub_flag(env, "HF_HUB_OFFLINE"),
            transformers_offline=_hub_flag(env, "TRANSFORMERS_OFFLINE"),
            hf_hub_cache=_text(env, "HF_HUB_CACHE"),
            hf_home=_text(env, "HF_HOME"),
            hf_endpoint=_text(env, "HF_ENDPOINT"),
            rank=_whole(env, "RANK", 0),
            world_size=_whole(env, "WORLD_SIZE", 1),
            local_rank=_whole(env, "LOCAL_RANK", 0),
        )

    def on_space(self) -> bool:
        """Running as a Hugging Face Space (the Space runtime sets SYSTEM and SPACE_ID)."""
        return self.system == "spaces" or bool(self.space_id)

    def hub_offline(self) -> bool | None:
        """HF_HUB_OFFLINE, else TRANSFORMERS_OFFLINE; None when both are unset."""
        return self.transformers_offline if self.hf_hub_offline is None else self.hf_hub_offline


@functools.cache
def current() -> Settings:
    """The settings of this process: os.environ, parsed on the first call."""
    return Settings.from_env(os.environ)


def reset() -> None:
    """Forget what current() read, so that its next call reads os.environ again (for tests
    that change the environment)."""
    current.cache_clear()


# ------------------------------------------------------------------- parsing one variable
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _text(env: Mapping[str, str], name: str, default=None):
    """The value as written; `default` when unset or empty."""
    return env.get(name) or default


def _whole(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    return _parsed(env, name, default, int, "a whole number")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    return _parsed(env, name, default, float, "a number")


def _parsed(env, name, default, cast, what):
    """`cast` of the value, `default` when unset; a one-line ConfigError otherwise."""
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        return cast(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: write {what}.") from None


def _port(env: Mapping[str, str], name: str) -> int | None:
    raw = _text(env, name)
    if raw is None:
        return None
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name}={raw!r}: write a port number from 1 to 65535.")
    return port


def _switch(env: Mapping[str, str], name: str) -> bool | None:
    """An on/off variable: True, False, or None when unset; a clear error otherwise."""
    raw = _text(env, name)
    if raw is None or raw.strip() == "":
        return None
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r}: write true or false.")


def _hub_flag(env: Mapping[str, str], name: str) -> bool | None:
    """huggingface_hub's reading of its switches: set and one of 1/ON/YES/TRUE is on, any
    other value is off (never an error: it is that library's variable, not ours)."""
    raw = _text(env, name)
    return None if raw is None else raw.strip().upper() in ("1", "ON", "YES", "TRUE")
