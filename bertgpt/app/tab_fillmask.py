"""Fill-mask: BERT's guesses for every [MASK] in a sentence, from the bundled mini or the
BERT you trained in "Train live"."""
from __future__ import annotations

import re

import gradio as gr

from ..model import sampling
from .common import as_text, check_text, friendly, get_model, real_choices
from .i18n import t
from .plots_live import as_plot, fillmask_figure, model_note

ID = "fillmask"
LABEL = t("fillmask.title")

SOURCES = [(t("fillmask.source.bundled"), "bundled"), (t("fillmask.source.own"), "own")]
EXAMPLES = ["the capital of france is [MASK] .",
            "people in korea speak [MASK] .",
            "[MASK] is a baker who lives in [MASK] , the capital of austria ."]
MAX_CHARS = 2000


def _filled(text: str, results: list[dict]) -> str:
    """The sentence with each [MASK] replaced by BERT's first choice, in bold."""
    best = iter(r["candidates"][0]["token"] for r in results)

    def one(_match):
        token = next(best, "[MASK]")
        return f"**{as_text(token[2:] if token.startswith('##') else token)}**"
    # The user's words are escaped: "<b>" typed in the sentence is shown, not applied.
    return re.sub(re.escape("[MASK]"), one, as_text(text))


@friendly
def fill_mask(text, top_k, source, own):
    """BERT's top-k guesses for each [MASK] in a sentence.

    Args:
        text: an English sentence with one or more [MASK].
        top_k: how many guesses to show per [MASK].
        source: bundled (the mini BERT), own (the session's trained BERT) or a real model.
    Returns:
        a bar chart per mask, the sentence filled with the top guesses, and the numbers.
    """
    text = check_text(text, "sentence", max_chars=MAX_CHARS)
    if "[MASK]" not in text:
        raise gr.Error("Write [MASK] (capitals, in brackets) where BERT should guess a word, "
                       "e.g. 'the capital of france is [MASK] .'")
    top_k = int(top_k)
    if not 1 <= top_k <= 50:
        raise gr.Error("Top-k must be between 1 and 50.")
    loaded = get_model("bert", source, own)
    results = sampling.fill_mask(loaded.model, loaded.tokenizer, text, top_k=top_k)
    note = model_note(loaded, source)
    who = {"own": "your own BERT", "bundled": "the bundled BERT mini"}.get(
        source, f"the real {source}, run by the from-scratch core")
    md = (f"{_filled(text, results)}  \n*First choices of {who}; the bars show the top "
          f"{top_k} per mask.*")
    return as_plot(fillmask_figure(results, text)), md, {"model": note, "masks": results}


def build(ctx) -> dict:
    gr.Markdown("Write a sentence with one or more **[MASK]**. BERT reads the whole sentence "
                "at once — words on both sides of the gap — and scores every word in its "
                "vocabulary for each gap.")
    text = gr.Textbox(value=EXAMPLES[0], label=t("fillmask.text"), max_length=MAX_CHARS)
    gr.Examples([[e] for e in EXAMPLES], inputs=[text], label=t("fillmask.examples"))
    with gr.Row():
        source = gr.Radio(SOURCES + real_choices("bert"), value="bundled",
                          label=t("fillmask.source"))
        top_k = gr.Slider(1, 20, value=5, step=1, label=t("fillmask.top_k"))
    go = gr.Button(t("fillmask.go"), variant="primary")
    filled = gr.Markdown()
    plot = gr.Plot(label=t("fillmask.plot"), show_label=False)
    with gr.Accordion(t("fillmask.numbers"), open=False):
        data = gr.JSON(label=t("fillmask.data"))
    go.click(fill_mask, [text, top_k, source, ctx.own], [plot, filled, data], api_name="fill_mask")
    text.submit(fill_mask, [text, top_k, source, ctx.own], [plot, filled, data],
                api_visibility="private")
    return {"text": text, "top_k": top_k, "source": source}
