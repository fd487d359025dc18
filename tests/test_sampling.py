"""bertgpt/model/sampling.py: the sampling settings do what the UI says, in the order it says
(temperature -> top-k -> top-p), and the distribution shown is the one sampled from."""
import math

import pytest
import torch

from bertgpt.model.config import ModelConfig
from bertgpt.text.corpus import generate_world
from bertgpt.errors import ConfigError, TextError
from bertgpt.model.build import build
from bertgpt.model.sampling import distribution, fill_mask, generate, generate_stream, sample
from bertgpt.text.tokenizer import train_tokenizer


@pytest.fixture(scope="module")
def text():
    return generate_world(seed=3, size=20_000)


def _tiny(arch, kind, text):
    tok = train_tokenizer(kind, text, 400, model=arch)
    torch.manual_seed(0)
    model = build(ModelConfig(arch, vocab_size=tok.vocab_size, n_layer=2, n_head=2, n_embd=32,
                              block_size=32)).eval()
    return model, tok


@pytest.fixture(scope="module")
def gpt(text):
    return _tiny("gpt", "bpe", text)


@pytest.fixture(scope="module")
def bert(text):
    return _tiny("bert", "wordpiece", text)


def logits_of(probs):
    return torch.tensor(probs, dtype=torch.float64).log().float()


def reference(logits, temperature, top_k, top_p):
    """The documented order, written out longhand: temperature, then top-k, then top-p."""
    p = (logits.double() / temperature).softmax(-1)
    order = torch.argsort(p, descending=True).tolist()
    keep = order[:top_k] if top_k else order
    mass = sum(float(p[i]) for i in keep)
    kept, before = [], 0.0
    for i in keep:  # renormalised over the top-k set; keep while the mass before is < top_p
        if before < top_p:
            kept.append(i)
        before += float(p[i]) / mass
    final = torch.zeros_like(p)
    final[kept] = p[kept] / p[kept].sum()
    return set(kept), final


def test_temperature_zero_is_greedy():
    logits = torch.randn(50, generator=torch.Generator().manual_seed(1))
    step = distribution(logits, temperature=0)
    assert int(step.final.argmax()) == int(logits.argmax()) and float(step.final.max()) == 1.0
    cold = distribution(logits, temperature=1e-3)  # the limit T -> 0 approaches the same
    assert float(cold.final[int(logits.argmax())]) > 0.999


def test_greedy_generation_is_argmax_every_step(gpt):
    model, tok = gpt
    out = generate(model, tok, "The capital of", max_new_tokens=10, temperature=0,
                   stop_at_eos=False)
    ids = tok.encode("The capital of")
    with torch.no_grad():
        for _ in range(10):
            ids.append(int(model(torch.tensor([ids[-32:]])).logits[0, -1].argmax()))
    assert [t["id"] for t in out["tokens"]] == ids[-10:]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_top_k_one_is_greedy(gpt, seed):
    model, tok = gpt
    greedy = generate(model, tok, "Lucas is", max_new_tokens=12, temperature=0, stop_at_eos=False)
    top1 = generate(model, tok, "Lucas is", max_new_tokens=12, temperature=1.5, top_k=1,
                    seed=seed, stop_at_eos=False)
    assert greedy["text"] == top1["text"]


@pytest.mark.parametrize("top_p, n_kept", [(0.3, 1), (0.49, 1), (0.51, 2), (0.74, 2),
                                            (0.76, 3), (0.87, 3), (0.9, 4), (1.0, 5)])
def test_top_p_keeps_smallest_set_reaching_p(top_p, n_kept):
    step = distribution(logits_of([0.125, 0.5, 0.125 / 2, 0.25, 0.125 / 2]), 1.0, 0, top_p)
    kept = step.kept_p.nonzero().flatten().tolist()
    assert len(kept) == n_kept
    # probabilities 0.5, 0.25, 0.125, 0.0625, 0.0625: the likeliest first, until the mass
    # reaches top_p (the two last are tied, so with 4 kept either may be the fourth)
    assert set([1, 3, 0][:n_kept]) <= set(kept)


def test_top_p_property_on_random_logits():
    g = torch.Generator().manual_seed(7)
    for _ in range(50):
        logits = torch.randn(30, generator=g) * 2
        top_p = float(torch.rand(1, generator=g)) * 0.98 + 0.01
        step = distribution(logits, 1.0, 0, top_p)
        p = step.scaled.double()
        kept = step.kept_p
        mass = float(p[kept].sum())
        assert mass >= top_p - 1e-6                       # it reaches p ...
        assert mass - float(p[kept].min()) < top_p        # ... and no smaller set does
        if (~kept).any():  # and it is made of the likeliest tokens
            assert float(p[kept].min()) >= float(p[~kept].max())


def test_order_is_temperature_then_top_k_then_top_p():
    g = torch.Generator().manual_seed(11)
    for _ in range(40):
        logits = torch.randn(20, generator=g) * 3
        t = float(torch.rand(1, generator=g)) * 2 + 0.1
        k = int(torch.randint(0, 8, (1,), generator=g))
        p = float(torch.rand(1, generator=g)) * 0.9 + 0.05
        step = distribution(logits, t, k, p)
        kept, final = reference(logits, t, k, p)
        assert set(step.kept_p.nonzero().flatten().tolist()) == kept
        assert torch.allclose(step.final.double(), final, atol=1e-5)
    # A case where the order shows: top-p on the raw distribution keeps 2 tokens, on the
    # temperature-flattened one (what the sampler does) it keeps 3.
    logits = logits_of([0.6, 0.2, 0.12, 0.08])
    assert int(distribution(logits, 1.0, 0, 0.7).kept_p.sum()) == 2
    assert int(distribution(logits, 5.0, 0, 0.7).kept_p.sum()) == 3
    # ... and top-k comes before top-p: top-p sees the renormalised top-k distribution
    # (0.555, 0.445), so 0.5 keeps one token; on the unrenormalised one (0.313, 0.251, ...)
    # it would keep two.
    step = distribution(logits, 5.0, 2, 0.5)
    assert step.kept_k.tolist() == [True, True, False, False]
    assert step.kept_p.tolist() == [True, False, False, False]
    assert distribution(logits, 5.0, 2, 0.6).kept_p.tolist() == [True, True, False, False]


def test_shown_distribution_is_sampled_from():
    logits = torch.randn(12, generator=torch.Generator().manual_seed(5)) * 1.5
    step = distribution(logits, temperature=0.8, top_k=6, top_p=0.9)
    g = torch.Generator().manual_seed(0)
    n = 20_000
    counts = torch.zeros(12)
    for _ in range(n):
        counts[sample(step, g)] += 1
    freq = counts / n
    assert float((freq - step.final).abs().max()) < 0.015
    assert float(counts[~step.kept_p].sum()) == 0  # a cut token is never drawn
    assert math.isclose(float(step.final.sum()), 1.0, rel_tol=1e-5)


def test_stream_reports_the_probability_it_drew_with(gpt):
    model, tok = gpt
    for t in generate_stream(model, tok, "The", max_new_tokens=8, temperature=0.9, top_k=20,
                             top_p=0.8, seed=4, stop_at_eos=False):
        step = t["step"]
        assert step.token == t["id"] and bool(step.kept_p[t["id"]])
        assert t["prob"] == pytest.approx(float(step.final[t["id"]]))
        assert t["raw_prob"] == pytest.approx(float(step.raw[t["id"]]))


def _cache_vs_recompute(model, tok, n):
    kw = dict(max_new_tokens=n, temperature=1.0, top_k=0, top_p=0.95, seed=9, stop_at_eos=False)
    cached = generate(model, tok, "Nina works as", use_cache=True, **kw)
    again = generate(model, tok, "Nina works as", use_cache=True, **kw)
    fresh = generate(model, tok, "Nina works as", use_cache=False, **kw)
    assert cached["text"] == again["text"]  # same seed, same text
    assert [t["id"] for t in cached["tokens"]] == [t["id"] for t in fresh["tokens"]]
    for a, b in zip(cached["tokens"], fresh["tokens"]):
        assert a["prob"] == pytest.approx(b["prob"], rel=1e-4, abs=1e-6)


def test_same_seed_same_text_and_cache_equals_recompute(gpt):
    _cache_vs_recompute(*gpt, 20)  # the prompt's 6 tokens + 20 stay inside block_size 32


def test_cache_equals_recompute_past_the_block(gpt):
    _cache_vs_recompute(*gpt, 45)  # past block_size: the window slides


def test_top_lists_chosen_token_and_every_stage():
    step = distribution(logits_of([0.7, 0.2, 0.05, 0.05]), 1.0, 0, 1.0)
    step.token = 3
    rows = step.top(2, lambda i: f"t{i}")
    assert [r["id"] for r in rows] == [0, 1, 3] and rows[-1]["chosen"]
    assert set(rows[0]) >= {"raw", "scaled", "kept_k", "kept_p", "final", "token"}


@pytest.mark.parametrize("kw", [dict(temperature=-0.1), dict(top_k=-1), dict(top_p=0.0),
                                dict(top_p=1.5), dict(temperature=float("nan"))])
def test_bad_settings_are_refused(kw):
    with pytest.raises(ConfigError):
        distribution(torch.zeros(5), **{**dict(temperature=1.0, top_k=0, top_p=1.0), **kw})


def test_fill_mask_answers_every_mask_without_specials(bert):
    model, tok = bert
    res = fill_mask(model, tok, "the capital of [MASK] is [MASK] .", top_k=7)
    assert len(res) == 2
    specials = set(tok.special_ids)
    for r in res:
        probs = [c["prob"] for c in r["candidates"]]
        assert len(probs) == 7 and probs == sorted(probs, reverse=True)
        assert not specials & {c["id"] for c in r["candidates"]}


@pytest.mark.parametrize("sentence, words", [("", "type a sentence"), ("   ", "type a sentence"),
                                         ("no mask here .", "no [MASK]"),
                                         ("word " * 60 + "[MASK]", "at most")])
def test_fill_mask_errors_say_what_to_do(bert, sentence, words):
    model, tok = bert
    with pytest.raises(TextError, match=words.replace("[", r"\[").replace("]", r"\]")):
        fill_mask(model, tok, sentence)
