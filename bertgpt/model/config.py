"""Model configuration: one frozen dataclass and named presets.

Published sizes come from the papers and the released checkpoints: BERT (Devlin et al.
2018, §3), GPT-2 (Radford et al. 2019, Table 2), GPT-3 (Brown et al. 2020, Table 2.1).
`bertgpt.params` counts their parameters on the meta device, so the numbers shown in the
app are computed, not typed in.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from ..errors import ConfigError


@dataclass(frozen=True)
class ModelConfig:
    arch: str                 # "bert" (encoder, bidirectional) or "gpt" (decoder, causal)
    vocab_size: int           # rows of the token embedding (and of the tied output layer)
    n_layer: int = 4          # transformer blocks
    n_head: int = 4           # attention heads per block; n_embd must divide evenly
    n_embd: int = 128         # model width C
    block_size: int = 128     # longest sequence: rows of the position embedding
    n_inner: int | None = None  # MLP hidden width; None means 4 * n_embd as in both papers
    type_vocab_size: int = 2  # BERT segment embeddings (sentence A / B); GPT has none
    dropout: float = 0.0      # one rate for embeddings, attention probs and residuals
    layer_norm_eps: float | None = None  # None: 1e-12 for BERT, 1e-5 for GPT-2 (their releases)
    activation: str | None = None  # None: "gelu" (erf) for BERT, "gelu_tanh" for GPT-2
    pad_token_id: int = 0     # id used for padding; never a prediction target

    def __post_init__(self):
        if self.arch not in ("bert", "gpt"):
            raise ConfigError(f"arch must be 'bert' or 'gpt', got {self.arch!r}")
        for name in ("vocab_size", "n_layer", "n_head", "n_embd", "block_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive whole number, got {value!r}")
        if self.n_embd % self.n_head:
            raise ConfigError(
                f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head}); "
                f"try n_embd={self.n_head * max(1, round(self.n_embd / self.n_head))}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.activation not in (None, "gelu", "gelu_tanh"):
            raise ConfigError(f"activation must be 'gelu' or 'gelu_tanh', got {self.activation!r}")

    # Derived values live in properties so the stored config stays what the user chose.
    @property
    def inner(self) -> int:
        return self.n_inner or 4 * self.n_embd

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def eps(self) -> float:
        if self.layer_norm_eps is not None:
            return self.layer_norm_eps
        return 1e-12 if self.arch == "bert" else 1e-5

    @property
    def act(self) -> str:
        return self.activation or ("gelu" if self.arch == "bert" else "gelu_tanh")

    def replace(self, **changes) -> "ModelConfig":
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"unknown config fields: {sorted(unknown)}")
        return cls(**data)


def _bert(layers, width, heads, vocab=30522, block=512):
    return ModelConfig("bert", vocab, layers, heads, width, block)


def _gpt(layers, width, heads, vocab=50257, block=1024):
    return ModelConfig("gpt", vocab, layers, heads, width, block)


# name -> (config, published parameter count, where the figure comes from)
PRESETS: dict[str, tuple[ModelConfig, int | None, str]] = {
    "bert-tiny": (_bert(2, 64, 2, vocab=2000, block=128), None, "classroom size"),
    "bert-mini": (_bert(4, 128, 4, vocab=2000, block=128), None, "classroom size (bundled)"),
    "bert-base": (_bert(12, 768, 12), 110_000_000, "BERT paper §3: 110M"),
    "bert-large": (_bert(24, 1024, 16), 335_000_000,
                   "released bert-large checkpoint: ~335M (the paper rounds to 340M)"),
    "gpt-tiny": (_gpt(2, 64, 2, vocab=2000, block=128), None, "classroom size"),
    "gpt-mini": (_gpt(4, 128, 4, vocab=2000, block=128), None, "classroom size (bundled)"),
    "gpt2": (_gpt(12, 768, 12), 124_000_000, "released gpt2: 124M (the paper says 117M)"),
    "gpt2-medium": (_gpt(24, 1024, 16), 355_000_000, "released gpt2-medium: 355M"),
    "gpt2-large": (_gpt(36, 1280, 20), 774_000_000, "released gpt2-large: 774M"),
    "gpt2-xl": (_gpt(48, 1600, 25), 1_558_000_000, "GPT-2 paper Table 2: 1542M; released 1558M"),
    "gpt3-175b": (_gpt(96, 12288, 96, block=2048), 175_000_000_000,
                  "GPT-3 paper Table 2.1: 175B, context 2048 (not 4096)"),
}


def preset(name: str) -> ModelConfig:
    """The config for a named preset; a ConfigError listing the names otherwise."""
    try:
        return PRESETS[name][0]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}") from None
