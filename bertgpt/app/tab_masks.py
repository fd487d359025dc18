"""Tab 4, attention masks: who may look at whom in BERT (bidirectional) and GPT (causal),
what padding adds for a batch of sentences of different lengths, and how a mask turns raw
scores into −∞ and then, after softmax, into zero weight. `masks.explain_mask` computes
everything; this module draws it."""
from __future__ import annotations

import gradio as gr

from ..course import viz
from ..io.assets import world_tokenizer
from ..model.masks import KINDS, explain_mask
from .common import check_known, check_text, friendly, live, viz_words
from .i18n import say, t

ID = "masks"
LABEL = t("masks.title")
MAX_SENTENCES = 4
MAX_TOKENS = 16  # a 16 x 16 grid is the largest a projector shows legibly
CHOICES = [(t("masks.kind.bidirectional"), "bidirectional"), (t("masks.kind.causal"), "causal"),
           (t("masks.kind.padding"), "padding"),
           (t("masks.kind.causal_padding"), "causal+padding")]
def _name(kind: str, lang: str) -> str:
    """A mask kind's name as its choice shows it, in `lang`."""
    return say(lang, f"masks.kind.{kind.replace('+', '_')}")
DEFAULT_TEXT = "the cat eats fish\nthe dog barks at the cat\nhello"
DEFAULT_KIND = "causal+padding"
def _batch(text: str, lang: str = "en") -> list[list[str]]:
    """Sentences (one per line) -> WordPiece token strings. The masks do not depend on the
    tokenizer, so one (BERT's, lowercase and readable) labels every grid."""
    lines = [line.strip() for line in check_text(text, "sentences box", 2000).splitlines()
             if line.strip()]
    if len(lines) > MAX_SENTENCES:
        raise gr.Error(say(lang, "masks.err.sentences", most=MAX_SENTENCES, n=len(lines)))
    tok = world_tokenizer("wordpiece")
    check_known(tok, " ".join(lines), "sentences")
    batch = []
    for n, line in enumerate(lines, start=1):
        pieces = [tok.id_to_token(i) for i in tok.encode(line)]
        if len(pieces) > MAX_TOKENS:
            raise gr.Error(say(lang, "masks.err.tokens", k=n, n=len(pieces),
                               limit=MAX_TOKENS + 1))
        batch.append(pieces)
    return batch


def _padded(batch, T):
    return [toks + ["[PAD]"] * (T - len(toks)) for toks in batch]


@friendly
def masks(text, kind, seed, inspect, lang="en"):
    """Attention masks as grids (True = may attend): bidirectional (BERT), causal (GPT),
    padding, or causal+padding, and one sentence's scores before and after masking.

    Args:
        text: one sentence a line; shorter lines are padded to the longest.
        kind: bidirectional, causal, padding or causal+padding.
        seed: seed of the random scores shown for the inspected sentence.
        inspect: which sentence (line number, from 0) to show scores for.
        lang: the language of what is written back ("en" or "ko").
    Returns:
        the batch's mask grids, the four kinds side by side, the scores through masking
        and softmax, and an explanation.
    """
    if kind not in KINDS:
        raise gr.Error(say(lang, "masks.err.kind", kinds=", ".join(KINDS)))
    if seed is None or not 0 <= seed < 2**31:
        raise gr.Error(say(lang, "app.err.seed"))
    batch = _batch(text, lang)
    words = viz_words(lang)
    lengths = [len(t) for t in batch]
    ex = explain_mask(kind, lengths, seed=int(seed))
    toks = _padded(batch, ex["T"])
    row = min(max(int(inspect), 1), len(batch)) - 1
    grids = viz.mask_grids(
        ex["allowed"], toks, [say(lang, "masks.panel", k=i + 1, n=n) + (
            f" + {ex['T'] - n} [PAD]" if n < ex["T"] else "") for i, n in enumerate(lengths)],
        title=say(lang, "masks.grids.title", kind=_name(kind, lang), T=ex["T"]), words=words)
    compare = viz.mask_grids(
        [explain_mask(k, lengths)["allowed"][row] for k in KINDS], [toks[row]] * 4,
        [_name(k, lang).replace(" (", "<br>(") for k in KINDS],
        title=say(lang, "masks.compare.title", k=row + 1), words=words)
    scores = viz.score_panels(ex["scores"][row], ex["masked_scores"][row], ex["softmax"][row],
                              toks[row], words=words, title=say(
                                  lang, "masks.scores.title", k=row + 1, kind=_name(kind, lang)))
    md = say(lang, "masks.explain", kind=_name(kind, lang),
             why=say(lang, f"masks.why.{kind.replace('+', '_')}"),
             legend=f"{words['row_title']}, {words['col_title']}")
    if any(ex["empty_rows"]):
        md += " " + say(lang, "masks.empty_rows")
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
    inputs, shown = [text, kind, seed, inspect, ctx.lang], [grids, compare, scores, md]
    # The button asks on purpose: a refusal is a toast. Typing and the settings follow
    # live, so a box on its way to the next text gets a note (common.live).
    gr.on([go.click], masks, inputs, shown, api_name="masks",
          trigger_mode="always_last", show_progress="minimal")
    gr.on([text.change, kind.change, seed.change, inspect.change, ctx.lang.change],
          live(masks, shown.index(md), len(shown)), inputs, shown,
          api_visibility="private", trigger_mode="always_last", show_progress="minimal")
    return {"text": text, "kind": kind, "seed": seed, "inspect": inspect}
