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
from .common import PALETTE, check_known, check_text, friendly, get_model, live, viz_words
from .i18n import LANGS, say, t

ID = "mlm"
LABEL = t("mlm.title")
MAX_CHARS = 2000
MAX_PANELS = 8  # prediction panels drawn; more would not fit a projected screen
DEFAULT_TEXT = ("Every morning, Anna wakes up early and drinks a cup of tea. The waiter was "
                "friendly and the service was fast.")
DEFAULT_SEED = 250  # all three fates on the default text, and BERT gets most of them right
# A chip's label is a word of the page's language; the colours of both languages' words
# sit in one map, so the chips need no new map when the language changes.
_FATE_COLOUR = {"to_mask": "sky", "to_random": "orange", "to_kept": "green", "masked": "sky",
                "random": "orange", "kept": "green", "target": "purple"}
FATE_COLOURS = {say(lang, f"mlm.chip.{key}"): PALETTE[colour] for lang in LANGS
                for key, colour in _FATE_COLOUR.items()}
_FATE_KEY = {"[MASK]": "masked", "random": "random", "kept": "kept"}  # mask_text's fates
_TO = {"masked": "mask", "random": "random", "kept": "kept"}


@lru_cache(maxsize=2)
def _corpus_ids(tok) -> torch.Tensor:
    """The world corpus as one row of ids, each document wrapped in [CLS] ... [SEP]."""
    docs = generate_world(seed=0, size=200_000).split("\n\n")
    cls, sep = tok.special_id("cls"), tok.special_id("sep")
    return torch.tensor([t for ids in tok.encode_batch(docs) for t in [cls, *ids, sep]])


@lru_cache(maxsize=64)
def _rates(tok, seed, prob, mask_rate, random_rate, lang="en"):
    res = mask_tokens(_corpus_ids(tok), mask_id=tok.special_id("mask"),
                      special_ids=tok.special_ids, vocab_size=tok.vocab_size, prob=prob,
                      mask_rate=mask_rate, random_rate=random_rate, seed=seed)
    c = res.counts()
    names = tuple(say(lang, f"mlm.rate.{k}") for k in ("selected", "masked", "random", "kept"))
    observed = dict(zip(names, (c["selected_rate"], c["masked_share"], c["random_share"],
                                c["kept_share"])))
    expected = dict(zip(names, (prob, mask_rate, random_rate, 1 - mask_rate - random_rate)))
    return viz.rate_bars(observed, expected, words=viz_words(lang), title=say(
        lang, "mlm.rates.title", maskable=f"{c['maskable']:,}", selected=f"{c['selected']:,}"))


def _rows(trace, lang="en"):
    fate, model_in, labels = [], [], []
    target = say(lang, "mlm.chip.target")
    for t in trace:
        sel = t["fate"] != "not selected"
        key = _FATE_KEY.get(t["fate"])
        fate += [(t["original_token"], say(lang, f"mlm.chip.to_{_TO[key]}") if sel else None),
                 (" ", None)]
        model_in += [(t["input_token"], say(lang, f"mlm.chip.{key}") if sel else None),
                     (" ", None)]
        labels += [(f"{t['original_token']} ({t['label']})", target) if sel
                   else ("−100", None), (" ", None)]
    return fate[:-1], model_in[:-1], labels[:-1]


def _counts_md(c, seed, lang="en"):
    return say(lang, "mlm.counts", seed=seed, maskable=c["maskable"], selected=c["selected"],
               rate=f"{c['selected_rate']:.0%}", masked=c["masked"], random=c["random"],
               kept=c["kept"])


def _why(res, tok, lang="en") -> str:
    """What a short sentence makes a student ask, answered in place: why nothing was
    picked (each token is picked on its own, so a few tokens are often all passed over),
    and why everyday words come out in pieces (the bundled vocabulary is the world
    corpus's, not English at large)."""
    notes = []
    c = res["counts"]
    if c["selected"] == 0 and c["maskable"]:
        notes.append(say(lang, "mlm.why.none", n=c["maskable"], p=f"{res['prob']:.2f}",
                         chance=f"{res['p_none']:.0%}"))
    split, word = [], []
    for t in res["tokens"][1:-1] + [{"original_token": ""}]:  # the sentinel ends the last word
        piece = t["original_token"]
        if piece.startswith("##"):
            word.append(piece)
            continue
        if len(word) > 1 and len(split) < 3:
            split.append(" ".join(word))
        word = [piece]
    if split:
        notes.append(say(lang, "mlm.why.split", pieces=", ".join(f"`{w}`" for w in split),
                         vocab=f"{tok.vocab_size:,}"))
    return "".join("\n\n" + n for n in notes)


def _settings(text, seed, prob, mask_rate, random_rate, lang="en"):
    text = check_text(text, "text", MAX_CHARS)
    if seed is None or not 0 <= seed < 2**31:
        raise gr.Error(say(lang, "app.err.seed"))
    return text, int(seed), float(prob), float(mask_rate), float(random_rate)


@friendly
def mask(text, seed, prob, mask_rate, random_rate, lang="en"):
    """Mask text as BERT's masked-language-model pre-training does and show each token's
    fate: not selected, [MASK], random token, or kept; the labels are -100 where ignored.

    Args:
        text: English text to mask.
        seed: random seed; the same seed gives the same masking everywhere.
        prob: share of tokens selected for prediction (BERT: 0.15).
        mask_rate: share of selected tokens replaced by [MASK] (BERT: 0.8).
        random_rate: share of selected tokens replaced by a random token (BERT: 0.1).
        lang: the language of what is written back ("en" or "ko").
    Returns:
        each token's fate, the model's input row, the labels row, counts, expected vs
        measured rates.
    """
    text, seed, prob, mask_rate, random_rate = _settings(text, seed, prob, mask_rate,
                                                         random_rate, lang)
    tok = world_tokenizer("wordpiece")
    check_known(tok, text)
    res = mask_text(text, tok, seed=seed, prob=prob, mask_rate=mask_rate,
                    random_rate=random_rate)
    lang = lang if lang in LANGS else "en"
    fate, model_in, labels = _rows(res["tokens"], lang)
    return (fate, model_in, labels, _counts_md(res["counts"], seed, lang) + _why(res, tok, lang),
            _rates(tok, seed, prob, mask_rate, random_rate, lang))


@torch.no_grad()
def _predict_panels(loaded, res, top_k, lang="en"):
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
        fate = say(lang, f"mlm.chip.{_FATE_KEY[t['fate']]}") if t["fate"] != "[MASK]" \
            else "[MASK]"
        panels.append({
            "title": say(lang, "mlm.panel", position=t["position"], token=t["original_token"],
                         fate=fate) + (f" ('{shown}')" if t["fate"] == "random" else ""),
            "candidates": [{"token": tok.id_to_token(int(i)), "prob": float(v)}
                           for v, i in zip(top.values, top.indices)],
            "answer": t["original_token"], "answer_prob": float(p[t["label"]]),
            "answer_rank": int((p > p[t["label"]]).sum()) + 1})
    return panels


@friendly
def mask_predict(text, seed, prob, mask_rate, random_rate, top_k, source, own=None,
                 lang="en"):
    """The chosen BERT's top-k guesses at every selected position of the masked input."""
    text, seed, prob, mask_rate, random_rate = _settings(text, seed, prob, mask_rate,
                                                         random_rate, lang)
    loaded = get_model("bert", source, own)
    tok = loaded.tokenizer
    check_known(tok, text)
    res = mask_text(text, tok, seed=seed, prob=prob, mask_rate=mask_rate,
                    random_rate=random_rate, max_tokens=loaded.cfg.block_size)
    panels = _predict_panels(loaded, res, int(top_k), lang)
    if not panels:
        return (viz.empty(say(lang, "mlm.none_selected")), say(lang, "mlm.nothing"))
    right = sum(p["answer_rank"] == 1 for p in panels)
    more = len([t for t in res["tokens"] if t["label"] is not None]) - len(panels)
    md = say(lang, "mlm.right", right=right, n=len(panels))
    if more > 0:
        md += " " + say(lang, "mlm.more", n=more)
    which = say(lang, f"mlm.whose.{source}") if source in ("bundled", "own") else source
    return viz.prediction_bars(panels, words=viz_words(lang), title=say(
        lang, "mlm.pred_title", source=which, k=int(top_k))), md


def _follow(text, seed, prob, mask_rate, random_rate, top_k, source, own=None, lang="en"):
    """Keep the guesses in step with the masking above, so they never describe another
    text or seed; quietly, since the masking event already reports bad input."""
    try:
        return mask_predict(text, seed, prob, mask_rate, random_rate, top_k, source, own, lang)
    except gr.Error as e:
        return viz.empty(say(lang, "mlm.press_predict")), e.message


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
    gr.Markdown(t("mlm.legend.md"), elem_classes=["token-legend"])
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

    inputs = [text, seed, prob, mask_rate, random_rate, ctx.lang]
    guess_in = inputs[:-1] + [top_k, source, ctx.own, ctx.lang]
    shown = [fate, model_in, labels, counts, rates]
    # The button asks on purpose: a refusal is a toast. Typing and the settings follow
    # live, so a box on its way to the next text gets a note (common.live).
    for triggers, fn, named in (
            ([go.click], mask, dict(api_name="mask")),
            ([text.change, seed.change, prob.change, mask_rate.change, random_rate.change,
              ctx.lang.change],
             live(mask, shown.index(counts), len(shown)), dict(api_visibility="private"))):
        gr.on(triggers, fn, inputs, shown, trigger_mode="always_last",
              show_progress="minimal", **named).success(
            _follow, guess_in, [pred_plot, pred_md],
            api_visibility="private", show_progress="hidden")
    reroll.click(lambda s: int(s or 0) + 1, seed, seed, api_visibility="private",
                 show_progress="hidden")
    pick.click(_corpus_sentence, seed, text, api_visibility="private", show_progress="hidden")
    predict.click(mask_predict, guess_in, [pred_plot, pred_md],
                  api_name="mask_predict")
    return {"text": text, "seed": seed, "prob": prob, "mask_rate": mask_rate,
            "random_rate": random_rate}
