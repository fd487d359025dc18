import json

import pytest
import torch

from bertgpt.errors import ConfigError, TextError
from bertgpt.text.mlm import FATES, IGNORE, mask_text, mask_tokens, seed_article_masking

PAD, CLS, SEP, MASK, UNK = range(5)
SPECIALS = [PAD, CLS, SEP, MASK, UNK]
V = 1000


def batch(B, T, seed=0, pad_from=None):
    """[CLS] words [SEP] rows with ids from the real range, optional padding at the end."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(len(SPECIALS), V, (B, T), generator=g)
    ids[:, 0], ids[:, -1] = CLS, SEP
    if pad_from is not None:
        ids[:, pad_from:] = PAD
        ids[:, pad_from - 1] = SEP
    return ids


def run(ids, **kw):
    kw.setdefault("seed", 0)
    return mask_tokens(ids, mask_id=MASK, special_ids=SPECIALS, vocab_size=V, **kw)


def test_rates_over_many_tokens():
    ids = batch(400, 1024, pad_from=900)  # 400 * 898 ~ 359k maskable tokens
    r = run(ids, seed=1)
    c = r.counts()
    assert c["maskable"] == 400 * 898 and c["maskable"] >= 100_000
    assert abs(c["selected_rate"] - 0.15) < 0.005
    assert abs(c["masked_share"] - 0.8) < 0.01
    assert abs(c["random_share"] - 0.1) < 0.01
    assert abs(c["kept_share"] - 0.1) < 0.01
    assert c["selected"] == c["masked"] + c["random"] + c["kept"]


def test_specials_never_selected_and_random_never_special():
    ids = batch(200, 512, pad_from=400)
    r = run(ids, seed=2, prob=0.5)
    special = torch.isin(ids, torch.tensor(SPECIALS))
    assert (r.fate[special] == 0).all()
    assert torch.equal(r.input_ids[special], ids[special])  # specials untouched
    rand = r.fate == 2
    assert rand.sum() > 1000
    assert not torch.isin(r.input_ids[rand], torch.tensor(SPECIALS)).any()
    assert (r.input_ids[r.fate == 1] == MASK).all()
    kept = r.fate == 3
    assert torch.equal(r.input_ids[kept], ids[kept])


def test_labels_exactly_at_selected():
    ids = batch(16, 128)
    r = run(ids, seed=3)
    sel = r.fate > 0
    assert (r.labels[~sel] == IGNORE).all()
    assert torch.equal(r.labels[sel], ids[sel])
    assert torch.equal(r.original, ids)
    assert torch.equal(r.input_ids[~sel], ids[~sel])


def test_seed_determinism():
    ids = batch(8, 64)
    a, b, c = run(ids, seed=5), run(ids, seed=5), run(ids, seed=6)
    assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.fate, b.fate)
    assert not torch.equal(a.fate, c.fate)
    g = torch.Generator().manual_seed(5)
    d = mask_tokens(ids, mask_id=MASK, special_ids=SPECIALS, vocab_size=V, generator=g)
    assert torch.equal(a.input_ids, d.input_ids)
    e = mask_tokens(ids, mask_id=MASK, special_ids=SPECIALS, vocab_size=V)  # seed 0 default
    assert torch.equal(e.fate, run(ids, seed=0).fate)
    with pytest.raises(ConfigError, match="not both"):
        run(ids, seed=1, generator=g)


def test_shapes_and_inputs():
    row = batch(1, 50)[0]
    r1 = run(row, prob=0.3)
    assert r1.input_ids.shape == (50,) and r1.labels.dtype == torch.long
    r2 = run(row.unsqueeze(0), prob=0.3)
    assert r2.input_ids.shape == (1, 50)
    r3 = run(row.tolist(), prob=0.3)
    assert torch.equal(r1.input_ids, r3.input_ids)
    assert torch.equal(r1.input_ids, r2.input_ids[0])  # same seed, same shape of draws
    with pytest.raises(ConfigError):
        run(torch.zeros(2, 2, 2, dtype=torch.long))


def test_maskable_narrows_and_extremes():
    ids = batch(4, 64)
    only = torch.zeros_like(ids, dtype=torch.bool)
    only[:, 10:20] = True
    r = run(ids, prob=1.0, maskable=only)
    assert (r.fate[:, 10:20] > 0).all() and (r.fate[:, :10] == 0).all()
    assert (r.fate[:, 20:] == 0).all()
    assert (run(ids, prob=0.0).labels == IGNORE).all()
    all_kept = run(ids, prob=1.0, mask_rate=0.0, random_rate=0.0)
    assert torch.equal(all_kept.input_ids, ids) and (all_kept.fate[:, 1:-1] == 3).all()


@pytest.mark.parametrize("kw, text", [
    ({"prob": 1.5}, "prob must be between 0 and 1 (BERT uses 0.15), got 1.5"),
    ({"prob": -0.1}, "prob must be between 0 and 1"),
    ({"mask_rate": 1.2}, "mask_rate must be between 0 and 1"),
    ({"random_rate": -1}, "random_rate must be between 0 and 1"),
    ({"mask_rate": 0.8, "random_rate": 0.3}, "at most 1"),
])
def test_bad_rates(kw, text):
    with pytest.raises(ConfigError, match=text.replace("(", r"\(").replace(")", r"\)")):
        run(batch(1, 8), **kw)


def test_bad_vocab():
    ids = batch(1, 8)
    with pytest.raises(ConfigError, match="mask_id"):
        mask_tokens(ids, mask_id=V, special_ids=SPECIALS, vocab_size=V)
    with pytest.raises(ConfigError, match="do not match"):
        mask_tokens(ids, mask_id=MASK, special_ids=SPECIALS, vocab_size=50)
    with pytest.raises(ConfigError, match="no real token"):
        mask_tokens([0, 1, 2], mask_id=1, special_ids=[0, 1, 2], vocab_size=3)


def test_trace_and_counts():
    ids = batch(2, 20)
    r = run(ids, prob=0.5, seed=4)
    t = r.trace(lambda i: f"w{i}", row=1)
    assert len(t) == 20
    for i, d in enumerate(t):
        assert d["position"] == i and d["original_id"] == int(ids[1, i])
        assert d["original_token"] == f"w{int(ids[1, i])}"
        assert d["input_id"] == int(r.input_ids[1, i])
        assert d["fate"] in FATES
        assert (d["label"] is None) == (d["fate"] == "not selected")
    json.dumps(r.counts())


def test_seed_article_bug_can_select_specials():
    ids = [CLS] + list(range(10, 30)) + [SEP] + [PAD] * 30
    r = seed_article_masking(ids, vocab_size=V, mask_id=MASK, prob=0.15, seed=0)
    special = torch.isin(torch.tensor(ids), torch.tensor(SPECIALS))
    assert (r.fate[special] > 0).any()  # the article picks [PAD]/[CLS]/[SEP] too
    assert (r.labels[special & (r.fate > 0)] == PAD).any()  # and trains to predict padding
    # and over a few seeds its random draws land on special ids (5 of 1000 here: use 50)
    hits = 0
    for s in range(200):
        r = seed_article_masking(ids, vocab_size=len(SPECIALS) + 5, mask_id=MASK, prob=0.5,
                                 seed=s)
        hits += int(torch.isin(r.input_ids[r.fate == 2], torch.tensor(SPECIALS)).any())
    assert hits > 0
    # deterministic for a given seed
    a = seed_article_masking(ids, vocab_size=V, mask_id=MASK, prob=0.15, seed=9)
    b = seed_article_masking(ids, vocab_size=V, mask_id=MASK, prob=0.15, seed=9)
    assert torch.equal(a.input_ids, b.input_ids)


class FakeTokenizer:
    vocab = ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]"] + [f"w{i}" for i in range(95)]
    special_ids = [0, 1, 2, 3, 4]
    vocab_size = 100

    def encode(self, text):
        return [5 + (sum(map(ord, w)) % 95) for w in text.split()]

    def special_id(self, role):
        return {"pad": 0, "cls": 1, "sep": 2, "mask": 3, "unk": 4}[role]

    def id_to_token(self, i):
        return self.vocab[i]


def test_mask_text():
    text = "the capital of france is paris and the capital of italy is rome " * 3
    out = mask_text(text, FakeTokenizer(), seed=1, prob=0.3)
    json.dumps(out, allow_nan=False)
    n = len(text.split()) + 2
    assert len(out["tokens"]) == len(out["input_tokens"]) == len(out["labels"]) == n
    assert out["original_tokens"][0] == "[CLS]" and out["original_tokens"][-1] == "[SEP]"
    assert out["tokens"][0]["fate"] == "not selected"
    assert out["counts"]["maskable"] == n - 2
    assert out["counts"]["selected"] == sum(lab != -100 for lab in out["labels"]) > 0
    assert out["input_tokens"].count("[MASK]") == out["counts"]["masked"]
    assert mask_text(text, FakeTokenizer(), seed=1, prob=0.3) == out
    with pytest.raises(TextError):
        mask_text("   \n", FakeTokenizer())
    with pytest.raises(ConfigError, match="1.5"):
        mask_text("hello there", FakeTokenizer(), prob=1.5)


# ---- selection="exact": google-research/bert's count ---------------------------------------
def _reference_count(length, prob, cap):
    """create_pretraining_data.py's num_to_predict for a sequence of `length` tokens,
    [CLS] and [SEP] included."""
    return min(cap, max(1, int(round(length * prob))))


@pytest.mark.parametrize("words", [1, 3, 6, 12, 40, 126])
@pytest.mark.parametrize("prob", [0.15, 0.4])
def test_exact_selection_picks_the_reference_count_and_never_a_special(words, prob):
    tok = FakeTokenizer()
    text = " ".join(f"word{i}" for i in range(words))
    for seed in range(5):
        out = mask_text(text, tok, seed=seed, prob=prob, selection="exact")
        picked = [t for t in out["tokens"] if t["label"] is not None]
        assert len(picked) == min(words, _reference_count(words + 2, prob, 10**9))
        assert all(t["original_token"] not in ("[CLS]", "[SEP]") for t in picked)
        assert out["p_none"] == 0.0


def test_exact_selection_caps_at_max_predictions_and_works_per_row():
    ids = torch.randint(len(SPECIALS), V, (4, 64))
    ids[:, 0], ids[:, -1] = SPECIALS[0], SPECIALS[1]
    r = mask_tokens(ids, mask_id=MASK, special_ids=SPECIALS, vocab_size=V, seed=3,
                    selection="exact", max_predictions=5)
    assert (r.labels != IGNORE).sum(dim=1).tolist() == [5] * 4  # round(64 * .15) = 10 > 5
    r = mask_tokens(ids, mask_id=MASK, special_ids=SPECIALS, vocab_size=V, seed=3,
                    selection="exact")
    assert (r.labels != IGNORE).sum(dim=1).tolist() == [_reference_count(64, 0.15, 99)] * 4


def test_exact_selection_is_a_uniform_subset():
    """Over many seeds every maskable position is picked about equally often."""
    tok = FakeTokenizer()
    text = " ".join(f"word{i}" for i in range(10))  # 12 positions: round(1.8) = 2 picked
    hits = torch.zeros(12)
    for seed in range(600):
        out = mask_text(text, tok, seed=seed, selection="exact")
        hits += torch.tensor([t["label"] is not None for t in out["tokens"]], dtype=torch.float)
    assert hits[0] == hits[-1] == 0
    share = hits[1:-1] / 600  # 2 of 10 each time: 0.2 per position
    assert torch.allclose(share, torch.full((10,), 0.2), atol=0.06), share


def test_bernoulli_can_pick_nothing_on_a_short_text_and_says_how_likely():
    tok = FakeTokenizer()
    text = "the cat sat on the mat"
    outs = [mask_text(text, tok, seed=s) for s in range(400)]
    none = sum(o["counts"]["selected"] == 0 for o in outs) / len(outs)
    assert outs[0]["p_none"] == pytest.approx(0.85 ** 6)
    assert abs(none - 0.85 ** 6) < 0.07, none


def test_an_unknown_selection_is_refused():
    with pytest.raises(ConfigError, match="selection"):
        mask_text("hello there", FakeTokenizer(), selection="sometimes")
