"""The Train live tab's own text (bertgpt/app/train_view.py); the streaming run itself is in
test_app_live.py."""
from bertgpt.app.train_view import kept_note


def test_a_run_that_kept_earlier_weights_says_why():
    record = {"steps": 400, "best_step": 250, "final": {"step": 250, "val_loss": 2.3456}}
    note = kept_note("gpt", record)
    assert note.startswith("GPT: validation loss was lowest at step 250 (2.346)")
    assert "overfitting" in note and "step 250's" in note


def test_a_run_that_ended_on_its_best_says_nothing():
    assert kept_note("bert", {"steps": 400, "best_step": 400,
                               "final": {"val_loss": 1.0}}) == ""
    assert kept_note("bert", {"steps": 3}) == ""  # an old checkpoint's record


# ---- the page's language, the loss chart, the embedding map --------------------------------
import json  # noqa: E402
import re  # noqa: E402

import pytest  # noqa: E402

from bertgpt.app import plots_live, train_view  # noqa: E402
from bertgpt.app.tab_train import Run  # noqa: E402
from bertgpt.course import viz  # noqa: E402

LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
KEPT_AS_IS = {"BERT", "GPT", "PCA", "PC1", "PC2", "cpu", "nat"}  # names Korean keeps


def _english_words(text: str) -> set:
    return set(LATIN_WORD.findall(re.sub(r"<[^>]+>", "", text))) - KEPT_AS_IS


def _texts(fig: dict) -> list[str]:
    lay = fig["layout"]
    out = [lay["title"]["text"]] + [a["text"] for a in lay.get("annotations", [])]
    out += [lay[k]["title"]["text"] for k in lay if k.startswith(("xaxis", "yaxis"))
            and "title" in lay[k]]
    return out + [t["name"] for t in fig["data"]]


def _run(final=False):
    run = Run({"archs": ["bert", "gpt"], "steps": 100, "seconds": 30, "probes": {"gpt": ["x"]}})
    for arch in ("bert", "gpt"):
        run.absorb({"meta": {arch: {"vocab": 1000, "params": 800_000}}, "device": "cpu",
                    "probes": {}, "events": [
                        {"arch": arch, "type": "step", "step": 40, "loss": 3.2, "elapsed": 12.0,
                         "tokens_per_s": 12345.0},
                        {"arch": arch, "type": "eval", "step": 40, "val_loss": 3.4,
                         **({"val_mlm_acc": 0.31} if arch == "bert" else {"val_bpc": 1.9})}]})
    return run


def test_the_status_speaks_the_page_s_language():
    run = _run()
    en, ko = train_view.status(run, "en"), train_view.status(run, "ko")
    assert "step 40" in en and "12,345 tokens/s" in en and "masked-word accuracy 31%" in en
    assert "스텝 40" in ko and "초당 12,345 토큰" in ko and "마스크 단어 정확도 31%" in ko
    assert _english_words(ko) == set(), _english_words(ko)
    run.stopped_by = {"bert": "time", "gpt": "stop"}
    done = train_view.status(run, "ko", final=True)
    assert "BERT: 시간 예산 소진" in done and "GPT: 사용자가 멈춤" in done
    waiting = Run({"archs": ["gpt"], "steps": 10, "seconds": 5})
    assert "토크나이저" in train_view.status(waiting, "ko")
    assert "counts against the time budget" in train_view.status(waiting, "en")


def test_the_loss_chart_in_korean_has_no_english_left():
    fig = plots_live.loss_figure({"bert": [(1, 5.0)], "gpt": [(1, 5.0)]},
                                 {"bert": [(1, 5.1)], "gpt": [(1, 5.2)]},
                                 {"bert": 1000, "gpt": 1200}, lang="ko")
    texts = _texts(fig)
    assert "스텝" in texts and "GPT: 검증" in texts
    left = set().union(*map(_english_words, texts))
    assert left == set(), left


def test_the_loss_legend_sits_below_the_x_axis_title():
    """The reported overlap: the legend was put 0.22 plot-heights under the axis, about
    where the axis title is drawn. Now it starts ~78 px under the axis (in Chromium the
    tick labels and the title took ~65) and its two rows fit inside the bottom margin.
    tests/test_browser_train.py measures the drawn boxes."""
    lay = plots_live.loss_figure({"gpt": [(1, 5.0)]}, {}, {})["layout"]
    plot_h = lay["height"] - lay["margin"]["t"] - lay["margin"]["b"]
    gap = -lay["legend"]["y"] * plot_h
    assert lay["legend"]["yanchor"] == "top" and gap >= 70
    assert lay["margin"]["b"] - gap >= 2 * 20  # room for a legend that wraps to two rows


def _maps():
    def m(shift):
        pts = [{"word": w, "group": g, "x": i + shift, "y": -i, "split": w == "Brasilia",
                "pieces": ["ĠBras", "ilia"] if w == "Brasilia" else ["Ġ" + w]}
               for i, (w, g) in enumerate([("France", "country"), ("Paris", "capital"),
                                           ("Brasilia", "capital"), ("teacher", "job")])]
        return {"points": pts, "explained": [0.2, 0.15], "kept": 0.35,
                "silhouette_2d": 0.5, "silhouette_full": 0.2}
    return {"bert": m(0), "gpt": m(1)}


def test_the_embedding_map_draws_one_panel_per_model_groups_by_colour_and_shape():
    fig = plots_live.embedding_figure(_maps())
    lay = fig["layout"]
    assert [t["xaxis"] for t in fig["data"]].count("x") == 3  # BERT: three groups
    assert [t["xaxis"] for t in fig["data"]].count("x2") == 3  # GPT beside it
    assert lay["xaxis"]["domain"][1] < lay["xaxis2"]["domain"][0]  # side by side
    assert lay["yaxis"]["scaleanchor"] == "x" and lay["yaxis2"]["scaleanchor"] == "x2"
    shown = [t for t in fig["data"] if t["showlegend"]]
    assert [t["name"] for t in shown] == ["country", "capital", "job"]  # one legend entry each
    assert len({t["marker"]["color"] for t in shown}) == 3
    assert len({t["marker"]["symbol"][0] for t in shown}) == 3  # not colour alone
    capital = next(t for t in fig["data"] if t["name"] == "capital")
    assert capital["text"] == ["Paris", "Brasilia*"]
    assert capital["marker"]["symbol"] == ["square", "square-open"]  # split: open marker
    assert "ĠBras · ilia" in capital["customdata"]
    panels = [a["text"] for a in lay["annotations"]]
    assert any("GPT" in p and "35%" in p and "0.50" in p for p in panels)
    assert any("several tokens" in p for p in panels)
    assert lay["legend"]["y"] < 0 and lay["legend"]["yanchor"] == "top"  # under the panels


def test_the_embedding_map_in_korean_and_its_empty_states():
    fig = plots_live.embedding_figure(_maps(), "ko")
    left = set().union(*map(_english_words, _texts(fig)))
    assert left == set(), left
    assert {t["name"] for t in fig["data"]} == {"나라", "수도", "직업"}
    waiting = plots_live.embedding_figure({}, "ko")
    assert waiting["data"] == [] and "첫 프로브" in waiting["layout"]["annotations"][0]["text"]
    run = Run({"archs": ["gpt"], "steps": 10, "seconds": 5, "embed_groups": {}})
    plot = json.loads(train_view.embedding(run, "en").plot)
    assert "needs the world corpus" in plot["layout"]["annotations"][0]["text"].replace("<br>", " ")


@pytest.mark.parametrize("fig", [lambda: plots_live.embedding_figure(_maps()),
                                 lambda: plots_live.embedding_figure({"gpt": _maps()["gpt"]})])
def test_the_embedding_map_is_in_the_one_style_and_valid_plotly(fig):
    go = pytest.importorskip("plotly.graph_objects")
    spec = fig()
    for key in ("font", "paper_bgcolor", "plot_bgcolor", "hoverlabel"):
        assert spec["layout"][key] == viz.STYLE[key]
    go.Figure(json.loads(json.dumps(spec)))  # raises on any property plotly does not know


def test_a_new_map_is_counted_only_when_the_job_sends_one():
    """The handler redraws the map only when maps_version moved (a probe brought a map),
    not at every tick of the loss curve."""
    run = Run({"archs": ["gpt"], "steps": 10, "seconds": 5})
    tick = {"meta": {}, "device": "cpu", "probes": {}, "events": []}
    run.absorb({**tick, "maps": {}})
    run.absorb(tick)  # a tick from a job that sends no maps at all
    assert run.maps_version == 0 and run.maps == {}
    run.absorb({**tick, "maps": _maps()})
    assert run.maps_version == 1 and set(run.maps) == {"bert", "gpt"}
