"""English / 한국어 (bertgpt/app/i18n.py, bertgpt/app/strings/): every string has both
languages, every id in the code exists and every id is used, the app shows nothing in
English that Korean lacks, and the switch works end to end."""
import ast
import copy
import importlib
import json
import pickle
import re
from inspect import cleandoc
from pathlib import Path

import gradio as gr
import pytest

import bertgpt
from bertgpt.app import i18n
from bertgpt.app.i18n import t

PACKAGE = Path(bertgpt.__file__).resolve().parent


@pytest.fixture(scope="module")
def demo():
    from bertgpt.app import build_app
    return build_app()


def _ids_in_code():
    """The ids the package asks for: literal t("...") and say(lang, "...") calls, and the prefixes of the ids
    it builds (t(f"intro.country.{name}") -> "intro.country."). Not i18n.py itself: its
    docstring's example is no use of an id."""
    source = "\n".join(p.read_text(encoding="utf-8") for p in PACKAGE.rglob("*.py")
                       if p.resolve() != Path(i18n.__file__).resolve())
    # t("id") and say(lang, "id"): the id is the first string argument either way
    call = r"""\b(?:t\(|say\([^,()]+,)\s*"""
    exact = {m[2] for m in re.finditer(call + r"""(["'])([^"'{}]+)\1""", source)}
    prefixes = {m[1] for m in re.finditer(call + r"""f["']([^"'{}]*)\{""", source)}
    return exact, prefixes


# ---- the data ------------------------------------------------------------------------------

def test_every_language_has_every_id_and_nothing_else():
    files = sorted(i18n.STRINGS.glob("*.json"))
    assert [p.stem for p in files] == sorted(i18n.LANGS)
    ids = {lang: set(i18n.table(lang)) for lang in i18n.LANGS}
    assert ids["ko"] == ids["en"], {"only en": ids["en"] - ids["ko"],
                                    "only ko": ids["ko"] - ids["en"]}
    for lang in i18n.LANGS:
        raw = json.loads((i18n.STRINGS / f"{lang}.json").read_text(encoding="utf-8"))
        for key, value in raw.items():
            assert re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+", key), key
            lines = value if isinstance(value, list) else [value]
            assert lines and all(isinstance(x, str) for x in lines), (lang, key)
            assert "".join(lines).strip(), f"{lang}.json: {key} is empty"


def test_placeholders_are_the_same_in_every_language():
    def fields(text):
        return sorted(re.findall(r"\{(\w+)\}", text))
    for key, english in i18n.table("en").items():
        assert fields(i18n.table("ko")[key]) == fields(english), key


def test_every_id_in_the_code_exists_and_every_id_is_used():
    exact, prefixes = _ids_in_code()
    ids = set(i18n.table("en"))
    assert exact - ids == set(), "asked for but not in strings/en.json"
    assert all(any(k.startswith(p) for k in ids) for p in prefixes), prefixes
    unused = {k for k in ids if k not in exact and not any(k.startswith(p) for p in prefixes)}
    assert unused == set(), "in the strings data but asked for by no code"


def test_a_name_reads_the_same_in_korean_wherever_it_appears():
    """So `names()` (English -> Korean, for the lessons' UI-name rule) loses nothing."""
    korean: dict[str, set] = {}
    for key, english in i18n.table("en").items():
        if not key.endswith(".md"):
            korean.setdefault(english, set()).add(i18n.table("ko")[key])
    assert {en: ko for en, ko in korean.items() if len(ko) > 1} == {}
    assert i18n.names()["Copy link to this view"] == "이 화면 링크 복사"
    assert not any(en.startswith("#") for en in i18n.names())   # Markdown is not a name


def test_an_unknown_id_is_an_error():
    with pytest.raises(KeyError):
        t("mlm.no_such_label")


def test_a_msg_is_its_english_and_keeps_its_id_through_copies():
    msg = t("real.download", name="gpt2", params="124M", size="550 MB")
    assert msg == "gpt2 (124M) · downloads 550 MB on first use" and isinstance(msg, str)
    for copied in (copy.deepcopy(msg), pickle.loads(pickle.dumps(msg))):
        assert copied == msg and copied.key == "real.download"
        assert copied.read("ko") == "gpt2 (124M) · 처음 쓸 때 550 MB 다운로드"


def test_the_i18n_module_imports_nothing_of_the_package():
    """No cycle app -> app.i18n -> app, at module level or inside a function."""
    tree = ast.parse(Path(i18n.__file__).read_text(encoding="utf-8"))
    imported = [(n.level, n.module or "") for n in ast.walk(tree)
                if isinstance(n, ast.ImportFrom)]
    imported += [(0, a.name) for n in ast.walk(tree) if isinstance(n, ast.Import)
                 for a in n.names]
    assert [m for level, m in imported if level or m.split(".")[0] == "bertgpt"] == []


# ---- the built app -------------------------------------------------------------------------

def test_every_visible_label_has_korean(demo):
    # A new tab's labels land here until they come from t() (or are in KEEP).
    assert i18n.untranslated(demo) == []


def test_every_markdown_text_of_the_data_is_switched(demo):
    walked = {f["value"].key for b, f in i18n.walk(demo) if isinstance(b, gr.Markdown)}
    assert walked == {key for key in i18n.table("en") if key.endswith(".md")}


def test_labels_only_a_gpu_server_builds_have_korean():
    # a CPU-only test run never builds the GPU sizes, so the walk above cannot see them
    from bertgpt.app.tab_train import SIZES
    assert [label for label, _, _ in SIZES.values() if not i18n.translated(label)] == []


def test_the_walk_finds_tab_titles_buttons_and_choices(demo):
    found = [f for _, f in i18n.walk(demo)]
    shown = {s for f in found for s in i18n.texts(f)}
    from bertgpt.app import TABS
    for tab in TABS:  # every tab title is walked, so it is checked above
        assert importlib.import_module(f"bertgpt.app.tab_{tab}").LABEL in shown
    assert "Copy link to this view" in shown and "Lesson" in shown   # buttons, accordions
    assert "causal (GPT)" in shown                                   # choice display names


def test_update_switches_label_and_choice_names_but_keeps_values():
    radio = gr.Radio([(t("attention.source.bundled"), "bundled"),
                      (t("attention.source.own"), "own"), ("gpt2", "gpt2")],
                     label=t("attention.source"), info=t("mlm.source.info"))
    found = i18n.strings(radio)
    ko = i18n.update(found, "ko")
    assert ko["label"] == "모델" and ko["info"].startswith("own = ")
    assert ko["choices"] == [("내장 모델", "bundled"), ("내가 학습한 모델", "own"),
                             ("gpt2", "gpt2")]          # text written in code stays as it is
    en = i18n.update(found, "en")
    assert en["label"] == "Models" and en["choices"][0] == ("bundled models", "bundled")


def test_buttons_and_markdown_keep_their_id_through_gradio():
    """Gradio passes a Button's and a Markdown's value through str() / inspect.cleandoc,
    which drop the id: the switch reads the value the tab passed."""
    with gr.Blocks():
        button, md = gr.Button(t("mlm.go")), gr.Markdown(t("intro.stages.md"))
        plain = gr.Markdown("Some **notes**")
    assert i18n.update(i18n.strings(button), "ko")["value"] == "마스크"
    assert i18n.update(i18n.strings(md), "ko")["value"].startswith("**과제마다 모델을")
    assert i18n.strings(plain) == {}   # Markdown without an id is not switched


def test_labels_built_from_data_fill_the_same_values_in_korean(monkeypatch):
    from bertgpt.io import hub
    from bertgpt.app import tab_attention
    from bertgpt.app.common import real_choices
    for state, note in [("cached", "준비됨"), ("offline", "오프라인, 캐시에 없음"),
                        ("download", "처음 쓸 때 ~1 GB 다운로드")]:
        monkeypatch.setattr(hub, "status", lambda name, probe=False: state)
        for arch in ("bert", "gpt"):   # the English is what hub.choices says
            assert [(str(label), n) for label, n in real_choices(arch)] == hub.choices(arch)
        real = tab_attention._sources()[-1][0]
        assert i18n.tr(real, "ko") == f"실제 모델 bert-base-uncased + gpt2 · {note}"
    assert t("real.download", name="gpt2", params="124M", size="550 MB").read("ko") == \
        "gpt2 (124M) · 처음 쓸 때 550 MB 다운로드"
    assert not i18n.translated("Some brand-new label")


# ---- the switch ----------------------------------------------------------------------------

class _Req:
    def __init__(self, **q):
        self.query_params = q


def test_pick_language_link_beats_memory_beats_default():
    assert i18n.pick_language("en", _Req(lang="ko")) == "ko"
    assert i18n.pick_language("ko", _Req()) == "ko"
    assert i18n.pick_language(None, _Req(lang="fr")) == "en"
    assert i18n.pick_language("<script>", None) == "en"


def test_copy_link_carries_the_language():
    from bertgpt.app import link_query
    assert link_query("mlm", ["seed"], [7], "ko") == "?tab=mlm&lang=ko&seed=7"
    assert link_query("mlm", ["seed"], [7], "en") == "?tab=mlm&seed=7"


def _shown(outputs) -> set[str]:
    """Every label, button text and choice name in the switch's updates."""
    out = set()
    for o in outputs:
        if isinstance(o, dict):
            out.update(str(o[k]) for k in ("label", "value", "info") if k in o)
            out.update(str(c[0]) for c in o.get("choices", []))
    return out


def test_switching_language_through_the_api_returns_korean():
    from gradio_client import Client
    from apphelp import running_app
    from bertgpt.app import TABS
    from bertgpt.app.common import lesson
    with running_app() as app:
        client = Client(app.local_url, verbose=False)
        ko = client.predict("ko", api_name="/set_language")
        link = client.predict("the capital of france is paris .", 7, 0.15, 0.8, 0.1, "ko",
                              api_name="/link_mlm")
        en = client.predict("en", api_name="/set_language")
    assert ko[0] == "ko" and en[0] == "en"          # what the browser remembers
    # the lesson panels, one per tab in tab order, in the language asked for (gr.Markdown
    # sends its text through inspect.cleandoc)
    assert list(ko[1:1 + len(TABS)]) == [cleandoc(lesson(tab, "ko")) for tab in TABS]
    assert list(en[1:1 + len(TABS)]) == [cleandoc(lesson(tab, "en")) for tab in TABS]
    korean, english = _shown(ko), _shown(en)
    # (tab titles, accordions and buttons are left out of the API's outputs:
    # tests/test_browser_i18n.py sees them on the page)
    for key in ("app.link_box", "intro.country", "masks.kind.causal", "train.lr",
                "intro.country.france"):
        label = i18n.table("en")[key]
        assert i18n.table("ko")[key] in korean and label not in korean
        assert label in english
    assert "lang=ko" in link and "seed=7" in link


def test_say_writes_a_string_in_the_page_language_and_falls_back_to_english():
    from bertgpt.app.i18n import say, table
    assert say("ko", "app.lesson") == table("ko")["app.lesson"] != table("en")["app.lesson"]
    assert say(None, "app.lesson") == say("xx", "app.lesson") == table("en")["app.lesson"]
    assert say("ko", "app.live_note", message="m") == \
        table("ko")["app.live_note"].format(message="m")
