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
from .common import friendly, live
from .i18n import t

ID = "sizes"
LABEL = t("sizes.title")
CUSTOM = "custom"
DEFAULT_PRESET = "bert-base"
WIDTH_STEP, WIDTH_MAX = 16, 16384  # the width slider: every preset's width is on it

COMPARISON = """
| | **BERT** (Devlin et al. 2018) | **GPT** (Radford et al. 2018, 2019; Brown et al. 2020) |
|---|---|---|
| Transformer part | **encoder** stack | **decoder** stack (no cross-attention) |
| Attention | **bidirectional**: every token sees the whole input | **causal**: a token sees only what came before |
| Pre-training objective | **MLM** (predict 15% of tokens, 80/10/10) + **NSP** | **next-token prediction** (language modelling) |
| Input | `[CLS] A [SEP] B [SEP]`; token + segment + position embeddings | running text; token + position embeddings |
| Output | a vector per token, and a pooled `[CLS]` vector | a probability for every possible next token |
| Strong at | understanding given text: classification, entity tagging, extractive QA, search | producing text: continuation, dialogue, few-shot prompting |
| Weak at | generating text left to right | using the right-hand context of a token |
| Use it when | you label or extract from text and can fine-tune a small model | you want text out, or one model for many tasks via prompts |
| Published sizes | Base 110M; Large ≈ 335M (the paper rounds to 340M) | GPT-2 124M – 1.5B; GPT-3 175B with a **2048**-token context |

**Where the seed article is off:** it says GPT-3's context grew to 4096 tokens; the GPT-3
paper (Table 2.1) gives **2048**. It gives BERT-Large as 340M; the released checkpoint
counts about **335M** — count it below.
"""
FIX_NOTES = {
    "gpt3-175b": "GPT-3's context is **2048** tokens (GPT-3 paper, Table 2.1), not the "
                 "4096 the seed article states.",
    "bert-large": "The BERT paper rounds BERT-Large to 340M; what is really there is about "
                  "**335M** (pooler included, pre-training heads excluded).",
    "gpt2": "The GPT-2 paper lists 117M for its smallest model; the released `gpt2` "
            "checkpoint has 124M, which is what is counted here.",
}


@lru_cache(maxsize=64)
def _count(cfg: ModelConfig | str) -> dict:
    return count_params(cfg)  # a preset name or a frozen (hashable) config


def _config(preset, arch, vocab_size, n_layer, n_head, n_embd, block_size):
    if preset in PRESETS:
        return preset
    if preset != CUSTOM:
        raise gr.Error(f"Unknown preset {preset!r}: pick one from the list, or 'custom'.")
    values = dict(vocab_size=vocab_size, n_layer=n_layer, n_head=n_head, n_embd=n_embd,
                  block_size=block_size)
    if any(v is None for v in values.values()):
        raise gr.Error("Fill in every size (vocabulary, layers, heads, width, context).")
    if arch not in ("bert", "gpt"):
        raise gr.Error("Pick the architecture: 'bert' or 'gpt'.")
    n_head, n_embd = int(n_head), int(n_embd)
    if n_head > 0 and n_embd % n_head:
        # ModelConfig's own hint may name a width the slider cannot take (it moves in
        # steps of 16 up to 16,384): suggest the nearest width that both allow.
        unit = math.lcm(n_head, WIDTH_STEP)
        fits = [w for w in (n_embd // unit * unit, (n_embd // unit + 1) * unit)
                if WIDTH_STEP <= w <= WIDTH_MAX]
        hint = (f"try width {min(fits, key=lambda w: abs(w - n_embd))}" if fits
                else "pick fewer heads")
        raise gr.Error(f"The width {n_embd} is not divisible by {n_head} heads (each head "
                       f"gets an equal slice of it): {hint}.")
    return ModelConfig(arch, **{k: int(v) for k, v in values.items()})


def _bytes(n: int) -> str:
    return f"{n / 1e9:,.1f} GB" if n >= 1e9 else f"{n / 1e6:,.1f} MB"


def _summary(c: dict) -> str:
    cfg = c["config"]
    name = c.get("preset", "Your model")
    md = (f"**{name}** ({cfg['arch'].upper()}): {cfg['n_layer']} layers × width "
          f"{cfg['n_embd']}, {cfg['n_head']} heads of {cfg['n_embd'] // cfg['n_head']}, "
          f"context {cfg['block_size']:,}, vocabulary {cfg['vocab_size']:,}.\n\n"
          f"**{c['total']:,} parameters** in all ({viz.human_count(c['total'])}).")
    if cfg["arch"] == "bert":
        md += (f" Without the pre-training heads, as the papers count: "
               f"**{c['published_total']:,}**.")
    if c.get("published"):
        md += (f"\n\nPublished: **{viz.human_count(c['published'])}** ({c['source']}). "
               f"Computed here: {viz.human_count(c['published_total'])}, "
               f"{c['relative_error']:+.1%} from the published figure.")
    md += (f"\n\nThe weights alone take {_bytes(c['total'] * 4)} in fp32, "
           f"{_bytes(c['total'] * 2)} in bf16. Training with Adam in mixed precision needs "
           f"about 16 bytes a parameter, {_bytes(c['total'] * 16)}: bf16 weights and "
           "gradients, plus fp32 master weights and Adam's two moments (ZeRO paper, §3.1), "
           "before any activations.")
    if c.get("preset") in FIX_NOTES:
        md += "\n\n⚠ " + FIX_NOTES[c["preset"]]
    return md


@friendly
def params(preset, arch, vocab_size, n_layer, n_head, n_embd, block_size):
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
    Returns:
        a summary with the published count where there is one, and a breakdown chart.
    """
    c = _count(_config(preset, arch, vocab_size, n_layer, n_head, n_embd, block_size))
    title = f"{c.get('preset', 'Your model')}: {viz.human_count(c['total'])} parameters, by part"
    return _summary(c), viz.param_breakdown(c["parts"], title=title)


def preset_table() -> list[list]:
    rows = []
    for name, (cfg, published, _) in PRESETS.items():  # source: in the summary
        c = _count(name)
        rows.append([name, cfg.n_layer, cfg.n_embd, cfg.n_head, cfg.block_size,
                     cfg.vocab_size, viz.human_count(c["published_total"]),
                     viz.human_count(published) if published else "—",
                     f"{c['relative_error']:+.1%}" if published else "—"])
    return rows


def preset_shares():
    return viz.param_shares([(n, _count(n)["parts"]) for n in PRESETS],
                            title="Share of parameters by part, preset by preset")


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
    gr.Markdown(COMPARISON)
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
    summary = gr.Markdown("*Counting…*")
    breakdown = gr.Plot(label=t("sizes.breakdown"), show_label=False)
    table = gr.Dataframe(headers=["preset", "layers", "width", "heads", "context", "vocab",
                                  "computed", "published", "difference"],
                         label=t("sizes.table"), interactive=False,
                         wrap=True,  # px widths: a phone scrolls the table, words stay whole
                         column_widths=["130px"] + ["80px"] * 5 + ["130px"] * 3)
    gr.Markdown("In small models the **embeddings** are a large share (a 2,000-word "
                "vocabulary × 128 dimensions is about a quarter of a mini; GPT-2 small's "
                "50,257 × 768 nearly a third); in big ones the blocks dominate, about 12 × "
                "width² parameters a layer: 2/3 **MLP**, 1/3 **attention**.")
    shares = gr.Plot(label=t("sizes.shares"), show_label=False)
    # Counting stays off the start-up path: the first count imports torch._dynamo
    # (seconds) and GPT-3 alone takes ~0.7 s. A thread warms the cache while the server
    # starts; each page load then fills these in from the cache.
    threading.Thread(target=_warm, daemon=False).start()  # not daemon: exit waits, no abort
    sizes = [arch, vocab, layers, heads, width, context]
    # .then reads the preset as it is by then, so a deep link's preset is the one counted.
    ctx.demo.load(lambda: (preset_table(), preset_shares()), None, [table, shares],
                  api_visibility="private", show_progress="minimal").then(
        params, [preset] + sizes, [summary, breakdown], api_name="params_on_load",
        api_visibility="private", show_progress="minimal")
    preset.change(_fill, preset, sizes, api_visibility="private", show_progress="hidden")
    gr.on([go.click, preset.change], params, [preset] + sizes, [summary, breakdown],
          api_name="params", show_progress="minimal")
    # Editing a size by hand switches to "custom" and counts at once. A dragged slider
    # passes through sizes that do not fit (heads that do not divide the width) on its
    # way: those get a note in place (common.live); Enter in a box asks on purpose.
    def custom(*v):
        return (CUSTOM, *params(CUSTOM, *v))
    shown = [preset, summary, breakdown]
    gr.on([w.input for w in (arch, layers, heads, width)],
          live(custom, shown.index(summary), len(shown)),
          sizes, shown, api_visibility="private", trigger_mode="always_last",
          show_progress="minimal")
    gr.on([vocab.submit, context.submit], custom, sizes, shown, api_visibility="private",
          trigger_mode="always_last", show_progress="minimal")
    return {"preset": preset}
