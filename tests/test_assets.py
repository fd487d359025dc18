"""The bundled minis: useful on first load, with no training. The figures asserted are
measured on held-out text generated with a seed the minis never trained on."""
import re

import pytest
import torch

from bertgpt.io.assets import bundled
from bertgpt.text.corpus import capital_facts, few_shot_prompt, world_documents
from bertgpt.model.sampling import fill_mask, generate

HELD_OUT_SEED = 4242  # the minis trained on seed 0


@pytest.fixture(scope="module")
def bert():
    loaded = bundled("bert")
    assert loaded is not None, "assets/models/bert-mini is missing: see assets/README.md"
    return loaded


@pytest.fixture(scope="module")
def gpt():
    loaded = bundled("gpt")
    assert loaded is not None, "assets/models/gpt-mini is missing: see assets/README.md"
    return loaded


def test_minis_are_small(bert, gpt):
    from bertgpt.io.assets import bundled_path
    for arch in ("bert", "gpt"):
        size = (bundled_path(arch) / "model.safetensors").stat().st_size
        assert size <= 8_000_000, (arch, size)


def test_bert_fills_capitals(bert):
    facts = capital_facts()
    hits = 0
    for country, capital in facts.items():
        out = fill_mask(bert.model, bert.tokenizer, f"the capital of {country} is [MASK] .", top_k=1)
        hits += out[0]["candidates"][0]["token"] == capital.lower()
    assert hits / len(facts) >= 0.8, f"{hits}/{len(facts)} capitals top-1"


def test_bert_fills_capitals_in_held_out_sentences(bert):
    facts = capital_facts()
    pattern = re.compile(r"\b(" + "|".join(facts.values()) + r")\b")
    tried = hits = 0
    for doc in world_documents(seed=HELD_OUT_SEED, n_docs=120):
        for sent in doc.sentences:
            m = pattern.search(sent)
            if not m or "capital" not in sent.lower() or len(sent) > 150:
                continue
            masked = sent[:m.start()] + "[MASK]" + sent[m.end():]
            out = fill_mask(bert.model, bert.tokenizer, masked, top_k=1)
            tried += 1
            hits += out[0]["candidates"][0]["token"] == m.group(1).lower()
    assert tried >= 20
    assert hits / tried >= 0.7, f"{hits}/{tried} held-out capitals top-1"


def test_gpt_answers_few_shot_capital_questions(gpt):
    facts = capital_facts()
    hits = 0
    for i, (country, capital) in enumerate(facts.items()):
        prompt = few_shot_prompt(3, country, seed=HELD_OUT_SEED + i)
        out = generate(gpt.model, gpt.tokenizer, prompt, max_new_tokens=4, temperature=0)
        hits += out["text"].strip().startswith(capital)
    # measured: 17/24 with the committed gpt-mini (greedy, 3 examples in the prompt)
    assert hits / len(facts) >= 0.6, f"{hits}/{len(facts)} few-shot answers right"


def test_gpt_continues_world_text(gpt):
    facts = capital_facts()
    hits = 0
    for country, capital in facts.items():
        out = generate(gpt.model, gpt.tokenizer, f"The capital of {country} is",
                       max_new_tokens=2, temperature=0)
        hits += out["text"].strip().startswith(capital)
    # measured: 24/24 with the committed gpt-mini
    assert hits / len(facts) >= 0.9, f"{hits}/{len(facts)} continuations right"
    text = generate(gpt.model, gpt.tokenizer, "Anna is a teacher who lives in",
                    max_new_tokens=20, temperature=0.8, seed=1)["text"]
    assert len(text.split()) >= 5
