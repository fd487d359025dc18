"""The default training recipes: what `bertgpt train` and the app use unless told
otherwise. Chosen by `benchmarks/time_to_quality.py` (figures in benchmarks/README.md);
change them only with a measurement."""

# GPT: best validation bits per character within 60 s on 2 CPU cores, tokenizer included.
# A 32-token context (about 100 characters of English) costs less per token than 64 and
# loses little at this size, so more text goes through in the minute; a long warm-up
# (150 of ~870 steps) at lr 3e-3 beat 30 and 100 on Tiny Shakespeare and Python's docs
# alike (benchmarks/README.md has the sweep).
GPT_DEFAULT = {
    "tokenizer": "bpe",
    "vocab": 1024,
    "model": {"n_layer": 2, "n_head": 4, "n_embd": 128, "block_size": 32},
    "train": {"batch_size": 48, "lr": 3e-3, "warmup": 150},
}

# BERT: the classroom mini's shape.
BERT_DEFAULT = {
    "tokenizer": "wordpiece",
    "vocab": 2000,
    "model": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64},
    "train": {"batch_size": 64, "lr": 2e-3, "warmup": 50},
}
