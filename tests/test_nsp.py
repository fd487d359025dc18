import json
import random

import pytest

from bertgpt.errors import ConfigError, TextError
from bertgpt.nsp import Pair, explain_pairs, make_pairs, pack_pair, pair_stats

LENGTHS = [2, 3, 4, 5, 6, 8]  # sentences per synthetic document, cycled


def documents(reps=600):
    """Documents of strings "d{doc}s{sentence}": where a sentence came from is readable."""
    docs = []
    for r in range(reps):
        for n in LENGTHS:
            d = len(docs)
            docs.append([f"d{d}s{i}" for i in range(n)])
    return docs


def test_is_next_half_and_partners_in_the_right_place():
    docs = documents()
    pairs = make_pairs(docs, seed=1)
    assert len(pairs) == 600 * sum(n - 1 for n in LENGTHS) >= 2000
    st = pair_stats(pairs)
    assert abs(st["is_next_share"] - 0.5) < 0.02
    assert st["mislabeled"] == 0 and st["same_document_share"] == 0.0
    for p in pairs:
        assert p.a == docs[p.a_doc][p.a_idx] and p.b == docs[p.b_doc][p.b_idx]
        if p.is_next:
            assert (p.b_doc, p.b_idx) == (p.a_doc, p.a_idx + 1) and p.label == 0
        else:
            assert p.b_doc != p.a_doc and p.label == 1  # BERT: from another document
        assert p.a_idx < len(docs[p.a_doc]) - 1  # only sentences with a successor


def test_not_next_documents_are_spread_out():
    pairs = make_pairs(documents(reps=20), seed=0)
    partner_docs = {p.b_doc for p in pairs if not p.is_next}
    assert len(partner_docs) > 60  # many different documents, not one favourite


def test_same_seed_same_pairs():
    docs = documents(reps=50)
    assert make_pairs(docs, seed=3) == make_pairs(docs, seed=3)
    assert make_pairs(docs, seed=3) != make_pairs(docs, seed=4)
    ids_docs = [[[d, i, 7] for i in range(n)] for d, n in enumerate(LENGTHS * 5)]
    assert make_pairs(ids_docs, seed=2) == make_pairs(ids_docs, seed=2)


def test_max_pairs_and_shuffle():
    docs = documents(reps=50)
    full = make_pairs(docs, seed=0)
    few = make_pairs(docs, seed=0, max_pairs=100)
    assert len(few) == 100 and len({p.a_doc for p in few}) > 50  # not just the first docs
    assert [(p.a_doc, p.a_idx) for p in few] == sorted((p.a_doc, p.a_idx) for p in few)
    mixed = make_pairs(docs, seed=0, shuffle=True)
    assert sorted(map(repr, mixed)) == sorted(map(repr, full)) and mixed != full


def test_same_document_bug_mislabels_at_the_expected_rate():
    docs = documents()
    pairs = make_pairs(docs, seed=7, same_document_bug=True)
    st = pair_stats(pairs)
    # A NotNext pair (prob 1/2) from a document of n sentences picks the true next sentence
    # or A itself with prob 2/n, so a pair from that document is mislabeled with prob 1/n.
    expected = sum((n - 1) / n for n in LENGTHS) / sum(n - 1 for n in LENGTHS)  # ~0.201
    assert st["mislabeled"] > 0
    assert abs(st["mislabeled_share"] - expected) < 0.02
    assert st["same_document_share"] == 1.0
    for p in pairs:
        if p.mislabeled:
            assert not p.is_next and p.label == 1 and p.b_doc == p.a_doc
            assert p.b_idx in (p.a_idx, p.a_idx + 1)


def test_pack_pair_segments_and_no_truncation():
    p = pack_pair([10, 11, 12], [20, 21], cls_id=1, sep_id=2, max_len=16)
    assert p.input_ids == [1, 10, 11, 12, 2, 20, 21, 2]
    assert p.segment_ids == [0, 0, 0, 0, 0, 1, 1, 1]
    assert (p.a_len, p.b_len, p.truncated) == (3, 2, 0)
    parts = [t["part"] for t in p.trace()]
    assert parts == ["[CLS]", "A", "A", "A", "[SEP]", "B", "B", "[SEP]"]


def _truncate_seq_pair(a, b, budget):
    """BERT's loop, removing from the end: the reference for longest-first truncation."""
    a, b = list(a), list(b)
    while len(a) + len(b) > budget:
        (a if len(a) > len(b) else b).pop()
    return a, b


def test_pack_pair_truncates_longest_first():
    p = pack_pair(list(range(100, 110)), [200, 201], cls_id=1, sep_id=2, max_len=9)
    assert p.input_ids == [1, 100, 101, 102, 103, 2, 200, 201, 2]  # only A, the longer, cut
    assert (p.a_len, p.b_len, p.truncated, p.truncated_a, p.truncated_b) == (4, 2, 6, 6, 0)
    rng = random.Random(0)
    for _ in range(2000):
        la, lb, max_len = rng.randrange(0, 40), rng.randrange(0, 40), rng.randrange(5, 60)
        a, b = list(range(1000, 1000 + la)), list(range(2000, 2000 + lb))
        p = pack_pair(a, b, cls_id=1, sep_id=2, max_len=max_len)
        ra, rb = _truncate_seq_pair(a, b, max_len - 3)
        assert p.input_ids == [1] + ra + [2] + rb + [2]
        assert p.segment_ids == [0] * (len(ra) + 2) + [1] * (len(rb) + 1)
        assert len(p.input_ids) <= max_len and p.truncated == la + lb - len(ra) - len(rb)


def test_pack_pair_max_len_too_small():
    with pytest.raises(ConfigError, match="at least 5"):
        pack_pair([1], [2], cls_id=1, sep_id=2, max_len=4)


def test_errors():
    with pytest.raises(TextError, match="blank line"):
        make_pairs([["a.", "b.", "c."]])
    with pytest.raises(TextError, match="single sentence"):
        make_pairs([["a."], ["b."], ["c."]])
    with pytest.raises(TextError):
        make_pairs([])
    # the article's version draws from the same document, so one document is enough
    assert make_pairs([["a.", "b.", "c."]], same_document_bug=True)


def test_label_convention():
    p = Pair("a", "b", True, 0, 0, 0, 1)
    assert p.label == 0 and p.label_name == "IsNext"
    q = Pair("a", "x", False, 0, 0, 1, 3)
    assert q.label == 1 and q.label_name == "NotNext"
    assert pair_stats([]) ["n"] == 0


class FakeTokenizer:
    def __init__(self):
        self.vocab = ["[PAD]", "[CLS]", "[SEP]", "[MASK]"]

    def encode(self, text):
        out = []
        for w in text.split():
            if w not in self.vocab:
                self.vocab.append(w)
            out.append(self.vocab.index(w))
        return out

    def special_id(self, role):
        return {"pad": 0, "cls": 1, "sep": 2, "mask": 3}[role]

    def id_to_token(self, i):
        return self.vocab[i]


def test_explain_pairs():
    docs = [[f"doc {d} sentence {i} " + "word " * (i % 4) for i in range(5)] for d in range(6)]
    out = explain_pairs(docs, FakeTokenizer(), seed=2, max_len=10, n=8)
    json.dumps(out, allow_nan=False)
    assert len(out["pairs"]) == 8 and out["stats"]["n"] == 6 * 4
    for p in out["pairs"]:
        assert p["label"] in ("IsNext", "NotNext")
        assert p["tokens"][0] == "[CLS]" and p["tokens"][-1] == "[SEP]"
        assert len(p["tokens"]) == len(p["segment_ids"]) <= 10
        assert p["truncated"] > 0  # every sentence has >= 4 words: 10 tokens must cut
    bug = explain_pairs(docs, FakeTokenizer(), seed=2, max_len=32, same_document_bug=True)
    assert any(p["mislabeled"] for p in bug["pairs"])  # the bug is shown, not just counted
