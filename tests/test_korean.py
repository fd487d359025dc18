"""Issue #22: under Korean, what the app *writes* is Korean too. Each tab's endpoints are
called through `gradio_client` with lang="ko" (good input, and bad input for its error
message); every string that comes back for a person to read is collected (Markdown, chip
labels, plotly titles, axis titles, legend names, annotations and hover text, table
headers and cells, Label names, error messages) and no English word may be in it, except:

- code spans and HTML tags (code is code in every language);
- `[CLS]`-style special tokens, and the bundled tokenizers' own pieces where a piece is
  shown as a piece (chips, tick labels of token axes, bar categories of guesses);
- the words the test typed itself (a student's text comes back as tokens and quotes);
- `ALLOW`: model and method names, units and symbols a Korean ML class writes in Latin
  letters (see the set, one reason per line).

A tab is covered by listing its calls in CALLS; Train live's stream is checked in Korean
in tests/test_app_live.py. Also here: no Markdown a tab writes, in
either language, shows a literal `*` (CommonMark leaves emphasis unclosed before a
Korean particle)."""
from __future__ import annotations

import json
import re

import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402

from apphelp import running_app  # noqa: E402
from bertgpt.course.export import stray_asterisks  # noqa: E402
from bertgpt.io import hub  # noqa: E402
from bertgpt.io.assets import bundled, world_tokenizer  # noqa: E402
from bertgpt.model.config import PRESETS  # noqa: E402

needs_models = pytest.mark.skipif(
    bundled("bert") is None or bundled("gpt") is None,
    reason="the bundled minis (assets/models) are not there yet")

ALLOW = {w.lower() for w in (
    # models and architectures, by the names the papers and the hub give them
    "BERT", "GPT", "GPT-2", "GPT-3", "BERT-Base", "BERT-Large", "mini", *PRESETS, *hub.REAL,
    # the two tokenizer algorithms, the two objectives, NSP's two label names
    "WordPiece", "BPE", "MLM", "NSP", "IsNext", "NotNext",
    # the two sampling cuts, by the names the Korean UI's own sliders give them
    "top-k", "top-p",
    # formats, number types, optimizer and paper names, metrics, units
    "UTF-8", "CSV", "NaN", "fp32", "bf16", "Adam", "ZeRO", "MLP", "F1", "GB", "MB",
    # the papers' first authors, in citations
    "Devlin", "Radford", "Brown",
    # a token's number: the Korean UI's own word for it ("토큰 (id)", strings mlm.labels)
    "id",
    # the world sentiment task's two label names: data, as a student's own CSV labels are
    "positive", "negative",
)}
# Endpoints that write a model's token in bold inside their text: Fill-mask's filled
# sentence, the token Generate drew.
BOLD_GUESSES = {"/fill_mask", "/next_token"}
# Outputs that are code, or the English model's own text, in every language: the prompt
# GPT was fed (a gr.Code box); the prompt with the drawn token appended.
CODE = {"/gpt_prompting": {1}, "/next_token": {1}}
TEXT = "The capital of France is Paris, and people there speak French."
CSV_ONE_LABEL = "text,label\n" + "\n".join(f"the soup number {i} was hot,positive"
                                           for i in range(8))

# tab -> [(api_name, args without the trailing lang, True when an error is expected)]
CALLS = {
    "intro": [("/intro_ask", ("France",), False), ("/intro_ask", (None,), True)],
    "tokenize": [
        ("/tokenize", ("Minho bakes unbelievably delicious croissants in Seoul 🥐 서울", 300,
                       "unbelievably"), False),
        ("/tokenize", (TEXT, 2000, ""), True), ("/tokenize", ("", 2000, "paris"), True)],
    "mlm": [
        ("/mask", (TEXT, 250, 0.15, 0.8, 0.1), False),
        ("/mask_predict", (TEXT, 250, 0.3, 0.8, 0.1, 5, "bundled"), False),
        ("/mask", (TEXT, 250, 0.15, 0.8, 0.3), True),
        ("/mask", ("민호는 서울에서 크루아상을 굽습니다", 1, 0.15, 0.8, 0.1), True),
        ("/mask_predict", (TEXT, 250, 0.3, 0.8, 0.1, 5, "own"), True)],
    "nsp": [
        ("/pairs", ("world corpus", "", 3, 24, False, 1, "sentences"), False),
        ("/pairs", ("world corpus", "", 3, 24, True, 2, "sentences"), False),
        ("/pairs", ("world corpus", "", 3, 24, False, 1, "segments"), False),
        ("/nsp_predict", ("Anna is a teacher who lives in Paris.",
                          "Every morning, she drinks a cup of tea.", "bundled"), False),
        ("/pairs", ("my documents", "Anna is a teacher. She lives in Paris.", 3, 24, False, 1,
                    "sentences"), True),
        ("/nsp_predict", ("", "The cow eats grass.", "bundled"), True)],
    "masks": [
        ("/masks", ("the cat eats fish\nthe dog barks at the cat\nhello", "causal+padding", 0,
                    1), False),
        ("/masks", ("a\nb\nc\nd\ne", "causal", 0, 1), True)],
    "attention": [
        ("/attention", (TEXT, "bundled", 4, 2), False),
        ("/attention", (TEXT, "own", 1, 1), False),          # no own model: a note
        ("/attention", ("", "bundled", 1, 1), True)],
    "finetune": [
        ("/finetune_inspect", ("the soup was cold", ""), True),   # nothing fine-tuned yet
        ("/finetune", ("classify", "bundled", "", "16", 10, False, 0), False),
        ("/finetune_inspect", ("The noodles were cold and greasy.", ""), False),
        ("/finetune_sweep", ("classify", "bundled", "", 10, False, 0), False),
        ("/gpt_prompting", ("capital", 1, "bundled"), False),
        ("/finetune", ("csv", "bundled", CSV_ONE_LABEL, "16", 10, False, 0), True)],
    "sizes": [
        ("/params", ("gpt3-175b", "gpt", 1, 1, 1, 16, 1), False),
        ("/params", ("bert-large", "bert", 1, 1, 1, 16, 1), False),
        ("/params", ("custom", "gpt", 500, 2, 7, 64, 32), True),
        ("/preset_table", (), False)],
    "fillmask": [
        ("/fill_mask", ("the capital of france is [MASK] .", 5, "bundled"), False),
        ("/fill_mask", ("the capital of france is paris .", 5, "bundled"), True),
        ("/fill_mask", ("the capital of france is [MASK] .", 5, "own"), True)],
    "generate": [
        ("/next_token", ("bundled", "The capital of France is", 0.8, 0, 0.9, 0), False),
        ("/generate", ("bundled", "The capital of France is", 0.8, 0, 0.9, 0, 6), False),
        # (a temperature below the slider's minimum is Gradio's own refusal, in English,
        # before any handler runs: only a client that skips the UI can send one)
        ("/next_token", ("bundled", "The capital " * 300, 0.8, 0, 0.9, 0), True),
        ("/generate", ("own", "The capital", 0.8, 0, 0.9, 0, 6), True)],
    # A class needs a teacher first (tests/test_class_tab.py walks one in Korean): here,
    # a wrong code's refusals. The Lab's re-run (minutes) is in tests/test_tab_lab.py.
    "class": [("/class_join", ("NOPE99", "student-1", "Ada"), True),
              ("/class_view", ("NOPE99", "student-1"), True)],
}


# ---- what comes back, as (text, kind): "text" is prose, "token" a piece shown as a piece

def _figure(fig: dict):
    lay = fig.get("layout", {})
    title = lay.get("title")
    yield (title.get("text", "") if isinstance(title, dict) else title or ""), "text"
    for key, axis in lay.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            t = axis.get("title")
            yield (t.get("text", "") if isinstance(t, dict) else t or ""), "text"
            for tick in axis.get("ticktext") or []:
                yield str(tick), "token"
    for note in lay.get("annotations") or []:
        yield note.get("text", ""), "text"
    for trace in fig.get("data", []):
        yield trace.get("name", ""), "text"
        yield trace.get("hovertemplate", ""), "text"
        bar = (trace.get("colorbar") or {}).get("title") or {}
        yield bar.get("text", ""), "text"
        if trace.get("type") == "bar":  # category names: parts, rates, labels, guesses
            cats = trace.get("y" if trace.get("orientation") == "h" else "x") or []
            for c in cats:
                if isinstance(c, str):
                    # a guess (✓ right, ★ drawn) or a GPT piece (␣ is its leading space)
                    yield c, "token" if c.startswith(("✓ ", "★ ", "␣")) or c.islower() \
                        else "text"


def shown(value, api: str):
    """Every string of one endpoint's result a person reads."""
    if isinstance(value, str):
        yield value, "text"
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from shown(v, api)
    elif isinstance(value, dict):
        if "plot" in value and isinstance(value["plot"], str):
            yield from _figure(json.loads(value["plot"]))
        elif "headers" in value and "data" in value:           # a Dataframe
            for h in value["headers"]:
                yield str(h), "text"
            for row in value["data"]:
                for cell in row:
                    yield str(cell), "text"
        elif "confidences" in value or "label" in value:       # a Label
            for c in value.get("confidences") or []:
                yield str(c["label"]), "text"
        elif "value" in value:                                 # an update carrying a value
            yield from shown(value["value"], api)
        elif "token" in value:                                 # a HighlightedText chip
            yield str(value["token"]), "token"
            if isinstance(value.get("class_or_confidence"), str):
                yield value["class_or_confidence"], "text"


@pytest.fixture(scope="module")
def pieces() -> set[str]:
    """Every piece of the tokenizers the tabs show, without ## / Ġ, lowercase."""
    found = set()
    for kind in ("wordpiece", "bpe"):
        tok = world_tokenizer(kind)
        found |= {tok.id_to_token(i).lstrip("#").lstrip("Ġ").lower()
                  for i in range(tok.vocab_size)}
    for arch in ("bert", "gpt"):
        if (loaded := bundled(arch)) is not None:
            tok = loaded.tokenizer
            found |= {tok.id_to_token(i).lstrip("#").lstrip("Ġ").lower()
                      for i in range(tok.vocab_size)}
    return found


def english(text: str, kind: str, typed: list[str], pieces: set[str]) -> list[str]:
    """The English words in `text` that the rules above do not let through."""
    text = re.sub(r"`[^`]*`", " ", text)                    # code spans
    text = re.sub(r"<[^>]+>", " ", text)                    # HTML tags (<b>, <br>, <extra>)
    text = re.sub(r"%\{[^}]*\}", " ", text)                 # plotly's %{y} fields
    text = re.sub(r"\[[A-Z]+\]|<\|endoftext\|>|<0x[0-9A-F]{2}>", " ", text)  # specials
    text = re.sub(r"\b[0-9A-F]{2}\b", " ", text)            # a byte in hex: EC 84 9C
    # a piece in quotes, as a figure writes it where code spans do not render: ('##ens')
    text = re.sub(r"'([^'\s]+)'", lambda m: " " if m[1].lstrip("#Ġ␣").lower() in pieces
                  else m[0], text)
    word_re = r"[A-Za-z][A-Za-z0-9_-]*(?:[A-Za-z0-9])?"  # typed and shown words alike
    words_typed = {w.lower() for t in typed for w in re.findall(word_re, t)}
    bad = []
    for word in re.findall(word_re, text):
        w = word.lower()
        if len(re.sub(r"[^a-z]", "", w)) <= 1 or w in ALLOW or w.rstrip("s") in ALLOW:
            continue   # one letter is a symbol: A/B, k, q·k/√d, 110M, p = 0.9
        if any(w in t for t in words_typed):      # what the test typed, or a piece of it
            continue
        if kind == "token" and w in pieces:
            continue
        bad.append(word)
    return bad


def _call(client, api: str, args: tuple, error: bool):
    """(what came back, or the error message), through the API with lang='ko'."""
    if error:
        with pytest.raises(AppError) as caught:
            client.predict(*args, "ko", api_name=api)
        return str(caught.value)
    return client.predict(*args, "ko", api_name=api)


@pytest.fixture(scope="module")
def client():
    with running_app() as demo:
        yield gradio_client.Client(demo.local_url, verbose=False)


@needs_models
@pytest.mark.parametrize("tab", list(CALLS))
def test_every_tab_writes_korean_under_korean(client, tab, pieces):
    bad, hangul = {}, False
    for api, args, error in CALLS[tab]:
        out = _call(client, api, args, error)
        typed = [a for a in args if isinstance(a, str)]
        if not error and api in CODE:
            out = [o for i, o in enumerate(out) if i not in CODE[api]]
        found = list(shown(out, api)) if not error else [(out, "text")]
        if api in BOLD_GUESSES:  # the sentence with BERT's guesses in bold: pieces, as chips
            found = [(re.sub(r"\*\*([^*\s]+)\*\*", lambda m: f"`{m[1]}`"
                             if m[1].lower().lstrip("#Ġ␣") in pieces else m[0], text), kind)
                     for text, kind in found]
        if error:  # the refusal itself is Korean, not Gradio's generic "raised an exception"
            assert re.search("[가-힣]", out) and "raised an exception" not in out, (api, out)
        for text, kind in found:
            hangul = hangul or bool(re.search("[가-힣]", text))
            if (words := english(text, kind, typed, pieces)):
                bad.setdefault(api, []).append((text[:120], words))
            if kind == "text" and (stars := stray_asterisks(text)):
                bad.setdefault(api, []).append((text[:120], stars))
    assert hangul, f"{tab}: nothing Korean came back at all"
    assert bad == {}, bad


def test_the_checker_catches_english_and_lets_code_names_and_typed_words_through():
    pieces = {"paris", "cat"}
    assert english("Press Predict to see BERT's guesses.", "text", [], pieces) == \
        ["Press", "Predict", "to", "see", "guesses"]
    assert english("**BERT**는 `the capital is [MASK] .`를 읽고 [CLS] 110M, q·k", "text",
                   [], pieces) == []
    assert english("위치 3: 'france' → 무작위", "text", ["The capital of France"], pieces) == []
    assert english("paris", "token", [], pieces) == [] and \
        english("paris", "text", [], pieces) == ["paris"]   # a piece only where it is one
    assert english("층 정규화 %{x}: <extra></extra> EC 84 9C ('##cat')", "text", [], pieces) == []
    assert english("('##dog')", "text", [], pieces) == ["dog"]


# ---- Markdown a tab writes: no literal `*` in either language --------------------------

@needs_models
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_no_written_markdown_shows_an_asterisk(lang):
    from bertgpt.app import tab_attention, tab_intro, tab_masks, tab_nsp, tab_sizes
    from bertgpt.app.tab_mlm import mask, mask_predict
    texts = [*tab_intro.ask_both("France", None, lang),
             mask(TEXT, 250, 0.15, 0.8, 0.1, lang)[3],
             mask_predict(TEXT, 250, 0.3, 0.8, 0.1, 5, "bundled", None, lang)[1],
             tab_masks.masks("the cat\nhello", "padding", 0, 1, lang)[3],
             tab_attention.attention(TEXT, "own", 9, 9, None, lang)[4],
             tab_sizes.params("gpt3-175b", "gpt", 1, 1, 1, 16, 1, lang)[0]]
    for bug in (False, True):
        texts.append(tab_nsp.pairs("world corpus", "", 3, 24, bug, 1, "sentences", lang)[1])
    texts.append(tab_nsp.pairs("world corpus", "", 3, 24, False, 1, "segments", lang)[1])
    bad = [(t[:80], found) for t in texts if (found := stray_asterisks(t))]
    assert bad == []
