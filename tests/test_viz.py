"""Figure builders: every figure is valid plotly, readable without colour, and cheap."""
from __future__ import annotations

import json
import time

import pytest

from bertgpt.course import viz
from bertgpt.model.masks import explain_mask

TOKENS = ["[CLS]", "the", "cat", "saw", "the", "dog", "[SEP]"]  # "the" twice on purpose


SCORES = [explain_mask("causal", [4], seed=1)[k][0] for k in ("scores", "masked_scores",
                                                              "softmax")]


def _grid(n):
    return [[1.0 / (i + 1) if j <= i else 0.0 for j in range(n)] for i in range(n)]


def _params():
    return {"embeddings": 272896, "attention": 264192, "mlp": 526848, "layernorm": 2048}


BUILDERS = {
    "empty": lambda: viz.empty("nothing here"),
    "mask_grids": lambda: viz.mask_grids(
        [[[True, False], [True, True]]] * 2, [["a", "b"], ["c", "[PAD]"]], ["s1", "s2"], "t"),
    "score_panels": lambda: viz.score_panels(*SCORES, list("abcd"), "t"),
    "attention_heatmap": lambda: viz.attention_heatmap(_grid(7), TOKENS, title="t"),
    "attention_overview": lambda: viz.attention_overview([[_grid(7)] * 4] * 3, TOKENS, "t"),
    "prediction_bars": lambda: viz.prediction_bars([
        {"title": "p1", "candidates": [{"token": "paris", "prob": 0.6},
                                       {"token": "rome", "prob": 0.2}], "answer": "paris"},
        {"title": "p2", "candidates": [{"token": "a", "prob": 0.5}], "answer": "b",
         "answer_prob": 0.01, "answer_rank": 40}], "t"),
    "rate_bars": lambda: viz.rate_bars({"sel": 0.16, "mask": 0.79}, {"sel": 0.15, "mask": 0.8}),
    "count_bars": lambda: viz.count_bars({"IsNext": 5, "NotNext": 4}, {"IsNext": "#009E73"}),
    "embedding_strip": lambda: viz.embedding_strip(TOKENS, [0, 0, 0, 0, 1, 1, 1], "t"),
    "param_breakdown": lambda: viz.param_breakdown(_params(), "t"),
    "param_shares": lambda: viz.param_shares([("mini", _params()),
                                              ("big", {"mlp": 9, "attention": 1})]),
}


@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_builder_is_valid_plotly(name):
    fig = BUILDERS[name]()
    go_fig = fig.to_plotly()  # raises on any property plotly does not know
    assert json.loads(fig.to_json()) == json.loads(json.dumps(dict(fig)))
    assert go_fig.layout.font.size >= 14  # readable on a projector


@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_builder_is_fast(name):
    BUILDERS[name]()
    start = time.perf_counter()
    for _ in range(5):
        BUILDERS[name]().to_json()
    assert (time.perf_counter() - start) / 5 < 0.02  # a handler has 100 ms in all


def test_colours_are_okabe_ito():
    assert viz.PALETTE["sky"] == "#56B4E9" and viz.PALETTE["vermillion"] == "#D55E00"
    assert set(viz.PART_COLOURS.values()) <= set(viz.PALETTE.values())


def test_duplicate_tokens_keep_their_own_rows():
    fig = viz.attention_heatmap(_grid(7), TOKENS)
    assert fig["layout"]["yaxis"]["tickvals"] == list(range(7))
    assert fig["layout"]["yaxis"]["ticktext"].count("the") == 2
    assert fig["layout"]["yaxis"]["autorange"] == "reversed"  # row 0 on top, as in a matrix


def test_mask_grid_says_tick_and_cross_not_only_colour():
    fig = viz.mask_grids([[[True, False], [True, True]]], [["a", "b"]], ["one"])
    cell = fig["data"][0]
    assert cell["z"] == [[1, 0], [1, 1]]
    assert cell["text"] == [["✓", "✗"], ["✓", "✓"]]
    assert viz.ROW_TITLE in fig["layout"]["title"]["text"]
    assert viz.COL_TITLE in fig["layout"]["title"]["text"]


def test_score_panels_write_minus_infinity_only_where_hidden():
    ex = explain_mask("causal", [3], seed=0)
    fig = viz.score_panels(ex["scores"][0], ex["masked_scores"][0], ex["softmax"][0],
                           list("abc"))
    overlay = fig["data"][2]
    assert overlay["text"] == [["", "−∞", "−∞"], ["", "", "−∞"], ["", "", ""]]
    assert fig["data"][3]["z"][0] == [1.0, 0.0, 0.0]


def test_prediction_bars_always_show_the_answer():
    fig = BUILDERS["prediction_bars"]()
    first, second = fig["data"]
    assert first["y"][0] == "✓ paris" and first["marker"]["color"][0] == viz.PALETTE["green"]
    assert second["y"][-1] == "✓ b (rank 40)"  # outside the top k: added, with its rank
    assert all(t.endswith("%") for t in first["text"])


def test_param_shares_add_up_and_are_written():
    fig = BUILDERS["param_shares"]()
    per_model = [sum(tr["x"][i] for tr in fig["data"]) for i in range(2)]
    assert all(abs(s - 1) < 1e-9 for s in per_model)
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["1.07M", "10"]


def test_attention_overview_tiles_every_head():
    fig = viz.attention_overview([[_grid(3)] * 4] * 2, ["a", "b", "c"])
    z = fig["data"][0]["z"]
    assert len(z) == 2 * 4 - 1 and len(z[0]) == 4 * 4 - 1  # a blank line between tiles
    assert z[3][0] is None and z[4][:3] == _grid(3)[0]
    assert fig["layout"]["xaxis"]["ticktext"] == ["head 1", "head 2", "head 3", "head 4"]


def test_human_count():
    assert viz.human_count(174_604_259_328) == "175B"
    assert viz.human_count(1_065_728) == "1.07M"
    assert viz.human_count(999) == "999"
