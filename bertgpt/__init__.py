"""bertgpt: BERT and GPT pre-training, from scratch, to see and to run."""
__version__ = "0.1.0"


def load(name_or_path, device=None):
    """A trained model directory (config.json + model.safetensors + tokenizer.json), a
    Hugging Face Hub id ("bert-base-uncased", "gpt2", ...) or a folder in transformers'
    layout. Returns checkpoint.Loaded(model, tokenizer, record, path)."""
    from .hub import load as _load
    return _load(name_or_path, device=device)
