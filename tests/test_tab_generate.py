"""bertgpt/app/tab_generate.py: the greedy twin of a shared model's generation is computed
once per prompt and is exactly what a fresh greedy decode gives; the step view's text in
the page's language, settings refused (not clamped), the opening view, the logit lens."""
import json

import gradio as gr
import pytest

from bertgpt.app.i18n import say
from bertgpt.io.assets import bundled
from bertgpt.model.sampling import generate
from bertgpt.app import tab_generate as G


def test_greedy_twin_is_cached_for_shared_models_and_equals_a_fresh_decode():
    if bundled("gpt") is None:
        pytest.skip("no bundled GPT")
    prompt = "The capital of Japan is"
    G._shared_greedy.cache_clear()
    first = list(G.generate_full("bundled", prompt, 1.0, 0, 0.9, 1, 12, None))[-1]
    second = list(G.generate_full("bundled", prompt, 1.0, 0, 0.9, 2, 12, None))[-1]
    info = G._shared_greedy.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    loaded = bundled("gpt")
    fresh = generate(loaded.model, loaded.tokenizer, prompt, max_new_tokens=12, temperature=0.0)
    assert first[2]["greedy"] == second[2]["greedy"] == prompt + fresh["text"]
    assert first[1] == second[1]  # the greedy panel itself


def test_partial_updates_only_for_a_generation_that_takes_a_while(monkeypatch):
    """Each streamed update costs the server a round of Gradio's processing: a quick answer
    comes as one update, a slow one streams (here: STREAM_EVERY made 0)."""
    if bundled("gpt") is None:
        pytest.skip("no bundled GPT")
    monkeypatch.setattr(G, "STREAM_EVERY", 60.0)
    quick = list(G.generate_full("bundled", "The cat", 1.0, 0, 1.0, 3, 10, None))
    assert len(quick) == 1
    monkeypatch.setattr(G, "STREAM_EVERY", 0.0)
    slow = list(G.generate_full("bundled", "The cat", 1.0, 0, 1.0, 3, 10, None))
    assert len(slow) == 11  # one per token, then the final answer with the greedy twin
    # Same seed, same answer, however it was streamed (only the measured speed differs).
    assert slow[-1][:2] == quick[-1][:2]
    assert {**slow[-1][2], "tokens_per_s": 0} == {**quick[-1][2], "tokens_per_s": 0}


# --- the page's language, refusals, the opening view and the logit lens (issues #21, #22)

def _gpt():
    if bundled("gpt") is None:
        pytest.skip("no bundled GPT")
    return bundled("gpt")


def test_step_text_comes_in_the_page_language():
    _gpt()
    args = ("bundled", "The capital of France is", 0.0, 0, 1.0, 0, None)
    fig_en, _, info_en, data_en = G.next_token(*args, "en")
    fig_ko, _, info_ko, data_ko = G.next_token(*args, "ko")
    assert data_en == data_ko  # the numbers do not depend on the language
    assert info_en.startswith("Drew") and "greedy" in info_en
    assert "뽑았습니다" in info_ko and "사용한 설정" in info_ko
    title_ko = json.loads(fig_ko.plot)["layout"]["annotations"][0]["text"]
    assert title_ko == say("ko", "generate.fig.raw") != say("en", "generate.fig.raw")


@pytest.mark.parametrize("field,value,key", [("temperature", -1, "generate.err.temperature"),
                                             ("top_p", 0, "generate.err.top_p"),
                                             ("top_p", 1.5, "generate.err.top_p"),
                                             ("top_k", -2, "generate.err.top_k")])
def test_out_of_range_settings_are_refused_saying_why_not_clamped(field, value, key):
    _gpt()
    settings = {"temperature": 1.0, "top_k": 0, "top_p": 0.9, field: value}
    for lang in ("en", "ko"):
        with pytest.raises(gr.Error) as e:
            G.next_token("bundled", "The", settings["temperature"], settings["top_k"],
                         settings["top_p"], 0, None, lang)
        assert e.value.message == say(lang, key, value=f"{value:g}")
    with pytest.raises(gr.Error, match="생성|학습"):
        G.next_token("own", "The", 1.0, 0, 0.9, 0, None, "ko")


def test_the_opening_view_leaves_the_prompt_and_names_the_token_a_click_draws():
    _gpt()
    args = ("bundled", "Anna is a teacher who lives in", 1.0, 0, 0.9, 4, None, "en")
    fig, prompt, info, data = G.preview(*args)
    assert prompt == gr.skip()  # the prompt box is left as it is
    _, clicked, _, drawn = G.next_token(*args)
    assert drawn["token"] == data["token"] and clicked == args[1] + data["token"]
    assert data["token"].replace(" ", "␣") in info and "Settings used" in info


def test_prompt_lens_reads_the_prompt_the_chart_drew_from():
    gpt = _gpt()
    _, _, _, step = G.next_token("bundled", "The capital of France is", 1.0, 0, 0.9, 0, None)
    fig, note = G.prompt_lens("bundled", step, None, "en")
    heat = json.loads(fig.plot)["data"][0]
    n_layer = gpt.model.cfg.n_layer
    assert len(heat["z"]) == n_layer + 1 and heat["y"][1:] == [str(i) for i in range(1, n_layer + 1)]
    assert heat["x"][-1].startswith("␣is")  # the prompt's last token, not the drawn one
    # The last layer at the last position is the distribution the chart's first panel shows.
    assert heat["z"][-1][-1] == pytest.approx(step["top"][0]["raw"], abs=1e-6)
    assert f"{n_layer} = the last layer" in note
    ko_fig, ko_note = G.prompt_lens("bundled", step, None, "ko")
    assert json.loads(ko_fig.plot)["layout"]["title"]["text"] == say("ko", "lens.title.gpt")
    assert "로짓" in ko_note or "층" in ko_note


def test_prompt_lens_is_capped_to_the_prompt_end():
    gpt = _gpt()
    prompt = "Anna is a teacher who lives in Paris , the capital of France , and she speaks"
    ids = gpt.tokenizer.encode(prompt)
    assert len(ids) > G.LENS_POSITIONS
    fig, note = G.prompt_lens("bundled", {"before": prompt}, None, "en")
    heat = json.loads(fig.plot)["data"][0]
    assert len(heat["x"]) == G.LENS_POSITIONS
    assert heat["x"][-1].endswith(f"·{len(ids) - 1}")
    assert f"{len(ids) - G.LENS_POSITIONS}–{len(ids) - 1} of {len(ids)}" in note
    # A full grid has narrow cells: their words are cut short (hover has them whole).
    words = [t.replace("<b>", "").replace("</b>", "") for row in heat["text"] for t in row]
    assert max(len(w) for w in words) <= 5 and any(w.endswith("…") for w in words)
