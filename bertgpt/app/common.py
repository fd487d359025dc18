"""What every tab shares: the palette, error handling, lessons, and model lookup.

No module-level mutable state: bundled models come from `bertgpt.io.assets` (loaded once,
read-only); a session's own models live in its `gr.State` (a dict arch -> Loaded).
"""
from __future__ import annotations

import functools
import inspect
import logging
from pathlib import Path

import gradio as gr

from ..errors import BertGptError
from .i18n import LANGS, current, say, speaking, t, table, tr

# Okabe-Ito: distinguishable with every common form of colour blindness. Colour is never
# the only signal: every coloured token also carries a label or symbol.
from ..course.viz import PALETTE  # noqa: E402,F401  (one palette for figures and tokens)

log = logging.getLogger("bertgpt.app")
MAX_TEXT_CHARS = 20_000  # interactive tabs; training text has its own, larger limit
LESSONS = Path(__file__).resolve().parent.parent.parent / "lessons"


def _what(what: str) -> str:
    """The name of a field in a message ("sentence A"), in the event's language when the
    strings data has it (what.sentence_a), else as the tab wrote it."""
    key = "what." + "_".join(what.lower().split())
    lang = current()
    return say(lang, f"what.{key[5:]}") if key in table("en") else what


def check_text(text: str | None, what: str = "text", max_chars: int = MAX_TEXT_CHARS) -> str:
    """`text` if it is there and not too long; a gr.Error naming the field `what` in the
    event's language (i18n.current(), set by the guard) otherwise."""
    lang = current()
    if text is None or not str(text).strip():
        raise gr.Error(say(lang, "app.err.empty", what=_what(what)))
    if len(text) > max_chars:
        raise gr.Error(say(lang, "app.err.too_long", what=_what(what), n=f"{len(text):,}",
                           limit=f"{max_chars:,}"))
    return text


def check_known(tokenizer, text: str, what: str = "text") -> list[int]:
    """The ids of `text`; a gr.Error when most of it is [UNK] (Korean or emoji through the
    English world-corpus WordPiece), since masks and predictions over [UNK] teach nothing."""
    ids = tokenizer.encode(text)
    unk = tokenizer.token_to_id(tokenizer.specials["unk"]) if tokenizer.has("unk") else None
    lost = sum(i == unk for i in ids)
    if not ids or (unk is not None and lost * 2 > len(ids)):
        lang = current()
        raise gr.Error(say(lang, "app.err.unknown", what=_what(what), lost=lost, n=len(ids)))
    return ids


# Core errors a tab's input can cause, by the start of their English message (the core
# writes English for the CLI and the library, and knows nothing of the app's languages):
# pattern -> the id that says it here, its named groups filling the id's placeholders.
# Why a table here and not ids in the core: the core's messages serve the CLI and the
# library too, in English, and its layer may not know the app's strings; the app knows
# which of them its inputs can reach. An error not listed keeps its English text, inside
# a sentence in the page's language (app.err.core): still readable, and the Korean test
# (tests/test_korean.py) fails on it for every input it drives.
CORE_MESSAGES = [
    (r"n_embd \((?P<width>\d+)\) must be divisible by n_head \((?P<heads>\d+)\); "
     r"try n_embd=(?P<fix>\d+)", "core.heads_divide"),
    (r"(?P<name>\w+) must be a positive whole number, got (?P<value>.+)", "core.positive"),
    (r"mask_rate \+ random_rate must be at most 1.*got (?P<mask>[\d.]+) \+ "
     r"(?P<random>[\d.]+)", "core.mask_sum"),
    (r"the text is (?P<n>\d+) tokens long; the masking view shows at most (?P<limit>\d+)",
     "core.mask_too_long"),
    (r"NSP needs at least 2 documents .*got (?P<n>\d+)", "core.nsp_documents"),
    (r"every document has a single sentence", "core.nsp_sentences"),
    (r"the longest sentence has (?P<n>\d+) tokens; the mask view shows at most (?P<limit>\d+)",
     "core.mask_view"),
    (r"the CSV is empty", "core.csv_empty"),
    (r"CSV row (?P<row>\d+) has (?P<n>\d+) field\(s\)", "core.csv_fields"),
    (r"CSV row (?P<row>\d+) has an empty", "core.csv_blank"),
    (r"the CSV has more than (?P<limit>\d+) rows", "core.csv_rows"),
    (r"CSV row (?P<row>\d+) cannot be read", "core.csv_quotes"),
    (r"the CSV has (?P<n>\d+) row\(s\); give at least (?P<least>\d+)", "core.csv_few"),
    (r"every row has the label (?P<label>.+); a classifier", "core.csv_one_label"),
    (r"the CSV has (?P<n>\d+) different labels; use at most (?P<most>\d+)",
     "core.csv_labels"),
    (r"an example is (?P<n>\d+) tokens, over this model's (?P<limit>\d+)", "core.too_long"),
    (r"the text is empty", "core.text_empty"),
    (r"the question is empty", "core.question_empty"),
    (r"k must be from 0 to (?P<limit>\d+)", "core.k_range"),
]


def core_message(error: Exception, lang: str | None = None) -> str:
    """A core error (BertGptError) as the app says it, in `lang` (default: the event's)."""
    import re
    lang = lang or current()
    text = str(error)
    if lang == "en":
        return text  # the core's own words, which may say more (the bad row itself)
    for pattern, key in CORE_MESSAGES:
        if (m := re.match(pattern, text, flags=re.S)):
            return say(lang, f"core.{key[5:]}", **m.groupdict())
    return say(lang, "app.err.core", message=text)


def friendly(fn):
    """Turn the core's typed errors into a gr.Error the user can read and act on."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BertGptError as e:
            raise gr.Error(core_message(e)) from None
    return wrapper


def live(fn, note_at: int, n_outputs: int):
    """`fn` for the events that fire while a student is still editing: each keystroke of
    a text box, each step of a dragged slider. Live update is the point of these tabs
    (the chips, masks and counts follow the text as it is typed, and a class link or an
    example fills a box and is answered through the same change event), but a box is
    empty or half-typed on the way to the next text: that is not a mistake, and a red
    toast per keystroke (with "Error" badges over the last good view) scolds a student
    for typing. So a refusal here becomes a note in place, in output `note_at`, and the
    other outputs keep the last view; the button (and Enter) still raise the error, once.
    A real bug still raises."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error as e:
            out = [gr.skip()] * n_outputs
            lang = current()
            out[note_at] = say(lang, "app.live_note", message=e.message)
            return out
    return wrapper


def friendly_gen(fn):
    """`friendly` for generator handlers (streaming)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            yield from fn(*args, **kwargs)
        except BertGptError as e:
            raise gr.Error(core_message(e)) from None
    return wrapper


@functools.lru_cache(maxsize=64)
def lesson(tab_id: str, lang: str = "en") -> str:
    """The lesson for a tab (lessons/<lang>/NN-<tab_id>.md), or a page without a number
    (lessons/<lang>/errata.md for "errata"), or a short pointer if absent."""
    folder = LESSONS / lang
    found = sorted(folder.glob(f"[0-9][0-9]-{tab_id}.md")) if folder.is_dir() else []
    for path in found + [folder / f"{tab_id}.md"]:
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return "*The lesson for this tab is being written.*"


def real_model(arch: str, name: str):
    """A real checkpoint (hub.REAL) from the server-wide cache in hub.shared, never from a
    session's State; a gr.Error saying why when it cannot be had (offline, not cached)."""
    from ..io import hub
    want, lang = hub.REAL[name][0], current()
    if want != arch:
        raise gr.Error(say(lang, "app.err.wrong_arch", name=name, want=want.upper(),
                           arch=arch.upper(),
                           names=", ".join(n for n, v in hub.REAL.items() if v[0] == arch)))
    if hub.status(name) == "download":
        gr.Info(say(lang, "app.loading", name=name, size=hub.REAL[name][2]))
    try:
        return hub.shared(name)
    except BertGptError as e:
        raise gr.Error(core_message(e)) from None  # it names the model, what is missing, why
    except MemoryError:
        raise gr.Error(say(lang, "app.err.memory", name=name)) from None


def real_choices(arch: str) -> list[tuple[str, str]]:
    """(label, name) of each real checkpoint of `arch` ('bert' or 'gpt') for a selector,
    the label saying whether it is ready, needs a download, or cannot be had offline."""
    from ..io import hub

    def label(name, params, size):
        state = hub.status(name, probe=True)
        if state == "cached":
            return t("real.cached", name=name, params=params)
        if state == "offline":
            return t("real.offline", name=name, params=params)
        return t("real.download", name=name, params=params, size=size)
    return [(label(name, params, size), name)
            for name, (a, params, size) in hub.REAL.items() if a == arch]


def get_model(arch: str, source: str, own: dict | None):
    """The model a tab should use: 'bundled', 'own' (the session's trained model), a real
    checkpoint by name ('bert-base-uncased', 'gpt2', ...), or 'real' (the base one)."""
    from ..io import hub
    from ..io.assets import bundled
    lang = current()
    if source == "real" or source in hub.REAL:
        return real_model(arch, hub.DEFAULT_REAL[arch] if source == "real" else source)
    if source == "own":
        if not own or arch not in own:
            raise gr.Error(say(lang, "app.err.no_own", arch=arch.upper()))
        return own[arch]
    loaded = bundled(arch)
    if loaded is None:
        raise gr.Error(say(lang, "app.err.no_bundled", arch=arch.upper()))
    return loaded


@functools.lru_cache(maxsize=4)
def _viz_words(lang: str) -> tuple:
    from ..course.viz import WORDS
    return tuple((key, say(lang, f"viz.{key}")) for key in WORDS)


def viz_words(lang: str | None) -> dict:
    """The words the figure builders write by themselves (course.viz.WORDS), in `lang`."""
    return dict(_viz_words(lang if lang in LANGS else "en"))


def as_text(s: str) -> str:
    """User text placed inside Markdown, shown as the characters typed: `<script>` stays
    visible text and is never parsed as HTML (html.escape; Markdown shows &lt; as <)."""
    import html
    return html.escape(str(s), quote=False)


def _check_value(component, value) -> None:
    """The checks every input gets, whatever tab it is on; a gr.Error names the field.
    Gradio itself checks slider/number bounds and radio choices on the server, but lets
    NaN and infinity through (every comparison with NaN is False), and enforces a
    textbox's max_length only in the browser; an API client bypasses both."""
    import math
    lang = current()
    label = tr(getattr(component, "label", None) or "", lang) or say(lang, "app.err.a_value")
    if isinstance(component, (gr.Slider, gr.Number)) and isinstance(value, float) \
            and not math.isfinite(value):
        raise gr.Error(say(lang, "app.err.not_number", label=label, value=value))
    limit = getattr(component, "max_length", None)
    if isinstance(component, gr.Textbox) and limit and isinstance(value, str) \
            and len(value) > limit:
        raise gr.Error(say(lang, "app.err.field_too_long", label=label, n=f"{len(value):,}",
                           limit=f"{limit:,}"))


def _guarded(fn, inputs: list, switch=None):
    """`fn` behind the input checks, on one torch thread, and speaking the language of its
    input `switch` (the header switch) when it takes it: every message written on the way,
    by the checks here, by `check_text` and the other helpers, or by the core through
    `friendly`, is in that language (`i18n.current()`).

    Why a context variable and not a `lang` argument to every helper: the messages are
    written three or four calls below the handler (check_text, get_model, the core's
    typed errors through `friendly`, `live`'s note), in helpers every tab shares; passing
    the language down each of them changes a dozen signatures, and one forgotten call
    would quietly write English. The guard already sees every call's inputs."""
    special = (gr.Request, gr.Progress, gr.EventData)
    at = next((i for i, c in enumerate(inputs) if c is switch), None) if switch else None

    def values(args):
        return [a for a in args if not isinstance(a, special)]

    def lang_of(args):
        found = values(args)
        return found[at] if at is not None and at < len(found) else "en"

    def check(args):
        for component, value in zip(inputs, values(args)):
            _check_value(component, value)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            lang = lang_of(args)
            try:
                with speaking(lang):
                    check(args)
                    gen = fn(*args, **kwargs)
                try:  # Gradio may resume a stream on another pool thread: set it every step
                    while True:
                        try:
                            with speaking(lang):
                                item = _on_one_torch_thread(gen.__next__)
                        except StopIteration:
                            return
                        yield item
                finally:
                    gen.close()
            except gr.Error as e:
                _refused(e, fn)
                raise
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            with speaking(lang_of(args)):
                check(args)
                return _on_one_torch_thread(lambda: fn(*args, **kwargs))
        except gr.Error as e:
            _refused(e, fn)
            raise
    return wrapper


def _refused(error: gr.Error, fn=None) -> None:
    """A gr.Error is the app refusing bad input on purpose, with a message the student
    reads: one line in the server log says so. Gradio would print its whole traceback,
    which on a class server buries the tracebacks of real bugs (any other exception,
    which keeps its traceback)."""
    where = getattr(fn, "__name__", None) or "input"
    log.warning("refused (%s): %s", where, error.message)
    error.print_exception = False


def _on_one_torch_thread(call):
    """call() with torch on one intra-op thread in this (pool) thread; `guard_inputs` puts
    it around every handler. The setting is per calling thread (OpenMP), so a training run
    elsewhere keeps its cores; tiny models gain nothing from a second thread. A handler
    whose op waited on a second OpenMP thread while training held the other core took
    ~700 ms instead of ~11 ms (the attention tab), and under a 30-student load a 20-token
    generation's p95 was 1.3 s, 0.74 s in the same run with this."""
    import torch
    before = torch.get_num_threads()
    if before == 1:
        return call()
    torch.set_num_threads(1)
    try:
        return call()
    finally:
        torch.set_num_threads(before)


def _checked_preprocess(component):
    """The component's own preprocess, after `_check_value`: a Number with precision 0
    rounds in preprocess, where NaN raises a bare ValueError (a "crash" for the client)
    before any handler could refuse it."""
    original = component.preprocess

    def preprocess(payload):
        try:
            _check_value(component, payload)
        except gr.Error as e:
            _refused(e)
            raise
        return original(payload)
    return preprocess


def guard_inputs(demo: gr.Blocks, switch=None) -> gr.Blocks:
    """Put `_check_value` in front of every event handler of the app, so no endpoint (a
    new tab's included) sees NaN or an over-long text from a client that skips the UI.
    A handler that takes the header `switch` among its inputs speaks its language
    (`_guarded`). Handlers taking keyword inputs or async ones are left as they are (none
    here). A NaN refused in a Number's preprocess, before any handler, stays English: a
    component's preprocess sees its own value only, not the switch's."""
    for block_fn in demo.fns.values():
        for comp in block_fn.inputs:
            if isinstance(comp, (gr.Slider, gr.Number)) and "preprocess" not in vars(comp):
                comp.preprocess = _checked_preprocess(comp)  # this instance only
        fn = block_fn.fn
        if fn is None or getattr(block_fn, "input_keyword_names", None) \
                or inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
            continue
        block_fn.fn = _guarded(fn, list(block_fn.inputs), switch)
    return demo
