"""Several generators driven in turns, so two training runs share one device and their
curves grow side by side (BERT beside GPT in the Train tab, pre-trained beside scratch in
the fine-tune lab)."""
from __future__ import annotations

from typing import Hashable, Iterator, Mapping


def round_robin(streams: Mapping[Hashable, Iterator]) -> Iterator[tuple]:
    """Yield (key, item): one item from each stream in the mapping's order, round after
    round; a stream that runs out drops out, the others go on.

    Closed early (the consumer stops, or raises into it), it closes every stream still
    open, so each runs its own clean-up (a `finally`, a stop flag) at once instead of
    whenever the garbage collector gets to it.
    """
    active = {key: iter(stream) for key, stream in streams.items()}
    try:
        while active:
            for key in list(active):
                try:
                    item = next(active[key])
                except StopIteration:
                    del active[key]
                    continue
                yield key, item
    finally:
        for stream in active.values():
            close = getattr(stream, "close", None)
            if close is not None:
                close()
