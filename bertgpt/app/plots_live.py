"""Figures (data in, plotly spec out) and small display helpers for the live tabs: Train
live, Fill-mask, Generate & sample.

The figures are plain plotly JSON dicts, handed to `gr.Plot` as `PlotData`: building them
through `plotly.graph_objects` (make_subplots, add_vline) validates every property in
Python and cost ~0.1-0.5 s per figure here, more than the model itself; a dict costs ~1 ms.
That keeps a step-mode click and a loss curve streamed twice a second cheap for a class.

Colour is never the only signal: cut tokens also carry a hatch pattern, the drawn token
a star and an outline, every curve a legend entry.
"""
from __future__ import annotations

import json
import math

from gradio.components.plot import PlotData

from ..course.viz import BLUES, GRID, PALETTE, empty, styled
from .i18n import say

ARCH_COLOR = {"bert": PALETTE["blue"], "gpt": PALETTE["vermillion"]}
MAX_POINTS = 400  # per curve: thousands of steps still draw fast in a browser


def as_plot(spec: dict) -> PlotData:
    """A figure dict as `gr.Plot` takes it, without plotly's Python-side validation."""
    return PlotData(type="plotly", plot=json.dumps(spec))


def _axis(**kw) -> dict:
    """An axis of a curve or score chart, where zero is a value like any other: its line
    is drawn as light as the grid (in viz.py's bar charts it stays dark: the bars' base)."""
    return {"gridcolor": GRID, "zerolinecolor": GRID, **kw}


def _title(text: str, y: float, x: float = 0.5) -> dict:
    return {"text": text, "x": x, "y": y, "xref": "paper", "yref": "paper", "showarrow": False,
            "xanchor": "center", "yanchor": "bottom", "font": {"size": 14}}


def _thin(points: list, limit: int = MAX_POINTS):
    """At most `limit` points: the mean of each equal run of steps (it also smooths)."""
    if len(points) <= limit:
        return [p[0] for p in points], [p[1] for p in points]
    size = math.ceil(len(points) / limit)
    xs, ys = [], []
    for i in range(0, len(points), size):
        chunk = points[i:i + size]
        xs.append(chunk[-1][0])
        ys.append(sum(p[1] for p in chunk) / len(chunk))
    return xs, ys


LOSS_HEIGHT, LOSS_TOP, LOSS_BOTTOM = 460, 50, 140


def loss_figure(train: dict, val: dict, vocab: dict, title: str = "", lang: str = "en") -> dict:
    """Training loss (thin line) and validation loss (dots) per model, against step, with
    the uniform-guess line ln V: a model that knows nothing scores exactly that. Every
    word in `lang`."""
    data, shapes, notes = [], [], []
    for arch in sorted(set(train) | set(val)):
        name = say(lang, "train.fig.bert_name") if arch == "bert" else arch.upper()
        color = ARCH_COLOR.get(arch, PALETTE["grey"])
        xs, ys = _thin(train.get(arch, []))
        data.append({"type": "scatter", "mode": "lines", "x": xs, "y": ys,
                     "name": say(lang, "train.fig.train_curve", name=name),
                     "line": {"color": color, "width": 1.5}, "opacity": 0.6})
        data.append({"type": "scatter", "mode": "lines+markers",
                     "name": say(lang, "train.fig.val_curve", name=name),
                     "x": [p[0] for p in val.get(arch, [])], "y": [p[1] for p in val.get(arch, [])],
                     "line": {"color": color, "width": 2.5, "dash": "dot"},
                     "marker": {"size": 8, "symbol": "diamond" if arch == "bert" else "circle"}})
        if arch in vocab:
            uniform = math.log(vocab[arch])
            shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y",
                           "y0": uniform, "y1": uniform,
                           "line": {"color": color, "dash": "dash", "width": 1}})
            label = say(lang, "train.fig.uniform", arch=arch.upper(),
                        vocab=f"{vocab[arch]:,}", value=f"{uniform:.2f}")
            notes.append({"text": label,
                          "xref": "paper", "x": 1, "xanchor": "right", "yref": "y", "y": uniform,
                          "yanchor": "bottom" if arch == "gpt" else "top", "showarrow": False,
                          "font": {"color": color, "size": 12}})
    # The legend goes below the x-axis title, not on it: paper coordinates are fractions
    # of the plot area, so the gap is set in pixels (in Chromium the tick labels and the
    # title took ~65 px under the axis) and turned into a fraction of the plot height.
    plot_h = LOSS_HEIGHT - LOSS_TOP - LOSS_BOTTOM
    layout = {"title": {"text": title or say(lang, "train.fig.loss_title")},
              "height": LOSS_HEIGHT,
              "margin": {"l": 55, "r": 20, "t": LOSS_TOP, "b": LOSS_BOTTOM},
              "xaxis": _axis(title={"text": say(lang, "train.fig.step")}),
              "yaxis": _axis(title={"text": say(lang, "train.fig.loss")}, rangemode="tozero"),
              # Redrawn twice a second while a run streams: a constant uirevision keeps
              # a student's zoom and hidden traces across the redraws.
              "shapes": shapes, "annotations": notes, "uirevision": "loss",
              "legend": {"orientation": "h", "x": 0, "xanchor": "left",
                         "y": -78 / plot_h, "yanchor": "top"}}
    return {"data": data, "layout": styled(layout)}


# group -> (colour, marker): colour is never the only signal, each group has its shape.
GROUP_STYLE = {"country": (PALETTE["blue"], "circle"), "capital": (PALETTE["vermillion"], "square"),
               "job": (PALETTE["green"], "diamond")}


def embedding_figure(maps: dict, lang: str = "en", note: str = "") -> dict:
    """The embedding maps of a run (arch -> embedspace.embedding_map result), one panel
    per model side by side: each word a point coloured and shaped by its group and
    labelled; a word drawn at the mean of several pieces gets an open marker. Equal
    scales on both axes, so the plane's distances are not stretched further than PCA
    already leaves them. `note` is shown instead when there is nothing to draw."""
    archs = [a for a in ("bert", "gpt") if maps.get(a, {}).get("points")]
    if not archs:
        return empty(note or say(lang, "train.map.waiting"), height=220)
    n = len(archs)
    gap = 0.1 if n > 1 else 0.0
    width = (1 - gap * (n - 1)) / n
    data, notes = [], []
    height, top, bottom = 560, 100, 105
    below = -60 / (height - top - bottom)  # under the axis titles (no tick labels here)
    layout = {"title": {"text": say(lang, "train.map.title")}, "height": height,
              "margin": {"l": 50, "r": 20, "t": top, "b": bottom}, "uirevision": "map",
              "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": below,
                         "yanchor": "top"}}
    for i, arch in enumerate(archs):
        m, k = maps[arch], "" if i == 0 else str(i + 1)
        left = i * (width + gap)
        for group, (color, symbol) in GROUP_STYLE.items():
            pts = [p for p in m["points"] if p["group"] == group]
            if not pts:
                continue
            data.append({
                "type": "scatter", "mode": "markers+text", "xaxis": f"x{k}", "yaxis": f"y{k}",
                "name": say(lang, f"train.map.group.{group}"), "legendgroup": group,
                "showlegend": i == 0, "x": [p["x"] for p in pts], "y": [p["y"] for p in pts],
                "text": [p["word"] + ("*" if p["split"] else "") for p in pts],
                "textposition": "top center", "textfont": {"size": 10, "color": color},
                "customdata": [" · ".join(p["pieces"]) for p in pts],
                "hovertemplate": "%{text}<br>" + say(lang, "train.map.hover_pieces")
                                 + ": %{customdata}<extra></extra>",
                "marker": {"color": color, "size": 9, "line": {"color": color, "width": 1.5},
                           "symbol": [symbol + ("-open" if p["split"] else "") for p in pts]},
                "cliponaxis": False})
        axis_x = say(lang, "train.map.axis", n=1)
        axis_y = say(lang, "train.map.axis", n=2)
        layout[f"xaxis{k}"] = _axis(domain=[left, left + width], anchor=f"y{k}",
                                    title={"text": axis_x}, showticklabels=False)
        layout[f"yaxis{k}"] = _axis(anchor=f"x{k}", scaleanchor=f"x{k}", scaleratio=1,
                                    title={"text": axis_y}, showticklabels=False)
        ex = m["explained"]
        notes.append({"text": say(lang, "train.map.panel", arch=arch.upper(),
                                  kept=f"{m['kept']:.0%}", pc1=f"{ex[0]:.0%}", pc2=f"{ex[1]:.0%}",
                                  sil2=f"{m['silhouette_2d']:.2f}",
                                  silfull=f"{m['silhouette_full']:.2f}"),
                      "x": left + width / 2, "y": 1.0, "xref": "paper", "yref": "paper",
                      "xanchor": "center", "yanchor": "bottom", "yshift": 8,
                      "showarrow": False, "font": {"size": 11}})
    if any(p["split"] for a in archs for p in maps[a]["points"]):
        notes.append({"text": say(lang, "train.map.split_note"), "x": 1, "y": below,
                      "xref": "paper", "yref": "paper", "xanchor": "right", "yanchor": "top",
                      "yshift": -4, "showarrow": False,
                      "font": {"size": 11, "color": PALETTE["grey"]}})
    layout["annotations"] = notes
    return {"data": data, "layout": styled(layout)}


def fillmask_figure(results: list[dict], sentence: str = "", lang: str = "en") -> dict:
    """One panel of horizontal bars per [MASK]: BERT's top-k guesses, likeliest on top.
    Titles in `lang` (the page's language)."""
    n = max(1, len(results))
    gap = 0.08 if n > 1 else 0.0
    height = (1 - gap * (n - 1)) / n
    # A panel keeps ~22 px per bar, so top-k 20 still names every guess (plotly drops
    # category labels that do not fit) instead of squeezing 20 bars into 210 px.
    k = max((len(r["candidates"]) for r in results), default=0)
    panel = max(210, 22 * k + 50)
    data, layout = [], {"height": 90 + panel * n, "showlegend": False,
                        "title": {"text": sentence[:90] or say(lang, "fillmask.fig.title")},
                        "margin": {"l": 90, "r": 20, "t": 70, "b": 30}, "annotations": []}
    for i, r in enumerate(results):
        k = "" if i == 0 else str(i + 1)
        top = 1 - i * (height + gap)
        cands = r["candidates"][::-1]  # plotly draws the first bar at the bottom
        data.append({"type": "bar", "orientation": "h", "xaxis": f"x{k}", "yaxis": f"y{k}",
                     "x": [c["prob"] for c in cands], "y": [c["token"] for c in cands],
                     "marker": {"color": [PALETTE["orange"]] * (len(cands) - 1)
                                + [PALETTE["blue"]]},
                     "text": [f"{c['prob']:.1%}" for c in cands], "textposition": "outside",
                     "hovertemplate": "%{y}: %{x:.2%}<extra></extra>", "cliponaxis": False})
        layout[f"xaxis{k}"] = _axis(range=[0, 1.15], tickformat=".0%", anchor=f"y{k}")
        layout[f"yaxis{k}"] = _axis(domain=[max(0.0, top - height), top], anchor=f"x{k}",
                                    type="category")
        layout["annotations"].append(_title(say(lang, "fillmask.fig.panel", n=i + 1,
                                                 position=r["position"]), top))
    return {"data": data, "layout": styled(layout)}


def distribution_figure(rows: list[dict], temperature: float, top_k: int, top_p: float,
                        title: str = "", kept: int | None = None, vocab: int | None = None,
                        lang: str = "en") -> dict:
    """The next-token distribution in the order it is built: raw softmax, after
    temperature (with the top-k and top-p cut-offs drawn), and the renormalised
    distribution the token is drawn from, with the drawn token starred.

    rows: `sampling.Step.top(...)` dicts (sorted by raw probability, chosen one last if
    it was not among them), "token" already made readable.
    """
    labels, seen = [], set()
    for r in rows:  # a category axis merges equal labels: keep every token its own bar
        label = ("★ " if r["chosen"] else "") + r["token"]
        label = label if label not in seen else f"{label} #{r['id']}"
        seen.add(label)
        labels.append(label)
    cut_k = [not r["kept_k"] for r in rows]
    cut_p = [r["kept_k"] and not r["kept_p"] for r in rows]
    why = ["cut_k" if k else "cut_p" if p else "kept" for k, p in zip(cut_k, cut_p)]
    why_text = [say(lang, f"generate.fig.{w}") for w in why]
    bar = {"type": "bar", "x": labels, "xaxis": "x",
           "hovertemplate": "%{x}: %{y:.2%}<extra></extra>"}
    hatch = ["x" if k else "/" if p else "" for k, p in zip(cut_k, cut_p)]
    data = [
        {**bar, "yaxis": "y", "y": [r["raw"] for r in rows],
         "name": say(lang, "generate.fig.raw_name"),
         "marker": {"color": PALETTE["grey"]}},
        {**bar, "yaxis": "y2", "y": [r["scaled"] for r in rows],
         "name": say(lang, "generate.fig.scaled_name"), "customdata": why_text,
         "hovertemplate": "%{x}: %{y:.2%} (%{customdata})<extra></extra>",
         "marker": {"color": [PALETTE["sky"] if w == "kept" else PALETTE["grey"] for w in why],
                    "pattern": {"shape": hatch}}},
        {**bar, "yaxis": "y3", "y": [r["final"] for r in rows],
         "name": say(lang, "generate.fig.final_name"),
         "text": [f"{r['final']:.0%}" if r["final"] >= 0.01 else "" for r in rows],
         "textposition": "outside", "cliponaxis": False,
         "marker": {"color": [PALETTE["vermillion"] if r["chosen"] else PALETTE["orange"]
                              for r in rows],
                    "line": {"width": 2, "color": ["black" if r["chosen"] else "rgba(0,0,0,0)"
                                                   for r in rows]}}},
    ]
    domains = [(0.72, 1.0), (0.37, 0.65), (0.0, 0.30)]
    off = say(lang, "generate.fig.off")
    cuts = (f"top-k = {top_k or off}, top-p = {top_p:g}" + (f" ({off})" if top_p >= 1 else "")
            + (say(lang, "generate.fig.kept_of", kept=f"{kept:,}", vocab=f"{vocab:,}")
               if kept is not None and vocab else ""))
    titles = [say(lang, "generate.fig.raw"),
              say(lang, "generate.fig.scaled", temperature=f"{temperature:g}", cuts=cuts),
              say(lang, "generate.fig.final")]
    layout = {"height": 620, "bargap": 0.25, "showlegend": False,
              "title": {"text": title or say(lang, "generate.fig.title")},
              "margin": {"l": 55, "r": 20, "t": 80, "b": 60},
              "xaxis": _axis(type="category", anchor="y3"),
              "annotations": [_title(t, d[1] + 0.005) for t, d in zip(titles, domains)],
              "shapes": []}
    for i, d in enumerate(domains):
        layout["yaxis" + (str(i + 1) if i else "")] = _axis(domain=list(d), anchor="x",
                                                           tickformat=".2~%", rangemode="tozero")
    # Cut-off lines: the kept tokens are a prefix of this (probability-sorted) order.
    n_k = sum(1 for r in rows if r["kept_k"])
    n_p = sum(1 for r in rows if r["kept_p"])
    if top_k and n_k < len(rows):
        _cut_line(layout, n_k - 0.5, say(lang, "generate.fig.cut_line", what=f"top-k = {top_k}"),
                  PALETTE["purple"], "dash")
    if top_p < 1 and n_p < n_k:
        _cut_line(layout, n_p - 0.5, say(lang, "generate.fig.cut_line", what=f"top-p = {top_p:g}"),
                  PALETTE["green"], "dot")
    return {"data": data, "layout": styled(layout)}


def _cut_line(layout: dict, x: float, text: str, color: str, dash: str) -> None:
    for yref in ("y2 domain", "y3 domain"):
        layout["shapes"].append({"type": "line", "xref": "x", "x0": x, "x1": x, "yref": yref,
                                 "y0": 0, "y1": 1,
                                 "line": {"color": color, "dash": dash, "width": 2}})
    layout["annotations"].append({"x": x, "y": 1, "xref": "x", "yref": "y2 domain", "text": text,
                                  "showarrow": False, "xanchor": "left", "yanchor": "top",
                                  "font": {"color": color, "size": 12},
                                  "bgcolor": "rgba(255,255,255,0.8)"})


def lens_figure(trace: dict, label, lang: str = "en", k: int = 5) -> dict:
    """The logit lens (`model.lens.logit_lens`) as a layers x positions grid: each cell
    is coloured by the top-1 probability and names the top-1 token, bold where it already
    is the last layer's answer (so colour is not the only signal); hover shows the top k.
    Layer 0 (the embeddings) at the bottom, the last layer on top, as the stack is drawn.

    label: token id -> readable text (spaces and newlines made visible)."""
    arch, n_rows = trace["arch"], len(trace["top"])
    # A category axis merges equal labels: each column keeps its position number.
    cols = [f"{_short(label(i), 12)} ·{p}" for i, p in zip(trace["input"], trace["positions"])]
    rows = [say(lang, "lens.layer.emb")] + [str(layer) for layer in range(1, n_rows)]
    # The grid sits in the tab's left column (~600 px): with many columns a cell has room
    # for a few characters only, and longer words would spill into their neighbours.
    fit = 7 if len(cols) <= 8 else 5 if len(cols) <= 12 else 3
    z, text, hover = [], [], []
    for layer, cells in enumerate(trace["top"]):
        z.append([c[0]["prob"] for c in cells])
        text.append([(lambda s: f"<b>{s}</b>" if c[0]["id"] == a else s)(
            _short(label(c[0]["id"]), fit)) for c, a in zip(cells, trace["answer"])])
        hover.append(["<br>".join(f"{as_html(label(x['id']))}: {x['prob']:.1%}" for x in c[:k])
                      for c in cells])
    axis = say(lang, f"lens.axis.position.{arch}")
    data = [{"type": "heatmap", "x": cols, "y": rows, "z": z, "zmin": 0, "zmax": 1,
             "colorscale": BLUES, "xgap": 1, "ygap": 1, "text": text,
             "texttemplate": "%{text}", "textfont": {"size": 11 if fit > 3 else 10},
             "customdata": hover,
             "colorbar": {"title": {"text": say(lang, "lens.colorbar"), "side": "right"},
                          "thickness": 12, "len": 0.8, "tickformat": ".0%"},
             "hovertemplate": say(lang, "lens.hover") + "<br>%{customdata}<extra></extra>"}]
    layout = {"height": 150 + 26 * n_rows + (40 if len(cols) > 8 else 0),
              "title": {"text": say(lang, f"lens.title.{arch}")},
              "margin": {"l": 60, "r": 20, "t": 50, "b": 40},
              "xaxis": {"type": "category", "title": {"text": axis},
                        "tickangle": -40 if len(cols) > 8 else 0},
              "yaxis": {"type": "category", "title": {"text": say(lang, "lens.axis.layer")}}}
    return {"data": data, "layout": styled(layout)}


def _short(s: str, n: int) -> str:
    """At most n characters, an ellipsis marking a cut; HTML-escaped (plotly renders tags)."""
    return as_html(s if len(s) <= n else s[:n - 1] + "…")


def as_html(s: str) -> str:
    import html
    return html.escape(s, quote=False)


def model_note(loaded, source: str) -> dict:
    """Which model answered: shown beside results, so a class can tell bundled from own."""
    cfg = loaded.model.cfg
    rec = loaded.record or {}
    return {"source": source, "arch": cfg.arch, "n_layer": cfg.n_layer, "n_embd": cfg.n_embd,
            "vocab_size": cfg.vocab_size, "trained_steps": rec.get("steps"),
            "trained_seconds": round(rec["seconds"], 1) if rec.get("seconds") else None,
            "stopped_by": rec.get("stopped_by")}
