"""Pairs for next-sentence prediction (BERT paper §3.1 Task #2), two ways.

`make_pairs`: one sentence each. For each sentence A that has a successor, half the time
B is that successor (IsNext) and half the time B is a random sentence from a *different*
document (NotNext). Simple to read, and what the seed article does, but not BERT's input.

`segments.pack_segments`: BERT's way, whole runs of sentences packed up to the length
limit (segments.py says how).

Either way the pair is packed as `[CLS] A [SEP] B [SEP]` with segment ids 0 for
`[CLS] A [SEP]` and 1 for `B [SEP]`.

Label convention: `Pair.label` is 0 for IsNext and 1 for NotNext, as transformers'
`BertForPreTraining` (`next_sentence_label` 0 = "B continues A") and google's checkpoint
use. The seed article uses the opposite (1 = IsNext); `Pair.is_next` avoids the ambiguity.

The article's `create_nsp_data` draws the NotNext partner with `random.choice(sentences)`
from the SAME document (errata, bug 2); `same_document_bug=True` reproduces it so the app
can show what it does to the labels: for a document of n sentences, 1/(2n) of its pairs
are labelled NotNext although B is the true next sentence (`mislabeled`), and another
1/(2n) are (A, A): a correctly labelled but degenerate negative (`degenerate`).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Sequence

from ..errors import ConfigError, TextError

LABEL_NAMES = ("IsNext", "NotNext")  # index = Pair.label


class NextLabel:
    """The label of a pair from its `is_next` field, shared by both kinds of pair."""

    @property
    def label(self) -> int:
        """0 = IsNext, 1 = NotNext (transformers' convention; the article uses 1 = IsNext)."""
        return 0 if self.is_next else 1

    @property
    def label_name(self) -> str:
        return LABEL_NAMES[self.label]


@dataclass
class Pair(NextLabel):
    a: Any                   # sentence A (str or list of ids)
    b: Any                   # sentence B
    is_next: bool            # True: B really follows A in its document
    a_doc: int               # where A came from: document index, sentence index
    a_idx: int
    b_doc: int               # where B came from
    b_idx: int
    mislabeled: bool = False  # only with the seed bug: labelled NotNext, yet B is A's
                              # true next sentence (a wrong label)
    degenerate: bool = False  # only with the seed bug: B is A itself. NotNext is the right
                              # label, but a copy is trivial to detect


def make_pairs(documents: Sequence[Sequence[Any]], *, seed: int = 0,
               same_document_bug: bool = False, max_pairs: int | None = None,
               shuffle: bool = False) -> list[Pair]:
    """NSP pairs from documents (each a sequence of sentences: str or lists of ids).

    Randomness comes only from `random.Random(seed)`. Pairs come in corpus order (document,
    then sentence) unless `shuffle`; `max_pairs` keeps a seeded random subset, still in
    corpus order, so a cap never means "only the first documents".

    same_document_bug=True: the seed article's version. The NotNext partner is
    `random.choice(sentences)` from A's own document, so for a document of n sentences it
    is A's true next sentence with probability 1/n (a NotNext label on an IsNext pair:
    `mislabeled=True`) and A itself with probability 1/n (`degenerate=True`: the label is
    right, the negative is a copy). Half the pairs are NotNext, so each case is 1/(2n) of
    all pairs from that document (`seed_bug_expectation`). The article's version needs
    only one document, so this mode does not ask for two.
    """
    if max_pairs is not None and max_pairs < 0:
        raise ConfigError(f"max_pairs must be >= 0 or None, got {max_pairs}")
    nonempty = [d for d, doc in enumerate(documents) if len(doc) > 0]
    if not same_document_bug and len(nonempty) < 2:
        raise TextError(f"NSP needs at least 2 documents (a NotNext partner comes from another "
                        f"document), got {len(nonempty)}: put a blank line between documents "
                        "or use the world corpus")
    if not any(len(doc) >= 2 for doc in documents):
        raise TextError("every document has a single sentence, so no sentence has a next one "
                        "and NSP is impossible: use documents of two or more sentences")
    rng = random.Random(seed)
    where = {d: k for k, d in enumerate(nonempty)}  # document -> position in `nonempty`
    pairs: list[Pair] = []
    for d, doc in enumerate(documents):
        for i in range(len(doc) - 1):
            if rng.random() < 0.5:
                pairs.append(Pair(doc[i], doc[i + 1], True, d, i, d, i + 1))
            elif same_document_bug:
                j = rng.randrange(len(doc))  # = random.choice(sentences), as in the article
                pairs.append(Pair(doc[i], doc[j], False, d, i, d, j,
                                  mislabeled=j == i + 1, degenerate=j == i))
            else:
                # A uniformly random *other* document, then a random sentence in it: draw
                # from all but one slot and step over A's own document.
                k = rng.randrange(len(nonempty) - 1)
                k += k >= where[d]
                bd = nonempty[k]
                j = rng.randrange(len(documents[bd]))
                pairs.append(Pair(doc[i], documents[bd][j], False, d, i, bd, j))
    if max_pairs is not None and max_pairs < len(pairs):
        keep = sorted(rng.sample(range(len(pairs)), max_pairs))
        pairs = [pairs[k] for k in keep]
    if shuffle:
        rng.shuffle(pairs)
    return pairs


@dataclass
class Packed:
    input_ids: list[int]    # [CLS] A [SEP] B [SEP]
    segment_ids: list[int]  # 0 for [CLS] A [SEP], 1 for B [SEP]
    a_len: int              # tokens of A kept
    b_len: int              # tokens of B kept
    truncated: int          # tokens removed in all
    truncated_a: int = 0    # of which from A
    truncated_b: int = 0    # of which from B

    def trace(self, id_to_token=None) -> list[dict]:
        """One dict per position: id, token, segment, and which part it belongs to."""
        name = str if id_to_token is None else getattr(id_to_token, "id_to_token", id_to_token)
        parts = (["[CLS]"] + ["A"] * self.a_len + ["[SEP]"] + ["B"] * self.b_len + ["[SEP]"])
        return [{"position": i, "id": t, "token": name(t), "segment": s, "part": p}
                for i, (t, s, p) in enumerate(zip(self.input_ids, self.segment_ids, parts))]


def _truncated_lengths(la: int, lb: int, budget: int) -> tuple[int, int]:
    """Lengths left after longest-first truncation to `budget` tokens.

    Same result as fine-tuning's `_truncate_seq_pair` loop in google-research/bert's
    run_classifier.py (drop the last token of the longer; on a tie of B) but computed
    directly: the longer shrinks to the shorter's length, then they shrink in turn, B
    first. Pre-training's `truncate_seq_pair` (create_pretraining_data.py) takes the token
    from the front or the back at random instead: `segments.pack_segments` does that.
    """
    if la + lb <= budget:
        return la, lb
    short = min(la, lb)
    if 2 * short <= budget:  # trimming the longer alone is enough
        return (la, budget - la) if la < lb else (budget - lb, lb)
    return (budget + 1) // 2, budget // 2  # both trimmed; an odd token stays with A


def pack_pair(a_ids, b_ids, *, cls_id: int, sep_id: int, max_len: int) -> Packed:
    """`[CLS] A [SEP] B [SEP]` with segment ids, truncated longest-first from the end to
    `max_len` (as fine-tuning does; the Ask-BERT box and the one-sentence pairs use it)."""
    if max_len < 5:
        raise ConfigError(f"max_len must be at least 5 ([CLS] A [SEP] B [SEP] with one token "
                          f"each), got {max_len}")
    a, b = list(a_ids), list(b_ids)
    ka, kb = _truncated_lengths(len(a), len(b), max_len - 3)
    ids = [cls_id] + a[:ka] + [sep_id] + b[:kb] + [sep_id]
    seg = [0] * (ka + 2) + [1] * (kb + 1)
    return Packed(ids, seg, ka, kb, len(a) - ka + len(b) - kb, len(a) - ka, len(b) - kb)


def seed_bug_expectation(documents: Sequence[Sequence[Any]]) -> dict:
    """What the seed article's same-document sampling does on average to these documents.

    A document of n sentences gives n − 1 pairs (every sentence with a successor). Each is
    NotNext with probability 1/2, and `random.choice` over the n sentences then picks the
    true next sentence with probability 1/n (a wrong label) and A itself with probability
    1/n (a copy): 1/(2n) of the document's pairs each, (n − 1)/(2n) pairs each in all.
    (The seed's own `doc.split('.')` also counts the empty piece after the last full stop
    in n.) Returns the expected counts over the corpus, to set beside `pair_stats`."""
    sizes = [len(doc) for doc in documents if len(doc) >= 2]
    per_doc = sum((n - 1) / (2 * n) for n in sizes)
    return {"pairs": sum(n - 1 for n in sizes), "mislabeled": per_doc, "degenerate": per_doc}


def pair_stats(pairs: Sequence[Pair]) -> dict:
    """Counts and shares. `mislabeled`: labelled NotNext although B is A's true next
    sentence (a wrong label); `degenerate`: B is A itself (the label NotNext is right, the
    negative is a trivial copy). Both happen only with the seed article's sampling.
    `same_document_share` is over NotNext pairs: how often the "random" partner came from
    A's own document (0 for BERT's way, 1 for the article's)."""
    n = len(pairs)
    is_next = sum(p.is_next for p in pairs)
    not_next = n - is_next
    mis = sum(p.mislabeled for p in pairs)
    deg = sum(p.degenerate for p in pairs)
    same = sum(p.b_doc == p.a_doc for p in pairs if not p.is_next)
    return {"n": n, "is_next": is_next, "not_next": not_next,
            "is_next_share": is_next / n if n else 0.0,
            "mislabeled": mis, "mislabeled_share": mis / n if n else 0.0,
            "degenerate": deg, "degenerate_share": deg / n if n else 0.0,
            "same_document": same,
            "same_document_share": same / not_next if not_next else 0.0}


def _why(p: Pair) -> str:
    if p.is_next:
        return f"B is the sentence right after A in document {p.a_doc}: IsNext"
    if p.b_doc != p.a_doc:
        return f"B is sentence {p.b_idx} of another document ({p.b_doc}): NotNext"
    if p.b_idx == p.a_idx + 1:
        return "labelled NotNext, but B IS the next sentence: the article's bug mislabels it"
    if p.b_idx == p.a_idx:
        return ("B is A itself: NotNext is right, but a copy is a trivial negative "
                "(the article's bug)")
    return f"B is sentence {p.b_idx} of the same document: NotNext, but an easy topic match"


def shown_pair(index: int, a: str, b: str, p, packed: Packed, tokenizer, **fields) -> dict:
    """One shown pair, JSON-able, in the shape the CLI and the NSP tab read (`fields` adds
    what only one kind of pair has: its sentence positions, cuts, the seed bug's flags)."""
    return {"index": index, "a": a, "b": b, "label": p.label_name, "label_id": p.label,
            "is_next": p.is_next, "a_doc": p.a_doc, "b_doc": p.b_doc, **fields,
            "input_ids": packed.input_ids,
            "tokens": [tokenizer.id_to_token(t) for t in packed.input_ids],
            "segment_ids": packed.segment_ids, "a_len": packed.a_len, "b_len": packed.b_len,
            "truncated": packed.truncated}


def report(pairs: list[dict], stats: dict, expected, *, seed: int, max_len: int,
           same_document_bug: bool, segments: bool) -> dict:
    """What `explain_pairs` and `segments.explain_segments` return."""
    return {"seed": seed, "max_len": max_len, "same_document_bug": same_document_bug,
            "segments": segments,
            "label_convention": "label 0 = IsNext, 1 = NotNext (transformers); the article "
                                "uses 1 = IsNext",
            "pairs": pairs, "stats": stats, "expected": expected}


def explain_pairs(documents_text: list[list[str]], tokenizer, *, seed: int = 0,
                  max_len: int = 64, same_document_bug: bool = False, n: int = 8) -> dict:
    """JSON-able NSP examples of one sentence each, for the CLI and the NSP tab: `n` pairs
    drawn (seeded) from all pairs of the corpus, each with its text, label, origin, packed
    tokens and segment ids, plus the counts over every pair (`pair_stats`). With the bug
    on, one mislabeled pair is always among those shown when any exists, so the bug is
    visible and not only a statistic, and `expected` gives `seed_bug_expectation`.
    BERT's packed segments: `segments.explain_segments`."""
    if n < 0:
        raise ConfigError(f"n must be >= 0, got {n}")
    cls_id, sep_id = tokenizer.special_id("cls"), tokenizer.special_id("sep")
    rng = random.Random(seed)
    pairs = make_pairs(documents_text, seed=seed, same_document_bug=same_document_bug)
    shown = sorted(rng.sample(range(len(pairs)), min(n, len(pairs))))
    bad = [k for k, p in enumerate(pairs) if p.mislabeled]
    if shown and bad and not any(pairs[k].mislabeled for k in shown):
        shown = sorted(shown[:-1] + [bad[rng.randrange(len(bad))]])
    out = []
    for k in shown:
        p = pairs[k]
        packed = pack_pair(tokenizer.encode(p.a), tokenizer.encode(p.b), cls_id=cls_id,
                           sep_id=sep_id, max_len=max_len)
        out.append(shown_pair(k, p.a, p.b, p, packed, tokenizer, a_idx=p.a_idx,
                              b_idx=p.b_idx, mislabeled=p.mislabeled,
                              degenerate=p.degenerate, why=_why(p), cut_front=0,
                              cut_back=packed.truncated))
    expected = seed_bug_expectation(documents_text) if same_document_bug else None
    return report(out, pair_stats(pairs), expected, seed=seed, max_len=max_len,
                  same_document_bug=same_document_bug, segments=False)
