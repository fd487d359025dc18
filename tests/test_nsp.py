import json
import random

import pytest

from bertgpt.errors import ConfigError, TextError
from bertgpt.text.nsp import Pair, explain_pairs, make_pairs, pack_pair, pair_stats, seed_bug_expectation
from bertgpt.text.segments import SegmentPair, explain_segments, pack_segments, segment_stats

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


def test_same_document_bug_two_cases_at_the_expected_rates():
    """The seed's `random.choice(sentences)` for NotNext: per pair of a document of n
    sentences, P(NotNext) = 1/2 times P(pick the true next) = 1/n gives a wrong label with
    probability 1/(2n); P(pick A itself) = 1/n gives a (correctly labelled) copy, also
    1/(2n). Measured counts must match the formulas within sampling error."""
    docs = documents()
    exp = seed_bug_expectation(docs)
    assert exp["pairs"] == 600 * sum(n - 1 for n in LENGTHS)
    assert abs(exp["mislabeled"] - 600 * sum((n - 1) / (2 * n) for n in LENGTHS)) < 1e-6
    # a sum of independent Bernoulli(1/(2n)) over the pairs: its standard deviation
    sd = sum(600 * (n - 1) * (1 / (2 * n)) * (1 - 1 / (2 * n)) for n in LENGTHS) ** 0.5
    for seed in (7, 8, 9):
        pairs = make_pairs(docs, seed=seed, same_document_bug=True)
        st = pair_stats(pairs)
        assert abs(st["mislabeled"] - exp["mislabeled"]) < 4 * sd, (seed, st, exp)
        assert abs(st["degenerate"] - exp["degenerate"]) < 4 * sd, (seed, st, exp)
        assert st["same_document_share"] == 1.0
        for p in pairs:
            assert not (p.mislabeled and p.degenerate)
            if p.mislabeled:   # a wrong label: B really is the next sentence
                assert not p.is_next and p.label == 1 and p.b_doc == p.a_doc
                assert p.b_idx == p.a_idx + 1
            if p.degenerate:   # the right label, on a copy
                assert not p.is_next and (p.b_doc, p.b_idx) == (p.a_doc, p.a_idx)
    # about 1/(2n) each, not 1/n: for six-sentence documents 1/12 of the pairs each
    six = [[f"d{d}s{i}" for i in range(6)] for d in range(3000)]
    st = pair_stats(make_pairs(six, seed=1, same_document_bug=True))
    assert abs(st["mislabeled_share"] - 1 / 12) < 0.01
    assert abs(st["degenerate_share"] - 1 / 12) < 0.01


def test_bert_sampling_has_neither_case():
    st = pair_stats(make_pairs(documents(reps=100), seed=0))
    assert st["mislabeled"] == st["degenerate"] == 0


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


# ---- packed segments (google-research/bert's create_instances_from_document) -------------

def token_documents(n_docs=60, seed=0):
    """Documents whose tokens say where they came from: (doc, sentence, position)."""
    rng = random.Random(seed)
    return [[[(d, i, t) for t in range(rng.randrange(1, 12))] for i in range(rng.randrange(1, 9))]
            for d in range(n_docs)]


def _flat(doc, start, stop):
    return [t for s in doc[start:stop] for t in s]


@pytest.mark.parametrize("max_len", [5, 8, 16, 40, 200])
def test_pack_segments_respects_max_len_and_keeps_text_contiguous(max_len):
    docs = token_documents()
    out = pack_segments(docs, max_len=max_len, seed=3)
    assert out
    for p in out:
        assert len(p.a) >= 1 and len(p.b) >= 1
        assert len(p.a) + len(p.b) + 3 <= max_len
        assert len(p.packed(cls_id=1, sep_id=2).input_ids) <= max_len
        assert 2 <= p.target_len <= max_len - 3
        # each segment is a contiguous run of whole sentences, cut only at its two ends
        full_a, full_b = _flat(docs[p.a_doc], p.a_start, p.a_stop), \
            _flat(docs[p.b_doc], p.b_start, p.b_stop)
        assert p.a == full_a[p.cut_a_front:len(full_a) - p.cut_a_back]
        assert p.b == full_b[p.cut_b_front:len(full_b) - p.cut_b_back]
        if p.is_next:
            assert (p.b_doc, p.b_start) == (p.a_doc, p.a_stop) and p.label == 0
        else:
            assert p.b_doc != p.a_doc and p.label == 1   # NotNext from another document


def test_pack_segments_walks_each_document_in_order():
    """A's of one document follow each other: the next chunk starts where B ended (IsNext)
    or, for NotNext, right after A (the unused sentences are put back), so every sentence
    is used once, in order."""
    docs = token_documents(n_docs=80, seed=1)
    out = pack_segments(docs, max_len=24, seed=5)
    for d, doc in enumerate(docs):
        mine = [p for p in out if p.a_doc == d]
        pos = 0
        for p in mine:
            assert p.a_start == pos and p.a_stop > p.a_start
            pos = p.b_stop if p.is_next else p.a_stop
        assert pos == len(doc)


def test_pack_segments_packs_several_sentences_when_there_is_room():
    docs = token_documents(n_docs=100, seed=2)
    long = segment_stats(pack_segments(docs, max_len=128, seed=0), 128)
    short = segment_stats(pack_segments(docs, max_len=8, seed=0), 8)
    assert long["sentences_per_segment"] > 1.5 > short["sentences_per_segment"]
    assert long["multi_sentence_segments"] > 0


def test_pack_segments_same_seed_same_instances_and_short_targets():
    docs = token_documents(n_docs=200, seed=4)
    assert pack_segments(docs, max_len=32, seed=9) == pack_segments(docs, max_len=32, seed=9)
    assert pack_segments(docs, max_len=32, seed=9) != pack_segments(docs, max_len=32, seed=10)
    never = pack_segments(docs, max_len=32, seed=0, short_seq_prob=0.0)
    assert {p.target_len for p in never} == {29}
    always = pack_segments(docs, max_len=32, seed=0, short_seq_prob=1.0)
    assert all(2 <= p.target_len <= 29 for p in always)
    assert len({p.target_len for p in always}) > 10
    # about one document in ten draws a shorter target by default
    docs = token_documents(n_docs=2000, seed=5)
    per_doc = {p.a_doc: p.target_len for p in pack_segments(docs, max_len=32, seed=1)}
    share = sum(t < 29 for t in per_doc.values()) / len(per_doc)
    assert 0.06 < share < 0.13


def test_pack_segments_truncates_from_both_ends_at_random():
    docs = [[[(d, i, t) for t in range(30)] for i in range(3)] for d in range(50)]
    out = pack_segments(docs, max_len=20, seed=0)
    fronts = sum(p.cut_a_front + p.cut_b_front for p in out)
    backs = sum(p.cut_a_back + p.cut_b_back for p in out)
    assert fronts > 0 and backs > 0 and 0.4 < fronts / (fronts + backs) < 0.6


def test_pack_segments_errors():
    with pytest.raises(TextError, match="2 documents"):
        pack_segments([[[1, 2], [3]]], max_len=16)
    with pytest.raises(ConfigError, match="at least 5"):
        pack_segments(token_documents(), max_len=4)
    with pytest.raises(ConfigError, match="short_seq_prob"):
        pack_segments(token_documents(), max_len=16, short_seq_prob=1.5)
    p = SegmentPair([1], [2], True, 0, 0, 1, 0, 1, 2, 3)
    assert p.label_name == "IsNext" and p.truncated == 0


def test_explain_pairs_segments():
    docs = [[f"doc {d} sentence {i} " + "word " * (i % 4) for i in range(5)] for d in range(6)]
    out = explain_segments(docs, FakeTokenizer(), seed=2, max_len=24, n=4)
    json.dumps(out, allow_nan=False)
    assert out["segments"] and out["stats"]["n"] >= len(out["pairs"]) == 4
    for p in out["pairs"]:
        assert p["tokens"][0] == "[CLS]" and p["tokens"][-1] == "[SEP]"
        assert len(p["tokens"]) == len(p["segment_ids"]) <= 24
        assert p["cut_front"] + p["cut_back"] == p["truncated"]
        if p["label"] == "NotNext":
            assert p["b_doc"] != p["a_doc"]


def test_nsp_tab_offers_both_units():
    from bertgpt.app import tab_nsp
    old = tab_nsp.pairs("world corpus", "", 4, 24, True, 1)   # a call from before the option
    assert old == tab_nsp.pairs("world corpus", "", 4, 24, True, 1, "sentences")
    docs = [d.sentences for d in __import__("bertgpt.text.corpus", fromlist=["x"]).world_documents(
        seed=0, n_docs=200)]
    st = pair_stats(make_pairs(docs, seed=4, same_document_bug=True))
    assert f"{st['mislabeled']:,} pairs" in old[1] and f"{st['degenerate']:,}" in old[1]
    assert "(A, A)" in old[1]
    chips, md, _, _ = tab_nsp.pairs("world corpus", "", 4, 64, False, 1, "segments")
    assert "sentences" in md and "instances" in md
    assert any(label == "IsNext" and "sentences" in text for text, label in chips)
