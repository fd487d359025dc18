"""NSP pairs the way BERT builds them: packed segments (`nsp.py` has one sentence each).

BERT's "sentences" are segments, "an arbitrary span of contiguous text" (BERT §3):
google-research/bert's `create_instances_from_document` packs consecutive sentences of
one document until a target length (max_len − 3, or 10% of the time a shorter random
one), splits the chunk at a random sentence boundary into A and B, and for NotNext
replaces B by contiguous sentences from another document. RoBERTa §4.2 (Table 2) found
that single-sentence pairs hurt downstream results. Packing, labels and segment ids are
`nsp.py`'s.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Sequence

from ..errors import ConfigError, TextError
from .nsp import NextLabel, Packed, report, shown_pair


@dataclass
class SegmentPair(NextLabel):
    """One packed NSP instance: A and B are runs of whole sentences (segments).

    Sentence ranges are [start, stop) indices into the document's sentences. The token
    lists are what is left after truncation; the `cut_*` counts say what was removed from
    the front and the back of each segment (google's `truncate_seq_pair` picks at random).
    """
    a: list                  # tokens of segment A, after truncation
    b: list                  # tokens of segment B, after truncation
    is_next: bool
    a_doc: int
    a_start: int
    a_stop: int
    b_doc: int
    b_start: int
    b_stop: int
    target_len: int          # the document's target: max_len − 3, or a shorter random one
    cut_a_front: int = 0
    cut_a_back: int = 0
    cut_b_front: int = 0
    cut_b_back: int = 0

    @property
    def truncated(self) -> int:
        return self.cut_a_front + self.cut_a_back + self.cut_b_front + self.cut_b_back

    def packed(self, *, cls_id: int, sep_id: int) -> Packed:
        """`[CLS] A [SEP] B [SEP]` with segment ids (already within max_len)."""
        ids = [cls_id] + list(self.a) + [sep_id] + list(self.b) + [sep_id]
        seg = [0] * (len(self.a) + 2) + [1] * (len(self.b) + 1)
        return Packed(ids, seg, len(self.a), len(self.b), self.truncated,
                      self.cut_a_front + self.cut_a_back, self.cut_b_front + self.cut_b_back)


def _truncate_random_ends(a: list, b: list, budget: int, rng: random.Random) -> tuple:
    """Pre-training truncation as in create_pretraining_data.py's `truncate_seq_pair`:
    while too long, take one token from the longer segment (B on a tie), from its front
    or its back with even odds. Returns (cut_a_front, cut_a_back, cut_b_front, cut_b_back).
    (Fine-tuning's `_truncate_seq_pair` in run_classifier.py only cuts the back: that is
    `pack_pair`.)"""
    cuts = [0, 0, 0, 0]
    while len(a) + len(b) > budget:
        side = 0 if len(a) > len(b) else 1
        seq = a if side == 0 else b
        if rng.random() < 0.5:
            del seq[0]
            cuts[2 * side] += 1
        else:
            seq.pop()
            cuts[2 * side + 1] += 1
    return tuple(cuts)


def pack_segments(documents: Sequence[Sequence[Sequence[Any]]], *, max_len: int,
                  seed: int = 0, short_seq_prob: float = 0.1) -> list[SegmentPair]:
    """NSP instances the way google-research/bert builds them (create_instances_from_document).

    `documents`: each a sequence of sentences, each sentence a sequence of tokens (ids or
    strings); empty sentences are skipped, as google's reader skips empty lines. Per
    document: the target is max_len − 3 tokens, or with probability `short_seq_prob` a
    random length from 2 to max_len − 3 (so pre-training also sees short inputs, as
    fine-tuning will). Consecutive sentences go into a chunk until it reaches the target
    (or the document ends); a random sentence boundary `a_end` splits the chunk into A and
    the rest. With probability 1/2, or always when the chunk is a single sentence, B is
    instead a run of contiguous sentences from a uniformly chosen *other* document
    (NotNext), and the chunk's unused sentences go back to start the next chunk. Then
    the pair is truncated to max_len − 3 tokens from random ends.

    Differences from google's code, on purpose: documents are visited in corpus order
    (google shuffles them, and repeats everything dupe_factor times with fresh masks),
    and the other document is guaranteed to differ (google tries ten random draws).
    Everything random comes from `random.Random(seed)`.
    """
    if max_len < 5:
        raise ConfigError(f"max_len must be at least 5 ([CLS] A [SEP] B [SEP] with one token "
                          f"each), got {max_len}")
    if not 0 <= short_seq_prob <= 1:
        raise ConfigError(f"short_seq_prob must be in [0, 1], got {short_seq_prob}")
    docs = [[(i, list(s)) for i, s in enumerate(doc) if len(s) > 0] for doc in documents]
    nonempty = [d for d, doc in enumerate(docs) if doc]
    if len(nonempty) < 2:
        raise TextError(f"NSP needs at least 2 documents (a NotNext partner comes from another "
                        f"document), got {len(nonempty)}: put a blank line between documents "
                        "or use the world corpus")
    where = {d: k for k, d in enumerate(nonempty)}
    budget = max_len - 3
    rng = random.Random(seed)
    out: list[SegmentPair] = []
    for d, doc in enumerate(docs):
        if not doc:
            continue
        target = budget
        if rng.random() < short_seq_prob:
            target = rng.randint(2, budget)
        chunk: list[int] = []   # positions in `doc` (not sentence indices)
        length, i = 0, 0
        while i < len(doc):
            chunk.append(i)
            length += len(doc[i][1])
            if i == len(doc) - 1 or length >= target:
                a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
                a = [t for k in chunk[:a_end] for t in doc[k][1]]
                a_span = (doc[chunk[0]][0], doc[chunk[a_end - 1]][0] + 1)
                if len(chunk) == 1 or rng.random() < 0.5:
                    is_next = False
                    k = rng.randrange(len(nonempty) - 1)
                    k += k >= where[d]
                    bd = nonempty[k]
                    other = docs[bd]
                    start = rng.randrange(len(other))
                    b, stop = [], start
                    for stop in range(start, len(other)):
                        b.extend(other[stop][1])
                        if len(b) >= target - len(a):
                            break
                    b_span = (other[start][0], other[stop][0] + 1)
                    i -= len(chunk) - a_end   # put the unused sentences back
                else:
                    is_next, bd = True, d
                    b = [t for k in chunk[a_end:] for t in doc[k][1]]
                    b_span = (doc[chunk[a_end]][0], doc[chunk[-1]][0] + 1)
                cuts = _truncate_random_ends(a, b, budget, rng)
                out.append(SegmentPair(a, b, is_next, d, *a_span, bd, *b_span, target, *cuts))
                chunk, length = [], 0
            i += 1
    return out


def segment_stats(pairs: Sequence[SegmentPair], max_len: int | None = None) -> dict:
    """Counts for packed segments, in the shape of `pair_stats` (no seed bug here: NotNext
    always comes from another document) plus what packing adds: sentences per segment,
    tokens per instance, how many documents drew a short target, how many were cut."""
    n = len(pairs)
    is_next = sum(p.is_next for p in pairs)
    sents = [p.a_stop - p.a_start for p in pairs] + [p.b_stop - p.b_start for p in pairs]
    tokens = [len(p.a) + len(p.b) + 3 for p in pairs]
    out = {"n": n, "is_next": is_next, "not_next": n - is_next,
           "is_next_share": is_next / n if n else 0.0,
           "mislabeled": 0, "mislabeled_share": 0.0, "degenerate": 0, "degenerate_share": 0.0,
           "same_document": sum(p.b_doc == p.a_doc for p in pairs if not p.is_next),
           "same_document_share": 0.0,
           "sentences_per_segment": sum(sents) / len(sents) if sents else 0.0,
           "multi_sentence_segments": sum(s > 1 for s in sents),
           "tokens_per_instance": sum(tokens) / n if n else 0.0,
           "truncated": sum(p.truncated > 0 for p in pairs)}
    if max_len is not None:
        out["short_target"] = sum(p.target_len < max_len - 3 for p in pairs)
    return out



def _span(start: int, stop: int) -> str:
    return f"sentence {start}" if stop - start == 1 else f"sentences {start}–{stop - 1}"


def _why_segments(p: SegmentPair) -> str:
    a = f"A = {_span(p.a_start, p.a_stop)}"
    if p.is_next:
        return (f"{a}, B = {_span(p.b_start, p.b_stop)} of document {p.a_doc}: B continues A, "
                "IsNext")
    return (f"{a} of document {p.a_doc}, B = {_span(p.b_start, p.b_stop)} of another "
            f"document ({p.b_doc}): NotNext")


def explain_segments(documents_text: list[list[str]], tokenizer, *, seed: int = 0,
                     max_len: int = 64, n: int = 8) -> dict:
    """`nsp.explain_pairs` for BERT's packed segments: `n` instances drawn (seeded) from
    all of `pack_segments`, in the same shape, with `segment_stats` as the counts. There is
    no seed bug here: NotNext always comes from another document."""
    if n < 0:
        raise ConfigError(f"n must be >= 0, got {n}")
    cls_id, sep_id = tokenizer.special_id("cls"), tokenizer.special_id("sep")
    rng = random.Random(seed)
    tokenized = [[tokenizer.encode(s) for s in doc] for doc in documents_text]
    instances = pack_segments(tokenized, max_len=max_len, seed=seed)
    shown = sorted(rng.sample(range(len(instances)), min(n, len(instances))))
    out = []
    for k in shown:
        p = instances[k]
        out.append(shown_pair(
            k, " ".join(documents_text[p.a_doc][p.a_start:p.a_stop]),
            " ".join(documents_text[p.b_doc][p.b_start:p.b_stop]), p,
            p.packed(cls_id=cls_id, sep_id=sep_id), tokenizer, a_idx=p.a_start,
            b_idx=p.b_start, a_sentences=[p.a_start, p.a_stop],
            b_sentences=[p.b_start, p.b_stop], target_len=p.target_len, mislabeled=False,
            degenerate=False, why=_why_segments(p), cut_front=p.cut_a_front + p.cut_b_front,
            cut_back=p.cut_a_back + p.cut_b_back))
    return report(out, segment_stats(instances, max_len), None, seed=seed, max_len=max_len,
                  same_document_bug=False, segments=True)
