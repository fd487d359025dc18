"""Sentence pairs for next-sentence prediction (BERT paper §3.1 Task #2).

For each sentence A that has a successor, half the time B is that successor (IsNext) and
half the time B is a random sentence from a *different* document (NotNext), as
google-research/bert's `create_pretraining_data.py` does. The pair is packed as
`[CLS] A [SEP] B [SEP]` with segment ids 0 for `[CLS] A [SEP]` and 1 for `B [SEP]`.

Label convention: `Pair.label` is 0 for IsNext and 1 for NotNext, as transformers'
`BertForPreTraining` (`next_sentence_label` 0 = "B continues A") and google's checkpoint
use. The seed article uses the opposite (1 = IsNext); `Pair.is_next` avoids the ambiguity.

The article's `create_nsp_data` draws the NotNext partner with `random.choice(sentences)`
from the SAME document (DESIGN.md, bug 2); `same_document_bug=True` reproduces it so the app
can show what it does to the labels.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Sequence

from .errors import ConfigError, TextError

LABEL_NAMES = ("IsNext", "NotNext")  # index = Pair.label


@dataclass
class Pair:
    a: Any                   # sentence A (str or list of ids)
    b: Any                   # sentence B
    is_next: bool            # True: B really follows A in its document
    a_doc: int               # where A came from: document index, sentence index
    a_idx: int
    b_doc: int               # where B came from
    b_idx: int
    mislabeled: bool = False  # only with the seed bug: labelled NotNext, yet B is A's
                              # true next sentence or A itself

    @property
    def label(self) -> int:
        """0 = IsNext, 1 = NotNext (transformers' convention; the article uses 1 = IsNext)."""
        return 0 if self.is_next else 1

    @property
    def label_name(self) -> str:
        return LABEL_NAMES[self.label]


def make_pairs(documents: Sequence[Sequence[Any]], *, seed: int = 0,
               same_document_bug: bool = False, max_pairs: int | None = None,
               shuffle: bool = False) -> list[Pair]:
    """NSP pairs from documents (each a sequence of sentences: str or lists of ids).

    Randomness comes only from `random.Random(seed)`. Pairs come in corpus order (document,
    then sentence) unless `shuffle`; `max_pairs` keeps a seeded random subset, still in
    corpus order, so a cap never means "only the first documents".

    same_document_bug=True: the seed article's version. The NotNext partner is
    `random.choice(sentences)` from A's own document, so for a document of n sentences it
    is A's true next sentence with probability 1/n (a NotNext label on an IsNext pair) and
    A itself with probability 1/n. Such pairs are marked `mislabeled=True`; about 1/n of all
    pairs from that document are (half are NotNext, 2/n of those are wrong). The article's
    version needs only one document, so this mode does not ask for two.
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
                                  mislabeled=j in (i, i + 1)))
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
    truncated_a: int = 0    # of which from the end of A
    truncated_b: int = 0    # of which from the end of B

    def trace(self, id_to_token=None) -> list[dict]:
        """One dict per position: id, token, segment, and which part it belongs to."""
        name = str if id_to_token is None else getattr(id_to_token, "id_to_token", id_to_token)
        parts = (["[CLS]"] + ["A"] * self.a_len + ["[SEP]"] + ["B"] * self.b_len + ["[SEP]"])
        return [{"position": i, "id": t, "token": name(t), "segment": s, "part": p}
                for i, (t, s, p) in enumerate(zip(self.input_ids, self.segment_ids, parts))]


def _truncated_lengths(la: int, lb: int, budget: int) -> tuple[int, int]:
    """Lengths left after longest-first truncation to `budget` tokens.

    Same result as BERT's `truncate_seq_pair` loop (drop one token from the longer; on a
    tie from B) but computed directly: the longer shrinks to the shorter's length, then
    they shrink in turn, B first. google's version drops from the front or the back at
    random (a little noise); we always drop from the end, so a pair packs the same way
    every time.
    """
    if la + lb <= budget:
        return la, lb
    short = min(la, lb)
    if 2 * short <= budget:  # trimming the longer alone is enough
        return (la, budget - la) if la < lb else (budget - lb, lb)
    return (budget + 1) // 2, budget // 2  # both trimmed; an odd token stays with A


def pack_pair(a_ids, b_ids, *, cls_id: int, sep_id: int, max_len: int) -> Packed:
    """`[CLS] A [SEP] B [SEP]` with segment ids, truncated longest-first to `max_len`."""
    if max_len < 5:
        raise ConfigError(f"max_len must be at least 5 ([CLS] A [SEP] B [SEP] with one token "
                          f"each), got {max_len}")
    a, b = list(a_ids), list(b_ids)
    ka, kb = _truncated_lengths(len(a), len(b), max_len - 3)
    ids = [cls_id] + a[:ka] + [sep_id] + b[:kb] + [sep_id]
    seg = [0] * (ka + 2) + [1] * (kb + 1)
    return Packed(ids, seg, ka, kb, len(a) - ka + len(b) - kb, len(a) - ka, len(b) - kb)


def pair_stats(pairs: Sequence[Pair]) -> dict:
    """Counts and shares. `same_document_share` is over NotNext pairs: how often the
    "random" partner came from A's own document (0 for BERT's way, 1 for the article's)."""
    n = len(pairs)
    is_next = sum(p.is_next for p in pairs)
    not_next = n - is_next
    mis = sum(p.mislabeled for p in pairs)
    same = sum(p.b_doc == p.a_doc for p in pairs if not p.is_next)
    return {"n": n, "is_next": is_next, "not_next": not_next,
            "is_next_share": is_next / n if n else 0.0,
            "mislabeled": mis, "mislabeled_share": mis / n if n else 0.0,
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
        return "labelled NotNext, but B is A itself: the article's bug"
    return f"B is sentence {p.b_idx} of the same document: NotNext, but an easy topic match"


def explain_pairs(documents_text: list[list[str]], tokenizer, *, seed: int = 0,
                  max_len: int = 64, same_document_bug: bool = False, n: int = 8) -> dict:
    """JSON-able NSP examples for the CLI and the NSP tab: `n` pairs drawn (seeded) from all
    pairs of the corpus, each with its text, label, origin, packed tokens and segment ids,
    plus `pair_stats` over every pair. With the bug on, one mislabeled pair is always
    among those shown when any exists, so the bug is visible and not only a statistic."""
    if n < 0:
        raise ConfigError(f"n must be >= 0, got {n}")
    pairs = make_pairs(documents_text, seed=seed, same_document_bug=same_document_bug)
    rng = random.Random(seed)
    shown = sorted(rng.sample(range(len(pairs)), min(n, len(pairs))))
    bad = [k for k, p in enumerate(pairs) if p.mislabeled]
    if shown and bad and not any(pairs[k].mislabeled for k in shown):
        shown = sorted(shown[:-1] + [bad[rng.randrange(len(bad))]])
    cls_id, sep_id = tokenizer.special_id("cls"), tokenizer.special_id("sep")
    out = []
    for k in shown:
        p = pairs[k]
        packed = pack_pair(tokenizer.encode(p.a), tokenizer.encode(p.b), cls_id=cls_id,
                           sep_id=sep_id, max_len=max_len)
        out.append({"index": k, "a": p.a, "b": p.b, "label": p.label_name, "label_id": p.label,
                    "is_next": p.is_next, "a_doc": p.a_doc, "a_idx": p.a_idx,
                    "b_doc": p.b_doc, "b_idx": p.b_idx, "mislabeled": p.mislabeled,
                    "why": _why(p), "input_ids": packed.input_ids,
                    "tokens": [tokenizer.id_to_token(t) for t in packed.input_ids],
                    "segment_ids": packed.segment_ids, "a_len": packed.a_len,
                    "b_len": packed.b_len, "truncated": packed.truncated})
    return {"seed": seed, "max_len": max_len, "same_document_bug": same_document_bug,
            "label_convention": "label 0 = IsNext, 1 = NotNext (transformers); the article "
                                "uses 1 = IsNext",
            "pairs": out, "stats": pair_stats(pairs)}
