"""Pre-training: the loop (loop.py) over batches (data.py), the CLI's recipes, and the
fast CPU path the loop swaps in (fastpath.py, bf16.py), which computes the model's own
loss with bigger ops."""
