"""bertgpt/pretrain/data.py: the validation split, GPT's token stream, BERT's MLM + NSP batches."""
import math

import pytest
import torch

from bertgpt.text.corpus import generate_world
from bertgpt.pretrain.data import BertData, GPTData, _encode_long, split_text
from bertgpt.errors import TextError
from bertgpt.text.tokenizer import train_tokenizer
from bertgpt.pretrain.loop import TrainConfig


@pytest.fixture(scope="module")
def world():
    return generate_world(seed=0, size=20_000)


@pytest.fixture(scope="module")
def wordpiece(world):
    return train_tokenizer("wordpiece", world, 500, model="bert")


@pytest.fixture(scope="module")
def bpe(world):
    return train_tokenizer("bpe", world, 400, model="gpt")


def _bert_data(tok, text, block=32, **cfg):
    tr, va = split_text(text)
    return BertData(tok, tr, va, block, TrainConfig(**cfg))


# ---------------------------------------------------------------- split_text
def test_split_text_holds_out_the_last_tenth_at_a_blank_line(world):
    train, val = split_text(world)
    assert train + val == world
    assert 0.05 < len(val) / len(world) < 0.2
    assert train.endswith("\n\n")  # cut at a document boundary, no document split in two
    assert not val.startswith("\n")


def test_split_text_without_a_blank_line_never_cuts_a_word():
    text = " ".join(f"word{i}" for i in range(500))
    train, val = split_text(text)
    assert train + val == text
    assert 0.05 < len(val) / len(text) < 0.2
    assert train.endswith(" ") and val.startswith("word")  # whole words on both sides


def test_split_text_ignores_a_blank_line_far_from_the_cut():
    text = "First document.\n\n" + "x " * 1000
    train, val = split_text(text)
    assert len(val) < 0.2 * len(text)  # not everything after the only blank line


def test_split_text_fraction_is_a_parameter(world):
    _, val = split_text(world, 0.3)
    assert 0.2 < len(val) / len(world) < 0.4


@pytest.mark.parametrize("text", ["", "   \n\n\t "])
def test_split_text_refuses_empty_text(text):
    with pytest.raises(TextError, match="empty"):
        split_text(text)


# ---------------------------------------------------------------- GPTData
def test_encode_long_gives_the_same_tokens_as_one_call(world, bpe, wordpiece):
    for tok in (bpe, wordpiece, train_tokenizer("char", world, 100, model="gpt")):
        assert _encode_long(tok, world) == tok.encode(world)


def test_gpt_batches_are_windows_of_the_stream_shifted_by_one(world, bpe):
    train, val = split_text(world)
    data = GPTData(bpe, train, val, 16, TrainConfig())
    g = torch.Generator().manual_seed(0)
    rows = data.batch("train", 5, g, "cpu")
    assert rows.shape == (5, 17) and rows.dtype == torch.long
    stream = data.train.tolist()
    for r in rows.tolist():
        # each row is a real window; inputs rows[:, :-1] and targets rows[:, 1:] differ by one
        starts = [i for i in range(len(stream) - 16) if stream[i:i + 17] == r]
        assert starts
    x, y = rows[:, :-1], rows[:, 1:]
    assert torch.equal(x[:, 1:], y[:, :-1])
    assert GPTData.tokens_in(rows) == 5 * 16
    assert data.batch("val", 3, g, "cpu").shape == (3, 17)


def test_gpt_batches_are_deterministic_for_a_seed(world, bpe):
    train, val = split_text(world)
    data = GPTData(bpe, train, val, 16, TrainConfig())
    a = data.batch("train", 4, torch.Generator().manual_seed(7), "cpu")
    b = data.batch("train", 4, torch.Generator().manual_seed(7), "cpu")
    c = data.batch("train", 4, torch.Generator().manual_seed(8), "cpu")
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_gpt_block_larger_than_the_text_is_a_helpful_error(bpe):
    text = "The cat sat on the mat. The dog ran.\n\nA short second document here."
    train, val = split_text(text)
    with pytest.raises(TextError, match=r"only \d+ training tokens but the block size is 512"
                                        r".*(more text|smaller block)"):
        GPTData(bpe, train, val, 512, TrainConfig())


def test_gpt_loss_uses_targets_shifted_by_one():
    class Spy:
        def loss(self, x, y):
            self.seen = (x, y)
            return torch.tensor(1.0)
    rows = torch.arange(12).view(2, 6)
    spy = Spy()
    GPTData.loss(spy, rows)
    assert torch.equal(spy.seen[0], rows[:, :-1]) and torch.equal(spy.seen[1], rows[:, 1:])


def test_val_bpc_is_nats_per_token_over_chars_per_token_over_ln2(bpe):
    """By hand: a model whose loss is always 2.0 nats/token; the validation text is 40
    characters in N tokens, so bpc = 2.0 / (40 / N) / ln 2."""
    train = "the cat sat on the mat and the dog sat on the log. " * 20
    val = "the dog sat on the mat and the cat ran. "
    assert len(val) == 40
    data = GPTData(bpe, train, val, 8, TrainConfig())
    n_tokens = len(bpe.encode(val))
    assert data.val_chars_per_token == pytest.approx(40 / n_tokens)

    class Constant:
        def loss(self, x, y):
            return torch.tensor(2.0)
    out = data.evaluate(Constant(), 4, 2, "cpu")
    assert out["val_loss"] == pytest.approx(2.0)
    assert out["val_bpc"] == pytest.approx(2.0 / (40 / n_tokens) / math.log(2))
    # a char-level example: one char per token, so bpc = nats / ln 2 exactly
    char = train_tokenizer("char", train + val, 100, model="gpt")
    cdata = GPTData(char, train, val, 8, TrainConfig())
    assert cdata.val_chars_per_token == 1.0
    assert cdata.evaluate(Constant(), 4, 2, "cpu")["val_bpc"] == pytest.approx(2.0 / math.log(2))


# ---------------------------------------------------------------- BertData
def _check_bert_batch(b, tok, block):
    ids, seg, attn, labels = b["input_ids"], b["segment_ids"], b["attention_mask"], b["labels"]
    B, T = ids.shape
    assert seg.shape == attn.shape == labels.shape == (B, T) and T <= block
    cls, sep, pad = (tok.special_id(r) for r in ("cls", "sep", "pad"))
    assert (ids[:, 0] == cls).all(), "[CLS] comes first"
    # padding: attention mask 0 exactly at [PAD] (a [PAD] is never an MLM replacement)
    assert torch.equal(attn, (ids != pad).long())
    lengths = attn.sum(1)
    for i in range(B):
        n = int(lengths[i])
        assert (attn[i, :n] == 1).all() and (attn[i, n:] == 0).all(), "padding only at the end"
        assert (seg[i, n:] == 0).all()
    # labels: -100 exactly where nothing is predicted; never at specials or padding
    sel = labels != -100
    specials = torch.isin(labels.masked_fill(~sel, cls), torch.tensor(tok.special_ids))
    assert not (sel & specials).any()
    assert not (sel & (attn == 0)).any()
    assert not sel[:, 0].any()
    return sel


def test_bert_batches_have_cls_seps_segments_padding_and_labels(world, wordpiece):
    data = _bert_data(wordpiece, world, block=32)
    assert data.nsp and data.note == ""
    g = torch.Generator().manual_seed(0)
    b = data.batch("train", 16, g, "cpu")
    sel = _check_bert_batch(b, wordpiece, 32)
    assert sel.any()
    sep = wordpiece.special_id("sep")
    ids, seg, attn = b["input_ids"], b["segment_ids"], b["attention_mask"]
    for i in range(ids.shape[0]):
        n = int(attn[i].sum())
        seps = (ids[i, :n] == sep).nonzero().flatten().tolist()
        # [CLS] A [SEP] B [SEP]: the last real token is a [SEP] ... unless MLM replaced it,
        # which it never does; the first [SEP] ends segment 0
        assert ids[i, n - 1] == sep and len(seps) >= 2
        first = seps[0]
        assert (seg[i, :first + 1] == 0).all() and (seg[i, first + 1:n] == 1).all()
    assert set(b["nsp_labels"].tolist()) <= {0, 1}
    assert BertData.tokens_in(b) == int(attn.sum())


def test_bert_nsp_labels_are_balanced(world, wordpiece):
    data = _bert_data(wordpiece, world, block=32)
    g = torch.Generator().manual_seed(0)
    labels = torch.cat([data.batch("train", 64, g, "cpu")["nsp_labels"] for _ in range(6)])
    assert 0.4 < labels.float().mean() < 0.6


def test_bert_labels_hold_the_original_ids_where_selected(world, wordpiece):
    from bertgpt.text.nsp import pack_pair
    data = _bert_data(wordpiece, world, block=32)
    examples = data._pairs(data.train_docs, seed=0)[:64]
    b = data._collate(examples, torch.Generator().manual_seed(3), "cpu")
    cls, sep, pad = (wordpiece.special_id(r) for r in ("cls", "sep", "pad"))
    original = torch.full_like(b["input_ids"], pad)
    for i, (a, bb, _) in enumerate(examples):
        packed = pack_pair(a, bb, cls_id=cls, sep_id=sep, max_len=32).input_ids
        original[i, :len(packed)] = torch.tensor(packed)
    sel = b["labels"] != -100
    assert torch.equal(b["labels"][sel], original[sel])
    assert torch.equal(b["input_ids"][~sel], original[~sel]), "unselected tokens unchanged"
    share = sel.sum() / (b["attention_mask"].sum() - 3 * len(examples))  # minus the specials
    assert 0.1 < share < 0.2
    masked = b["input_ids"] == wordpiece.special_id("mask")
    assert 0.7 < masked[sel].float().mean() < 0.9  # 80% of the selected become [MASK]
    assert torch.equal(b["nsp_labels"], torch.tensor([lab for _, _, lab in examples]))


def test_bert_data_is_deterministic_for_a_seed(world, wordpiece):
    def batches(seed):
        data = _bert_data(wordpiece, world, seed=seed)
        g = torch.Generator().manual_seed(seed)
        return [data.batch("train", 8, g, "cpu") for _ in range(3)]
    a, b, c = batches(1), batches(1), batches(2)
    for x, y in zip(a, b):
        for k in x:
            assert torch.equal(x[k], y[k])
    assert any(not torch.equal(x["input_ids"], y["input_ids"]) for x, y in zip(a, c))


def test_a_single_document_turns_nsp_off_with_a_note(wordpiece):
    text = " ".join(f"The capital of France is Paris, fact {i}." for i in range(60))
    data = _bert_data(wordpiece, text, block=32)
    assert not data.nsp
    assert "NSP is off" in data.note and "blank line" in data.note
    g = torch.Generator().manual_seed(0)
    b = data.batch("train", 8, g, "cpu")
    assert b["nsp_labels"] is None
    assert (b["segment_ids"] == 0).all()
    _check_bert_batch(b, wordpiece, 32)
    sep = wordpiece.special_id("sep")
    n = b["attention_mask"].sum(1) - 1
    assert (b["input_ids"][torch.arange(8), n] == sep).all()  # [CLS] run [SEP]


def test_nsp_can_be_turned_off_without_a_note(world, wordpiece):
    data = _bert_data(wordpiece, world, nsp=False)
    assert not data.nsp and data.note == ""
    assert data.batch("train", 4, torch.Generator().manual_seed(0), "cpu")["nsp_labels"] is None


def test_a_long_sentence_is_not_cut_to_one_block(wordpiece):
    """Text without sentence ends is one huge "sentence"; every token of it must still
    reach training, in block-sized pieces (it used to keep only the first block)."""
    words = " ".join(["paris rome berlin madrid"] * 100)
    data = _bert_data(wordpiece, words + "\n\n" + words, block=32, nsp=False)
    n_tokens = sum(len(s) for d in data.train_docs for s in d)
    examples = data._pairs(data.train_docs, seed=0)
    assert all(len(a) <= 30 for a, _, _ in examples)
    assert sum(len(a) for a, _, _ in examples) == n_tokens


def test_validation_comes_from_held_out_text_only(wordpiece):
    """A held-out part with a single document cannot make NSP pairs; validation then
    measures MLM on it, instead of pairs built from the training documents."""
    docs = [f"Anna is a teacher number {i}. She works at a school. She likes it."
            for i in range(40)]
    val_doc = "Zoe flies planes. Zoe is a pilot. The airport is big. She lands at noon."
    train_text, val_text = "\n\n".join(docs) + "\n\n", val_doc
    data = BertData(wordpiece, train_text, val_text, 32, TrainConfig())
    assert data.nsp
    val_tokens = {t for d in data.val_docs for s in d for t in s}
    for a, b, label in data.val_pairs:
        assert b is None and label == -100
        assert set(a) <= val_tokens
    model = _FakeBert()
    out = data.evaluate(model, 4, 2, "cpu")
    assert model.nsp_seen == [None] * len(model.nsp_seen)
    assert "val_nsp_acc" not in out and math.isfinite(out["val_loss"])


def test_bert_evaluate_is_repeatable_and_not_zero_when_nothing_is_masked(wordpiece):
    data = _bert_data(wordpiece, "\n\n".join(
        ["Anna is a teacher. She works at a school."] * 30))
    model = _FakeBert()
    assert data.evaluate(model, 4, 2, "cpu") == data.evaluate(model, 4, 2, "cpu")
    # A validation part with no maskable token reports NaN, never a perfect 0.0.
    tiny = BertData(wordpiece, "Anna is a teacher. She works.\n\nBen is a cook. He cooks.",
                    ".", 32, TrainConfig(mlm_prob=1e-9))
    out = tiny.evaluate(_FakeBert(), 4, 2, "cpu")
    assert math.isnan(out["val_loss"])


class _FakeBert:
    """pretraining_loss with fixed figures, recording what it was given."""

    def __init__(self):
        self.nsp_seen = []

    def pretraining_loss(self, ids, seg, attn, labels, nsp_labels):
        self.nsp_seen.append(nsp_labels)
        n = int((labels != -100).sum())
        parts = {"mlm_loss": torch.tensor(1.5), "mlm_correct": torch.tensor(0), "mlm_count": n}
        if nsp_labels is not None:
            parts.update(nsp_correct=torch.tensor(0), nsp_count=nsp_labels.numel())
        return torch.tensor(1.5), parts
