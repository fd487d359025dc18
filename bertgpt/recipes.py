"""The default training recipes: what `bertgpt train` and the app use unless told
otherwise. Chosen by `benchmarks/time_to_quality.py` (figures in benchmarks/README.md);
change them only with a measurement."""

# GPT: best validation bits per character within 60 s on 2 CPU cores, tokenizer included.
GPT_DEFAULT = {
    "tokenizer": "bpe",
    "vocab": 1024,
    "model": {"n_layer": 2, "n_head": 4, "n_embd": 128, "block_size": 64},
    "train": {"batch_size": 32, "lr": 3e-3, "warmup": 30},
}

# BERT: the classroom mini's shape.
BERT_DEFAULT = {
    "tokenizer": "wordpiece",
    "vocab": 2000,
    "model": {"n_layer": 4, "n_head": 4, "n_embd": 128, "block_size": 64},
    "train": {"batch_size": 64, "lr": 2e-3, "warmup": 50},
}
