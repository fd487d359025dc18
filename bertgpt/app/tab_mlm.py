"""Tab 2, MLM masking: which tokens BERT is asked about, what it sees there, and what the
loss compares against. Everything comes from `mlm.mask_text`'s trace; this module only
draws it (and runs the bundled BERT on the very input it shows, for "predict")."""
from __future__ import annotations

import random
from functools import lru_cache

import gradio as gr
import torch

from ..course import viz
from ..io.assets import world_tokenizer
from ..text.corpus import generate_world, world_documents
from ..text.mlm import mask_text, mask_tokens
from .common import PALETTE, check_known, check_text, friendly, get_model, live
from .i18n import t

ID = "mlm"
LABEL = t("mlm.title")
MAX_CHARS = 2000
MAX_PANELS = 8  # prediction panels drawn; more would not fit a projected screen
DEFAULT_TEXT = ("Every morning, Anna wakes up early and drinks a cup of tea. The waiter was "
                "friendly and the service was fast.")
DEFAULT_SEED = 250  # all three fates on the default text, and BERT gets most of them right
FATE_COLOURS = {"→ [MASK]": PALETTE["sky"], "→ random": PALETTE["orange"],
                "→ kept": PALETTE["green"], "masked": PALETTE["sky"],
                "random": PALETTE["orange"], "kept": PALETTE["green"],
                "target": PALETTE["purple"]}
LEGEND = ("Selected tokens carry a label: **→ [MASK]** (80%), **→ random** (10%, a random "
          "real token), **→ kept** (10%, unchanged). Unlabelled tokens were not selected. "
          "In the labels row, **−100** means *ignored*: the loss skips that position.")


@lru_cache(maxsize=2)
def _corpus_ids(tok) -> torch.Tensor:
    """The world corpus as one row of ids, each document wrapped in [CLS] ... [SEP]."""
    docs = generate_world(seed=0, size=200_000).split("\n\n")
    cls, sep = tok.special_id("cls"), tok.special_id("sep")
    return torch.tensor([t for ids in tok.encode_batch(docs) for t in [cls, *ids, sep]])


@lru_cache(maxsize=64)
def _rates(tok, seed, prob, mask_rate, random_rate):
    res = mask_tokens(_corpus_ids(tok), mask_id=tok.special_id("mask"),
                      special_ids=tok.special_ids, vocab_size=tok.vocab_size, prob=prob,
                      mask_rate=mask_rate, random_rate=random_rate, seed=seed)
    c = res.counts()
    names = ("selected (of maskable)", "→ [MASK] (of selected)", "→ random (of selected)",
             "→ kept (of selected)")
    observed = dict(zip(names, (c["selected_rate"], c["masked_share"], c["random_share"],
                                c["kept_share"])))
    expected = dict(zip(names, (prob, mask_rate, random_rate, 1 - mask_rate - random_rate)))
    return viz.rate_bars(observed, expected, title=f"Over {c['maskable']:,} maskable tokens "
                         f"of the world corpus: {c['selected']:,} selected")


def _rows(trace):
    fate, model_in, labels = [], [], []
    for t in trace:
        sel = t["fate"] != "not selected"
        fate += [(t["original_token"], f"→ {t['fate']}" if sel else None), (" ", None)]
        model_in += [(t["input_token"], ("masked" if t["fate"] == "[MASK]" else t["fate"])
                      if sel else None), (" ", None)]
        labels += [(f"{t['original_token']} ({t['label']})", "target") if sel
                   else ("−100", None), (" ", None)]
    return fate[:-1], model_in[:-1], labels[:-1]


def _counts_md(c, seed):
    return (f"**Seed {seed}.** {c['maskable']} tokens could be picked ([CLS] and [SEP] never "
            f"are); **{c['selected']}** were ({c['selected_rate']:.0%}): {c['masked']} → "
            f"[MASK], {c['random']} → random, {c['kept']} kept. Only these {c['selected']} "
            "positions enter the loss. Short texts wander far from 15%: the chart below "
            "measures the same settings over the whole corpus.")


def _settings(text, seed, prob, mask_rate, random_rate):
    text = check_text(text, "text", MAX_CHARS)
    if seed is None or not 0 <= seed < 2**31:
        raise gr.Error("The seed must be a whole number from 0 to 2147483647.")
    return text, int(seed), float(prob), float(mask_rate), float(random_rate)


@friendly
def mask(text, seed, prob, mask_rate, random_rate):
    """Mask text as BERT's masked-language-model pre-training does and show each token's
    fate: not selected, [MASK], random token, or kept; the labels are -100 where ignored.

    Args:
        text: English text to mask.
        seed: random seed; the same seed gives the same masking everywhere.
        prob: share of tokens selected for prediction (BERT: 0.15).
        mask_rate: share of selected tokens replaced by [MASK] (BERT: 0.8).
        random_rate: share of selected tokens replaced by a random token (BERT: 0.1).
    Returns:
        each token's fate, the model's input row, the labels row, counts, expected vs
        measured rates.
    """
    text, seed, prob, mask_rate, random_rate = _settings(text, seed, prob, mask_rate,
                                                         random_rate)
    tok = world_tokenizer("wordpiece")
    check_known(tok, text)
    res = mask_text(text, tok, seed=seed, prob=prob, mask_rate=mask_rate,
                    random_rate=random_rate)
    fate, model_in, labels = _rows(res["tokens"])
    return (fate, model_in, labels, _counts_md(res["counts"], seed),
            _rates(tok, seed, prob, mask_rate, random_rate))


@torch.no_grad()
def _predict_panels(loaded, res, top_k):
    tok, model = loaded.tokenizer, loaded.model
    picked = [t for t in res["tokens"] if t["label"] is not None]
    if not picked:
        return []
    ids = torch.tensor([[t["input_id"] for t in res["tokens"]]])
    logits = model(ids).mlm_logits[0, [t["position"] for t in picked[:MAX_PANELS]]]
    probs = logits.float().softmax(-1)
    probs[:, tok.special_ids] = 0  # a special token is never a word to fill in
    panels = []
    for t, p in zip(picked, probs):
        top = torch.topk(p, top_k)
        shown = t["input_token"] if t["fate"] != "[MASK]" else "[MASK]"
        panels.append({
            "title": f"position {t['position']}: '{t['original_token']}' → {t['fate']}"
                     + (f" ('{shown}')" if t["fate"] == "random" else ""),
            "candidates": [{"token": tok.id_to_token(int(i)), "prob": float(v)}
                           for v, i in zip(top.values, top.indices)],
            "answer": t["original_token"], "answer_prob": float(p[t["label"]]),
            "answer_rank": int((p > p[t["label"]]).sum()) + 1})
    return panels


@friendly
def mask_predict(text, seed, prob, mask_rate, random_rate, top_k, source, own=None):
    """The chosen BERT's top-k guesses at every selected position of the masked input."""
    text, seed, prob, mask_rate, random_rate = _settings(text, seed, prob, mask_rate,
                                                         random_rate)
    loaded = get_model("bert", source, own)
    tok = loaded.tokenizer
    check_known(tok, text)
    res = mask_text(text, tok, seed=seed, prob=prob, mask_rate=mask_rate,
                    random_rate=random_rate, max_tokens=loaded.cfg.block_size)
    panels = _predict_panels(loaded, res, int(top_k))
    if not panels:
        return (viz.empty("No position was selected with this seed: re-roll, or raise the "
                          "selection rate."), "Nothing to predict.")
    right = sum(p["answer_rank"] == 1 for p in panels)
    more = len([t for t in res["tokens"] if t["label"] is not None]) - len(panels)
    md = (f"**{right} of {len(panels)}** selected positions have the right token (✓, green) "
          "as the model's first guess. The model sees the same input row as above: at a "
          "**random** or **kept** position it must still say what belongs there.")
    if more > 0:
        md += f" ({more} more selected position(s) not drawn.)"
    return viz.prediction_bars(panels, title=f"{source.capitalize()} BERT, top {top_k}"), md


def _follow(text, seed, prob, mask_rate, random_rate, top_k, source, own=None):
    """Keep the guesses in step with the masking above, so they never describe another
    text or seed; quietly, since the masking event already reports bad input."""
    try:
        return mask_predict(text, seed, prob, mask_rate, random_rate, top_k, source, own)
    except gr.Error as e:
        return viz.empty("Press Predict to see BERT's guesses."), e.message


def _corpus_sentence(seed):
    docs = world_documents(seed=0, n_docs=200)
    rng = random.Random(int(seed or 0))
    return rng.choice(rng.choice(docs).sentences)


def build(ctx) -> dict:
    with gr.Row():
        text = gr.Textbox(DEFAULT_TEXT, label=t("mlm.text"), lines=2, max_lines=6, scale=3)
        with gr.Column(scale=1, min_width=200):
            seed = gr.Number(DEFAULT_SEED, label=t("mlm.seed"), precision=0, minimum=0,
                             maximum=2**31 - 1)
            with gr.Row():
                reroll = gr.Button(t("mlm.reroll"), size="sm")
                pick = gr.Button(t("mlm.pick"), size="sm")
    with gr.Row():
        prob = gr.Slider(0, 1, value=0.15, step=0.01, label=t("mlm.prob"),
                         info=t("mlm.prob.info"))
        mask_rate = gr.Slider(0, 1, value=0.8, step=0.05, label=t("mlm.mask_rate"),
                              info="BERT: 80%")
        random_rate = gr.Slider(0, 1, value=0.1, step=0.05, label=t("mlm.random_rate"),
                                info=t("mlm.random_rate.info"))
    go = gr.Button(t("mlm.go"), variant="primary")
    first = mask(DEFAULT_TEXT, DEFAULT_SEED, 0.15, 0.8, 0.1)
    gr.Markdown(LEGEND, elem_classes=["token-legend"])
    chips = dict(color_map=FATE_COLOURS, show_legend=False, elem_classes=["tokens"])
    fate = gr.HighlightedText(first[0], label=t("mlm.fate"),
                              **chips)
    model_in = gr.HighlightedText(first[1], label=t("mlm.model_in"),
                                  **chips)
    labels = gr.HighlightedText(first[2], **chips,
                                label=t("mlm.labels"))
    counts = gr.Markdown(first[3])
    rates = gr.Plot(first[4], label=t("mlm.rates"), show_label=False)
    with gr.Group():
        with gr.Row():
            source = gr.Radio([(t("mlm.source.bundled"), "bundled"), (t("mlm.source.own"), "own")],
                              value="bundled", label=t("mlm.source"),
                              info=t("mlm.source.info"))
            top_k = gr.Slider(1, 10, value=5, step=1, label=t("mlm.top_k"))
        predict = gr.Button(t("mlm.predict"),
                            variant="secondary")
    try:
        first_pred = mask_predict(DEFAULT_TEXT, DEFAULT_SEED, 0.15, 0.8, 0.1, 5, "bundled")
    except gr.Error as e:  # no bundled BERT yet: the tab still builds and says why
        first_pred = (viz.empty(e.message), e.message)
    pred_md = gr.Markdown(first_pred[1])
    pred_plot = gr.Plot(first_pred[0], label=t("mlm.pred_plot"),
                        show_label=False)

    inputs = [text, seed, prob, mask_rate, random_rate]
    shown = [fate, model_in, labels, counts, rates]
    # The button asks on purpose: a refusal is a toast. Typing and the settings follow
    # live, so a box on its way to the next text gets a note (common.live).
    for triggers, fn, named in (
            ([go.click], mask, dict(api_name="mask")),
            ([text.change, seed.change, prob.change, mask_rate.change, random_rate.change],
             live(mask, shown.index(counts), len(shown)), dict(api_visibility="private"))):
        gr.on(triggers, fn, inputs, shown, trigger_mode="always_last",
              show_progress="minimal", **named).success(
            _follow, inputs + [top_k, source, ctx.own], [pred_plot, pred_md],
            api_visibility="private", show_progress="hidden")
    reroll.click(lambda s: int(s or 0) + 1, seed, seed, api_visibility="private",
                 show_progress="hidden")
    pick.click(_corpus_sentence, seed, text, api_visibility="private", show_progress="hidden")
    predict.click(mask_predict, inputs + [top_k, source, ctx.own], [pred_plot, pred_md],
                  api_name="mask_predict")
    return {"text": text, "seed": seed, "prob": prob, "mask_rate": mask_rate,
            "random_rate": random_rate}
