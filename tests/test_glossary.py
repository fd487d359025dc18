"""The Korean course speaks one language (bertgpt/course/lessons.py, lessons/ko/glossary.tsv):
one term per concept in every Korean lesson and in the Korean UI (bertgpt/app/strings/),
the Korean UI's own names for its tabs and buttons, and Korean-style counts (1,750억(175B) 개).

The checkers are proven first on made-up text, passing and failing; then they read the
real lessons and the strings data. The UI-name rule is derived from the data
(`i18n.names()`: English -> Korean), so a label added to the app is covered as soon as it
has Korean."""
from __future__ import annotations

import importlib

import pytest

from bertgpt.course import lessons as L
from bertgpt.app import TABS, i18n

KOREAN_LESSONS = sorted((L.ROOT / "ko").glob("*.md"))  # the lessons, and the errata page


@pytest.fixture(scope="module")
def glossary():
    return L.read_glossary()


@pytest.fixture(scope="module")
def tab_titles():
    return [importlib.import_module(f"bertgpt.app.tab_{tab}").LABEL for tab in TABS]


def _ui(text, tab_titles):
    return L.ui_name_violations(text, i18n.names(), tab_titles, i18n.KEEP)


# ---- the glossary file ---------------------------------------------------------------------

def test_the_glossary_is_data_not_a_lesson(glossary):
    assert L.GLOSSARY.is_file() and L.GLOSSARY not in L.lesson_files("ko")
    assert 15 <= len(glossary) <= 35
    for term in glossary:
        assert term.english and term.korean and term.forbidden, term
    # the choices issue #16 asks for, as the course decided them
    chosen = {t.english: (t.korean, t.forbidden) for t in glossary}
    for english, korean, variant in [
            ("fine-tuning", "미세조정", "미세 조정"), ("bundled (model)", "내장", "번들"),
            ("in-context learning", "문맥 내 학습", "인컨텍스트 러닝"),
            ("width (n_embd)", "폭", "너비"), ("probe", "프로브", "탐침"),
            ("softmax", "소프트맥스", "softmax"), ("lesson", "강의", "레슨")]:
        assert chosen[english][0] == korean and variant in chosen[english][1], english


def test_no_glossary_term_contains_a_forbidden_variant(glossary):
    """Else the glossary would forbid its own words."""
    for term in glossary:
        for other in glossary:
            hits = L.glossary_violations(other.korean, [term])
            assert not hits, f"{other.korean!r} ({other.english}) holds {term.english}'s " \
                             f"forbidden {hits[0][1]!r}"


# ---- the checkers, on made-up text ---------------------------------------------------------

def test_glossary_checker_passes_the_terms_and_catches_the_variants(glossary):
    good = ("# 미세조정(fine-tuning)\n\n내장 모델을 미세조정합니다. 소프트맥스가 점수를 확률로 바꾸고,\n"
            "폭 768의 층마다 선형 프로브를 붙입니다. 다음 강의는 `safe_softmax`를 봅니다.\n"
            "```python\nprint(scores.softmax(-1))  # softmax는 코드 안에서만\n```\n"
            "[내장 BERT](?tab=mlm&softmax=1)\n")
    assert L.glossary_violations(good, glossary) == []
    bad = ("번들 모델을 미세 조정합니다.\nsoftmax가 점수를, Softmax(x)가 확률을 냅니다. 너비 768,\n"
           "*인컨텍스트\n러닝*과 탐침(probe), 다음 레슨.\n")
    assert L.glossary_violations(bad, glossary) == [
        (1, "번들", "내장"), (1, "미세 조정", "미세조정"), (2, "softmax", "소프트맥스"),
        (2, "Softmax", "소프트맥스"), (2, "너비", "폭"),
        (3, "인컨텍스트 러닝", "문맥 내 학습"),  # wrapped, and once (not again as 컨텍스트)
        (4, "탐침", "프로브"), (4, "레슨", "강의")]


def test_ui_name_checker_catches_english_names_of_korean_ui_strings(tab_titles):
    bad = ("[작은 GPT를 학습하는 Train 탭](?tab=train&lang=ko)을 열고 **Train**을 누르세요.\n"
           "중간에 **Stop**을 누르면 Fill-mask와 Generate에서 *My own BERT*가 됩니다.\n"
           '**▶ Fine-tune both**, "Whole text", **Freeze** 옵션, **Sentiment\n   of reviews**.\n')
    found = {(line, name): dict(hits) for line, name, hits in _ui(bad, tab_titles)}
    # 'Train 탭' is the tab, by its first word; **Train** the button: one report, both names
    assert found[(1, "Train")] == {"▶ Train": "▶ 학습", "Train live": "실시간 학습"}
    assert found[(2, "Stop")]["■ Stop"] == "■ 멈춤"
    assert found[(2, "Fill-mask")] == {"Fill-mask": i18n.names()["Fill-mask"]}
    assert "Generate & sample" in found[(2, "Generate")]              # the tab it begins
    assert (2, "My own BERT") in found
    assert found[(3, "▶ Fine-tune both")] == {"▶ Fine-tune both": "▶ 둘 다 미세조정"}
    assert "Freeze the encoder (train the head only)" in found[(3, "Freeze")]
    assert (3, "Whole text") in found
    assert (3, "Sentiment of reviews") in found                       # bold over a line break
    assert len(found) == 9


def test_ui_name_checker_passes_korean_names_model_names_code_and_kept_words(tab_titles):
    good = ("[작은 GPT를 학습하는 실시간 학습 탭](?tab=train&lang=ko)을 열고 **▶ 학습**을 누르세요.\n"
            "**■ 멈춤**, **빈칸 채우기**, *내가 학습한 BERT*, MLM 탭, NSP 탭, BERT 대 GPT 탭.\n"
            "**BERT**와 **GPT-2**, `bert-base`, **bert-base**, **Top-k**와 *custom*, own 모델.\n"
            '**WordPiece**, "Attention Is All You Need", "The capital of France is", "the"\n'
            "```python\n# **Train** 버튼과 Train 탭은 코드 안에서 상관없습니다\n```\n"
            "AdamW와 PyTorch의 SDPA, GPT-3는 **Model**이 아니라 **모델**을 봅니다.\n")
    found = _ui(good, tab_titles)
    assert [name for _, name, _ in found] == ["Model"]  # the one planted mistake


def test_number_style_checker():
    good = ("GPT-3의 파라미터는 1,750억(175B) 개이고, BooksCorpus는 8억 단어입니다. BERT-Large는\n"
            '논문이 "340M"이라 적고, 파라미터 3억 4천만 개(340M), GPT-2의 1.5B 모델, 117M으로.\n'
            "```python\nprint('175B개')\n```\n")
    assert L.number_style_violations(good) == []
    bad = "파라미터가 175B개이고 BooksCorpus(800M\n단어)와 3.3B 단어, 파라미터 175B, 학습 토큰 300B.\n"
    assert L.number_style_violations(bad) == [
        (1, "175B개"), (1, "800M 단어"), (2, "3.3B 단어"), (2, "파라미터 175B"), (2, "토큰 300B")]


# ---- the Korean UI itself ------------------------------------------------------------------

def _korean_ui():
    """Every Korean string the app and the printed lessons show besides the lessons."""
    from bertgpt.course.export import _TEXT
    printed = [(k, v) for k, v in _TEXT["ko"].items() if isinstance(v, str)]
    return [(f"strings/ko.json[{key!r}]", ko) for key, ko in i18n.table("ko").items()] + \
           [(f"lesson_export._TEXT['ko'][{k!r}]", v) for k, v in printed]


def test_the_korean_ui_uses_the_glossary(glossary):
    bad = [f"{where}: {written!r} → {term!r}" for where, ko in _korean_ui()
           for _, written, term in L.glossary_violations(ko, glossary)]
    assert not bad, "\n".join(bad)


def test_the_korean_ui_names_its_own_tabs_in_korean(tab_titles):
    bad = [f"{where}: {name!r} → {' / '.join(repr(k) for _, k in hits)}"
           for where, ko in _korean_ui() for _, name, hits in _ui(ko, tab_titles)]
    assert not bad, "\n".join(bad)


# ---- the Korean lessons --------------------------------------------------------------------

@pytest.mark.parametrize("path", KOREAN_LESSONS, ids=lambda p: p.name)
def test_korean_lesson_uses_the_glossary(path, glossary):
    bad = [f"{path.name}:{line}: {written!r} → write {term!r}"
           for line, written, term in L.glossary_violations(path.read_text("utf-8"), glossary)]
    assert not bad, "the glossary (lessons/ko/glossary.tsv) forbids:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", KOREAN_LESSONS, ids=lambda p: p.name)
def test_korean_lesson_names_the_korean_ui(path, tab_titles):
    bad = [f"{path.name}:{line}: {name!r} is the English UI's "
           + " / ".join(f"{en!r}; the Korean UI shows {ko!r}" for en, ko in hits)
           for line, name, hits in _ui(path.read_text("utf-8"), tab_titles)]
    assert not bad, "name the UI as the Korean UI shows it (bertgpt/app/strings/ko.json):\n" + \
        "\n".join(bad)


@pytest.mark.parametrize("path", KOREAN_LESSONS, ids=lambda p: p.name)
def test_korean_lesson_writes_counts_the_korean_way(path):
    bad = [f"{path.name}:{line}: {written!r}"
           for line, written in L.number_style_violations(path.read_text("utf-8"))]
    assert not bad, ("write large counts in 만/억 with the English figure in parentheses, "
                     "e.g. 1,750억(175B) 개, 8억 단어:\n" + "\n".join(bad))
