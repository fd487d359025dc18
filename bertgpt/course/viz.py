"""Figure builders: plain data in, a plotly figure out. No model, no gradio, no state.

A figure here is a `Figure`: the plotly JSON itself (a dict with "data" and "layout"),
which `gr.Plot` draws through its `to_json()` and `to_plotly()` turns into a validated
`plotly.graph_objects.Figure`. Why not build `go.Figure`s directly? Their per-property
validation costs 100-500 ms for a few small heatmaps on a 2-core CPU, far over the 100 ms
a tab has to answer; the dicts cost about 1 ms. The tests validate every builder's output
with `to_plotly()`, so the dicts stay real plotly.

Conventions, so a projected slide and a colour-blind student both read a figure: the
Okabe-Ito palette (`PALETTE`), one base layout (`STYLE`, applied by `styled`, which the
live charts in app/ use too), fonts of 14 px, and meaning never carried by colour alone
(a ✓/✗, a number or a word sits in every coloured cell or bar). Token axes are numeric
with the tokens as tick text, so a token that occurs twice keeps two rows. Export: the
plotly toolbar (hover a figure, click the camera) downloads a PNG.
"""
from __future__ import annotations

import copy
import json
import textwrap

# Okabe & Ito (2008): distinguishable under every common colour-vision deficiency.
PALETTE = {"orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
           "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "grey": "#999999"}
HIDDEN = "#DDDDDD"  # a masked-out cell: light grey, and always written ✗ or −∞ as well
ROW_TITLE = "row = the token that looks"
COL_TITLE = "column = what it may see"
PART_COLOURS = {"embeddings": PALETTE["sky"], "attention": PALETTE["blue"],
                "mlp": PALETTE["orange"], "layernorm": PALETTE["yellow"],
                "pooler": PALETTE["purple"], "pretraining heads": PALETTE["vermillion"]}
BLUES = [[0.0, "#FFFFFF"], [1.0, PALETTE["blue"]]]  # one hue: safe, and 0 reads as "none"
# ColorBrewer PuOr (purple-orange), colour-blind safe; spelled out because plotly.js, which
# draws these dicts, knows only a few scales by name.
DIVERGING = [[0, "#5E3C99"], [0.25, "#B2ABD2"], [0.5, "#F7F7F7"], [0.75, "#FDB863"],
             [1, "#E66101"]]
LEGEND_LINE = f"{ROW_TITLE} · {COL_TITLE}"
# Every word a builder writes by itself (axis titles, hover text, panel and part names),
# in English. A builder takes `words`, a dict with some or all of these keys in another
# language (the app fills it from its strings data, app.common.viz_words): this module
# stays free of the app's languages. "{n}"-style fields are filled here; "%{y}" is plotly's.
WORDS = {
    "row_title": ROW_TITLE, "col_title": COL_TITLE,
    "may_see": "row %{y} may see column %{x}: %{text}<extra></extra>",
    "score": "score %{z:.2f}<extra></extra>", "hidden": "−∞: hidden<extra></extra>",
    "weight": "weight", "weight_hover": "weight %{z:.3f}<extra></extra>",
    "step_raw": "1. raw scores q·k/√d", "step_masked": "2. masked: hidden → −∞",
    "step_softmax": "3. softmax: −∞ → 0",
    "layer": "layer {n}", "head": "head {n}", "layer_head": "layer {l}, head {h}",
    "rank": "rank {n}", "expected": "expected (your settings)",
    "measured": "measured on the world corpus", "token": "token", "segment": "segment",
    "position": "position", "position_hover": "position %{y}: %{text}<extra></extra>",
    "parameters": "parameters", "part_embeddings": "embeddings",
    "part_attention": "attention", "part_mlp": "mlp", "part_layernorm": "layernorm",
    "part_pooler": "pooler", "part_pretraining_heads": "pretraining heads",
}


def _words(words: dict | None) -> dict:
    return {**WORDS, **(words or {})}


def _part(w: dict, part: str) -> str:
    return w.get("part_" + part.replace(" ", "_"), part)
TWO = [[0, HIDDEN], [0.5, HIDDEN], [0.5, PALETTE["blue"]], [1, PALETTE["blue"]]]

# The one base layout of every figure, explanatory and live: text readable on a projector,
# a white ground, thin margins (each axis pushes them out as far as its labels need, see
# `styled`), the title at the top left, and hover boxes that show a trace's whole name.
STYLE = {"font": {"size": 14}, "paper_bgcolor": "white", "plot_bgcolor": "white",
         "hoverlabel": {"namelength": -1}, "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
         "title": {"x": 0.01, "xanchor": "left", "yref": "container", "y": 1,
                   "yanchor": "top", "pad": {"t": 14}}}
GRID = "#E6E6E6"  # grid lines: light enough to stay behind the data


def styled(layout: dict) -> dict:
    """A figure's layout on top of STYLE. Its margin and title are merged into STYLE's
    (a figure that sets only the left margin or the title text keeps the rest), and
    every axis gets automargin, so no tick label is clipped, whatever the tokens."""
    out = copy.deepcopy(STYLE)  # STYLE itself never changes, whatever a caller edits
    for key, value in layout.items():
        if key == "title" and isinstance(value, str):
            value = {"text": value}
        if key in ("margin", "title"):
            value = {**out[key], **value}
        out[key] = value
    for key in [k for k in out if k.startswith(("xaxis", "yaxis"))] or ["xaxis", "yaxis"]:
        out[key] = {**out.get(key, {}), "automargin": True}
    return out


class Figure(dict):
    """A plotly figure as its JSON dict ({"data": [...], "layout": {...}})."""

    def to_json(self) -> str:  # what gr.Plot calls
        return json.dumps(self, ensure_ascii=False, separators=(",", ":"))

    def to_plotly(self):
        """The same figure as a validated plotly.graph_objects.Figure (for export/tests)."""
        import plotly.graph_objects as go
        return go.Figure(self)


def _top(tokens=(), axis_title=False) -> int:
    """Pixels the labels above a plot need: token ticks on top (slanted when long), and
    an axis title. Computed, because plotly's title automargin ignores top tick labels."""
    if not tokens:
        return 0
    longest = max(len(t) for t in tokens)
    ticks = longest * 8 * 0.87 + 14 if len(tokens) > 5 else 24  # -60° slant: sin 60°
    return int(ticks) + (26 if axis_title else 0)


def _fig(data: list, title: str = "", height: int = 420, subtitle: str = "", top: int = 0,
         **layout) -> Figure:
    """`top`: extra room above the plot area (token labels); the title sits above it."""
    if subtitle:
        title += f"<br><span style='font-size:13px'>{subtitle}</span>"
    t = (42 if title else 10) + (20 if subtitle else 0) + top
    base = styled({"title": {"text": title}, "height": height + top, **layout})
    base["margin"]["t"] = t  # room for the title and the labels above, whatever was asked
    return Figure(data=data, layout=base)


def _panels(n: int, gap: float = 0.06) -> list[list[float]]:
    """x domains of n side-by-side panels."""
    w = (1 - gap * (n - 1)) / n
    return [[round(i * (w + gap), 4), round(i * (w + gap) + w, 4)] for i in range(n)]


def _panel_names(titles, domains):
    """Panel names under each panel (the top holds the title and the token labels)."""
    return [{"text": t, "x": (a + b) / 2, "y": 0, "xref": "paper", "yref": "paper",
             "showarrow": False, "xanchor": "center", "yanchor": "top", "yshift": -8,
             "font": {"size": 14}} for t, (a, b) in zip(titles, domains)]


def _axes(tokens_x, tokens_y, i=1, domain=(0, 1), titles=True, size=13, words=None):
    """Layout entries for panel i: tokens as tick text, row 0 at the top."""
    sx = "" if i == 1 else str(i)
    x = {"domain": list(domain), "anchor": f"y{sx}", "side": "top", "showgrid": False,
         "tickmode": "array", "tickvals": list(range(len(tokens_x))), "ticktext": tokens_x,
         "tickangle": -60 if len(tokens_x) > 5 else 0, "tickfont": {"size": size},
         "zeroline": False, "title": {"text": _words(words)["col_title"] if titles else ""}}
    y = {"anchor": f"x{sx}", "autorange": "reversed", "showgrid": False, "zeroline": False,
         "tickmode": "array", "tickvals": list(range(len(tokens_y))), "ticktext": tokens_y,
         "tickfont": {"size": size},
         "title": {"text": _words(words)["row_title"] if titles else ""}}
    return {f"xaxis{sx}": x, f"yaxis{sx}": y}


def _ax(i: int) -> dict:
    s = "" if i == 1 else str(i)
    return {"xaxis": f"x{s}", "yaxis": f"y{s}"}


def _fmt(v, digits=2):
    return "" if v is None else f"{v:.{digits}f}"


def empty(message: str, height: int = 200) -> Figure:
    """A blank figure that says why it is blank."""
    return _fig([], height=height, xaxis={"visible": False}, yaxis={"visible": False},
                annotations=[{"text": "<br>".join(textwrap.wrap(message, 60)),
                              "showarrow": False, "font": {"size": 16},
                              "x": 0.5, "y": 0.5, "xref": "paper", "yref": "paper"}])


# ------------------------------------------------------------------ attention masks
def mask_grids(grids: list, token_rows: list[list[str]], titles: list[str],
               title: str = "", words: dict | None = None) -> Figure:
    """One ✓/✗ grid per panel: `grids[i]` is a (T, T) list of bools, True = may attend."""
    doms, data, layout, w = _panels(len(grids)), [], {}, _words(words)
    for i, (grid, toks) in enumerate(zip(grids, token_rows), start=1):
        data.append({"type": "heatmap", **_ax(i), "zmin": 0, "zmax": 1, "showscale": False,
                     "z": [[int(a) for a in r] for r in grid], "colorscale": TWO,
                     "text": [["✓" if a else "✗" for a in r] for r in grid],
                     "texttemplate": "%{text}" if len(toks) <= 16 else "", "xgap": 1, "ygap": 1,
                     "textfont": {"size": 14},
                     "hovertemplate": w["may_see"]})
        layout.update(_axes(toks, toks, i, doms[i - 1], titles=False,
                            size=12 if len(grids) > 2 else 13))
    T = max(len(t) for t in token_rows)
    return _fig(data, title, height=max(260, 80 + 26 * T),
                subtitle=f"{w['row_title']} · {w['col_title']}",
                top=_top([t for toks in token_rows for t in toks]),
                annotations=_panel_names(titles, doms),
                margin={"l": 10, "r": 10, "b": 22 + 20 * max(t.count("<br>") + 1 for t in titles)},
                **layout)


def score_panels(scores, masked, probs, tokens: list[str], title: str = "",
                 words: dict | None = None) -> Figure:
    """Raw scores -> masked (None = −∞) -> softmax, side by side for one sentence."""
    doms, small, w = _panels(3, 0.08), len(tokens) <= 12, _words(words)
    lim = max(abs(v) for r in scores for v in r) or 1.0

    def heat(i, z, scale, lo, hi, digits, **kw):
        return {"type": "heatmap", **_ax(i), "z": z, "colorscale": scale, "zmin": lo,
                "zmax": hi, "xgap": 1, "ygap": 1, "showscale": False,
                "text": [[_fmt(v, digits) for v in r] for r in z],
                "texttemplate": "%{text}" if small else "", **kw}
    data = [heat(1, scores, DIVERGING, -lim, lim, 1, hovertemplate=w["score"]),
            heat(2, masked, DIVERGING, -lim, lim, 1, hovertemplate=w["score"]),
            # −∞ cells: a second layer, grey and written out, so "hidden" is a word too.
            {"type": "heatmap", **_ax(2), "z": [[1 if v is None else None for v in r]
                                                for r in masked],
             "colorscale": [[0, HIDDEN], [1, HIDDEN]], "showscale": False, "xgap": 1,
             "ygap": 1, "text": [["−∞" if v is None else "" for v in r] for r in masked],
             "texttemplate": "%{text}",
             "hovertemplate": w["hidden"]},
            heat(3, probs, BLUES, 0, 1, 2, showscale=True, hovertemplate=w["weight_hover"],
                 colorbar={"title": {"text": w["weight"]}, "len": 0.8})]
    layout = {}
    for i in (1, 2, 3):
        layout.update(_axes(tokens, tokens, i, doms[i - 1], titles=False, size=12))
    notes = [w["step_raw"], w["step_masked"], w["step_softmax"]]
    return _fig(data, title, height=max(280, 90 + 26 * len(tokens)),
                subtitle=f"{w['row_title']} · {w['col_title']}",
                top=_top(tokens), annotations=_panel_names(notes, doms),
                margin={"l": 10, "r": 10, "b": 40}, **layout)


# ------------------------------------------------------------------ attention weights
def attention_heatmap(weights, q_tokens: list[str], k_tokens: list[str] | None = None,
                      title: str = "", words: dict | None = None) -> Figure:
    """One head's (T, S) attention weights; each row sums to 1."""
    w = _words(words)
    k_tokens = q_tokens if k_tokens is None else k_tokens
    small = len(q_tokens) <= 10  # written values only where they fit
    data = [{"type": "heatmap", "z": weights, "colorscale": BLUES, "zmin": 0, "zmax": 1,
             "xgap": 1, "ygap": 1,
             "text": [[_fmt(v) for v in r] for r in weights] if small else None,
             # Below the map, not beside it: the map keeps the width (two sit side by side).
             "colorbar": {"title": {"text": w["weight"], "side": "right"}, "orientation": "h",
                          "y": -0.04, "yanchor": "top", "len": 0.6, "thickness": 12},
             "texttemplate": "%{text}" if small else "", "textfont": {"size": 11},
             "customdata": [[f"{q} → {k}" for k in k_tokens] for q in q_tokens],
             "hovertemplate": "%{customdata}: %{z:.3f}<extra></extra>"}]
    return _fig(data, title, height=max(300, 130 + 24 * len(q_tokens)),
                top=_top(k_tokens, axis_title=True), **_axes(k_tokens, q_tokens, words=w))


def attention_overview(weights, tokens: list[str], title: str = "",
                       words: dict | None = None) -> Figure:
    """Every head of every layer as tiles of one heatmap (rows = layers, columns = heads).
    `weights[l][h]` is (T, T). One trace, not L*H subplots, so it draws fast."""
    L, H, T, w = len(weights), len(weights[0]), len(tokens), _words(words)
    step = T + 1  # one blank row/column between tiles
    z = [[None] * (H * step - 1) for _ in range(L * step - 1)]
    hover = [[""] * (H * step - 1) for _ in range(L * step - 1)]
    for l in range(L):
        for h in range(H):
            for i in range(T):
                z[l * step + i][h * step:h * step + T] = weights[l][h][i]
                hover[l * step + i][h * step:h * step + T] = [
                    w["layer_head"].format(l=l + 1, h=h + 1) + f": {tokens[i]} → {k}"
                    for k in tokens]
    mid = (T - 1) / 2
    data = [{"type": "heatmap", "z": z, "customdata": hover, "colorscale": BLUES, "zmin": 0,
             "zmax": 1, "hoverongaps": False, "showscale": False,
             "hovertemplate": "%{customdata}: %{z:.3f}<extra></extra>"}]
    return _fig(data, title, height=40 + 90 * L, top=30,
                xaxis={"tickmode": "array", "tickvals": [h * step + mid for h in range(H)],
                       "ticktext": [w["head"].format(n=h + 1) for h in range(H)], "side": "top",
                       "showgrid": False, "zeroline": False},
                yaxis={"tickmode": "array", "tickvals": [l * step + mid for l in range(L)],
                       "ticktext": [w["layer"].format(n=l + 1) for l in range(L)],
                       "showgrid": False,
                       "autorange": "reversed", "zeroline": False})


# ------------------------------------------------------------------ bars
def prediction_bars(panels: list[dict], title: str = "", words: dict | None = None) -> Figure:
    """Top-k bars per predicted position, stacked vertically. Each panel: {"title",
    "candidates": [{"token", "prob"}], "answer", "answer_prob", "answer_rank"}. The right
    answer is green and written "✓ token"; outside the top k it is added with its rank."""
    n, gap = len(panels), 0.08
    h = (1 - gap * (n - 1)) / n
    data, layout, notes, w = [], {}, [], _words(words)
    for r, p in enumerate(panels, start=1):
        cands, ans = list(p["candidates"]), p.get("answer")
        if ans is not None and all(c["token"] != ans for c in cands):
            cands.append({"token": ans, "prob": p.get("answer_prob", 0.0),
                          "rank": p.get("answer_rank")})
        labels = [("✓ " if c["token"] == ans else "") + c["token"]
                  + (f" ({w['rank'].format(n=c['rank'])})" if c.get("rank") else "")
                  for c in cands]
        data.append({"type": "bar", "orientation": "h", **_ax(r), "y": labels,
                     "x": [c["prob"] for c in cands], "showlegend": False,
                     "marker": {"color": [PALETTE["green"] if c["token"] == ans
                                          else PALETTE["sky"] for c in cands]},
                     "text": [f"{c['prob']:.1%}" for c in cands], "textposition": "outside",
                     "cliponaxis": False, "hovertemplate": "%{y}: %{x:.2%}<extra></extra>"})
        top = 1 - (r - 1) * (h + gap)
        s = "" if r == 1 else str(r)
        layout[f"xaxis{s}"] = {"anchor": f"y{s}", "range": [0, 1.18], "tickformat": ".0%",
                               "gridcolor": GRID}
        layout[f"yaxis{s}"] = {"anchor": f"x{s}", "domain": [max(top - h, 0), top],
                               "autorange": "reversed", "automargin": True}
        notes.append({"text": p["title"], "x": 0, "y": top, "xref": "paper", "yref": "paper",
                      "showarrow": False, "xanchor": "left", "yanchor": "bottom",
                      "font": {"size": 14}})
    return _fig(data, title, height=60 + 200 * n, top=28, annotations=notes, **layout)


def rate_bars(observed: dict, expected: dict, title: str = "",
              words: dict | None = None) -> Figure:
    """Expected vs measured rates, as grouped bars with the numbers written on them."""
    names, w = list(expected), _words(words)
    data = [{"type": "bar", "name": w["expected"], "x": names,
             "y": [expected[k] for k in names], "textposition": "outside",
             "marker": {"color": PALETTE["grey"], "pattern": {"shape": "/"}},
             "text": [f"{expected[k]:.1%}" for k in names]},
            {"type": "bar", "name": w["measured"], "x": names,
             "y": [observed[k] for k in names], "marker": {"color": PALETTE["blue"]},
             "text": [f"{observed[k]:.1%}" for k in names], "textposition": "outside"}]
    return _fig(data, title, height=380, barmode="group",
                yaxis={"tickformat": ".0%", "range": [0, 1.15], "gridcolor": GRID},
                legend={"orientation": "h", "y": -0.2})


def count_bars(counts: dict, colours: dict, title: str = "") -> Figure:
    """Plain counts (e.g. IsNext / NotNext / mislabeled), each written on its bar."""
    names = list(counts)
    data = [{"type": "bar", "x": names, "y": [counts[k] for k in names],
             "marker": {"color": [colours.get(k, PALETTE["grey"]) for k in names]},
             "text": [f"{counts[k]:,}" for k in names], "textposition": "outside",
             "cliponaxis": False, "hovertemplate": "%{x}: %{y}<extra></extra>"}]
    return _fig(data, title, height=340,
                yaxis={"range": [0, max(list(counts.values()) + [1]) * 1.2],
                       "gridcolor": GRID})


# ------------------------------------------------------------------ NSP input
def embedding_strip(tokens: list[str], segment_ids: list[int], title: str = "",
                    words: dict | None = None) -> Figure:
    """BERT's input as the paper's Figure 2 draws it, turned on its side so any length
    fits: one row per position with its token, segment and position embedding, which
    BERT sums. Cells are coloured by segment and written out (E_A / E_B)."""
    T, w = len(tokens), _words(words)
    colours = [[0, PALETTE["sky"]], [0.5, PALETTE["sky"]], [0.5, PALETTE["orange"]],
               [1, PALETTE["orange"]]]
    data = [{"type": "heatmap", "z": [[s, s, s] for s in segment_ids], "zmin": 0, "zmax": 1,
             "x": [0, 1, 2], "text": [[tok, f"+ E_{'AB'[s]}", f"+ E_{i}"]
                                      for i, (tok, s) in enumerate(zip(tokens, segment_ids))],
             "texttemplate": "%{text}", "textfont": {"size": 14, "color": "black"},
             "colorscale": colours,
             "showscale": False, "xgap": 3, "ygap": 2,
             "hovertemplate": w["position_hover"]}]
    return _fig(data, title, height=40 + 24 * T, top=24,
                xaxis={"tickmode": "array", "tickvals": [0, 1, 2], "side": "top",
                       "ticktext": [w["token"], w["segment"], w["position"]],
                       "showgrid": False},
                yaxis={"tickmode": "array", "tickvals": list(range(T)), "showgrid": False,
                       "ticktext": [str(i) for i in range(T)], "autorange": "reversed",
                       "title": {"text": w["position"]}})


# ------------------------------------------------------------------ parameters
def human_count(n: float) -> str:
    """1234567 -> '1.23M'."""
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(int(n))


def param_breakdown(parts: dict, title: str = "", words: dict | None = None) -> Figure:
    """Where one model's parameters live: one bar per part, count and share written on it."""
    total, w = sum(parts.values()) or 1, _words(words)
    names = sorted(parts, key=parts.get, reverse=True)
    data = [{"type": "bar", "orientation": "h", "y": [_part(w, k) for k in names],
             "x": [parts[k] for k in names],
             "marker": {"color": [PART_COLOURS.get(k, PALETTE["grey"]) for k in names]},
             "text": [f"{human_count(parts[k])} ({parts[k] / total:.1%})" for k in names],
             "textposition": "outside", "cliponaxis": False,
             "hovertemplate": "%{y}: %{x:,}<extra></extra>"}]
    return _fig(data, title, height=140 + 45 * len(names),
                yaxis={"autorange": "reversed", "automargin": True},
                xaxis={"range": [0, max(list(parts.values()) + [1]) * 1.4],
                       "title": {"text": w["parameters"]}, "gridcolor": GRID})


def param_shares(rows: list[tuple[str, dict]], title: str = "",
                 words: dict | None = None) -> Figure:
    """Stacked 100% bars, one per model: the share of each part, total written at the end.
    Small models are mostly embeddings; big ones mostly MLP and attention."""
    names, w = [n for n, _ in rows], _words(words)
    parts = [p for p in PART_COLOURS if any(p in r for _, r in rows)]
    data = []
    for part in parts:
        share = [r.get(part, 0) / (sum(r.values()) or 1) for _, r in rows]
        data.append({"type": "bar", "orientation": "h", "name": _part(w, part), "y": names,
                     "x": share,
                     "marker": {"color": PART_COLOURS[part]}, "textposition": "inside",
                     "text": [f"{s:.0%}" if s >= 0.07 else "" for s in share],
                     "insidetextanchor": "middle",
                     "hovertemplate": _part(w, part) + ": %{x:.1%}<extra></extra>"})
    notes = [{"x": 1.01, "y": n, "xref": "paper", "yref": "y", "showarrow": False,
              "text": human_count(sum(r.values())), "xanchor": "left", "font": {"size": 13}}
             for n, r in rows]
    return _fig(data, title, height=160 + 34 * len(rows), barmode="stack", annotations=notes,
                yaxis={"autorange": "reversed", "automargin": True},
                xaxis={"tickformat": ".0%", "range": [0, 1]},
                legend={"orientation": "h", "y": -0.06, "yanchor": "top",
                        "traceorder": "normal"},
                margin={"l": 10, "r": 70, "b": 40})
