"""The models a student reads, in plain PyTorch: masks -> attention, MLP and block
(transformer.py) -> BERT (bert.py) and GPT (gpt.py) -> fine-tuning heads (heads.py);
build.py makes either from a config, sampling.py turns logits into text.

Nothing here imports the rest of the package (the errors module aside): the training
side swaps in its fast path from outside (pretrain/fastpath.py), tests/test_layout.py
holds the rule."""
