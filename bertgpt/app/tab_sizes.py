"""Tab 6, BERT vs GPT & sizes: the comparison the article draws, and a parameter counter.

Counts come from `models.count_params`, which builds the model on the meta device (no
memory, even for GPT-3 175B) and sums what is really there, so the numbers are computed,
not typed in; the published figures sit beside them."""
from __future__ import annotations

import math
import threading
from functools import lru_cache

import gradio as gr

from ..course import viz
from ..model.config import PRESETS, ModelConfig
from ..model.build import count_params
from .common import friendly, live, viz_words
from .i18n import LANGS, say, t

ID = "sizes"
LABEL = t("sizes.title")
CUSTOM = "custom"
DEFAULT_PRESET = "bert-base"
WIDTH_STEP, WIDTH_MAX = 16, 16384  # the width slider: every preset's width is on it

# The presets whose published figures the seed article gets wrong: a note each
# (sizes.fix.<preset>), shown under the count.
FIX_NOTES = ("gpt3-175b", "bert-large", "gpt2")


@lru_cache(maxsize=64)
def _count(cfg: ModelConfig | str) -> dict:
    return count_params(cfg)  # a preset name or a frozen (hashable) config


def _config(preset, arch, vocab_size, n_layer, n_head, n_embd, block_size, lang="en"):
    if preset in PRESETS:
        return preset
    if preset != CUSTOM:
        raise gr.Error(say(lang, "sizes.err.preset", preset=repr(preset)))
    values = dict(vocab_size=vocab_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd,
                  block_size=block_size)
    if any(v is None for v in values.values()):
        raise gr.Error(say(lang, "sizes.err.fill"))
    if arch not in ("bert", "gpt"):
        raise gr.Error(say(lang, "sizes.err.arch"))
    n_head, n_embd = int(n_head), int(n_embd)
    if n_head > 0 and n_embd % n_head:
        # ModelConfig's own hint may name a width the slider cannot take (it moves in
        # steps of 16 up to 16,384): suggest the nearest width that both allow.
        unit = math.lcm(n_head, WIDTH_STEP)
        fits = [w for w in (n_embd // unit * unit, (n_embd // unit + 1) * unit)
                if WIDTH_STEP <= w <= WIDTH_MAX]
        hint = (say(lang, "sizes.hint.width", width=min(fits, key=lambda w: abs(w - n_embd)))
                if fits else say(lang, "sizes.hint.heads"))
        raise gr.Error(say(lang, "sizes.err.divisible", width=n_embd, heads=n_head, hint=hint))
    return ModelConfig(arch, **{k: int(v) for k, v in values.items()})


def _bytes(n: int) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e9 else f"{n / 1e6:,.1f} MB"


def _summary(c: dict, lang: str = "en") -> str:
    cfg = c["config"]
    name = c.get("preset") or say(lang, "sizes.your_model")
    md = say(lang, "sizes.sum.shape", name=name, arch=cfg["arch"].upper(),
             layers=cfg["n_layer"], width=cfg["n_embd"], heads=cfg["n_head"],
             head_size=cfg["n_embd"] // cfg["n_head"], context=f"{cfg['block_size']:,}",
             vocab=f"{cfg['vocab_size']:,}", total=f"{c['total']:,}",
             short=viz.human_count(c["total"]))
    if cfg["arch"] == "bert":
        md += " " + say(lang, "sizes.sum.no_heads", n=f"{c['published_total']:,}")
    if c.get("published"):
        # the core's words in English; the strings data has them in other languages
        source = c["source"] if lang == "en" or not c.get("preset") else \
            say(lang, f"sizes.source.{c['preset'].replace('-', '_')}")
        md += "\n\n" + say(lang, "sizes.sum.published", published=viz.human_count(
            c["published"]), source=source, computed=viz.human_count(c["published_total"]),
            error=f"{c['relative_error']:+.1%}")
    md += "\n\n" + say(lang, "sizes.sum.memory", fp32=_bytes(c["total"] * 4),
                        bf16=_bytes(c["total"] * 2), adam=_bytes(c["total"] * 16))
    if c.get("preset") in FIX_NOTES:
        md += "\n\n⚠ " + say(lang, f"sizes.fix.{c['preset'].replace('-', '_')}")
    return md


@friendly
def params(preset, arch, vocab_size, n_layer, n_head, n_embd, block_size, lang="en"):
    """Count a model's parameters by part (embeddings, attention, MLP, LayerNorm, heads),
    for a named preset or a custom configuration.

    Args:
        preset: a preset name (bert-tiny ... gpt3-175b) or custom.
        arch: bert or gpt (used with custom).
        vocab_size: vocabulary size (custom).
        n_layer: number of layers (custom).
        n_head: attention heads (custom; must divide n_embd).
        n_embd: width (custom).
        block_size: longest input in tokens (custom).
        lang: the language of what is written back ("en" or "ko").
    Returns:
        a summary with the published count where there is one, and a breakdown chart.
    """
    lang = lang if lang in LANGS else "en"
    c = _count(_config(preset, arch, vocab_size, n_layer, n_head, n_embd, block_size, lang))
    title = say(lang, "sizes.breakdown.title", name=c.get("preset") or say(
        lang, "sizes.your_model"), n=viz.human_count(c["total"]))
    return _summary(c, lang), viz.param_breakdown(c["parts"], title=title,
                                                  words=viz_words(lang))


def preset_table() -> list[list]:
    rows = []
    for name, (cfg, published, _) in PRESETS.items():  # source: in the summary
        c = _count(name)
        rows.append([name, cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.block_size,
                     cfg.vocab_size, viz.human_count(c["published_total"]),
                     viz.human_count(published) if published else "—",
                     f"{c['relative_error']:+.1%}" if published else "—"])
    return rows


def headers(lang: str = "en") -> list[str]:
    """The preset table's column names."""
    return [say(lang, f"sizes.col.{key}") for key in
            ("preset", "layers", "width", "heads", "context", "vocab", "computed", "published",
             "difference")]


def preset_shares(lang: str = "en"):
    return viz.param_shares([(n, _count(n)["parts"]) for n in PRESETS],
                            title=say(lang, "sizes.shares.title"), words=viz_words(lang))


def presets(lang: str = "en"):
    """The table of every preset and the chart of their shares, in `lang`."""
    import pandas as pd  # a value that brings its column names along
    return pd.DataFrame(preset_table(), columns=headers(lang)), preset_shares(lang)


def _warm():
    params(DEFAULT_PRESET, *_fill(DEFAULT_PRESET))
    preset_table()


def _fill(preset):
    """Preset chosen -> the sliders show its config (custom keeps what is there)."""
    if preset not in PRESETS:
        return [gr.update()] * 6
    cfg = PRESETS[preset][0]
    return [cfg.arch, cfg.vocab_size, cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.block_size]


def build(ctx) -> dict:
    gr.Markdown(t("sizes.side_by_side.md"))
    gr.Markdown(t("sizes.comparison.md"))
    gr.Markdown(t("sizes.params_heading.md"))
    cfg = PRESETS[DEFAULT_PRESET][0]
    with gr.Row():
        preset = gr.Dropdown([(n, n) for n in PRESETS] + [(t("sizes.preset.custom"), CUSTOM)],
                             value=DEFAULT_PRESET, label=t("sizes.preset"),
                             info=t("sizes.preset.info"))
        arch = gr.Radio(["bert", "gpt"], value=cfg.arch, label=t("sizes.arch"))
        go = gr.Button(t("sizes.go"), variant="primary")
    with gr.Row():
        vocab = gr.Number(cfg.vocab_size, label=t("sizes.vocab"), precision=0, minimum=1,
                          maximum=1_000_000)
        layers = gr.Slider(1, 128, value=cfg.n_layer, step=1, label=t("sizes.layers"))
        heads = gr.Slider(1, 128, value=cfg.n_head, step=1, label=t("sizes.heads"))
        width = gr.Slider(WIDTH_STEP, WIDTH_MAX, value=cfg.n_embd, step=WIDTH_STEP,
                          label=t("sizes.width"))
        context = gr.Number(cfg.block_size, label=t("sizes.context"), precision=0, minimum=1,
                            maximum=131_072)
    summary = gr.Markdown("…")  # filled on load, in the page's language
    breakdown = gr.Plot(label=t("sizes.breakdown"), show_label=False)
    table = gr.Dataframe(headers=headers(),
                         label=t("sizes.table"), interactive=False,
                         wrap=True,  # px widths: a phone scrolls the table, words stay whole
                         column_widths=["130px"] + ["80px"] * 5 + ["130px"] * 3)
    gr.Markdown(t("sizes.shares_note.md"))
    shares = gr.Plot(label=t("sizes.shares"), show_label=False)
    # Counting stays off the start-up path: the first count imports torch._dynamo
    # (seconds) and GPT-3 alone takes ~0.7 s. A thread warms the cache while the server
    # starts; each page load then fills these in from the cache.
    threading.Thread(target=_warm, daemon=False).start()  # not daemon: exit waits, no abort
    sizes = [arch, vocab, layers, heads, width, context]
    counted = [preset] + sizes + [ctx.lang]
    # .then reads the preset as it is by then, so a deep link's preset is the one counted.
    ctx.demo.load(presets, ctx.lang, [table, shares],
                  api_visibility="private", show_progress="minimal").then(
        params, counted, [summary, breakdown], api_name="params_on_load",
        api_visibility="private", show_progress="minimal")
    ctx.lang.change(presets, ctx.lang, [table, shares], api_name="preset_table",
                    show_progress="hidden")
    preset.change(_fill, preset, sizes, api_visibility="private", show_progress="hidden")
    gr.on([go.click, preset.change, ctx.lang.change], params, counted, [summary, breakdown],
          api_name="params", show_progress="minimal")
    # Editing a size by hand switches to "custom" and counts at once. A dragged slider
    # passes through sizes that do not fit (heads that do not divide the width) on its
    # way: those get a note in place (common.live); Enter in a box asks on purpose.
    def custom(*v):
        return (CUSTOM, *params(CUSTOM, *v))
    shown = [preset, summary, breakdown]
    gr.on([w.input for w in (arch, layers, heads, width)],
          live(custom, shown.index(summary), len(shown)),
          sizes + [ctx.lang], shown, api_visibility="private", trigger_mode="always_last",
          show_progress="minimal")
    gr.on([vocab.submit, context.submit], custom, sizes + [ctx.lang], shown,
          api_visibility="private",
          trigger_mode="always_last", show_progress="minimal")
    return {"preset": preset}
