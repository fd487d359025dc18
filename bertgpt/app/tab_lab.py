"""Lab: recipe ablations, measured. Matched minis pre-trained with one choice changed,
carried to the same fine-tuning tasks and to fill-mask on unmasked input. The shipped
table (assets/lab/defaults.json, written by `bertgpt lab --out ...`) shows on first load;
any arm can be re-run live for a seed within the training caps, and its row replaces the
shipped one. The numbers come from `finetune.lab`; this module only draws and words them.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import gradio as gr

from .. import settings
from ..errors import ConfigError
from ..finetune import lab
from ..course.viz import styled
from . import worker
from .common import PALETTE, friendly_gen
from .i18n import say, t
from .plots_live import _axis, as_plot

ID = "lab"
LABEL = t("lab.title")
RESULTS = Path(__file__).resolve().parents[2] / "assets" / "lab" / "defaults.json"
# Okabe-Ito, colour-blind safe: its eight colours and its black, one per arm (nine arms);
# black is the last arm, scratch, the floor.
COLORS = [PALETTE[c] for c in ("blue", "vermillion", "orange", "green", "sky", "purple",
                               "yellow", "grey")] + ["#000000"]


def shipped() -> dict | None:
    """The shipped table, or None when the file is missing (a source checkout without
    assets): the tab then says how to make it."""
    try:
        return lab.load_results(RESULTS)
    except (OSError, ConfigError, ValueError):
        return None


def _id(arm: str) -> str:
    """The strings id of an arm's name (ids take no '-')."""
    return arm.replace("-", "_")


def _cell(v) -> str:
    """Mean over seeds, with the lowest and highest seed small beneath it."""
    if v is None:
        return "–"
    return f"**{v['mean']:.3f}**<br><small>{v['min']:.3f}–{v['max']:.3f}</small>"


def table_md(table: dict | None, lang: str) -> str:
    """The table in the page's language: one row per arm, mean [min–max] over seeds."""
    if not table:
        return say(lang, "lab.missing")
    metrics = lab.METRICS + ("next_acc",)
    head = [say(lang, "lab.col.arm")] + [say(lang, f"lab.metric.{m}") for m in metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for arm in table["arms"]:
        s = table["summary"].get(arm, {})
        lines.append("| " + " | ".join([f"`{arm}`"] + [_cell(s.get(m)) for m in metrics]) + " |")
    # the arms' one change, below the table: in a column it squeezed the numbers
    lines.append("\n" + say(lang, "lab.col.change") + ": " + "; ".join(
        f"`{arm}` {say(lang, f'lab.arm.{_id(arm)}')}" for arm in table["arms"]) + ".")
    c = table["config"]
    lines.append("\n" + say(lang, "lab.setup", seeds=", ".join(map(str, table["seeds"])),
                            steps=c["steps"], layers=c["n_layer"], width=c["n_embd"],
                            examples=c["examples"], runs=len(table["rows"]),
                            seconds=round(table["seconds"]), threads=table["threads"]))
    return "\n".join(lines)


def verdicts_md(table: dict | None, lang: str) -> str:
    """Per comparison: what the paper found, then one sentence per metric worded from the
    verdict's numbers, and whether it goes the paper's way where the paper has a way."""
    if not table:
        return ""
    out, seen = [], set()
    for v in table["verdicts"]:
        cid = v["comparison"]
        if cid not in seen:
            seen.add(cid)
            out.append(f"\n**{say(lang, f'lab.cmp.{cid}')}** — {say(lang, f'lab.paper.{cid}')}")
        args = dict(a=v["a"], b=v["b"], metric=say(lang, f"lab.metric.{v['metric']}"),
                    mean_a=f"{v['mean_a']:.3f}", mean_b=f"{v['mean_b']:.3f}")
        if not v["separated"]:
            line = say(lang, "lab.verdict.overlap", **args)
        elif v["better"] == "a":
            line = say(lang, "lab.verdict.higher_a", **args)
        else:
            line = say(lang, "lab.verdict.higher_b", **args)
        if v["agrees"] is True:
            line += " " + say(lang, "lab.agrees")
        elif v["agrees"] is False:
            line += " " + say(lang, "lab.disagrees")
        out.append(f"- {line}")
    return "\n".join(out).strip()


def _wrap(label: str) -> str:
    """A two-line tick label (at the comma, else the last space), so the five fit flat."""
    head, sep, tail = label.partition(", ")
    if not sep:
        head, sep, tail = label.rpartition(" ")
    return f"{head}<br>{tail}" if sep else label


def figure(table: dict | None, lang: str) -> dict:
    """Bars: each metric's mean per arm, with the min–max over seeds as error bars."""
    data = []
    if table:
        metrics = list(lab.METRICS)
        xs = [_wrap(say(lang, f"lab.metric.{m}")) for m in metrics]
        for k, arm in enumerate(table["arms"]):
            s = table["summary"].get(arm, {})
            mean = [s[m]["mean"] if m in s else None for m in metrics]
            data.append({
                "type": "bar", "name": arm, "x": xs, "y": mean,
                "marker": {"color": COLORS[k % len(COLORS)]},
                "error_y": {"type": "data", "symmetric": False, "thickness": 1.5, "width": 3,
                            "array": [s[m]["max"] - s[m]["mean"] if m in s else None
                                      for m in metrics],
                            "arrayminus": [s[m]["mean"] - s[m]["min"] if m in s else None
                                           for m in metrics]},
                "hovertemplate": arm + ": %{y:.3f}<extra></extra>"})
    layout = {"height": 420, "barmode": "group", "margin": {"l": 55, "r": 20, "t": 40, "b": 40},
              "title": {"text": say(lang, "lab.chart_title")},
              "xaxis": _axis(tickangle=0), "yaxis": _axis(range=[0, 1.05], title={
                  "text": say(lang, "lab.chart_y")}),
              "legend": {"orientation": "h", "y": -0.15, "yanchor": "top"}}
    return {"data": data, "layout": styled(layout)}


def render(table, lang):
    """Table, chart and verdicts for the current table, in the page's language."""
    return table_md(table, lang), as_plot(figure(table, lang)), verdicts_md(table, lang)


@friendly_gen
def rerun(arm, seed, steps, table, lang):
    """Pre-train one arm for one seed live, fine-tune it, and put its row in the table."""
    try:
        seed, steps = int(seed), int(steps)
    except (TypeError, ValueError):
        raise gr.Error(say(lang, "lab.bad_number")) from None
    if arm not in lab.ARMS:
        raise gr.Error(say(lang, "lab.bad_arm", arms=", ".join(lab.ARMS)))
    cap = settings.current().bertgpt_max_steps
    if not 1 <= steps <= cap:
        raise gr.Error(say(lang, "lab.bad_steps", cap=cap))
    cfg = lab.LabConfig(steps=steps, time_budget=settings.current().bertgpt_max_seconds)
    events = (worker.iterate(lab.run_arm, arm, seed, cfg) if worker.enabled()
              else lab.run_arm(arm, seed, cfg))
    for ev in events:
        if ev["type"] == "pretrain" and (ev["step"] % 10 == 0 or ev["step"] == steps):
            yield (say(lang, "lab.progress", arm=arm, seed=seed, step=ev["step"], steps=steps,
                       loss=f"{ev['loss']:.3f}"), gr.skip(), gr.skip(), gr.skip(), gr.skip())
        elif ev["type"] == "finetune":
            yield (say(lang, "lab.progress_ft", arm=arm, seed=seed,
                       task=say(lang, f"lab.metric.{ev['task']}")),
                   gr.skip(), gr.skip(), gr.skip(), gr.skip())
        elif ev["type"] == "row":
            row = ev["row"]
            base = table or {"rows": [], "arms": [], "seeds": [seed], "config": asdict(cfg),
                             "threads": 0, "seconds": 0}
            new = lab.with_row(base, row)
            shown = ", ".join(f"{say(lang, f'lab.metric.{m}')} {row[m]:.3f}"
                              for m in lab.METRICS + ("next_acc",) if row.get(m) is not None)
            md, plot, verdicts = render(new, lang)
            yield (say(lang, "lab.done", arm=arm, seed=seed, steps=row["pretrain_steps"],
                       seconds=round(row["seconds"]), scores=shown), md, plot, verdicts, new)


def build(ctx) -> dict:
    gr.Markdown(t("lab.intro.md"))
    table = shipped()
    state = gr.State(table)
    md0, plot0, verdicts0 = render(table, "en")
    summary = gr.Markdown(md0)
    chart = gr.Plot(plot0, label=t("lab.chart"), show_label=False)
    gr.Markdown(t("lab.verdicts.md"))
    verdicts = gr.Markdown(verdicts0)
    gr.Markdown(t("lab.rerun.md"))
    cap = settings.current().bertgpt_max_steps
    with gr.Row():
        arm = gr.Dropdown([(t(f"lab.arm.{_id(a)}"), a) for a in lab.ARMS], value="mask-100",
                          label=t("lab.arm"))
        seed = gr.Number(0, precision=0, minimum=0, maximum=2**31 - 1, label=t("lab.seed"))
        steps = gr.Slider(10, cap, value=min(cap, lab.LabConfig().steps), step=10,
                          label=t("lab.steps"))
    with gr.Row():
        go = gr.Button(t("lab.go"), variant="primary")
        stop = gr.Button(t("lab.stop"), variant="stop")
    status = gr.Markdown()
    ctx.lang.change(render, [state, ctx.lang], [summary, chart, verdicts],
                    api_visibility="private", show_progress="hidden")
    run = go.click(rerun, [arm, seed, steps, state, ctx.lang],
                   [status, summary, chart, verdicts, state], api_name="lab_rerun",
                   concurrency_id="train",
                   concurrency_limit=settings.current().bertgpt_train_concurrency)
    stop.click(None, None, None, cancels=[run])
    return {"arm": arm, "seed": seed, "steps": steps}
