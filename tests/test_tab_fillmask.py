"""bertgpt/app/tab_fillmask.py: its text in the page's language, its refusals, and the
logit lens grid beside the guesses (issues #21, #22)."""
import json

import gradio as gr
import pytest

from bertgpt.app import tab_fillmask as F
from bertgpt.app.i18n import say
from bertgpt.io.assets import bundled

SENTENCE = "the capital of france is [MASK] ."


def _bert():
    if bundled("bert") is None:
        pytest.skip("no bundled BERT")
    return bundled("bert")


def test_guesses_and_figure_in_the_page_language():
    _bert()
    fig_en, md_en, data_en = F.fill_mask(SENTENCE, 3, "bundled", None, "en")
    fig_ko, md_ko, data_ko = F.fill_mask(SENTENCE, 3, "bundled", None, "ko")
    assert data_en == data_ko
    assert "First choices of the bundled BERT mini" in md_en
    assert "내장 BERT mini" in md_ko and "First" not in md_ko
    panel = json.loads(fig_ko.plot)["layout"]["annotations"][0]["text"]
    assert panel == say("ko", "fillmask.fig.panel", n=1, position=6)


@pytest.mark.parametrize("text,top_k,source,key", [
    ("", 5, "bundled", "fillmask.err.empty"),
    ("no mask here", 5, "bundled", "fillmask.err.no_mask"),
    (SENTENCE, 0, "bundled", "fillmask.err.top_k"),
    (SENTENCE, 5, "own", "fillmask.err.no_own")])
def test_refusals_in_the_page_language(text, top_k, source, key):
    for lang in ("en", "ko"):
        with pytest.raises(gr.Error) as e:
            F.fill_mask(text, top_k, source, None, lang)
        assert e.value.message == say(lang, key, value=top_k)


def test_lens_grid_has_a_row_per_layer_and_ends_in_the_guesses():
    bert = _bert()
    _, _, data = F.fill_mask(SENTENCE, 3, "bundled", None)
    fig, note = F.fill_lens(SENTENCE, "bundled", None, "en")
    heat = json.loads(fig.plot)["data"][0]
    n_layer = bert.model.cfg.n_layer
    assert len(heat["z"]) == len(heat["text"]) == n_layer + 1
    mask = data["masks"][0]["position"]
    column = [x.endswith(f"·{mask}") for x in heat["x"]].index(True)
    assert heat["x"][column].startswith("[MASK]")
    # The last row at the mask is the MLM head's own answer, bold (it is the final answer).
    top = data["masks"][0]["candidates"][0]
    assert heat["text"][-1][column] == f"<b>{top['token']}</b>"
    assert heat["z"][-1][column] >= top["prob"] - 1e-6  # fill_mask drops special tokens
    assert "MLM head" in note and f"of {len(heat['x'])}" in note


def test_lens_window_follows_the_first_mask_in_a_long_sentence():
    _bert()
    long = ("anna is a teacher who lives in paris , the capital of france , and every "
            "morning she walks to the school near the river where she teaches [MASK] .")
    fig, note = F.fill_lens(long, "bundled", None, "ko")
    heat = json.loads(fig.plot)["data"][0]
    assert len(heat["x"]) == F.LENS_POSITIONS
    assert any(x.startswith("[MASK]") for x in heat["x"])
    assert json.loads(fig.plot)["layout"]["title"]["text"] == say("ko", "lens.title.bert")


def test_quiet_events_keep_the_view_instead_of_raising():
    quiet = F.quietly(F.fill_mask, 3)
    assert quiet("", 5, "bundled", None, "ko") == (gr.skip(),) * 3


def test_the_opening_view_takes_a_class_links_values():
    """Page load computes the first view before open_link has set the components, so it
    reads the link itself: values for this tab only, and only those the component takes."""
    text = gr.Textbox()
    top_k = gr.Slider(1, 20)
    fields = {"text": (text, SENTENCE), "top_k": (top_k, 5)}

    class Request:
        def __init__(self, **params):
            self.query_params = params

    assert F.link_values(Request(tab="fillmask", text="a [MASK] .", top_k="7"), "fillmask",
                         fields) == {"text": "a [MASK] .", "top_k": 7}
    assert F.link_values(Request(tab="mlm", text="a [MASK] ."), "fillmask",
                         fields) == {"text": SENTENCE, "top_k": 5}      # another tab's link
    assert F.link_values(Request(tab="fillmask", top_k="999"), "fillmask",
                         fields)["top_k"] == 5                         # out of the slider
    assert F.link_values(None, "fillmask", fields)["text"] == SENTENCE
