"""The Fine-tune tab through its API (gradio_client against the launched app): fine-tune
both inits, inspect a prediction, run a sweep with its progress, score GPT few-shot, and
get clear errors for a bad CSV or a missing own model. Numbers are checked against the
core computing the same thing."""
from __future__ import annotations

import json
import re

import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402

from bertgpt.finetune import loop as ft, prompting, tasks  # noqa: E402
from bertgpt.io.assets import bundled  # noqa: E402
from bertgpt.text.corpus import few_shot_prompt  # noqa: E402
from bertgpt.app.tab_finetune import CSV_EXAMPLE  # noqa: E402
from apphelp import running_app  # noqa: E402

pytestmark = pytest.mark.skipif(bundled("bert") is None or bundled("gpt") is None,
                                reason="the bundled minis are not there")


@pytest.fixture(scope="module")
def client():
    with running_app() as demo:
        yield gradio_client.Client(demo.local_url, verbose=False)


def figure(out) -> dict:
    value = out.get("value", out) if isinstance(out, dict) else out
    return json.loads(value["plot"])


def test_finetune_both_then_inspect(client):
    status, curve = client.predict("classify", "bundled", "", "16", 20, False, 0,
                                   api_name="/finetune")
    bert = bundled("bert")
    data = tasks.world_task("classify", bert.tokenizer, bert.cfg.block_size)
    core = {ev["init"]: ev["metrics"]["accuracy"] for ev in ft.compare(
        "classify", bert, data, n_examples=16,
        cfg=ft.default_config("classify", steps=20, eval_every=4)) if ev["type"] == "done"}
    shown = dict(re.findall(r"\*\*(pre-trained|scratch)\*\* \(16 examples.*?accuracy \*\*([\d.]+)",
                            status))
    assert set(shown) == {"pre-trained", "scratch"}, status
    for init, acc in shown.items():  # the app runs one thread, the test two: allow a hair
        assert float(acc) == pytest.approx(core[init], abs=0.02)
    assert "baseline (always" in status and "200 held-out" in status
    fig = figure(curve)
    names = [t["name"] for t in fig["data"]]
    assert names == ["pre-trained: training loss", "pre-trained: held-out accuracy",
                     "scratch: training loss", "scratch: held-out accuracy"]
    assert [len(t["x"]) for t in fig["data"]] == [20, 5, 20, 5]  # every step, every 4th eval
    # Inspect uses this session's fine-tuned heads.
    probs, spans, tags, detail = client.predict(
        "I had soup at a cafe in Rome. The soup was cold and bland. I will not go back.", "",
        api_name="/finetune_inspect")
    label = probs.get("value", probs)
    assert {c["label"] for c in label["confidences"]} == {"negative", "positive"}
    assert "Scratch model:" in detail


def test_sweep_streams_progress_then_the_table(client):
    job = client.submit("csv", "bundled", CSV_EXAMPLE, 10, False, 0, api_name="/finetune_sweep")
    outputs = list(job)
    statuses = [o[0] for o in outputs]
    assert any("Ran 3 of 8" in s for s in statuses), statuses
    final_status, table, plot = job.result()
    assert final_status.startswith("Done: 8 runs")
    assert table.count("\n| ") == 4 and "accuracy (pre-trained)" in table
    fig = figure(plot)
    assert [t["name"] for t in fig["data"]] == list(ft.INITS)
    assert all(len(t["y"]) == 4 for t in fig["data"])


def test_bad_csv_and_missing_own_model_are_clear_errors(client):
    with pytest.raises(AppError, match="row 3"):
        client.predict("csv", "bundled", "text,label\ngood,pos\nbad,neg,oops", "16", 10,
                       False, 0, api_name="/finetune")
    with pytest.raises(AppError, match="Train live"):
        client.predict("classify", "own", "", "16", 10, False, 0, api_name="/finetune")
    with pytest.raises(AppError, match="Fine-tune first"):
        gradio_client.Client(client.src, verbose=False).predict(
            "some text", "", api_name="/finetune_inspect")


def test_gpt_prompting_scores_each_k_and_shows_the_prompt(client):
    plot, prompt, md = client.predict("capital", 2, "bundled", api_name="/gpt_prompting")
    fig = figure(plot)
    assert fig["data"][0]["x"] == [0, 1, 2]
    core = prompting.score("capital", bundled("gpt"), 2)
    assert fig["data"][0]["y"][-1] == pytest.approx(core["accuracy"], abs=0.05)
    assert prompt == few_shot_prompt(2, "France", seed=0)
    assert "**k = 2**" in md and ("| ✓ |" in md or "| ✗ |" in md)


def test_the_tab_opens_on_settings_where_pre_training_visibly_wins():
    """Issue #22: the defaults gave 1.000 against 1.000 (sentiment, 64). Whatever the
    defaults now are, pressing the button with them shows the pre-trained BERT ahead of
    random init by a wide margin on the task's main metric."""
    from bertgpt.app import build_app
    from bertgpt.app.tab_finetune import finetune_both
    links = build_app().links["finetune"]
    task, n, steps, seed = (links[k].value for k in ("task", "examples", "steps", "seed"))
    assert task != "classify" or n not in ("256", "all")
    last = None
    for last in finetune_both(task, "bundled", "", n, steps, links["freeze"].value, seed,
                              None, "en"):
        pass
    lines = str(last[0]).splitlines()
    score = {init: float(re.search(r"\*\*([0-9.]+)\*\*", next(
        line for line in lines if line.startswith(f"- **{init}**"))).group(1))
        for init in ("pre-trained", "scratch")}
    assert score["pre-trained"] > score["scratch"] + 0.3, score
