"""The Lab tab's text and figure, from a table: every arm drawn with its seeds' spread,
a sentence per verdict in the page's language, and the caps enforced before training."""
from __future__ import annotations

import json

import gradio as gr
import pytest

from bertgpt.app import i18n, tab_lab
from bertgpt.finetune import lab


def _table():
    rows = [{"arm": arm, "seed": seed, "visible_acc": None if arm == "causal" else 0.1 + k / 20,
             "masked_acc": None if arm == "causal" else 0.1, "next_acc": 0.5 if arm == "causal"
             else None, "classify": 0.6 + seed / 10, "qa": 0.2 + k / 50, "ner": 0.5}
            for k, arm in enumerate(lab.ARMS) for seed in (0, 1)]
    summary = lab.summarize(rows)
    return {"rows": rows, "summary": summary, "verdicts": lab.verdicts(summary),
            "arms": list(lab.ARMS), "seeds": [0, 1], "config": {
                "steps": 200, "n_layer": 2, "n_embd": 64, "examples": 64},
            "threads": 1, "seconds": 900}


def test_the_figure_has_every_arm_with_min_max_whiskers():
    fig = tab_lab.figure(_table(), "en")
    assert [d["name"] for d in fig["data"]] == list(lab.ARMS)
    bert = fig["data"][0]
    k = lab.METRICS.index("classify")
    assert bert["y"][k] == pytest.approx(0.65)
    assert bert["error_y"]["array"][k] == pytest.approx(0.05)       # max 0.7
    assert bert["error_y"]["arrayminus"][k] == pytest.approx(0.05)  # min 0.6
    causal = fig["data"][list(lab.ARMS).index("causal")]
    assert causal["y"][lab.METRICS.index("visible_acc")] is None   # not measured: no bar


def test_the_text_follows_the_page_language():
    table = _table()
    cids = list(dict.fromkeys(v["comparison"] for v in table["verdicts"]))
    for lang in ("en", "ko"):
        md = tab_lab.table_md(table, lang)
        assert i18n.say(lang, "lab.arm.mask_100") in md
        assert md.count("\n| `") == len(lab.ARMS)
        verdicts = tab_lab.verdicts_md(table, lang).splitlines()
        assert sum(x.startswith("- ") for x in verdicts) == len(table["verdicts"])
        heads = [x for x in verdicts if x.startswith("**")]
        assert [h.split("**")[1] for h in heads] == [i18n.say(lang, f"lab.cmp.{c}") for c in cids]
        assert all(i18n.say(lang, f"lab.paper.{c}") in h for c, h in zip(cids, heads))
    ko = tab_lab.verdicts_md(table, "ko")
    assert "논문" in ko and "paper" not in ko
    assert tab_lab.figure(table, "ko")["layout"]["title"]["text"] == i18n.say("ko", "lab.chart_title")


def test_a_verdict_sentence_carries_its_numbers():
    table = _table()
    v = next(v for v in table["verdicts"] if v["comparison"] == "masking" and v["metric"] == "qa")
    lines = tab_lab.verdicts_md(table, "en").splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith("**80/10/10 vs 100%"))
    line = next(x for x in lines[start:] if "QA exact match" in x)
    assert f"{v['mean_a']:.3f}" in line and f"{v['mean_b']:.3f}" in line
    assert ("overlap" in line) == (not v["separated"])
    # the paper found no difference for fine-tuning: the line says whether the minis agree
    assert line.endswith(i18n.say("en", "lab.agrees" if v["agrees"] else "lab.disagrees"))


def test_no_shipped_table_says_how_to_make_one():
    md, plot, verdicts = tab_lab.render(None, "ko")
    assert md == i18n.say("ko", "lab.missing") and verdicts == ""
    assert json.loads(plot.plot)["data"] == []


def test_steps_past_the_cap_are_refused_before_training(monkeypatch):
    monkeypatch.setenv("BERTGPT_MAX_STEPS", "50")
    from bertgpt import settings
    settings.reset()
    try:
        with pytest.raises(gr.Error, match="50"):
            next(tab_lab.rerun("bert", 0, 60, None, "en"))
        with pytest.raises(gr.Error):
            next(tab_lab.rerun("nope", 0, 10, None, "ko"))
    finally:
        monkeypatch.delenv("BERTGPT_MAX_STEPS")
        settings.reset()
