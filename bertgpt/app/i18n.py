"""English / 한국어 for the app: its words as data keyed by stable ids, and the switch.

The words live in strings/<lang>.json, one file per language with the same ids
("mlm.text", "mlm.prob.info", "nsp.unit.segments"; ids ending in ".md" hold Markdown
rather than a name). A tab asks for a string by id, `t("mlm.text")`, and gets the English
as a `Msg`: a str that remembers its id. The header switch walks the built Blocks and
shows every component's Msg texts in the language picked, by id; text written in code
(model names, "BERT") is shown as it is. Choice values never change, only their labels.

Why not `gr.I18n`? Gradio 6.31 translates `I18n` keys in the browser, in the locale the
browser reports or the one picked in Gradio's own Settings panel; Python cannot switch it,
so neither a header switch nor `?lang=ko` in a class link could drive it, and it leaves
Markdown (the lessons) alone.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import re
from pathlib import Path

import gradio as gr

LANGS = {"en": "English", "ko": "한국어"}
STORAGE_KEY = "bertgpt-language"  # the browser's localStorage key for the choice
STRINGS = Path(__file__).resolve().parent / "strings"

# Shown as they are in Korean too: model and preset names, code identifiers, and words
# a Korean ML class keeps in English.
KEEP = {
    "BERT", "GPT", "bert", "gpt", "bert-tiny", "bert-mini", "bert-base", "bert-large",
    "gpt-tiny", "gpt-mini", "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "gpt3-175b",
    "English", "한국어", "Language / 언어", "BERT: 80%",
}


@functools.lru_cache(maxsize=len(LANGS))
def table(lang: str) -> dict[str, str]:
    """id -> text in `lang`, read from strings/<lang>.json (a list of lines is one text)."""
    with open(STRINGS / f"{lang}.json", encoding="utf-8") as f:
        raw = json.load(f)
    return {key: "\n".join(v) if isinstance(v, list) else v for key, v in raw.items()}


def _fill(text: str, args: dict) -> str:
    return text.format(**args) if args else text


class Msg(str):
    """A string of the app in English that remembers its id (and the values filled into
    its {placeholders}), so that it can be shown in another language."""

    def __new__(cls, text: str, key: str, args: dict):
        self = super().__new__(cls, text)
        self.key, self.args = key, args
        return self

    def __reduce__(self):  # copies and pickles keep the id
        return Msg, (str(self), self.key, self.args)

    def read(self, lang: str) -> str:
        return _fill(table(lang)[self.key], self.args)


def t(key: str, **args) -> Msg:
    """The English of string `key` (with `args` filled into its {placeholders}); a KeyError
    for an id the strings data does not have."""
    return Msg(_fill(table("en")[key], args), key, args)


def say(lang: str | None, key: str, **args) -> str:
    """String `key` in `lang` ("en" for None or an unknown code): what a handler writes
    into its results, figures and errors, given the language the page shows (the
    header switch, passed to the handler as its last input)."""
    lang = lang if lang in LANGS else "en"
    return _fill(table(lang)[key], args)


# The language of the event being handled, for the messages written far from the handler
# (an input check, an error of the core): common.guard_inputs sets it from the handler's
# last input, the header switch, on every call and every step of a stream.
_CURRENT = contextvars.ContextVar("bertgpt_lang", default="en")


def current() -> str:
    """The language of the event being handled ("en" outside one)."""
    return _CURRENT.get()


@contextlib.contextmanager
def speaking(lang: str | None):
    """Within the block, `current()` is `lang` ("en" for None or an unknown code)."""
    token = _CURRENT.set(lang if lang in LANGS else "en")
    try:
        yield
    finally:
        _CURRENT.reset(token)


def names(lang: str = "ko") -> dict[str, str]:
    """English -> `lang` for every name the UI shows (labels, buttons, choices, tab titles;
    not the ".md" Markdown texts): what a lesson may call a part of the UI."""
    en, other = table("en"), table(lang)
    return {en[key]: other[key] for key in en if not key.endswith(".md")}


_ATTRS = ("label", "info", "placeholder")


def _given_value(block):
    """The value the tab passed: Button and Markdown keep theirs only through
    postprocessing (str(), inspect.cleandoc), which returns a plain str without the id."""
    given = block.constructor_args.get("value")
    return given if isinstance(given, Msg) else block.value


def strings(block) -> dict:
    """The text a component shows: {attr: text}, "choices": [(display, value)]; a text
    that came from `t()` is a Msg. Markdown counts only when it came from `t()`."""
    out = {a: getattr(block, a) for a in _ATTRS
           if isinstance(getattr(block, a, None), str) and getattr(block, a)}
    if isinstance(block, gr.Button) and isinstance(block.value, str) and block.value:
        out["value"] = _given_value(block)
    if isinstance(block, gr.Markdown) and isinstance(_given_value(block), Msg):
        out["value"] = _given_value(block)
    choices = getattr(block, "choices", None)
    if choices and not isinstance(block, gr.Dataset):
        pairs = [tuple(c) if isinstance(c, (tuple, list)) else (c, c) for c in choices]
        if all(isinstance(d, str) for d, _ in pairs):
            out["choices"] = pairs
    return out


def texts(found: dict) -> list[str]:
    """The strings in one `strings()` result."""
    out = [v for k, v in found.items() if k in _ATTRS or k == "value"]
    return out + [d for d, _ in found.get("choices", [])]


def tr(text: str, lang: str) -> str:
    """`text` as shown in `lang`: a Msg by its id, any other text as it is."""
    return text.read(lang) if isinstance(text, Msg) else text


def translated(text: str) -> bool:
    """It has an id (so every language has it), or it reads the same in Korean (KEEP, or
    no Latin letters: "16")."""
    return isinstance(text, Msg) or text in KEEP or not re.search(r"[A-Za-z]", text)


def update(found: dict, lang: str):
    """gr.update(...) showing one component in `lang`."""
    kw = {k: tr(v, lang) for k, v in found.items() if k in _ATTRS or k == "value"}
    if "choices" in found:
        kw["choices"] = [(tr(d, lang), v) for d, v in found["choices"]]
    return gr.update(**kw)


def walk(demo: gr.Blocks, skip=()) -> list[tuple]:
    """(component, strings) for every component of the app that shows text."""
    skip_ids = {b._id for b in skip}
    return [(b, found) for b in demo.blocks.values()
            if b._id not in skip_ids and (found := strings(b))]


def untranslated(demo: gr.Blocks, skip=()) -> list[str]:
    """English strings the Korean UI would still show: the test keeps this empty."""
    missing = []
    for _, found in walk(demo, skip):
        for text in texts(found):
            if not translated(text) and text not in missing:
                missing.append(text)
    return missing


def pick_language(stored: str | None, request: gr.Request | None) -> str:
    """?lang= in the link wins, then the browser's remembered choice, then English."""
    asked = dict(request.query_params).get("lang") if request else None
    for lang in (asked, stored):
        if lang in LANGS:
            return lang
    return "en"


def install(demo: gr.Blocks, switch: gr.Radio, stored: gr.BrowserState,
            lessons: dict, lesson_text, keep=()) -> None:
    """Wire the header switch: it sets every label, every lesson panel, and the browser's
    remembered choice; page load picks the language (`pick_language`). Components in
    `keep` are left as they are."""
    tabs = list(lessons)
    found = walk(demo, skip=[switch, *lessons.values(), *keep])
    targets = [b for b, _ in found]

    def apply(lang):
        lang = lang if lang in LANGS else "en"
        return ([lang] + [lesson_text(tab, lang) for tab in tabs]
                + [update(f, lang) for _, f in found])

    switch.change(apply, switch, [stored, *lessons.values(), *targets],
                  api_name="set_language", show_progress="hidden")
    demo.load(pick_language, stored, switch, api_visibility="private",
              show_progress="hidden")
