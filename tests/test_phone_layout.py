"""Issue #22's rough edges that need no browser: the Sizes tab's divisibility hint names
a width its slider can take, and a real model that cannot be had offline says so in its
label, before anyone picks it. (tests/test_browser_phone.py checks the page itself.)"""
import re

import gradio as gr
import pytest


@pytest.mark.parametrize("width", [16, 784, 1000, 12_300, 16_384])
def test_the_width_hint_is_always_a_width_the_slider_offers(width):
    from bertgpt.app import tab_sizes
    slider = range(tab_sizes.WIDTH_STEP, tab_sizes.WIDTH_MAX + 1, tab_sizes.WIDTH_STEP)
    for heads in range(1, 129):
        if width % heads == 0:
            continue
        with pytest.raises(gr.Error, match="divisible") as caught:
            tab_sizes._config("custom", "gpt", 100, 2, heads, width, 64)
        said = re.search(r"try width (\d+)", caught.value.message)
        if said is None:   # no width on the slider fits: fewer heads is the way out
            assert "fewer heads" in caught.value.message
            continue
        suggested = int(said.group(1))
        assert suggested in slider and suggested % heads == 0, (heads, width, suggested)
        tab_sizes._config("custom", "gpt", 100, 2, heads, suggested, 64)   # and it is valid


def test_offline_real_models_are_marked_unavailable_before_picking(monkeypatch):
    from bertgpt.io import hub
    from bertgpt.app.common import real_choices
    monkeypatch.setattr(hub, "status", lambda name, probe=False:
                        "offline" if name == "gpt2-xl" else "cached")
    labels = {name: label for label, name in real_choices("gpt")}
    assert labels["gpt2-xl"].read("en").endswith(
        "⊘ unavailable offline (not downloaded: hf download gpt2-xl)")
    assert "오프라인이라 쓸 수 없음" in labels["gpt2-xl"].read("ko")
    assert labels["gpt2"].read("en").endswith("ready") and "⊘" not in labels["gpt2"].read("en")
