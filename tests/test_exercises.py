"""Predict, then reveal (course/exercises.py): every answer is checked against what the
tab's own core function computes for those settings, for several seeds and sentences; a
right answer passes and a wrong one fails. No expected answer is written in this file."""
import pytest

from bertgpt.course import exercises as ex
from bertgpt.errors import ConfigError, TextError
from bertgpt.io.assets import bundled, world_tokenizer
from bertgpt.model.masks import explain_mask
from bertgpt.text.mlm import mask_text
from bertgpt.text.tokenizer import bpe_merges

TEXTS = ["Every morning, Anna wakes up early and drinks a cup of tea.",
         "The waiter was friendly and the service was fast.",
         "A cow is an animal that lives on a farm."]


def _wrong_number(n):
    return n + 1


@pytest.mark.parametrize("word", ["unbelievable", "teacher", "Paris"])
def test_tokenize_counts_the_pieces_bpe_makes(word):
    tok = world_tokenizer("bpe", 2000)
    n = len(bpe_merges(tok, word)[-1]["pieces"])
    q = ex.question("tokenize", {"word": word, "vocab": 2000})
    assert q["format"] == "number" and q["prompt"]["args"]["word"] == word
    assert ex.grade("tokenize", {"word": word}, n)["correct"]
    bad = ex.grade("tokenize", {"word": word}, _wrong_number(n))
    assert not bad["correct"] and bad["right_answer"] == n
    assert len(bad["trace"]["pieces"]) == n


@pytest.mark.parametrize("seed", [0, 7, 250, 1234])
@pytest.mark.parametrize("text", TEXTS[:2])
def test_mlm_selected_positions_come_from_the_masking_with_that_seed(seed, text):
    tok = world_tokenizer("wordpiece")
    res = mask_text(text, tok, seed=seed)
    picked = [t["position"] for t in res["tokens"] if t["label"] is not None]
    settings = {"text": text, "seed": seed}
    q = ex.question("mlm", settings)
    values = [v for _, v in q["choices"]]
    assert 0 not in values and len(res["tokens"]) - 1 not in values  # [CLS], [SEP]
    right = ex.grade("mlm", settings, picked)
    assert right["correct"] and right["misses"] == 0
    other = sorted(set(values) - set(picked))[:1] + picked[1:]
    wrong = ex.grade("mlm", settings, other)
    assert not wrong["correct"] and wrong["right_answer"] == sorted(picked)
    # the comma form the class store and the CSV use grades the same way
    assert ex.grade("mlm", settings, ",".join(map(str, picked)))["correct"]


def test_a_new_seed_is_a_new_question():
    answers = {tuple(ex.grade("mlm", {"text": TEXTS[0], "seed": s}, [])["right_answer"])
               for s in range(6)}
    assert len(answers) > 1


@pytest.mark.parametrize("seed,variant", [(0, 0), (0, 3), (5, 1), (42, 7)])
def test_nsp_label_is_the_pairs_own(seed, variant):
    q = ex.question("nsp", {"seed": seed}, variant)
    truth = ex._nsp(ex._settings("nsp", {"seed": seed}), variant)["right"]
    assert q["prompt"]["args"]["a"] and q["prompt"]["args"]["b"]
    other = {"IsNext": "NotNext", "NotNext": "IsNext"}[truth]
    assert ex.grade("nsp", {"seed": seed}, truth, variant)["correct"]
    assert not ex.grade("nsp", {"seed": seed}, other, variant)["correct"]


def test_nsp_answers_agree_with_the_pairs_documents():
    for v in range(8):
        g = ex.grade("nsp", {"seed": 3}, "IsNext", v)
        tr = g["trace"]
        # IsNext exactly when B came from A's document and was not mislabeled
        assert (g["right_answer"] == "IsNext") == (tr["a_doc"] == tr["b_doc"]
                                                    and g["why"]["id"].endswith("why_next"))


@pytest.mark.parametrize("kind", ["bidirectional", "causal", "padding", "causal+padding"])
@pytest.mark.parametrize("variant", [0, 2, 5])
def test_masks_row_is_the_grids_row(kind, variant):
    text = "the cat eats fish\nthe dog barks at the cat\nhello"
    tok = world_tokenizer("wordpiece")
    lengths = [len(tok.encode(line)) for line in text.splitlines()]
    for inspect in (1, 3):
        s = {"text": text, "kind": kind, "inspect": inspect}
        grid = explain_mask(kind, lengths)["allowed"][inspect - 1][variant % max(lengths)]
        allowed = [c for c, ok in enumerate(grid) if ok]
        assert ex.grade("masks", s, allowed, variant)["correct"]
        everything = list(range(max(lengths)))
        assert ex.grade("masks", s, everything, variant)["correct"] == (allowed == everything)


needs_models = pytest.mark.skipif(bundled("bert") is None or bundled("gpt") is None,
                                  reason="bundled models absent")


@needs_models
@pytest.mark.parametrize("text", ["the capital of france is [MASK] .",
                                  "anna drinks a cup of [MASK] ."])
def test_fillmask_right_choice_is_berts_first_guess(text):
    from bertgpt.model.sampling import fill_mask
    b = bundled("bert")
    top = fill_mask(b.model, b.tokenizer, text, top_k=4)[0]["candidates"]
    q = ex.question("fillmask", {"text": text}, variant=3)
    assert sorted(v for _, v in q["choices"]) == sorted(c["token"] for c in top)
    assert ex.grade("fillmask", {"text": text}, top[0]["token"], 3)["correct"]
    assert not ex.grade("fillmask", {"text": text}, top[1]["token"], 3)["correct"]
    with pytest.raises(ConfigError, match="not one of the choices"):
        ex.grade("fillmask", {"text": text}, "zebra-not-a-choice", 3)


@needs_models
@pytest.mark.parametrize("layer,head,variant", [(1, 1, 0), (4, 3, 2), (2, 4, 5)])
def test_attention_right_token_is_the_heads_argmax(layer, head, variant):
    import torch
    b = bundled("bert")
    text = "The capital of France is Paris, and people there speak French."
    ids = [b.tokenizer.special_id("cls")] + b.tokenizer.encode(text) + \
        [b.tokenizer.special_id("sep")]
    with torch.no_grad():
        maps = b.model(torch.tensor([ids]), need_weights=True).attentions
    L, H = len(maps), maps[0].shape[1]
    row = 1 + variant % (len(ids) - 2)
    weights = maps[min(layer, L) - 1][0, min(head, H) - 1, row]
    top = int(weights.argmax())
    s = {"text": text, "layer": layer, "head": head}
    q = ex.question("attention", s, variant)
    assert q["prompt"]["args"]["row"] == row and len(q["choices"]) == len(ids)
    assert ex.grade("attention", s, str(top), variant)["correct"]
    second = int(weights.argsort(descending=True)[1])
    assert not ex.grade("attention", s, str(second), variant)["correct"]


@needs_models
@pytest.mark.parametrize("top_p", [0.3, 0.5, 0.9])
def test_generate_counts_top_p_survivors(top_p):
    import torch
    from bertgpt.model.sampling import distribution
    g = bundled("gpt")
    prompt = "The capital of France is"
    with torch.no_grad():
        logits = g.model(torch.tensor([g.tokenizer.encode(prompt)])).logits[0, -1]
    kept = int(distribution(logits, 1.0, 0, top_p).kept_p.sum())
    s = {"prompt": prompt, "top_p": top_p, "temperature": 1.0, "top_k": 0}
    assert ex.grade("generate", s, kept)["correct"]
    assert not ex.grade("generate", s, kept + 3)["correct"]


def test_bad_input_is_refused_with_a_reason():
    with pytest.raises(ConfigError, match="no exercise for tab"):
        ex.question("sizes", {})
    with pytest.raises(ConfigError, match="whole number"):
        ex.grade("tokenize", {"word": "cat"}, "many")
    with pytest.raises(ConfigError, match="type a whole number"):
        ex.grade("tokenize", {"word": "cat"}, None)
    with pytest.raises(TextError):
        ex.question("tokenize", {"word": "  "})
    with pytest.raises(ConfigError, match="mask kind"):
        ex.question("masks", {"kind": "sideways"})


def test_answer_labels_are_what_the_chart_counts():
    assert ex.answer_label([3, 1]) == "{3, 1}" and ex.answer_label([]) == "{}"
    assert ex.answer_label(ex.normalize("multi", "3,1,3")) == "{1, 3}"
    assert ex.answer_label(7) == "7"
