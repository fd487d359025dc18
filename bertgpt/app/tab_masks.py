"""Tab 4, attention masks: who may look at whom in BERT (bidirectional) and GPT (causal),
what padding adds for a batch of sentences of different lengths, and how a mask turns raw
scores into −∞ and then, after softmax, into zero weight. `masks.explain_mask` computes
everything; this module draws it."""
from __future__ import annotations

import gradio as gr

from ..course import viz
from ..io.assets import world_tokenizer
from ..model.masks import KINDS, LEGEND, explain_mask
from .common import check_known, check_text, friendly, live
from .i18n import t

ID = "masks"
LABEL = t("masks.title")
MAX_SENTENCES = 4
MAX_TOKENS = 16  # a 16 x 16 grid is the largest a projector shows legibly
CHOICES = [(t("masks.kind.bidirectional"), "bidirectional"), (t("masks.kind.causal"), "causal"),
           (t("masks.kind.padding"), "padding"),
           (t("masks.kind.causal_padding"), "causal+padding")]
NAMES = {v: k for k, v in CHOICES}
DEFAULT_TEXT = "the cat eats fish\nthe dog barks at the cat\nhello"
DEFAULT_KIND = "causal+padding"
WHY = {
    "bidirectional": "BERT's encoder: every token sees every token, left and right. Nothing "
                     "is hidden — not even padding, which is why a real batch needs the "
                     "padding mask too.",
    "causal": "GPT's decoder: a token sees itself and what came before, never the future it "
              "is trained to predict. The ✗ triangle above the diagonal is the whole "
              "difference from BERT.",
    "padding": "BERT on a batch: shorter sentences are filled with [PAD] up to the longest. "
               "No token may look at a [PAD] column; [PAD] rows still look at real tokens "
               "(their output is thrown away), which keeps every softmax row finite.",
    "causal+padding": "GPT on a batch: causal AND padding — the two masks combined with a "
                      "logical and. A cell is ✓ only if both masks allow it.",
}


def _batch(text: str) -> list[list[str]]:
    """Sentences (one per line) -> WordPiece token strings. The masks do not depend on the
    tokenizer, so one (BERT's, lowercase and readable) labels every grid."""
    lines = [line.strip() for line in check_text(text, "sentences box", 2000).splitlines()
             if line.strip()]
    if len(lines) > MAX_SENTENCES:
        raise gr.Error(f"Give at most {MAX_SENTENCES} sentences (one per line); got "
                       f"{len(lines)}.")
    tok = world_tokenizer("wordpiece")
    check_known(tok, " ".join(lines), "sentences")
    batch = []
    for n, line in enumerate(lines, start=1):
        pieces = [tok.id_to_token(i) for i in tok.encode(line)]
        if len(pieces) > MAX_TOKENS:
            raise gr.Error(f"Sentence {n} is {len(pieces)} tokens; keep each under "
                           f"{MAX_TOKENS + 1} so the grid stays readable.")
        batch.append(pieces)
    return batch


def _padded(batch, T):
    return [toks + ["[PAD]"] * (T - len(toks)) for toks in batch]


@friendly
def masks(text, kind, seed, inspect):
    """Attention masks as grids (True = may attend): bidirectional (BERT), causal (GPT),
    padding, or causal+padding, and one sentence's scores before and after masking.

    Args:
        text: one sentence a line; shorter lines are padded to the longest.
        kind: bidirectional, causal, padding or causal+padding.
        seed: seed of the random scores shown for the inspected sentence.
        inspect: which sentence (line number, from 0) to show scores for.
    Returns:
        the batch's mask grids, the four kinds side by side, the scores through masking
        and softmax, and an explanation.
    """
    if kind not in KINDS:
        raise gr.Error(f"Pick a mask kind: one of {', '.join(KINDS)}.")
    if seed is None or not 0 <= seed < 2**31:
        raise gr.Error("The seed must be a whole number from 0 to 2147483647.")
    batch = _batch(text)
    lengths = [len(t) for t in batch]
    ex = explain_mask(kind, lengths, seed=int(seed))
    toks = _padded(batch, ex["T"])
    row = min(max(int(inspect), 1), len(batch)) - 1
    grids = viz.mask_grids(
        ex["allowed"], toks, [f"sentence {i + 1}: {n} tokens" + (
            f" + {ex['T'] - n} [PAD]" if n < ex["T"] else "") for i, n in enumerate(lengths)],
        title=f"{NAMES[kind]}: the batch, padded to {ex['T']} tokens")
    compare = viz.mask_grids(
        [explain_mask(k, lengths)["allowed"][row] for k in KINDS], [toks[row]] * 4,
        [NAMES[k].replace(" (", "<br>(") for k in KINDS],
        title=f"Sentence {row + 1} under all four masks")
    scores = viz.score_panels(ex["scores"][row], ex["masked_scores"][row], ex["softmax"][row],
                              toks[row], title=f"Sentence {row + 1}, {kind}: from scores to "
                              "attention weights")
    md = (f"**{NAMES[kind]}.** {WHY[kind]}\n\n*How to read a grid:* {LEGEND}. ✓ = may attend, "
          "✗ = hidden. In the scores, a hidden cell becomes −∞; softmax turns e^−∞ into "
          "exactly 0, so the row's weight is shared among the ✓ cells only.")
    if any(ex["empty_rows"]):
        md += " Some rows may see nothing; their weights are shown as 0 instead of NaN."
    return grids, compare, scores, md


def build(ctx) -> dict:
    with gr.Row():
        text = gr.Textbox(DEFAULT_TEXT, label=t("masks.text"),
                          lines=3, max_lines=4, scale=2)
        with gr.Column(scale=1, min_width=240):
            kind = gr.Radio(CHOICES, value=DEFAULT_KIND, label=t("masks.kind"))
    with gr.Row():
        inspect = gr.Slider(1, MAX_SENTENCES, value=1, step=1, label=t("masks.inspect"))
        seed = gr.Number(0, label=t("masks.seed"), precision=0, minimum=0,
                         maximum=2**31 - 1)
        go = gr.Button(t("masks.go"), variant="primary")
    first = masks(DEFAULT_TEXT, DEFAULT_KIND, 0, 1)
    md = gr.Markdown(first[3])
    grids = gr.Plot(first[0], label=t("masks.grids"), show_label=False)
    compare = gr.Plot(first[1], label=t("masks.compare"), show_label=False)
    scores = gr.Plot(first[2], label=t("masks.scores"), show_label=False)
    inputs, shown = [text, kind, seed, inspect], [grids, compare, scores, md]
    # The button asks on purpose: a refusal is a toast. Typing and the settings follow
    # live, so a box on its way to the next text gets a note (common.live).
    gr.on([go.click], masks, inputs, shown, api_name="masks",
          trigger_mode="always_last", show_progress="minimal")
    gr.on([text.change, kind.change, seed.change, inspect.change],
          live(masks, shown.index(md), len(shown)), inputs, shown,
          api_visibility="private", trigger_mode="always_last", show_progress="minimal")
    return {"text": text, "kind": kind, "seed": seed, "inspect": inspect}
