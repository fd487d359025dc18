"""Fill-mask: BERT's guesses for every [MASK] in a sentence, from the bundled mini or the
BERT you trained in "Train live"."""
from __future__ import annotations

import re

import gradio as gr

from ..model import lens, sampling
from .common import as_text, friendly, get_model, real_choices
from .i18n import say, t
from .plots_live import as_plot, fillmask_figure, lens_figure, model_note

ID = "fillmask"
LABEL = t("fillmask.title")

SOURCES = [(t("fillmask.source.bundled"), "bundled"), (t("fillmask.source.own"), "own")]
EXAMPLES = ["the capital of france is [MASK] .",
            "people in korea speak [MASK] .",
            "[MASK] is a baker who lives in [MASK] , the capital of austria ."]
MAX_CHARS = 2000
LENS_POSITIONS = 12  # columns of the lens grid: more and the cells only fit 3 letters
LENS_TOP = 5         # guesses per cell in the lens's hover


def _filled(text: str, results: list[dict]) -> str:
    """The sentence with each [MASK] replaced by BERT's first choice, in bold."""
    best = iter(r["candidates"][0]["token"] for r in results)

    def one(_match):
        token = next(best, "[MASK]")
        return f"**{as_text(token[2:] if token.startswith('##') else token)}**"
    # The user's words are escaped: "<b>" typed in the sentence is shown, not applied.
    return re.sub(re.escape("[MASK]"), one, as_text(text))


def quietly(fn, n_outputs: int):
    """`fn` for the events no one clicked (page load, the language switch): a refusal
    keeps the outputs as they are (gr.skip) instead of raising an error toast."""
    def wrapper(*args):
        try:
            return fn(*args)
        except gr.Error:
            return tuple(gr.skip() for _ in range(n_outputs))
    wrapper.__name__ = f"{fn.__name__}_quietly"
    return wrapper


def link_values(request, tab_id: str, fields: dict) -> dict:
    """fields (name -> (component, current value)) with the values a class link
    (?tab=<tab_id>&name=...) gives, as open_link will set them: the opening view is
    computed at page load, before open_link's updates reach the page's components."""
    from . import _coerce  # the app's one parser of link values
    params = dict(request.query_params) if request is not None else {}
    out = {name: value for name, (_, value) in fields.items()}
    if params.get("tab") == tab_id:
        for name, (component, _) in fields.items():
            if name in params and (value := _coerce(component, params[name])) is not None:
                out[name] = value
    return out


def _check(text, top_k, source, own, lang) -> tuple[str, int]:
    """The refusals of this tab, in the page's language, before any model runs."""
    if text is None or not str(text).strip():
        raise gr.Error(say(lang, "fillmask.err.empty"))
    if len(text) > MAX_CHARS:
        raise gr.Error(say(lang, "fillmask.err.long", n=f"{len(text):,}", limit=f"{MAX_CHARS:,}"))
    if "[MASK]" not in text:
        raise gr.Error(say(lang, "fillmask.err.no_mask"))
    try:
        k = int(top_k)
    except (TypeError, ValueError):
        k = None
    if k is None or k != top_k or not 1 <= k <= 50:
        raise gr.Error(say(lang, "fillmask.err.top_k", value=top_k))
    if source == "own" and not (own and "bert" in own):
        raise gr.Error(say(lang, "fillmask.err.no_own"))
    return text, k


def _sequence(loaded, text: str, lang: str) -> list[int]:
    """The ids BERT reads for the sentence, as sampling.fill_mask builds them:
    [CLS] sentence [SEP]; refused in the page's language when the model cannot read it."""
    tok = loaded.tokenizer
    ids = [tok.special_id("cls")] + tok.encode(text) + [tok.special_id("sep")]
    if len(ids) > loaded.model.cfg.block_size:
        raise gr.Error(say(lang, "fillmask.err.tokens", n=len(ids),
                           limit=loaded.model.cfg.block_size))
    return ids


@friendly
def fill_mask(text, top_k, source, own, lang="en"):
    """BERT's top-k guesses for each [MASK] in a sentence.

    Args:
        text: an English sentence with one or more [MASK].
        top_k: how many guesses to show per [MASK].
        source: bundled (the mini BERT), own (the session's trained BERT) or a real model.
        lang: the page's language ("en", "ko"), for the text written here.
    Returns:
        a bar chart per mask, the sentence filled with the top guesses, and the numbers.
    """
    text, top_k = _check(text, top_k, source, own, lang)
    loaded = get_model("bert", source, own)
    _sequence(loaded, text, lang)
    results = sampling.fill_mask(loaded.model, loaded.tokenizer, text, top_k=top_k)
    note = model_note(loaded, source)
    who = (say(lang, f"fillmask.who.{source}") if source in ("own", "bundled")
           else say(lang, "fillmask.who.real", name=source))
    md = say(lang, "fillmask.result", filled=_filled(text, results), who=who, k=top_k)
    return as_plot(fillmask_figure(results, text, lang)), md, {"model": note, "masks": results}


@friendly
def fill_lens(text, source, own, lang="en"):
    """The logit lens of the sentence: every layer's hidden state read through BERT's MLM
    head, at most LENS_POSITIONS positions around the first [MASK]. Runs after fill_mask
    (its own event, so the guesses show first and the API's answer keeps its shape).
    Returns the figure and a note saying what it shows."""
    text, _ = _check(text, 1, source, own, lang)
    loaded = get_model("bert", source, own)
    ids = _sequence(loaded, text, lang)
    tok = loaded.tokenizer
    mask_id = tok.special_id("mask")
    first = next((i for i, t in enumerate(ids) if t == mask_id), 0)
    positions = lens.window(len(ids), LENS_POSITIONS, keep=first)
    trace = lens.logit_lens(loaded.model, ids, top=LENS_TOP, positions=positions)
    label = lambda i: tok.id_to_token(i) or f"#{i}"  # noqa: E731  (rows past the vocabulary)
    note = say(lang, "fillmask.lens.note", layers=trace["n_layers"], first=positions[0],
               last=positions[-1], total=len(ids), k=LENS_TOP)
    return as_plot(lens_figure(trace, label, lang, k=LENS_TOP)), note


def build(ctx) -> dict:
    gr.Markdown(t("fillmask.intro.md"))
    text = gr.Textbox(value=EXAMPLES[0], label=t("fillmask.text"), max_length=MAX_CHARS)
    gr.Examples([[e] for e in EXAMPLES], inputs=[text], label=t("fillmask.examples"))
    with gr.Row():
        source = gr.Radio(SOURCES + real_choices("bert"), value="bundled",
                          label=t("fillmask.source"))
        top_k = gr.Slider(1, 20, value=5, step=1, label=t("fillmask.top_k"))
    go = gr.Button(t("fillmask.go"), variant="primary")
    filled = gr.Markdown()
    plot = gr.Plot(label=t("fillmask.plot"), show_label=False)
    with gr.Accordion(t("fillmask.lens"), open=True):
        lens_md = gr.Markdown()
        lens_plot = gr.Plot(label=t("fillmask.lens_plot"), show_label=False)
    with gr.Accordion(t("fillmask.numbers"), open=False):
        data = gr.JSON(label=t("fillmask.data"))
    inputs = [text, top_k, source, ctx.own, ctx.lang]
    outputs = [plot, filled, data]
    lens_in, lens_out = [text, source, ctx.own, ctx.lang], [lens_plot, lens_md]
    for event in (go.click(fill_mask, inputs, outputs, api_name="fill_mask"),
                  text.submit(fill_mask, inputs, outputs, api_visibility="private")):
        event.success(fill_lens, lens_in, lens_out, api_visibility="private",
                      show_progress="hidden")
    # The tab opens with its example answered, as the other tabs open with a result, and
    # the answer is rewritten when the page's language changes (bundled BERT: ~30 ms).
    # Nobody clicked, so a refusal there (a box emptied, then the language switched)
    # leaves the view as it was instead of raising a toast.
    quiet, quiet_lens = quietly(fill_mask, len(outputs)), quietly(fill_lens, len(lens_out))

    def opening(text_value, k, src, own, lang, request: gr.Request):
        """The view the tab opens with: its settings, or a class link's."""
        v = link_values(request, ID, {"text": (text, text_value), "top_k": (top_k, k),
                                      "source": (source, src)})
        return (*quiet(v["text"], v["top_k"], v["source"], own, lang),
                *quiet_lens(v["text"], v["source"], own, lang))

    ctx.demo.load(opening, inputs, outputs + lens_out, api_visibility="private",
                  show_progress="hidden")
    ctx.lang.change(quiet, inputs, outputs, api_visibility="private", show_progress="hidden"
                    ).then(quiet_lens, lens_in, lens_out, api_visibility="private",
                           show_progress="hidden")
    return {"text": text, "top_k": top_k, "source": source}
