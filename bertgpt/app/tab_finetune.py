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
from .i18n import say, t
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
METRIC_KEYS = ("accuracy", "exact_match", "f1", "word_accuracy")


def _metric(lang: str, metric: str) -> str:
    """A metric's name as the charts and statuses write it, in `lang`."""
    return say(lang, f"finetune.metric.{metric}") if metric in METRIC_KEYS else metric


def _init(lang: str, init: str) -> str:
    """'pre-trained' or 'scratch' (the core's names of the two inits), in `lang`."""
    return say(lang, f"finetune.init.{init.replace('-', '_')}")


def _rule(lang: str, rule: str) -> str:
    """The baseline's rule (tasks.baseline writes it in English), in `lang`."""
    import re
    if lang == "en":
        return rule
    if (m := re.fullmatch(r"always '(.*)'", rule)):
        return say(lang, "finetune.rule.always", label=m[1])
    if rule == "the passage's first word":
        return say(lang, "finetune.rule.first_word")
    if rule == "every word O":
        return say(lang, "finetune.rule.all_o")
    return rule


def _source(lang: str, source: str) -> str:
    """Where the labelled data came from (tasks writes it in English), in `lang`."""
    import re
    if lang == "en":
        return source
    if (m := re.fullmatch(r"world corpus, held-out seed (\d+)", source)):
        return say(lang, "finetune.data.world", seed=m[1])
    if (m := re.fullmatch(r"your CSV \((\d+) rows\)", source)):
        return say(lang, "finetune.data.csv", n=m[1])
    return source
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
DEFAULT_TASK = "ner"
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


def _setup(task, source, csv_text, own, seed=0, lang="en"):
    """(core task name, BERT, labelled data) for the settings."""
    loaded = get_model("bert", source, own)
    if task == "csv":
        text = check_text(csv_text, "CSV box", MAX_CSV_CHARS)
        return "classify", loaded, tasks.parse_csv(text, seed=int(seed))
    if task not in tasks.TASKS:
        raise gr.Error(say(lang, "finetune.err.task", tasks=", ".join(t for _, t in TASKS)))
    return task, loaded, tasks.world_task(task, loaded.tokenizer, loaded.cfg.block_size)


def _config(core, steps, freeze, seed, eval_every, lang="en"):
    try:
        return ft.default_config(core, steps=int(steps) if steps else None, seed=int(seed),
                                 freeze=bool(freeze), eval_every=eval_every)
    except (TypeError, ValueError):
        raise gr.Error(say(lang, "finetune.err.whole")) from None


def _examples(value, lang="en") -> int | None:
    if str(value) not in EXAMPLES:
        raise gr.Error(say(lang, "finetune.err.examples", choices=", ".join(EXAMPLES)))
    return None if value == "all" else int(value)


def curve_figure(runs: dict, metric: str, baseline: float | None, lang: str = "en") -> dict:
    """Left: training loss per step; right: the held-out metric at each evaluation."""
    data, held_out = [], say(lang, "finetune.held_out", metric=_metric(lang, metric))
    for init, r in runs.items():
        c = COLOR[init]
        data.append({"type": "scatter", "mode": "lines",
                     "name": f"{_init(lang, init)}: {say(lang, 'finetune.train_loss')}",
                     "x": [p[0] for p in r["loss"]], "y": [p[1] for p in r["loss"]],
                     "line": {"color": c, "width": 2, "dash": "solid" if init[0] == "p" else "dot"}})
        data.append({"type": "scatter", "mode": "lines+markers", "xaxis": "x2", "yaxis": "y2",
                     "name": f"{_init(lang, init)}: {held_out}",
                     "x": [p[0] for p in r["eval"]], "y": [p[1] for p in r["eval"]],
                     "marker": {"size": 9, "symbol": "circle" if init[0] == "p" else "x"},
                     "line": {"color": c, "width": 2}})
    shapes, notes = [], []
    if baseline is not None:
        shapes.append({"type": "line", "xref": "x2 domain", "x0": 0, "x1": 1, "yref": "y2",
                       "y0": baseline, "y1": baseline, "line": {"color": PALETTE["grey"],
                                                                "dash": "dash"}})
        notes.append({"text": say(lang, "finetune.baseline", value=f"{baseline:.2f}"),
                      "xref": "x2 domain", "x": 1,
                      "xanchor": "right", "yref": "y2", "y": baseline, "yanchor": "bottom",
                      "showarrow": False, "font": {"color": "#555", "size": 12}})
    layout = {"height": 400, "margin": {"l": 55, "r": 20, "t": 40, "b": 40},
              "title": {"text": say(lang, "finetune.curve.title")},
              "xaxis": _axis(domain=[0, 0.46], title={"text": say(lang, "finetune.step")}),
              "yaxis": _axis(title={"text": say(lang, "finetune.train_loss")},
                             rangemode="tozero"),
              "xaxis2": _axis(domain=[0.56, 1], anchor="y2",
                              title={"text": say(lang, "finetune.step")}),
              "yaxis2": _axis(anchor="x2", range=[0, 1.05], title={"text": held_out}),
              # streamed step by step: zoom and hidden traces survive the redraws
              "shapes": shapes, "annotations": notes, "uirevision": "curve",
              "legend": {"orientation": "h", "y": -0.3, "yanchor": "top"}}
    return {"data": data, "layout": styled(layout)}


def sweep_figure(rows: list[dict], metric: str, baseline: float | None,
                 lang: str = "en") -> dict:
    """The data-efficiency curve: the held-out metric against labelled examples."""
    data = []
    for init in ft.INITS:
        mine = [r for r in rows if r["init"] == init]
        data.append({"type": "scatter", "mode": "lines+markers+text", "name": _init(lang, init),
                     "x": [str(r["asked"]) for r in mine], "y": [r[metric] for r in mine],
                     "text": [f"{r[metric]:.2f}" for r in mine], "textposition": "top center",
                     "marker": {"size": 10, "symbol": "circle" if init[0] == "p" else "x"},
                     "line": {"color": COLOR[init], "width": 3}})
    shapes = [] if baseline is None else [{
        "type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": baseline,
        "y1": baseline, "line": {"color": PALETTE["grey"], "dash": "dash"}}]
    layout = {"height": 340, "margin": {"l": 55, "r": 20, "t": 40, "b": 40},
              "title": {"text": say(lang, "finetune.sweep.title")},
              "xaxis": _axis(type="category", categoryorder="array", categoryarray=EXAMPLES,
                             title={"text": say(lang, "finetune.sweep.x")}),
              "yaxis": _axis(range=[0, 1.1], title={"text": _metric(lang, metric)}),
              "shapes": shapes, "legend": {"orientation": "h", "y": -0.25, "yanchor": "top"}}
    return {"data": data, "layout": styled(layout)}


def _status(core, data, done: dict, cfg, lang: str = "en") -> str:
    metric = ft.MAIN_METRIC[core]
    base = tasks.baseline(core, data)
    lines = [say(lang, "finetune.status.head", source=_source(lang, data["source"]),
                 n=len(data["test"]), steps=cfg.steps, batch=cfg.batch_size, lr=f"{cfg.lr:g}")
             + (say(lang, "finetune.status.frozen") if cfg.freeze else "") + "."]
    for init, ev in done.items():
        shown = ", ".join(f"{_metric(lang, k)} **{v:.3f}**" for k, v in ev["metrics"].items())
        lines.append(say(lang, "finetune.status.run", init=_init(lang, init),
                         n=ev["examples"], seconds=f"{ev['seconds']:.1f}", shown=shown))
    if base.get(metric) is not None:
        lines.append(say(lang, "finetune.status.baseline", rule=_rule(lang, base["rule"]),
                         metric=_metric(lang, metric), value=f"{base[metric]:.3f}"))
    return "\n".join(lines)


def _table_md(table: dict, lang: str = "en") -> str:
    """The sweep's table (ft.format_table's, which writes English) in `lang`."""
    if lang == "en":
        return ft.format_table(table)
    names = {"classify": ["accuracy"], "qa": ["exact_match", "f1"], "ner": ["f1"]}[table["task"]]
    head = [say(lang, "finetune.col.examples")] + [
        f"{_metric(lang, m)} ({_init(lang, i)})" for m in names for i in ft.INITS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    by = {(r["asked"], r["init"]): r for r in table["rows"]}
    for asked in dict.fromkeys(r["asked"] for r in table["rows"]):
        examples = next(r["examples"] for r in table["rows"] if r["asked"] == asked)
        cells = [(say(lang, "finetune.examples.all") + f" ({examples})") if asked == "all"
                 else f"{asked}"]
        for m in names:
            cells += [f"{by[(asked, i)][m]:.3f}" if (asked, i) in by else "–" for i in ft.INITS]
        lines.append("| " + " | ".join(cells) + " |")
    base = table["baseline"]
    shown = ", ".join(f"{_metric(lang, k)} {v:.3f}" for k, v in base.items()
                      if isinstance(v, float))
    return "\n".join(lines) + "\n\n" + say(lang, "finetune.table.baseline",
                                            rule=_rule(lang, base["rule"]), shown=shown)


@friendly_gen
def finetune_both(task, source, csv_text, examples, steps, freeze, seed, own=None,
                  lang="en"):
    """Fine-tune the head on the pre-trained BERT and on random init, side by side."""
    core, loaded, data = _setup(task, source, csv_text, own, seed, lang)
    n = _examples(examples, lang)
    cfg = _config(core, steps, freeze, seed, eval_every=max(1, int(steps or 30) // 5),
                  lang=lang)
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
            yield (say(lang, "finetune.training", step=ev.get("step", "")),
                   as_plot(curve_figure(runs, metric, base, lang)), gr.skip())
    tuned = {"task": core, "labels": data["labels"], "tokenizer": loaded.tokenizer,
             "models": {i: done[i]["model"] for i in ft.INITS}}
    yield (_status(core, data, done, cfg, lang), as_plot(curve_figure(runs, metric, base, lang)),
           tuned)


@friendly_gen
def sweep(task, source, csv_text, steps, freeze, seed, own=None, lang="en"):
    """The data-efficiency table: 16, 64, 256, all examples × pre-trained, scratch."""
    core, loaded, data = _setup(task, source, csv_text, own, seed, lang)
    cfg = _config(core, steps, freeze, seed, eval_every=0, lang=lang)
    metric = ft.MAIN_METRIC[core]
    base = tasks.baseline(core, data).get(metric)
    rows = []
    yield (say(lang, "finetune.sweep.start", total=2 * len(ft.SIZES)), gr.skip(),
           gr.update(value=as_plot(sweep_figure(rows, metric, base, lang)), visible=True))
    for ev in _long_run(ft.sweep, core, loaded, data, cfg=cfg):
        if ev["type"] == "progress":
            rows.append(ev["row"])
            r = ev["row"]
            yield (say(lang, "finetune.sweep.ran", done=ev["done"], total=ev["total"],
                       n=r["examples"], init=_init(lang, r["init"]),
                       metric=_metric(lang, metric), value=f"{r[metric]:.3f}"),
                   gr.skip(), as_plot(sweep_figure(rows, metric, base, lang)))
        else:
            yield (say(lang, "finetune.sweep.done", runs=len(rows), steps=cfg.steps,
                       batch=cfg.batch_size, n=ev["test_examples"]), _table_md(ev, lang),
                   as_plot(sweep_figure(rows, metric, base, lang)))


def _qa_figure(out: dict, lang: str = "en") -> dict:
    xs = list(range(len(out["tokens"])))
    i, j = out["span"]
    data = [{"type": "bar", "name": name, "x": xs, "y": out[key], "yaxis": ax,
             "marker": {"color": [PALETTE["orange"] if k == pick else c for k in xs]},
             "hovertemplate": "%{customdata}: %{y:.1%}<extra></extra>", "customdata": out["tokens"]}
            for name, key, ax, pick, c in (("P(start)", "start", "y", i, PALETTE["blue"]),
                                           ("P(end)", "end", "y2", j, PALETTE["sky"]))]
    layout = {"height": 380, "showlegend": False, "margin": {"l": 60, "r": 20, "t": 40, "b": 80},
              "title": {"text": say(lang, "finetune.qa.title", answer=out["answer"],
                                    p=f"{out['prob']:.2f}")},
              "xaxis": _axis(tickvals=xs, ticktext=out["tokens"], tickangle=-60, anchor="y2"),
              "yaxis": _axis(domain=[0.55, 1], title={"text": "P(start)"}, tickformat=".0%",
                             anchor="x"),
              "yaxis2": _axis(domain=[0, 0.45], title={"text": "P(end)"}, tickformat=".0%",
                              anchor="x")}
    return {"data": data, "layout": styled(layout)}


@torch.no_grad()
@friendly
def inspect(text, question, tuned, lang="en"):
    """What the fine-tuned heads say about one input (pre-trained first, scratch beside)."""
    if not tuned:
        raise gr.Error(say(lang, "finetune.err.first"))
    text = check_text(text, "text", 2000)
    task, tok, labels = tuned["task"], tuned["tokenizer"], tuned["labels"]
    outs = {i: ft.inspect(task, m, tok, text, question or "", labels)
            for i, m in tuned["models"].items()}
    pre, scratch = outs["pre-trained"], outs["scratch"]
    hide = gr.update(visible=False)
    note = say(lang, "finetune.inspect.note", what=say(lang, f"finetune.what.{task}")) + "\n\n"
    if task == "classify":
        md = note + say(lang, "finetune.inspect.scratch", probs=", ".join(
            f"`{k}` {v:.2f}" if lang != "en" else f"{k} {v:.2f}"
            for k, v in scratch["probs"].items()))
        return gr.update(value=pre["probs"], visible=True), hide, hide, md
    if task == "qa":
        md = note + say(lang, "finetune.inspect.answer", answer=scratch["answer"],
                        p=f"{scratch['prob']:.2f}")
        return hide, gr.update(value=as_plot(_qa_figure(pre, lang)), visible=True), hide, md
    chips, tag, pos = [], None, 0
    for r in pre["tokens"]:  # the text between tokens is kept, so spaces stay as typed
        tag = tag if r["continues"] else (None if r["tag"] == "O" else r["tag"][2:])
        if r["start"] > pos:
            chips.append((text[pos:r["start"]], None))
        chips.append((text[r["start"]:r["end"]], tag))
        pos = r["end"]
    same = say(lang, "finetune.ner.same")
    code = (lambda x: x) if lang == "en" else (lambda x: f"`{x}`")  # tags are code, in Korean
    rows = "\n".join(f"| {code(r['token'])} | {code(r['tag']) if not r['continues'] else same}"
                     f" | {r['prob']:.2f} |" for r in pre["tokens"])
    md = (note + say(lang, "finetune.ner.head") + f"\n|---|---|---|\n{rows}\n\n"
          + say(lang, "finetune.ner.scratch", entities=", ".join(
              f"{e['text']} ({code(e['type'])})" for e in scratch["entities"])
              or say(lang, "finetune.ner.none")))
    return hide, hide, gr.update(value=chips, visible=True), md


def _gpt_figure(points: list[dict], metric: str, lang: str = "en") -> dict:
    data = [{"type": "scatter", "mode": "lines+markers+text", "x": [p["k"] for p in points],
             "y": [p[metric] for p in points], "text": [f"{p[metric]:.2f}" for p in points],
             "textposition": "top center", "name": "GPT", "line": {"color": PALETTE["green"],
                                                                   "width": 3}}]
    layout = {"height": 320, "margin": {"l": 55, "r": 20, "t": 40, "b": 40},
              "title": {"text": say(lang, "finetune.gpt.title", metric=_metric(lang, metric))},
              "xaxis": _axis(title={"text": say(lang, "finetune.gpt.x")}, dtick=1),
              "yaxis": _axis(range=[0, 1.1], title={"text": _metric(lang, metric)})}
    return {"data": data, "layout": styled(layout)}


@friendly_gen
def gpt_prompting(task, k, source, own=None, lang="en"):
    """Score GPT at 0, 1, …, k examples in the prompt; show the prompt it was fed."""
    if task not in prompting.GPT_TASKS:
        raise gr.Error(say(lang, "finetune.err.gpt_task"))
    loaded = get_model("gpt", source, own)
    data = None
    if task != "capital":
        ref = bundled("bert") or loaded  # the BERT heads' held-out set when it is there
        data = tasks.world_task(task, ref.tokenizer, ref.cfg.block_size)
    metric = "exact_match" if task == "qa" else "accuracy"
    points = []
    for r in _long_run(prompting.k_curve, task, loaded, range(0, int(k) + 1), data, GPT_N):
        points.append(r)
        quote = (lambda x: f"`{x}`" if x else "") if lang != "en" else (lambda x: x)
        items = "\n".join(f"| {'✓' if it['correct'] else '✗'} | {quote(it['gold'])} | "
                          f"{quote(it['output'])} |" for it in r["items"][:8])
        which = (say(lang, "finetune.gpt.capital") if task == "capital"
                 else say(lang, "finetune.gpt.held_out"))
        md = (say(lang, "finetune.gpt.result", k=r["k"], metric=_metric(lang, metric),
                  value=f"{r[metric]:.3f}", n=r["examples"], which=which,
                  used=f"{r['k_used_mean']:.1f}", block=loaded.cfg.block_size)
              + "\n\n" + say(lang, "finetune.gpt.head") + f"\n|---|---|---|\n{items}")
        yield as_plot(_gpt_figure(points, metric, lang)), r["items"][0]["prompt"], md


def build(ctx) -> dict:
    gr.Markdown(t("finetune.intro.md"))
    gr.Markdown(t("finetune.bert_heading.md"))
    with gr.Row():
        # NER by default: at 64 examples pre-training wins plainly (README's sweep: entity
        # F1 0.92 against 0.00 from scratch), where sentiment gives 1.000 against 1.000
        task = gr.Radio(TASKS, value=DEFAULT_TASK, label=t("finetune.task"))
        source = gr.Radio(SOURCES, value="bundled", label=t("finetune.source"))
    csv_box = gr.Textbox(CSV_EXAMPLE, lines=6, max_lines=14, visible=False,
                         label=t("finetune.csv_box"))
    sizes = [(t("finetune.examples.all") if n == "all" else n, n) for n in EXAMPLES]
    with gr.Row():
        examples = gr.Radio(sizes, value="64", label=t("finetune.examples"))
        steps = gr.Slider(10, 300, value=ft.TASK_DEFAULTS[DEFAULT_TASK]["steps"], step=10,
                          label=t("finetune.steps"))
        freeze = gr.Checkbox(False, label=t("finetune.freeze"))
        seed = gr.Number(0, precision=0, minimum=0, maximum=2**31 - 1,
                         label=t("finetune.seed"))
    with gr.Row():
        go = gr.Button(t("finetune.go"), variant="primary")
        sweep_btn = gr.Button(t("finetune.sweep_btn"))
        stop = gr.Button(t("finetune.stop"), variant="stop")
    gr.Markdown(t("finetune.hint.md"))
    status = gr.Markdown()
    curve = gr.Plot(label=t("finetune.curve"), show_label=False)
    table = gr.Markdown()
    sweep_plot = gr.Plot(label=t("finetune.sweep_plot"), show_label=False, visible=False)
    gr.Markdown(t("finetune.sees_heading.md"))
    with gr.Row():
        text = gr.Textbox(INSPECT[DEFAULT_TASK][0], label=t("finetune.text"), scale=3)
        question = gr.Textbox(INSPECT["qa"][1], label=t("finetune.question"), visible=False)
    look = gr.Button(t("finetune.look"))
    probs = gr.Label(label=t("finetune.probs"), visible=DEFAULT_TASK == "classify")
    spans = gr.Plot(label=t("finetune.spans"), show_label=False, visible=False)
    tags = gr.HighlightedText(label=t("finetune.tags"),
                              visible=DEFAULT_TASK == "ner", color_map={
                                  "PERSON": PALETTE["sky"], "CITY": PALETTE["orange"],
                                  "COUNTRY": PALETTE["green"], "ANIMAL": PALETTE["yellow"],
                                  "FOOD": PALETTE["purple"], "JOB": PALETTE["grey"]})
    detail = gr.Markdown()
    tuned = gr.State(None, time_to_live=3600)

    gr.Markdown(t("finetune.gpt_heading.md"))
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
    run = go.click(finetune_both,
                   [task, source, csv_box, examples, steps, freeze, seed, ctx.own, ctx.lang],
                   [status, curve, tuned], api_name="finetune", concurrency_id="train",
                   concurrency_limit=settings.current().bertgpt_train_concurrency)
    swept = sweep_btn.click(sweep, [task, source, csv_box, steps, freeze, seed, ctx.own,
                                    ctx.lang],
                            [status, table, sweep_plot], api_name="finetune_sweep",
                            concurrency_id="train",
                            concurrency_limit=settings.current().bertgpt_train_concurrency)
    stop.click(None, None, None, cancels=[run, swept])
    gr.on([look.click, text.submit], inspect, [text, question, tuned, ctx.lang],
          [probs, spans, tags, detail], api_name="finetune_inspect")
    ask.click(gpt_prompting, [gpt_task, k, gpt_source, ctx.own, ctx.lang],
              [gpt_plot, prompt, gpt_md],
              api_name="gpt_prompting")
    return {"task": task, "examples": examples, "steps": steps, "freeze": freeze, "seed": seed,
            "gpt_task": gpt_task, "k": k}
