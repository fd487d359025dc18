"""The predict-then-reveal panel's pieces (app/exercise_panel.py): a question and a graded
result written in the page's language, and the one answer box the question's format
asks for."""
from bertgpt.app import exercise_panel as ep
from bertgpt.course import exercises

MASKS = {"text": "the cat eats fish\nhello", "kind": "causal"}


def test_question_and_result_in_both_languages():
    q = exercises.question("masks", MASKS, variant=2)
    assert "causal" in ep.question_md(q, "en") and "Predict" in ep.question_md(q, "en")
    assert "예측해 보세요" in ep.question_md(q, "ko")
    right = exercises.grade("masks", MASKS, [], 2)["right_answer"]
    good = exercises.grade("masks", MASKS, right, 2)
    bad = exercises.grade("masks", MASKS, right[:-1], 2)
    assert ep.result_md(good, "en").startswith("**✓") and "✗" not in ep.result_md(good, "en")
    en, ko = ep.result_md(bad, "en"), ep.result_md(bad, "ko")
    assert en.startswith("**✗") and f"{len(right) - 1} of the {len(right)}" in en
    assert ko.startswith("**✗") and "틀렸습니다" in ko
    assert exercises.answer_label(right) in en and exercises.answer_label(right) in ko


def test_one_box_per_format():
    for tab, settings, fmt in (("tokenize", {"word": "cat"}, "number"),
                               ("nsp", {"seed": 1}, "choice"), ("mlm", {"seed": 3}, "multi")):
        q = exercises.question(tab, settings)
        number, choice, multi = ep.show_boxes(q)
        shown = [b["visible"] for b in (number, choice, multi)]
        assert shown == [fmt == "number", fmt == "choice", fmt == "multi"]
        assert ep.pick_answer(q, 3, "IsNext", [1]) == {"number": 3, "choice": "IsNext",
                                                      "multi": [1]}[fmt]
    assert [b["visible"] for b in ep.show_boxes(None)] == [False, False, False]


def test_mlm_result_names_each_fate_in_the_page_language():
    """The why lists every picked token and its fate; under Korean the fates are the MLM
    tab's own chip words (무작위, 유지), not the core's English names."""
    mlm = {"text": "every morning anna wakes up early and drinks a cup of tea .", "seed": 250,
           "prob": 0.15, "mask_rate": 0.8, "random_rate": 0.1}
    g = exercises.grade("mlm", mlm, [])
    fates = {fate for _, fate in g["why"]["args"]["fates"]}
    assert fates and fates <= {"[MASK]", "random", "kept"}
    ko, en = ep.result_md(g, "ko"), ep.result_md(g, "en")
    for token, fate in g["why"]["args"]["fates"]:
        assert f"{token} →" in ko and f"{token} →" in en
    assert "random" not in ko and "kept" not in ko
    if "random" in fates:
        assert "→ 무작위" in ko and "→ random" in en
