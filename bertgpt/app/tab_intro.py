"""Tab "Start here": the paradigm shift BERT and GPT made, and one experiment that shows it.

Before 2018 each task trained its own model from labelled data. BERT and GPT first learn
language from unlabelled text (pre-training), then adapt to a task: BERT by fine-tuning a
small head, GPT by fine-tuning or, from GPT-2/GPT-3 on, by a prompt alone. The button asks
the two bundled minis the same fact in each one's own way: nobody taught them the fact as a
task; they picked it up while pre-training on the world corpus."""
from __future__ import annotations

from functools import lru_cache

import gradio as gr

from ..model.config import PRESETS
from ..text.corpus import COUNTRIES
from ..model.sampling import fill_mask, generate
from .common import friendly, get_model
from .i18n import LANGS, say, t

ID = "intro"
LABEL = t("intro.title")
COUNTRY_NAMES = [row[0] for row in COUNTRIES]
CAPITALS = {row[0]: row[1] for row in COUNTRIES}


def _row(name: str) -> dict:
    from ..model.build import count_params
    cfg = PRESETS[name][0]
    return {"layers": f"{cfg.n_layer}", "width": f"{cfg.n_embd:,}", "heads": f"{cfg.n_head}",
            "vocab": f"{cfg.vocab_size:,}", "context": f"{cfg.block_size:,}",
            "params": f"{count_params(name)['published_total']:,}"}


def side_by_side():
    """BERT-base and GPT-2 small from the presets: almost the same size, opposite designs.
    A Msg, so the header switch shows it in the page's language with the same numbers."""
    bert, gpt = _row("bert-base"), _row("gpt2")
    return t("intro.side_by_side.md", **{f"b_{k}": v for k, v in bert.items()},
             **{f"g_{k}": v for k, v in gpt.items()})


@friendly
def ask_both(country: str, own=None, lang: str = "en"):
    """The same fact asked of BERT (fill in the blank) and of GPT (continue the text)."""
    if country not in CAPITALS:
        raise gr.Error(say(lang, "intro.err.country", some=", ".join(
            say(lang, f"intro.country.{c.lower()}") for c in COUNTRY_NAMES[:4])))
    return _answers(country, lang if lang in LANGS else "en")


@lru_cache(maxsize=2 * len(CAPITALS))
def _answers(country: str, lang: str = "en") -> tuple[str, str]:
    """Cached: the bundled models answer greedily, so a country always gets the same two
    answers, and every page load of the class asks (the tab answers on load)."""
    bert, gpt = get_model("bert", "bundled", None), get_model("gpt", "bundled", None)
    masked = f"the capital of {country.lower()} is [MASK] ."
    guesses = fill_mask(bert.model, bert.tokenizer, masked, top_k=3)[0]["candidates"]
    prompt = f"The capital of {country} is"
    out = generate(gpt.model, gpt.tokenizer, prompt, max_new_tokens=8, temperature=0.0)
    answer = CAPITALS[country]
    said = out["text"].strip()
    # the space goes outside the bold: "** Paris" would not render as bold (CommonMark)
    if lang == "en":
        bert_md = (f"**BERT** reads `{masked}` and fills the blank:\n\n"
                   + "\n".join(f"- **{g['token']}** {g['prob']:.0%}" for g in guesses)
                   + f"\n\n(right answer: {answer.lower()})")
        gpt_md = (f"**GPT** continues `{prompt}` (greedy):\n\n> {prompt} **{said}**"
                  f"\n\n(right answer: {answer})")
        return bert_md, gpt_md
    # Other languages: what the models read and write is English text, shown as code
    guessed = "\n".join(f"- **`{g['token']}`** {g['prob']:.0%}" for g in guesses)
    bert_md = say(lang, "intro.bert_answer", masked=masked, guesses=guessed,
                  answer=answer.lower())
    gpt_md = say(lang, "intro.gpt_answer", prompt=prompt, said=said, answer=answer)
    return bert_md, gpt_md


def build(ctx) -> dict:
    gr.Markdown(t("intro.idea.md"))
    gr.Markdown(t("intro.stages.md"))
    gr.Markdown(side_by_side())
    gr.Markdown(t("intro.ask_heading.md"))
    names = [(t(f"intro.country.{name.lower()}"), name) for name in COUNTRY_NAMES]
    with gr.Row():
        country = gr.Dropdown(names, value=COUNTRY_NAMES[0], label=t("intro.country"))
        go = gr.Button(t("intro.ask"), variant="primary")
    with gr.Row():
        bert_out = gr.Markdown()
        gpt_out = gr.Markdown()
    gr.Markdown(t("intro.closing.md"))
    asked = [country, ctx.own, ctx.lang]
    go.click(ask_both, asked, [bert_out, gpt_out], api_name="intro_ask")
    # a deep link (?tab=intro&country=Italy) changes the value after load, and the header
    # switch the language: answer those too
    gr.on([country.change, ctx.lang.change], ask_both, asked, [bert_out, gpt_out],
          api_visibility="private", show_progress="hidden")
    ctx.demo.load(ask_both, asked, [bert_out, gpt_out], api_visibility="private",
                  show_progress="hidden")
    return {"country": country}
