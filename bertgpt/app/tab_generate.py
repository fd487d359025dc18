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

from ..model.sampling import generate, generate_stream
from .common import as_text, friendly, friendly_gen, get_model, real_choices
from .i18n import t
from .plots_live import as_plot, distribution_figure, model_note

ID = "generate"
LABEL = t("generate.title")

SOURCES = [(t("generate.source.bundled"), "bundled"), (t("generate.source.own"), "own")]
ORDER = ("**Order of operations:** logits → softmax ÷ **temperature** (T = 0 is greedy) → "
         "keep the **top-k** most likely (0 = off) → keep the smallest set whose mass reaches "
         "**top-p** (1 = off) → renormalise → draw.")
MAX_PROMPT = 2000
MAX_NEW = 256
STREAM_EVERY = 0.25  # seconds between streamed updates in full mode (4 a second)


def _settings(temperature, top_k, top_p, seed):
    try:
        temperature, top_k, top_p, seed = float(temperature), int(top_k), float(top_p), int(seed)
    except (TypeError, ValueError):
        raise gr.Error("Temperature, top-k, top-p and seed must be numbers.") from None
    return temperature, top_k, top_p, seed


def _prompt(prompt) -> str:
    prompt = prompt or ""  # empty is fine: GPT starts from its end-of-text token
    if len(prompt) > MAX_PROMPT:
        raise gr.Error(f"The prompt is {len(prompt):,} characters; this tab takes at most "
                       f"{MAX_PROMPT:,}. Shorten it.")
    return prompt


def _label(tok, i: int) -> str:
    """A token as a reader can see it: spaces as ␣, newlines as ⏎, specials by name."""
    s = tok.decode([i], skip_special=False)
    s = s if s else (tok.id_to_token(i) or str(i))
    return s.replace(" ", "␣").replace("\n", "⏎")


@friendly
def next_token(source, prompt, temperature, top_k, top_p, seed, own):
    """One step of GPT sampling made visible: the next-token distribution raw, after
    temperature, after top-k and top-p, renormalised; one token drawn from the last.

    Args:
        source: bundled (the mini GPT), own (the session's trained GPT) or a real model.
        prompt: the text GPT continues.
        temperature: divides the logits; 0 means greedy.
        top_k: keep the k most likely tokens (0 = all).
        top_p: keep the smallest set of tokens whose probabilities sum to p (1 = all).
        seed: random seed of the draw.
    Returns:
        the distributions at every stage, the chosen token, and the numbers.
    """
    prompt = _prompt(prompt)
    temperature, top_k, top_p, seed = _settings(temperature, top_k, top_p, seed)
    loaded = get_model("gpt", source, own)
    tok = loaded.tokenizer
    # A different but reproducible draw at each position: the same prompt, settings and
    # seed always give the same token, so a class link shows everyone the same step.
    step_seed = seed * 1_000_003 + len(tok.encode(prompt))
    t = next(generate_stream(loaded.model, tok, prompt, max_new_tokens=1, temperature=temperature,
                             top_k=top_k, top_p=top_p, seed=step_seed, stop_at_eos=False))
    step = t["step"]
    rows = step.top(12, lambda i: _label(tok, i))
    kept = int(step.kept_p.sum())
    title = f"Next token after “…{prompt[-40:]}”" if prompt else "First token"
    fig = distribution_figure(rows, temperature, top_k, top_p, kept=kept,
                              vocab=step.raw.numel(), title=title)
    info = (f"Drew **{as_text(_label(tok, t['id']))}**: {t['prob']:.1%} in the distribution it was drawn "
            f"from (the model's raw probability {t['raw_prob']:.1%}); {kept:,} of "
            f"{step.raw.numel():,} tokens survived the cuts.")
    data = {"token": t["text"], "id": t["id"], "prob": t["prob"], "raw_prob": t["raw_prob"],
            "kept": kept, "prompt": prompt + t["text"], "top": rows,
            "settings": {"temperature": temperature, "top_k": top_k, "top_p": top_p,
                         "seed": seed}, "model": model_note(loaded, source)}
    return as_plot(fig), prompt + t["text"], info, data


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
def generate_full(source, prompt, temperature, top_k, top_p, seed, max_tokens, own):
    """A whole continuation, streamed: sampled with the settings, and greedy beside it."""
    prompt = _prompt(prompt)
    temperature, top_k, top_p, seed = _settings(temperature, top_k, top_p, seed)
    max_tokens = int(max_tokens)
    if not 1 <= max_tokens <= MAX_NEW:
        raise gr.Error(f"Max new tokens must be between 1 and {MAX_NEW}.")
    loaded = get_model("gpt", source, own)
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
    gr.Markdown(ORDER)
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
        top_p = gr.Slider(0.05, 1, value=0.9, step=0.05, label=t("generate.top_p"))
    with gr.Tab(t("generate.step_tab")):
        step_btn = gr.Button(t("generate.step_btn"), variant="primary")
        step_info = gr.Markdown()
        dist = gr.Plot(label=t("generate.dist"), show_label=False)
        with gr.Accordion(t("generate.numbers"), open=False):
            step_data = gr.JSON(label=t("generate.step_data"))
    with gr.Tab(t("generate.full_tab")):
        max_tokens = gr.Slider(1, MAX_NEW, value=60, step=1, label=t("generate.max_tokens"))
        gen_btn = gr.Button(t("generate.gen_btn"), variant="primary")
        gr.Markdown("Each new token is shaded by the probability the model gave it "
                    "(darker = more likely). The prompt is unshaded.")
        with gr.Row():
            sampled = gr.HighlightedText(label=t("generate.sampled"), show_legend=False,
                                         show_inline_category=False)
            greedy = gr.HighlightedText(label=t("generate.greedy"),
                                        show_legend=False, show_inline_category=False)
        with gr.Accordion(t("generate.numbers"), open=False):
            gen_data = gr.JSON(label=t("generate.gen_data"))
    settings = [source, prompt, temperature, top_k, top_p, seed]
    step_btn.click(next_token, settings + [ctx.own], [dist, prompt, step_info, step_data],
                   api_name="next_token", show_progress="hidden")
    gen_btn.click(generate_full, settings + [max_tokens, ctx.own], [sampled, greedy, gen_data],
                  api_name="generate", show_progress="minimal")
    return {"prompt": prompt, "temperature": temperature, "top_k": top_k, "top_p": top_p,
            "seed": seed, "max_tokens": max_tokens, "source": source}
