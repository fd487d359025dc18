"""Generate & sample: watch GPT choose its next token, and see what temperature, top-k and
top-p do to the distribution it draws from.

The order is fixed and shown in the UI: temperature -> top-k -> top-p (sampling.py).
Step mode draws one token per click from exactly the distribution drawn in the chart;
full mode streams a whole continuation, shaded by probability, beside the greedy one.
"""
from __future__ import annotations

import time
from functools import lru_cache

import gradio as gr

from ..model import lens
from ..model.sampling import generate, generate_stream
from .common import as_text, friendly, friendly_gen, get_model, real_choices
from .i18n import say, t
from .tab_fillmask import link_values, quietly
from .plots_live import as_plot, distribution_figure, lens_figure, model_note

ID = "generate"
LABEL = t("generate.title")

SOURCES = [(t("generate.source.bundled"), "bundled"), (t("generate.source.own"), "own")]
MAX_PROMPT = 2000
MAX_NEW = 256
LENS_POSITIONS = 12  # prompt tokens in the lens grid: more and the cells only fit 3 letters
LENS_TOP = 5         # guesses per cell in the lens's hover
STREAM_EVERY = 0.25  # seconds between streamed updates in full mode (4 a second)


def _settings(temperature, top_k, top_p, seed, lang="en"):
    """The sampling settings as numbers, or a refusal in the page's language. Nothing is
    clamped: a temperature below 0 or a top-p of 0 is refused, saying why."""
    try:
        temperature, top_k, top_p, seed = float(temperature), float(top_k), float(top_p), int(seed)
    except (TypeError, ValueError):
        raise gr.Error(say(lang, "generate.err.numbers")) from None
    if not temperature >= 0:  # also NaN
        raise gr.Error(say(lang, "generate.err.temperature", value=f"{temperature:g}"))
    if not (top_k >= 0 and top_k == int(top_k)):
        raise gr.Error(say(lang, "generate.err.top_k", value=f"{top_k:g}"))
    if not 0 < top_p <= 1:
        raise gr.Error(say(lang, "generate.err.top_p", value=f"{top_p:g}"))
    return temperature, int(top_k), top_p, seed


def _prompt(prompt, lang="en") -> str:
    prompt = prompt or ""  # empty is fine: GPT starts from its end-of-text token
    if len(prompt) > MAX_PROMPT:
        raise gr.Error(say(lang, "generate.err.prompt_long", n=f"{len(prompt):,}",
                           limit=f"{MAX_PROMPT:,}"))
    return prompt


def _model(source, own, lang):
    if source == "own" and not (own and "gpt" in own):
        raise gr.Error(say(lang, "generate.err.no_own"))
    return get_model("gpt", source, own)


def _label(tok, i: int) -> str:
    """A token as a reader can see it: spaces as ␣, newlines as ⏎, specials by name."""
    s = tok.decode([i], skip_special=False)
    s = s if s else (tok.id_to_token(i) or str(i))
    return s.replace(" ", "␣").replace("\n", "⏎")


def _used(temperature, top_k, top_p, lang) -> str:
    """The settings a result was computed with, as written under it: what the sliders
    sent, so a value the browser adjusted is visible where it mattered."""
    off = say(lang, "generate.info.off")
    return say(lang, "generate.info.settings", temperature=f"{temperature:g}",
               greedy=say(lang, "generate.info.greedy") if temperature == 0 else "",
               top_k=top_k or off, top_p=f"{top_p:g}" + (f" ({off})" if top_p >= 1 else ""))


@friendly
def prompt_lens(source, step, own, lang="en"):
    """The logit lens of the prompt a step was drawn after (step: next_token's numbers,
    whose "before" it reads, so the grid's last column is the position the chart above
    drew from): every layer's hidden state through ln_f and the tied head, at most
    LENS_POSITIONS tokens from the prompt's end. Runs after next_token, as its own event:
    the draw shows first and the API's answer keeps its shape.
    Returns the figure and a note saying what it shows."""
    prompt = _prompt((step or {}).get("before", ""), lang)
    loaded = _model(source, own, lang)
    tok = loaded.tokenizer
    # As GPT reads the prompt: its last block_size tokens, the end-of-text token if empty.
    ids = (tok.encode(prompt) if prompt else []) or [tok.special_id("eos")]
    ids = ids[-loaded.model.cfg.block_size:]
    positions = lens.window(len(ids), LENS_POSITIONS)
    trace = lens.logit_lens(loaded.model, ids, top=LENS_TOP, positions=positions)
    note = say(lang, "generate.lens.note", layers=trace["n_layers"], first=positions[0],
               last=positions[-1], total=len(ids), k=LENS_TOP)
    return as_plot(lens_figure(trace, lambda i: _label(tok, i), lang, k=LENS_TOP)), note


def _step(source, prompt, temperature, top_k, top_p, seed, own, lang):
    """One step's draw, its figure and numbers: what next_token appends and preview shows."""
    prompt = _prompt(prompt, lang)
    temperature, top_k, top_p, seed = _settings(temperature, top_k, top_p, seed, lang)
    loaded = _model(source, own, lang)
    tok = loaded.tokenizer
    # A different but reproducible draw at each position: the same prompt, settings and
    # seed always give the same token, so a class link shows everyone the same step.
    step_seed = seed * 1_000_003 + len(tok.encode(prompt))
    t = next(generate_stream(loaded.model, tok, prompt, max_new_tokens=1, temperature=temperature,
                             top_k=top_k, top_p=top_p, seed=step_seed, stop_at_eos=False))
    step = t["step"]
    rows = step.top(12, lambda i: _label(tok, i))
    kept = int(step.kept_p.sum())
    title = (say(lang, "generate.title.after", tail=prompt[-40:]) if prompt
             else say(lang, "generate.title.first"))
    fig = distribution_figure(rows, temperature, top_k, top_p, kept=kept,
                              vocab=step.raw.numel(), title=title, lang=lang)
    data = {"token": t["text"], "id": t["id"], "prob": t["prob"], "raw_prob": t["raw_prob"],
            "kept": kept, "before": prompt, "prompt": prompt + t["text"], "top": rows,
            "settings": {"temperature": temperature, "top_k": top_k, "top_p": top_p,
                         "seed": seed}, "model": model_note(loaded, source)}
    words = {"token": as_text(_label(tok, t["id"])), "prob": f"{t['prob']:.1%}",
             "raw": f"{t['raw_prob']:.1%}", "kept": f"{kept:,}", "vocab": f"{step.raw.numel():,}",
             "used": _used(temperature, top_k, top_p, lang)}
    return prompt, t, as_plot(fig), data, words


@friendly
def next_token(source, prompt, temperature, top_k, top_p, seed, own, lang="en"):
    """One step of GPT sampling made visible: the next-token distribution raw, after
    temperature, after top-k and top-p, renormalised; one token drawn from the last.

    Args:
        source: bundled (the mini GPT), own (the session's trained GPT) or a real model.
        prompt: the text GPT continues.
        temperature: divides the logits; 0 means greedy.
        top_k: keep the k most likely tokens (0 = all).
        top_p: keep the smallest set of tokens whose probabilities sum to p (1 = all).
        seed: random seed of the draw.
        lang: the page's language ("en", "ko"), for the text written here.
    Returns:
        the distributions at every stage, the prompt with the chosen token, a note, and
        the numbers ("before": the prompt it was drawn after, which the lens reads).
    """
    prompt, t, fig, data, w = _step(source, prompt, temperature, top_k, top_p, seed, own, lang)
    info = (say(lang, "generate.info.drew", token=w["token"], prob=w["prob"], raw=w["raw"],
                kept=w["kept"], vocab=w["vocab"]) + "  \n" + w["used"])
    return fig, prompt + t["text"], info, data


@friendly
def preview(source, prompt, temperature, top_k, top_p, seed, own, lang="en"):
    """next_token's view of the prompt as it stands, without appending: what the tab
    opens with, and rewritten when the language changes. The token it names is the one
    the next click draws (the same seed and prompt length give the same draw)."""
    prompt, t, fig, data, w = _step(source, prompt, temperature, top_k, top_p, seed, own, lang)
    info = (say(lang, "generate.info.preview", seed=data["settings"]["seed"], token=w["token"],
                prob=w["prob"], raw=w["raw"]) + "  \n" + w["used"])
    return fig, gr.skip(), info, data


def _pieces(prompt: str, tokens: list[dict]) -> list[tuple[str, float | None]]:
    """HighlightedText value: the prompt plain, each new token shaded by the probability
    the model gave it. The pieces keep their own spaces (the component joins them as is)."""
    return ([(prompt, None)] if prompt else []) + [(t["text"], round(t["raw_prob"], 3))
                                                   for t in tokens if t["text"]]


def _greedy(loaded, prompt: str, max_tokens: int) -> dict:
    return generate(loaded.model, loaded.tokenizer, prompt, max_new_tokens=max_tokens,
                    temperature=0.0)


@lru_cache(maxsize=256)
def _shared_greedy(source: str, prompt: str, max_tokens: int) -> dict:
    """The greedy twin of a generation with a model every session shares (bundled, real).
    Greedy decoding has no randomness, so it is computed once per prompt: a class that
    starts from the default prompt pays for it once, not thirty times. A session's own
    model is never cached here (the cache would outlive the session's model)."""
    return _greedy(get_model("gpt", source, None), prompt, max_tokens)


@friendly_gen
def generate_full(source, prompt, temperature, top_k, top_p, seed, max_tokens, own, lang="en"):
    """A whole continuation, streamed: sampled with the settings, and greedy beside it."""
    prompt = _prompt(prompt, lang)
    temperature, top_k, top_p, seed = _settings(temperature, top_k, top_p, seed, lang)
    try:
        max_tokens = int(max_tokens)
    except (TypeError, ValueError):
        raise gr.Error(say(lang, "generate.err.numbers")) from None
    if not 1 <= max_tokens <= MAX_NEW:
        raise gr.Error(say(lang, "generate.err.max_tokens", limit=MAX_NEW, value=max_tokens))
    loaded = _model(source, own, lang)
    # The first partial update waits STREAM_EVERY too: a bundled-model answer is done in
    # ~20 ms, and each update is a round of Gradio's processing that a busy class server
    # pays for (4 students generating at once: p95 0.6 s). Slow models still stream.
    sampled, start = [], time.perf_counter()
    last = start
    for t in generate_stream(loaded.model, loaded.tokenizer, prompt, max_new_tokens=max_tokens,
                             temperature=temperature, top_k=top_k, top_p=top_p, seed=seed):
        sampled.append({k: v for k, v in t.items() if k != "step"})
        if time.perf_counter() - last >= STREAM_EVERY:
            last = time.perf_counter()
            yield _pieces(prompt, sampled), gr.skip(), gr.skip()
    seconds = time.perf_counter() - start
    greedy = (_shared_greedy(source, prompt, max_tokens) if source != "own" else
              _greedy(loaded, prompt, max_tokens))
    text = loaded.tokenizer.decode([t["id"] for t in sampled])  # whole: multi-byte chars join
    summary = {"prompt": prompt, "sampled": prompt + text,
               "greedy": prompt + greedy["text"], "new_tokens": len(sampled),
               "tokens_per_s": round(len(sampled) / max(seconds, 1e-9), 1),
               "settings": {"temperature": temperature, "top_k": top_k, "top_p": top_p,
                            "seed": seed, "max_tokens": max_tokens},
               "tokens": sampled, "model": model_note(loaded, source)}
    yield _pieces(prompt, sampled), _pieces(prompt, greedy["tokens"]), summary


def build(ctx) -> dict:
    gr.Markdown(t("generate.order.md"))
    with gr.Row():
        source = gr.Dropdown(SOURCES + real_choices("gpt"), value="bundled",
                             label=t("generate.source"))
        seed = gr.Number(value=0, precision=0, label=t("generate.seed"),
                         minimum=0, maximum=2**31 - 1)
    prompt = gr.Textbox(value="The capital of France is", label=t("generate.prompt"),
                        max_length=MAX_PROMPT)
    with gr.Row():
        temperature = gr.Slider(0, 2, value=1.0, step=0.05, label=t("generate.temperature"))
        top_k = gr.Slider(0, 100, value=0, step=1, label=t("generate.top_k"))
        # From 0, not 0.05: a typed 0 reaches the handler and is refused with the reason
        # (it would keep no token) instead of being moved to the minimum unannounced.
        top_p = gr.Slider(0, 1, value=0.9, step=0.05, label=t("generate.top_p"))
    with gr.Tab(t("generate.step_tab")):
        step_btn = gr.Button(t("generate.step_btn"), variant="primary")
        step_info = gr.Markdown()
        dist = gr.Plot(label=t("generate.dist"), show_label=False)
        with gr.Accordion(t("generate.lens"), open=True):
            lens_md = gr.Markdown()
            lens_plot = gr.Plot(label=t("generate.lens_plot"), show_label=False)
        with gr.Accordion(t("generate.numbers"), open=False):
            step_data = gr.JSON(label=t("generate.step_data"))
    with gr.Tab(t("generate.full_tab")):
        max_tokens = gr.Slider(1, MAX_NEW, value=60, step=1, label=t("generate.max_tokens"))
        gen_btn = gr.Button(t("generate.gen_btn"), variant="primary")
        gr.Markdown(t("generate.shade.md"))
        with gr.Row():
            sampled = gr.HighlightedText(label=t("generate.sampled"), show_legend=False,
                                         show_inline_category=False)
            greedy = gr.HighlightedText(label=t("generate.greedy"),
                                        show_legend=False, show_inline_category=False)
        with gr.Accordion(t("generate.numbers"), open=False):
            gen_data = gr.JSON(label=t("generate.gen_data"))
    settings = [source, prompt, temperature, top_k, top_p, seed]
    step_out = [dist, prompt, step_info, step_data]
    lens_in, lens_out = [source, step_data, ctx.own, ctx.lang], [lens_plot, lens_md]
    step_btn.click(next_token, settings + [ctx.own, ctx.lang], step_out,
                   api_name="next_token", show_progress="hidden"
                   ).success(prompt_lens, lens_in, lens_out, api_visibility="private",
                             show_progress="hidden")
    gen_btn.click(generate_full, settings + [max_tokens, ctx.own, ctx.lang],
                  [sampled, greedy, gen_data], api_name="generate", show_progress="minimal")
    # The tab opens with the default prompt's distribution and lens, as other tabs open
    # with a result (bundled GPT: tens of ms), and rewrites it in the language picked.
    # The prompt is left as it is: only a click appends.
    quiet, quiet_lens = quietly(preview, len(step_out)), quietly(prompt_lens, len(lens_out))
    names = ["source", "prompt", "temperature", "top_k", "top_p", "seed"]

    def opening(src, text, temp, k, p, sd, own, lang, request: gr.Request):
        """The view the tab opens with: its settings, or a class link's."""
        v = link_values(request, ID, {n: (c, x) for n, c, x in
                                      zip(names, settings, (src, text, temp, k, p, sd))})
        shown = quiet(*[v[n] for n in names], own, lang)
        step = shown[3] if isinstance(shown[3], dict) and "before" in shown[3] else None
        return (*shown, *(quiet_lens(v["source"], step, own, lang) if step
                          else (gr.skip(), gr.skip())))

    ctx.demo.load(opening, settings + [ctx.own, ctx.lang], step_out + lens_out,
                  api_visibility="private", show_progress="hidden")
    ctx.lang.change(quiet, settings + [ctx.own, ctx.lang], step_out, api_visibility="private",
                    show_progress="hidden"
                    ).then(quiet_lens, lens_in, lens_out, api_visibility="private",
                           show_progress="hidden")
    return {"prompt": prompt, "temperature": temperature, "top_k": top_k, "top_p": top_p,
            "seed": seed, "max_tokens": max_tokens, "source": source}
