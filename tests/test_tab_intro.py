"""The "Start here" tab (bertgpt/app/tab_intro.py): sizes from the core, both minis answer."""
import gradio as gr
import pytest

from bertgpt.io.assets import bundled
from bertgpt.model.build import count_params
from bertgpt.app import tab_intro


def test_side_by_side_counts_come_from_the_core():
    table = tab_intro.side_by_side()
    assert f"{count_params('bert-base')['published_total']:,}" in table   # 109,482,240
    assert f"{count_params('gpt2')['published_total']:,}" in table        # 124,439,808
    assert "| layers | 12 | 12 |" in table and "| vocabulary | 30,522 | 50,257 |" in table


@pytest.mark.skipif(bundled("bert") is None or bundled("gpt") is None,
                    reason="bundled minis missing (assets/README.md rebuilds them)")
def test_both_minis_know_the_capital():
    bert_md, gpt_md = tab_intro.ask_both("France")
    assert "the capital of france is [MASK] ." in bert_md
    first = bert_md.split("- **", 1)[1].split("**", 1)[0]
    assert first == "paris"                       # BERT's first choice
    assert "> The capital of France is **Paris" in gpt_md            # GPT's greedy text


def test_unknown_country_is_a_clear_error():
    with pytest.raises(gr.Error, match="Pick a country"):
        tab_intro.ask_both("Atlantis")


@pytest.mark.skipif(bundled("bert") is None or bundled("gpt") is None,
                    reason="bundled minis missing (assets/README.md rebuilds them)")
def test_answers_are_computed_once_per_country():
    """Every page load asks: a class of 30 must not cost 30 generations."""
    tab_intro._answers.cache_clear()
    first = tab_intro.ask_both("Italy")
    assert tab_intro.ask_both("Italy") == first
    info = tab_intro._answers.cache_info()
    assert (info.misses, info.hits) == (1, 1)
    tab_intro._answers.cache_clear()  # and what is cached is what computing gives
    assert tab_intro.ask_both("Italy") == first
