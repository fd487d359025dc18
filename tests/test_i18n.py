"""English / 한국어 (bertgpt/ui/i18n.py): every label has Korean; the switch works end to end."""
from inspect import cleandoc

import gradio as gr
import pytest

from bertgpt.ui import i18n


@pytest.fixture(scope="module")
def demo():
    from bertgpt.ui import build_app
    return build_app()


def test_every_visible_label_has_korean(demo):
    # A new tab's labels land here until KO (or KEEP, or a PATTERN) has them.
    assert i18n.untranslated(demo) == []


def test_every_markdown_with_korean_is_switched(demo):
    walked = {f["markdown"] for _, f in i18n.walk(demo) if "markdown" in f}
    assert walked == set(i18n.markdown_table())


def test_labels_only_a_gpu_server_builds_have_korean():
    # a CPU-only test run never builds the GPU sizes, so the walk above cannot see them
    from bertgpt.ui.tab_train import SIZES
    assert [label for label, _, _ in SIZES.values() if not i18n.translated(label)] == []


def test_the_walk_finds_tab_titles_buttons_and_choices(demo):
    found = [f for _, f in i18n.walk(demo)]
    shown = {t for f in found for t in i18n.texts(f)}
    from bertgpt.ui import TABS
    import importlib
    for tab in TABS:  # every tab title is walked, so it is checked above
        assert importlib.import_module(f"bertgpt.ui.tab_{tab}").LABEL in shown
    assert "Copy link to this view" in shown and "Lesson" in shown   # buttons, accordions
    assert "causal (GPT)" in shown                                   # choice display names


def test_update_switches_label_and_choice_names_but_keeps_values():
    radio = gr.Radio([("bundled models", "bundled"), ("my trained models", "own")],
                     label="Models", info="own = the one you trained in 'Train live'")
    found = i18n.strings(radio)
    ko = i18n.update(found, "ko")
    assert ko["label"] == "모델" and ko["info"].startswith("own = ")
    assert ko["choices"] == [("내장 모델", "bundled"), ("내가 학습한 모델", "own")]
    en = i18n.update(found, "en")
    assert en["label"] == "Models" and en["choices"][0] == ("bundled models", "bundled")


def test_patterns_translate_labels_built_from_data():
    assert i18n.tr("gpt2 (124M) · downloads 550 MB on first use", "ko") == \
        "gpt2 (124M) · 처음 쓸 때 550 MB 다운로드"
    assert i18n.tr("real bert-base-uncased + gpt2 · offline, not cached", "ko") == \
        "실제 모델 bert-base-uncased + gpt2 · 오프라인, 캐시에 없음"
    assert i18n.tr("real bert-base-uncased + gpt2 · downloads ~1 GB", "ko") == \
        "실제 모델 bert-base-uncased + gpt2 · 처음 쓸 때 ~1 GB 다운로드"
    assert not i18n.translated("Some brand-new label")


class _Req:
    def __init__(self, **q):
        self.query_params = q


def test_pick_language_link_beats_memory_beats_default():
    assert i18n.pick_language("en", _Req(lang="ko")) == "ko"
    assert i18n.pick_language("ko", _Req()) == "ko"
    assert i18n.pick_language(None, _Req(lang="fr")) == "en"
    assert i18n.pick_language("<script>", None) == "en"


def test_copy_link_carries_the_language():
    from bertgpt.ui import link_query
    assert link_query("mlm", ["seed"], [7], "ko") == "?tab=mlm&lang=ko&seed=7"
    assert link_query("mlm", ["seed"], [7], "en") == "?tab=mlm&seed=7"


def _shown(outputs) -> set[str]:
    """Every label, button text and choice name in the switch's updates."""
    out = set()
    for o in outputs:
        if isinstance(o, dict):
            out.update(str(o[k]) for k in ("label", "value", "info") if k in o)
            out.update(str(c[0]) for c in o.get("choices", []))
    return out


def test_switching_language_through_the_api_returns_korean():
    from gradio_client import Client
    from apphelp import running_app
    from bertgpt.ui import TABS
    from bertgpt.ui.common import lesson
    with running_app() as app:
        client = Client(app.local_url, verbose=False)
        ko = client.predict("ko", api_name="/set_language")
        link = client.predict("the capital of france is paris .", 7, 0.15, 0.8, 0.1, "ko",
                              api_name="/link_mlm")
        en = client.predict("en", api_name="/set_language")
    assert ko[0] == "ko" and en[0] == "en"          # what the browser remembers
    # the lesson panels, one per tab in tab order, in the language asked for (gr.Markdown
    # sends its text through inspect.cleandoc)
    assert list(ko[1:1 + len(TABS)]) == [cleandoc(lesson(t, "ko")) for t in TABS]
    assert list(en[1:1 + len(TABS)]) == [cleandoc(lesson(t, "en")) for t in TABS]
    korean, english = _shown(ko), _shown(en)
    # (tab titles, accordions and buttons are left out of the API's outputs:
    # tests/test_browser_i18n.py sees them on the page)
    for label in ("Link for the class (copied)", "Country", "causal (GPT)",
                  "Peak learning rate", "France"):
        assert i18n.KO[label] in korean and label not in korean
        assert label in english
    assert "lang=ko" in link and "seed=7" in link
