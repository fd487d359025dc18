"""Fine-tune: measure whether pre-training pays off. The same head is fine-tuned on the
pre-trained BERT and on a random copy of it, with the same budget, and both are scored
on held-out examples (live curves, then the data-efficiency sweep); GPT answers the same
kind of questions by prompting, with k solved examples in the prompt. The numbers come
from `finetune`, `tasks` and `prompting`; this module only draws them.
"""
from __future__ import annotations

import time

import gradio as gr
import torch

from ..finetune import loop as ft, prompting, tasks
from .. import settings
from ..io.assets import bundled
from ..course.viz import styled
from . import worker
from .common import PALETTE, check_text, friendly, friendly_gen, get_model
from .i18n import t
from .plots_live import _axis, as_plot

ID = "finetune"
LABEL = t("finetune.title")
TASKS = [(t("finetune.task.classify"), "classify"),
         (t("finetune.task.qa"), "qa"), (t("finetune.task.ner"), "ner"),
         (t("finetune.task.csv"), "csv")]
GPT_TASKS = [(t("finetune.gpt_task.capital"), "capital"),
             (t("finetune.gpt_task.classify"), "classify"), (t("finetune.gpt_task.qa"), "qa")]
SOURCES = [(t("finetune.source.bundled"), "bundled"), (t("finetune.source.own"), "own")]
EXAMPLES = ["16", "64", "256", "all"]
COLOR = {"pre-trained": PALETTE["blue"], "scratch": PALETTE["vermillion"]}
METRIC_NAME = {"accuracy": "accuracy", "exact_match": "exact match", "f1": "entity F1"}
CSV_EXAMPLE = ("text,label\nthe soup was delicious and fresh,positive\n"
               "the pasta was cold and bland,negative\nI loved the film,positive\n"
               "the film was slow and boring,negative\nthe staff were kind,positive\n"
               "we waited an hour for our table,negative\nthe cake was perfect,positive\n"
               "the bread was stale,negative")
INSPECT = {"classify": ("The noodles were cold and greasy, but the waiter was friendly.", ""),
           "csv": ("the pizza was excellent", ""),
           "qa": ("Maya is a pilot who lives in Lima, the capital of Peru. At noon, she eats "
                  "curry with a friend.", "Where does Maya live?"),
           "ner": ("Kenji takes a train to Cairo, the capital of Egypt, to see a camel.", "")}
MAX_CSV_CHARS = 100_000
TICK = 0.3  # seconds between streamed chart updates
GPT_N = 30  # held-out examples GPT answers per k (capital: every country)


def _long_run(fn, *args, **kwargs):
    """A fine-tuning or GPT-scoring run (seconds of training or generation): in a worker
    process of its own (worker.py), where it cannot slow the rest of the class's clicks;
    with BERTGPT_TRAIN_PROCESS=0, on this thread (one torch thread: guard_inputs)."""
    if worker.enabled():
        return worker.iterate(fn, *args, **kwargs)
    return fn(*args, **kwargs)


def _setup(task, source, csv_text, own, seed=0):
    """(core task name, BERT, labelled data) for the settings."""
    loaded = get_model("bert", source, own)
    if task == "csv":
        text = check_text(csv_text, "CSV box", MAX_CSV_CHARS)
        return "classify", loaded, tasks.parse_csv(text, seed=int(seed))
    if task not in tasks.TASKS:
        raise gr.Error(f"Pick a task: one of {', '.join(t for _, t in TASKS)}.")
    return task, loaded, tasks.world_task(task, loaded.tokenizer, loaded.cfg.block_size)


def _config(core, steps, freeze, seed, eval_every):
    try:
        return ft.default_config(core, steps=int(steps) if steps else None, seed=int(seed),
                                 freeze=bool(freeze), eval_every=eval_every)
    except (TypeError, ValueError):
        raise gr.Error("Steps and seed must be whole numbers.") from None


def _examples(value) -> int | None:
    if str(value) not in EXAMPLES:
        raise gr.Error(f"Examples must be one of {', '.join(EXAMPLES)}.")
    return None if value == "all" else int(value)


def curve_figure(runs: dict, metric: str, baseline: float | None) -> dict:
    """Left: training loss per step; right: the held-out metric at each evaluation."""
    data = []
    for init, r in runs.items():
        c = COLOR[init]
        data.append({"type": "scatter", "mode": "lines", "name": f"{init}: training loss",
                     "x": [p[0] for p in r["loss"]], "y": [p[1] for p in r["loss"]],
                     "line": {"color": c, "width": 2, "dash": "solid" if init[0] == "p" else "dot"}})
        data.append({"type": "scatter", "mode": "lines+markers", "xaxis": "x2", "yaxis": "y2",
                     "name": f"{init}: held-out {METRIC_NAME.get(metric, metric)}",
                     "x": [p[0] for p in r["eval"]], "y": [p[1] for p in r["eval"]],
                     "marker": {"size": 9, "symbol": "circle" if init[0] == "p" else "x"},
                     "line": {"color": c, "width": 2}})
    shapes, notes = [], []
    if baseline is not None:
        shapes.append({"type": "line", "xref": "x2 domain", "x0": 0, "x1": 1, "yref": "y2",
                       "y0": baseline, "y1": baseline, "line": {"color": PALETTE["grey"],
                                                                "dash": "dash"}})
        notes.append({"text": f"baseline {baseline:.2f}", "xref": "x2 domain", "x": 1,
                      "xanchor": "right", "yref": "y2", "y": baseline, "yanchor": "bottom",
                      "showarrow": False, "font": {"color": "#555", "size": 12}})
    layout = {"height": 400, "margin": {"l": 55, "r": 20, "t": 40, "b": 40},
              "title": {"text": "Same head, same budget: pre-trained vs random init"},
              "xaxis": _axis(domain=[0, 0.46], title={"text": "step"}),
              "yaxis": _axis(title={"text": "training loss"}, rangemode="tozero"),
              "xaxis2": _axis(domain=[0.56, 1], anchor="y2", title={"text": "step"}),
              "yaxis2": _axis(anchor="x2", range=[0, 1.05],
                              title={"text": f"held-out {METRIC_NAME.get(metric, metric)}"}),
              # streamed step by step: zoom and hidden traces survive the redraws
              "shapes": shapes, "annotations": notes, "uirevision": "curve",
              "legend": {"orientation": "h", "y": -0.3, "yanchor": "top"}}
    return {"data": data, "layout": styled(layout)}


def sweep_figure(rows: list[dict], metric: str, baseline: float | None) -> dict:
    """The data-efficiency curve: the held-out metric against labelled examples."""
    data = []
    for init in ft.INITS:
        mine = [r for r in rows if r["init"] == init]
        data.append({"type": "scatter", "mode": "lines+markers+text", "name": init,
                     "x": [str(r["asked"]) for r in mine], "y": [r[metric] for r in mine],
                     "text": [f"{r[metric]:.2f}" for r in mine], "textposition": "top center",
                     "marker": {"size": 10, "symbol": "circle" if init[0] == "p" else "x"},
                     "line": {"color": COLOR[init], "width": 3}})
    shapes = [] if baseline is None else [{
        "type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": baseline,
        "y1": baseline, "line": {"color": PALETTE["grey"], "dash": "dash"}}]
    layout = {"height": 340, "margin": {"l": 55, "r": 20, "t": 40, "b": 40},
              "title": {"text": "Data efficiency: held-out score vs labelled examples"},
              "xaxis": _axis(type="category", categoryorder="array", categoryarray=EXAMPLES,
                             title={"text": "labelled training examples"}),
              "yaxis": _axis(range=[0, 1.1], title={"text": METRIC_NAME.get(metric, metric)}),
              "shapes": shapes, "legend": {"orientation": "h", "y": -0.25, "yanchor": "top"}}
    return {"data": data, "layout": styled(layout)}


def _status(core, data, done: dict, cfg) -> str:
    metric = ft.MAIN_METRIC[core]
    base = tasks.baseline(core, data)
    lines = [f"**{data['source']}**: {len(data['test'])} held-out test examples, "
             f"budget {cfg.steps} steps × batch {cfg.batch_size}, lr {cfg.lr:g}"
             + (", encoder frozen (head only)" if cfg.freeze else "") + "."]
    for init, ev in done.items():
        shown = ", ".join(f"{k.replace('_', ' ')} **{v:.3f}**" for k, v in ev["metrics"].items())
        lines.append(f"- **{init}** ({ev['examples']} examples, {ev['seconds']:.1f} s): {shown}")
    if base.get(metric) is not None:
        lines.append(f"- baseline ({base['rule']}): {metric.replace('_', ' ')} "
                     f"{base[metric]:.3f}")
    return "\n".join(lines)


@friendly_gen
def finetune_both(task, source, csv_text, examples, steps, freeze, seed, own=None):
    """Fine-tune the head on the pre-trained BERT and on random init, side by side."""
    core, loaded, data = _setup(task, source, csv_text, own, seed)
    n = _examples(examples)
    cfg = _config(core, steps, freeze, seed, eval_every=max(1, int(steps or 30) // 5))
    metric = ft.MAIN_METRIC[core]
    base = tasks.baseline(core, data).get(metric)
    runs = {i: {"loss": [], "eval": []} for i in ft.INITS}
    done, last = {}, 0.0
    for ev in _long_run(ft.compare, core, loaded, data, n_examples=n, cfg=cfg):
        if ev["type"] == "step":
            runs[ev["init"]]["loss"].append((ev["step"], ev["loss"]))
        elif ev["type"] == "eval":
            runs[ev["init"]]["eval"].append((ev["step"], ev[metric]))
        elif ev["type"] == "done":
            done[ev["init"]] = ev
        if time.perf_counter() - last > TICK and len(done) < 2:
            last = time.perf_counter()
            yield (f"Training… step {ev.get('step', '')}", as_plot(curve_figure(runs, metric, base)),
                   gr.skip())
    tuned = {"task": core, "labels": data["labels"], "tokenizer": loaded.tokenizer,
             "models": {i: done[i]["model"] for i in ft.INITS}}
    yield _status(core, data, done, cfg), as_plot(curve_figure(runs, metric, base)), tuned


@friendly_gen
def sweep(task, source, csv_text, steps, freeze, seed, own=None):
    """The data-efficiency table: 16, 64, 256, all examples × pre-trained, scratch."""
    core, loaded, data = _setup(task, source, csv_text, own, seed)
    cfg = _config(core, steps, freeze, seed, eval_every=0)
    metric = ft.MAIN_METRIC[core]
    base = tasks.baseline(core, data).get(metric)
    rows = []
    yield (f"Running 0 of {2 * len(ft.SIZES)} fine-tuning runs…", gr.skip(),
           gr.update(value=as_plot(sweep_figure(rows, metric, base)), visible=True))
    for ev in _long_run(ft.sweep, core, loaded, data, cfg=cfg):
        if ev["type"] == "progress":
            rows.append(ev["row"])
            r = ev["row"]
            yield (f"Ran {ev['done']} of {ev['total']}: {r['examples']} examples, {r['init']}: "
                   f"{METRIC_NAME[metric]} {r[metric]:.3f}",
                   gr.skip(), as_plot(sweep_figure(rows, metric, base)))
        else:
            yield (f"Done: {len(rows)} runs, each {cfg.steps} steps × batch {cfg.batch_size}, "
                   f"on {ev['test_examples']} held-out examples.", ft.format_table(ev),
                   as_plot(sweep_figure(rows, metric, base)))


def _qa_figure(out: dict) -> dict:
    xs = list(range(len(out["tokens"])))
    i, j = out["span"]
    data = [{"type": "bar", "name": name, "x": xs, "y": out[key], "yaxis": ax,
             "marker": {"color": [PALETTE["orange"] if k == pick else c for k in xs]},
             "hovertemplate": "%{customdata}: %{y:.1%}<extra></extra>", "customdata": out["tokens"]}
            for name, key, ax, pick, c in (("P(start)", "start", "y", i, PALETTE["blue"]),
                                           ("P(end)", "end", "y2", j, PALETTE["sky"]))]
    layout = {"height": 380, "showlegend": False, "margin": {"l": 60, "r": 20, "t": 40, "b": 80},
              "title": {"text": f"Answer: “{out['answer']}” (p = {out['prob']:.2f}); "
                                "orange = chosen start / end"},
              "xaxis": _axis(tickvals=xs, ticktext=out["tokens"], tickangle=-60, anchor="y2"),
              "yaxis": _axis(domain=[0.55, 1], title={"text": "P(start)"}, tickformat=".0%",
                             anchor="x"),
              "yaxis2": _axis(domain=[0, 0.45], title={"text": "P(end)"}, tickformat=".0%",
                              anchor="x")}
    return {"data": data, "layout": styled(layout)}


@torch.no_grad()
@friendly
def inspect(text, question, tuned):
    """What the fine-tuned heads say about one input (pre-trained first, scratch beside)."""
    if not tuned:
        raise gr.Error("Fine-tune first (the ▶ button above), then inspect its predictions.")
    text = check_text(text, "text", 2000)
    task, tok, labels = tuned["task"], tuned["tokenizer"], tuned["labels"]
    outs = {i: ft.inspect(task, m, tok, text, question or "", labels)
            for i, m in tuned["models"].items()}
    pre, scratch = outs["pre-trained"], outs["scratch"]
    hide = gr.update(visible=False)
    what = {"classify": "classification", "qa": "question answering", "ner": "entity tags"}
    note = (f"*These are the heads you last fine-tuned, for {what[task]}: press ▶ again to "
            "fine-tune for another task.*\n\n")
    if task == "classify":
        md = note + "Scratch model: " + ", ".join(f"{k} {v:.2f}"
                                                   for k, v in scratch["probs"].items())
        return gr.update(value=pre["probs"], visible=True), hide, hide, md
    if task == "qa":
        md = note + f"Scratch model's answer: “{scratch['answer']}” (p = {scratch['prob']:.2f})."
        return hide, gr.update(value=as_plot(_qa_figure(pre)), visible=True), hide, md
    chips, tag, pos = [], None, 0
    for r in pre["tokens"]:  # the text between tokens is kept, so spaces stay as typed
        tag = tag if r["continues"] else (None if r["tag"] == "O" else r["tag"][2:])
        if r["start"] > pos:
            chips.append((text[pos:r["start"]], None))
        chips.append((text[r["start"]:r["end"]], tag))
        pos = r["end"]
    rows = "\n".join(f"| {r['token']} | {r['tag'] if not r['continues'] else '(same word)'} | "
                     f"{r['prob']:.2f} |" for r in pre["tokens"])
    md = (note + f"| token | tag | probability |\n|---|---|---|\n{rows}\n\nScratch model's entities: "
          + (", ".join(f"{e['text']} ({e['type']})" for e in scratch["entities"]) or "none"))
    return hide, hide, gr.update(value=chips, visible=True), md


def _gpt_figure(points: list[dict], metric: str) -> dict:
    data = [{"type": "scatter", "mode": "lines+markers+text", "x": [p["k"] for p in points],
             "y": [p[metric] for p in points], "text": [f"{p[metric]:.2f}" for p in points],
             "textposition": "top center", "name": "GPT", "line": {"color": PALETTE["green"],
                                                                   "width": 3}}]
    layout = {"height": 320, "margin": {"l": 55, "r": 20, "t": 40, "b": 40},
              "title": {"text": f"GPT, no training: {metric.replace('_', ' ')} with k examples "
                                "in the prompt"},
              "xaxis": _axis(title={"text": "k (solved examples in the prompt)"}, dtick=1),
              "yaxis": _axis(range=[0, 1.1], title={"text": metric.replace("_", " ")})}
    return {"data": data, "layout": styled(layout)}


@friendly_gen
def gpt_prompting(task, k, source, own=None):
    """Score GPT at 0, 1, …, k examples in the prompt; show the prompt it was fed."""
    if task not in prompting.GPT_TASKS:
        raise gr.Error("Pick a GPT task: capital, classify or qa.")
    loaded = get_model("gpt", source, own)
    data = None
    if task != "capital":
        ref = bundled("bert") or loaded  # the BERT heads' held-out set when it is there
        data = tasks.world_task(task, ref.tokenizer, ref.cfg.block_size)
    metric = "exact_match" if task == "qa" else "accuracy"
    points = []
    for r in _long_run(prompting.k_curve, task, loaded, range(0, int(k) + 1), data, GPT_N):
        points.append(r)
        items = "\n".join(f"| {'✓' if it['correct'] else '✗'} | {it['gold']} | {it['output']} |"
                          for it in r["items"][:8])
        which = "capital questions (facts GPT read in pre-training: only the format is new)" \
            if task == "capital" else "held-out questions"
        md = (f"**k = {r['k']}**: {metric.replace('_', ' ')} **{r[metric]:.3f}** on "
              f"{r['examples']} {which}; examples the prompt could hold: "
              f"{r['k_used_mean']:.1f} on average (GPT reads {loaded.cfg.block_size} tokens)."
              f"\n\n| | expected | GPT said |\n|---|---|---|\n{items}")
        yield as_plot(_gpt_figure(points, metric)), r["items"][0]["prompt"], md


def build(ctx) -> dict:
    gr.Markdown("**Does pre-training pay off?** Fine-tune the same head on the pre-trained BERT "
                "and on a randomly initialised copy, with the same budget, and score both on "
                "held-out examples the models never saw. Then let GPT try with no training "
                "at all, only examples in its prompt.")
    gr.Markdown("### 1 · BERT + a task head")
    with gr.Row():
        task = gr.Radio(TASKS, value="classify", label=t("finetune.task"))
        source = gr.Radio(SOURCES, value="bundled", label=t("finetune.source"))
    csv_box = gr.Textbox(CSV_EXAMPLE, lines=6, max_lines=14, visible=False,
                         label=t("finetune.csv_box"))
    sizes = [(t("finetune.examples.all") if n == "all" else n, n) for n in EXAMPLES]
    with gr.Row():
        examples = gr.Radio(sizes, value="64", label=t("finetune.examples"))
        steps = gr.Slider(10, 300, value=ft.TASK_DEFAULTS["classify"]["steps"], step=10,
                          label=t("finetune.steps"))
        freeze = gr.Checkbox(False, label=t("finetune.freeze"))
        seed = gr.Number(0, precision=0, minimum=0, maximum=2**31 - 1,
                         label=t("finetune.seed"))
    with gr.Row():
        go = gr.Button(t("finetune.go"), variant="primary")
        sweep_btn = gr.Button(t("finetune.sweep_btn"))
        stop = gr.Button(t("finetune.stop"), variant="stop")
    status = gr.Markdown("Press **▶ Fine-tune both** to train the two side by side.")
    curve = gr.Plot(label=t("finetune.curve"), show_label=False)
    table = gr.Markdown()
    sweep_plot = gr.Plot(label=t("finetune.sweep_plot"), show_label=False, visible=False)
    gr.Markdown("### What the fine-tuned head sees")
    with gr.Row():
        text = gr.Textbox(INSPECT["classify"][0], label=t("finetune.text"), scale=3)
        question = gr.Textbox(INSPECT["qa"][1], label=t("finetune.question"), visible=False)
    look = gr.Button(t("finetune.look"))
    probs = gr.Label(label=t("finetune.probs"), visible=True)
    spans = gr.Plot(label=t("finetune.spans"), show_label=False, visible=False)
    tags = gr.HighlightedText(label=t("finetune.tags"),
                              visible=False, color_map={
                                  "PERSON": PALETTE["sky"], "CITY": PALETTE["orange"],
                                  "COUNTRY": PALETTE["green"], "ANIMAL": PALETTE["yellow"],
                                  "FOOD": PALETTE["purple"], "JOB": PALETTE["grey"]})
    detail = gr.Markdown()
    tuned = gr.State(None, time_to_live=3600)

    gr.Markdown("### 2 · GPT's way: a prompt, zero-shot or few-shot")
    with gr.Row():
        gpt_task = gr.Radio(GPT_TASKS, value="capital", label=t("finetune.gpt_task"))
        k = gr.Slider(0, prompting.MAX_K, value=4, step=1,
                      label=t("finetune.k"))
        gpt_source = gr.Radio([(t("finetune.gpt_source.bundled"), "bundled"),
                               (t("finetune.gpt_source.own"), "own")], value="bundled",
                              label="GPT")
    ask = gr.Button(t("finetune.ask"))
    gpt_plot = gr.Plot(label=t("finetune.gpt_plot"), show_label=False)
    prompt = gr.Code(label=t("finetune.prompt"),
                     language=None, lines=8)
    gpt_md = gr.Markdown()

    def on_task(t):
        core = "classify" if t == "csv" else t
        sample, q = INSPECT.get(t, INSPECT["classify"])
        return (gr.update(visible=t == "csv"), gr.update(value=ft.TASK_DEFAULTS[core]["steps"]),
                gr.update(value=sample), gr.update(visible=t == "qa", value=q))

    task.change(on_task, task, [csv_box, steps, text, question], api_visibility="private",
                queue=False, show_progress="hidden")
    run = go.click(finetune_both, [task, source, csv_box, examples, steps, freeze, seed, ctx.own],
                   [status, curve, tuned], api_name="finetune", concurrency_id="train",
                   concurrency_limit=settings.current().bertgpt_train_concurrency)
    swept = sweep_btn.click(sweep, [task, source, csv_box, steps, freeze, seed, ctx.own],
                            [status, table, sweep_plot], api_name="finetune_sweep",
                            concurrency_id="train",
                            concurrency_limit=settings.current().bertgpt_train_concurrency)
    stop.click(None, None, None, cancels=[run, swept])
    gr.on([look.click, text.submit], inspect, [text, question, tuned],
          [probs, spans, tags, detail], api_name="finetune_inspect")
    ask.click(gpt_prompting, [gpt_task, k, gpt_source, ctx.own], [gpt_plot, prompt, gpt_md],
              api_name="gpt_prompting")
    return {"task": task, "examples": examples, "steps": steps, "freeze": freeze, "seed": seed,
            "gpt_task": gpt_task, "k": k}
