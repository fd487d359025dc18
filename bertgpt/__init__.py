"""bertgpt: BERT and GPT pre-training, from scratch, to see and to run.

The package, lowest layer first; each subpackage imports only from those above it in
this list (tests/test_layout.py):

    errors, settings   one exception family; every environment variable, read once
    model/             the models a student reads: attention, block, BERT, GPT, heads
    text/              tokenizers, the world corpus, MLM masking, NSP pairs
    pretrain/          the pre-training loop and the fast CPU path it swaps in
    finetune/          BERT fine-tuned on held-out tasks, against GPT prompted
    io/                checkpoints, transformers' weights, the Hub, the bundled minis
    course/            the lessons and the figures
    app/               the Gradio app (the only place gradio is imported)
    cli                `bertgpt ...`

The names below are the course's API, the ones the lessons and the README import
(`from bertgpt import bundled, generate`). Each is imported on first use, so
`import bertgpt` stays cheap for the CLI.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "model.config": ["ModelConfig", "PRESETS", "preset"],
    "model.build": ["build", "count_params"],
    "model.bert": ["BERT"],
    "model.gpt": ["GPT"],
    "model.heads": ["QASpan", "SequenceClassifier", "TokenClassifier"],
    "model.masks": ["apply_mask", "bidirectional_mask", "causal_mask", "combine",
                    "padding_mask", "safe_softmax"],
    "model.sampling": ["distribution", "fill_mask", "generate", "generate_stream"],
    "model.lens": ["logit_lens"],
    "text.tokenizer": ["Tokenizer", "bpe_merges", "explain", "train_tokenizer"],
    "text.corpus": ["capital_facts", "generate_world", "load_text", "world_documents"],
    "text.mlm": ["RANDOM", "mask_text", "mask_tokens", "seed_article_masking"],
    "text.nsp": ["make_pairs", "pack_pair", "pair_stats", "seed_bug_expectation"],
    "text.segments": ["pack_segments", "segment_stats"],
    "pretrain.loop": ["TrainConfig", "lr_at", "train"],
    "pretrain.data": ["BertData"],
    "io.hub": ["load"],
    "io.checkpoint": ["save"],
    "io.assets": ["bundled", "world_tokenizer"],
}
_WHERE = {name: module for module, names in _API.items() for name in names}
# Whole modules the lessons use as namespaces (`finetune.compare(...)`).
_MODULES = {"finetune": "finetune", "tasks": "finetune.tasks", "prompting": "finetune.prompting",
            "lab": "finetune.lab"}

__all__ = sorted([*_WHERE, *_MODULES])


def __getattr__(name: str):
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{_MODULES[name]}")
    if name not in _WHERE:
        raise AttributeError(f"module 'bertgpt' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value  # looked up once
    return value


def __dir__():
    return __all__
