"""One figure style: the explanatory figures (viz.py) and the live charts (app/plots_live.py,
the fine-tune lab) start from the same base layout, viz.STYLE."""
from __future__ import annotations

import json

import pytest
import torch

pytest.importorskip("gradio")

from bertgpt.course import viz  # noqa: E402
from bertgpt.model.sampling import distribution  # noqa: E402
from bertgpt.app import plots_live, tab_finetune  # noqa: E402

TOKENS = ["[CLS]", "the", "cat", "[SEP]"]


def _step_rows():
    step = distribution(torch.tensor([4.0, 3.0, 2.5, 2.0, 1.0, 0.5]), 1.0, 4, 0.8)
    step.token = 0
    return step.top(6)


EXPLANATORY = {
    "empty": lambda: viz.empty("nothing here"),
    "attention_heatmap": lambda: viz.attention_heatmap([[1.0] * 4] * 4, TOKENS, title="t"),
    "rate_bars": lambda: viz.rate_bars({"sel": 0.16}, {"sel": 0.15}, "rates"),
    "param_shares": lambda: viz.param_shares([("mini", {"mlp": 3, "attention": 1})]),
}
LIVE = {
    "loss": lambda: plots_live.loss_figure({"gpt": [(1, 5.0), (2, 4.5)]}, {"gpt": [(2, 4.6)]},
                                           {"gpt": 300}),
    "fill-mask": lambda: plots_live.fillmask_figure(
        [{"position": 3, "candidates": [{"token": "paris", "prob": 0.7},
                                        {"token": "rome", "prob": 0.1}]}], "is [MASK] ."),
    "distribution": lambda: plots_live.distribution_figure(_step_rows(), 1.0, 4, 0.8),
    "fine-tune curve": lambda: tab_finetune.curve_figure(
        {"pre-trained": {"loss": [(1, 0.7)], "eval": [(1, 0.6)]},
         "scratch": {"loss": [(1, 0.9)], "eval": [(1, 0.5)]}}, "accuracy", 0.5),
    "fine-tune sweep": lambda: tab_finetune.sweep_figure(
        [{"init": "pre-trained", "asked": 16, "accuracy": 0.8},
         {"init": "scratch", "asked": 16, "accuracy": 0.6}], "accuracy", 0.5),
    "qa": lambda: tab_finetune._qa_figure({"tokens": ["a", "b"], "span": [0, 1],
                                           "start": [0.9, 0.1], "end": [0.2, 0.8],
                                           "answer": "a b", "prob": 0.7}),
    "gpt few-shot": lambda: tab_finetune._gpt_figure([{"k": 0, "accuracy": 0.4}], "accuracy"),
}
ALL = {**{f"viz {k}": v for k, v in EXPLANATORY.items()},
       **{f"live {k}": v for k, v in LIVE.items()}}


@pytest.mark.parametrize("name", list(ALL))
def test_every_figure_starts_from_the_one_style(name):
    layout = ALL[name]()["layout"]
    for key in ("font", "paper_bgcolor", "plot_bgcolor", "hoverlabel"):
        assert layout[key] == viz.STYLE[key], key
    placement = {k: v for k, v in layout["title"].items() if k != "text"}
    assert placement == viz.STYLE["title"]  # every title sits where the others do
    assert set(layout["margin"]) == {"l", "r", "t", "b"}
    axes = [k for k in layout if k.startswith(("xaxis", "yaxis"))]
    assert axes and all(layout[k]["automargin"] for k in axes)
    grids = {layout[k]["gridcolor"] for k in axes if "gridcolor" in layout[k]}
    assert grids <= {viz.GRID}


def test_a_live_layout_is_the_style_plus_its_own_entries_only():
    """No second base hides in the live charts: take away the entries the loss chart
    sets itself and what is left is viz.STYLE, nothing more."""
    live = plots_live.loss_figure({}, {}, {})["layout"]
    own = {"height", "margin", "xaxis", "yaxis", "shapes", "annotations", "uirevision",
           "legend", "title"}
    assert {k: v for k, v in live.items() if k not in own} == {
        k: v for k, v in viz.STYLE.items() if k not in own}


@pytest.mark.parametrize("name", list(LIVE))
def test_live_figures_are_valid_plotly(name):
    go = pytest.importorskip("plotly.graph_objects")
    fig = LIVE[name]()
    go.Figure(json.loads(json.dumps(fig)))  # raises on any property plotly does not know


def test_styled_keeps_what_a_figure_sets_and_merges_margin_and_title():
    layout = viz.styled({"margin": {"l": 55}, "title": "Loss", "height": 300,
                         "font": {"size": 20}, "xaxis": {"range": [0, 1]}})
    assert layout["margin"] == {"l": 55, "r": 10, "t": 10, "b": 10}
    assert layout["title"]["text"] == "Loss" and layout["title"]["xanchor"] == "left"
    assert layout["font"] == {"size": 20} and layout["height"] == 300
    assert layout["xaxis"] == {"range": [0, 1], "automargin": True}
    bare = viz.styled({})  # no axes named: plotly's two default ones get automargin
    assert bare["xaxis"] == bare["yaxis"] == {"automargin": True}
    layout["margin"]["l"] = 0
    layout["title"]["pad"]["t"] = 0
    assert viz.STYLE["margin"]["l"] == 10 and viz.STYLE["title"]["pad"]["t"] == 14


def test_a_live_chart_keeps_its_own_reasons():
    """Differences with a reason stay: the streamed curves keep the student's zoom
    (uirevision), and their margins leave room for the axis titles."""
    loss = plots_live.loss_figure({"gpt": [(1, 5.0)]}, {}, {})["layout"]
    assert loss["uirevision"] == "loss" and loss["margin"]["l"] == 55
    curve = LIVE["fine-tune curve"]()["layout"]
    assert curve["uirevision"] == "curve"


def test_no_plot_in_the_app_shows_gradio_s_label_chip():
    """Figures carry their own title at the top left (viz.STYLE), where a gr.Plot's label
    chip would sit on top of it; every plot in the app hides the chip."""
    import gradio as gr

    from bertgpt.app import build_app
    plots = [b for b in build_app().blocks.values() if isinstance(b, gr.Plot)]
    assert len(plots) >= 15
    shown = [str(p.label) for p in plots if p.show_label]
    assert not shown, shown


def test_the_fill_mask_chart_grows_with_top_k():
    """Twenty guesses need room for twenty labels: each bar keeps ~22 px."""
    def guesses(k):
        return [{"position": 3, "candidates": [{"token": f"w{i}", "prob": 1 / (i + 2)}
                                                for i in range(k)]}]
    small = plots_live.fillmask_figure(guesses(5))["layout"]["height"]
    big = plots_live.fillmask_figure(guesses(20))["layout"]["height"]
    assert small == 90 + 210
    assert big >= 90 + 22 * 20
    two = plots_live.fillmask_figure(guesses(20) * 2)["layout"]["height"]
    assert two - 90 == 2 * (big - 90)
