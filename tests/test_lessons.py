"""The lessons (lessons/<lang>/NN-<tab>.md, bertgpt/course/lessons.py): same shape in both
languages, code that runs, numbers the core confirms or numbers.txt cites, links that open
a real tab with real settings. (The printable export: test_lesson_export.py.)"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from bertgpt.course import lessons as L

TAB_ORDER = ["intro", "tokenize", "mlm", "nsp", "masks", "attention", "train", "fillmask",
             "generate", "finetune", "lab", "sizes"]  # the contract the lesson writers follow
FILES = [f"{i:02d}-{tab}.md" for i, tab in enumerate(TAB_ORDER, 1)]
CELL_TIMEOUT = 45  # seconds per cell: "a few seconds on CPU", with room for a busy 2-core box


def _lesson(lang: str, name: str) -> L.Lesson:
    path = L.ROOT / lang / name
    assert path.is_file(), f"{path} is missing"
    return L.parse(path.read_text(encoding="utf-8"), lang, str(path))


# ---- the parser itself, on a lesson written here ------------------------------------------

SAMPLE = """# MLM

## The idea
BERT hides 15% of tokens; 80% of those become [MASK]. BERT-base: 109,482,240 parameters
(110M); GPT-3 175B reads 2048 tokens. Published in 2018. A made-up 12,345 and 3.3B.
See the [MLM tab](?tab=mlm&seed=7&prob=0.15).

## Exercises
<details><summary>Answer</summary>

Because 4096 is wrong.
</details>

## In code
```python
# 99,999 in a comment is code, not prose
print(1)
```
"""


def test_parse_finds_title_sections_code_exercises_links_and_numbers():
    lesson = L.parse(SAMPLE, "en")
    assert lesson.title == "MLM"
    assert lesson.headings == ["The idea", "Exercises", "In code"]
    assert lesson.code == ["# 99,999 in a comment is code, not prose\nprint(1)\n"]
    assert lesson.exercises == [("Answer", "Because 4096 is wrong.")]
    assert lesson.links == [("MLM tab", {"tab": "mlm", "seed": "7", "prob": "0.15"})]
    assert lesson.numbers == ["15%", "80%", "109,482,240", "110M", "175B", "2048", "12,345",
                              "3.3B", "4096"]


@pytest.fixture(scope="module")
def table():
    return L.core_numbers()


def test_numbers_are_checked_against_the_core(table):
    ok = {n: L.check_number(n, table) for n in L.numbers_in(SAMPLE)}
    assert ok["109,482,240"] and ok["110M"] and ok["175B"] and ok["2048"]
    assert ok["15%"] and ok["80%"]
    assert not ok["12,345"] and not ok["3.3B"]          # made up / not the core's: cite it
    assert L.check_number("30,522", table) and L.check_number("50,257", table)
    assert L.check_number("12%", table)                 # 15% x 80% of all tokens
    assert not L.check_number("16%", table) and not L.check_number("30,523", table)


def test_numbers_file_has_a_source_for_every_entry():
    listed = L.read_numbers_file()
    assert all(source for source in listed.values()), \
        [n for n, s in listed.items() if not s]


def test_code_signature_ignores_comments_only():
    assert L.code_signature("x = 1  # one\n\nprint(x)\n") == \
        L.code_signature("x = 1  # 하나\nprint(x)  # 출력\n")
    assert L.code_signature("print('a')") != L.code_signature("print('b')")


# ---- the lessons the writers wrote ---------------------------------------------------------

def test_tabs_in_the_app_are_the_lessons_order():
    from bertgpt.app import TABS
    assert TABS == TAB_ORDER


@pytest.mark.parametrize("lang", L.LANGS)
def test_every_lesson_exists_and_nothing_else(lang):
    assert [p.name for p in L.lesson_files(lang)] == FILES


@pytest.mark.parametrize("name", FILES)
def test_same_shape_in_both_languages(name):
    en, ko = _lesson("en", name), _lesson("ko", name)
    for lesson in (en, ko):
        assert lesson.title, f"{lesson.path}: no '# Title' line"
        assert lesson.headings == list(L.SECTIONS[lesson.lang]), lesson.path
        assert 2 <= len(lesson.exercises) <= 4, f"{lesson.path}: {len(lesson.exercises)} exercises"
        assert all(s == L.ANSWER[lesson.lang] for s, _ in lesson.exercises), lesson.path
        assert all(answer for _, answer in lesson.exercises), f"{lesson.path}: empty answer"
        assert lesson.code, f"{lesson.path}: no ```python cell under the code section"
    assert len(en.exercises) == len(ko.exercises)
    assert [L.code_signature(c) for c in en.code] == [L.code_signature(c) for c in ko.code], \
        f"{name}: the code cells differ between en and ko (only comments may)"


@pytest.fixture(scope="module")
def app_links():
    from bertgpt.app import build_app
    return build_app().links


@pytest.mark.parametrize("lang", L.LANGS)
@pytest.mark.parametrize("name", FILES)
def test_deep_links_open_a_tab_with_settings_it_takes(lang, name, app_links):
    from bertgpt.app import _coerce
    lesson = _lesson(lang, name)
    for text, params in lesson.links:
        tab = params.get("tab")
        assert tab in app_links, f"{name}: [{text}] links to unknown tab {tab!r}"
        assert (params.get("lang") == "ko") == (lang == "ko"), \
            f"{name}: [{text}] should {'' if lang == 'ko' else 'not '}carry lang=ko"
        for key, raw in params.items():
            if key in ("tab", "lang"):
                continue
            assert key in app_links[tab], \
                f"{name}: [{text}] sets {key!r}, which tab {tab!r} does not take " \
                f"(it takes {sorted(app_links[tab])})"
            assert _coerce(app_links[tab][key], raw) is not None, \
                f"{name}: [{text}] sets {key}={raw!r}, which that input refuses"


@pytest.mark.parametrize("lang", L.LANGS)
@pytest.mark.parametrize("name", FILES)
def test_every_number_is_computed_by_the_core_or_cited(lang, name, table):
    listed = L.read_numbers_file()
    missing = L.unchecked_numbers(_lesson(lang, name), table, listed)
    assert not missing, (f"{lang}/{name}: {missing} are neither computable from the core nor "
                         "in lessons/numbers.txt (`<number> — <source>`)")


# ---- every code cell runs ------------------------------------------------------------------

# Runs each cell in a fresh namespace with a per-cell alarm and no network; one process,
# so torch is imported once for all the cells.
RUNNER = textwrap.dedent("""
    import contextlib, io, json, signal, socket, sys, time, traceback
    def _no_network(*a, **k):
        raise OSError("lesson code must not use the network")
    socket.socket.connect = _no_network
    socket.create_connection = _no_network
    cells = json.load(sys.stdin)
    timeout = int(sys.argv[1])
    def _alarm(*_):
        raise TimeoutError(f"cell ran over {timeout} s")
    signal.signal(signal.SIGALRM, _alarm)
    results = []
    for cell in cells:
        out, t = io.StringIO(), time.perf_counter()
        signal.alarm(timeout)
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(cell, "<lesson cell>", "exec"), {"__name__": "__main__"})
            error = None
        except BaseException:
            error = traceback.format_exc(limit=-3)
        finally:
            signal.alarm(0)
        results.append({"error": error, "seconds": time.perf_counter() - t,
                        "stdout": out.getvalue()[-2000:]})
    print(json.dumps(results))
""")


@pytest.fixture(scope="module")
def cell_results(tmp_path_factory):
    """{code signature: result} for every distinct cell; a cell the two languages share
    (same code, other comments) runs once."""
    cells, keys = [], []
    for lang in L.LANGS:
        for lesson in L.load_all(lang):
            for c in lesson.code:
                if L.code_signature(c) not in keys:
                    keys.append(L.code_signature(c))
                    cells.append(c)
    if not cells:
        return {}
    cwd = tmp_path_factory.mktemp("lesson-cells")
    env = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONHASHSEED": "0",
           "PATH": "/usr/bin:/bin", "HOME": str(cwd), "MPLBACKEND": "Agg",
           # as conftest.py: OpenMP threads that spin while they wait made a fine-tuning
           # cell take minutes instead of seconds whenever another process held a core
           "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
           # this checkout's bertgpt, not whichever one the environment installed
           "PYTHONPATH": str(L.ROOT.parent)}
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(CELL_TIMEOUT)],
                          input=json.dumps(cells), capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=CELL_TIMEOUT * len(cells) + 120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(zip(keys, json.loads(proc.stdout.strip().splitlines()[-1])))


@pytest.mark.parametrize("lang", L.LANGS)
@pytest.mark.parametrize("name", FILES)
def test_every_code_cell_runs(lang, name, cell_results):
    lesson = _lesson(lang, name)
    for i, cell in enumerate(lesson.code, 1):
        result = cell_results[L.code_signature(cell)]
        assert result["error"] is None, \
            f"{lang}/{name} cell {i} failed after {result['seconds']:.1f} s:\n{result['error']}"
        assert result["stdout"].strip(), f"{lang}/{name} cell {i} prints nothing to look at"


@pytest.mark.parametrize("lang", L.LANGS)
@pytest.mark.parametrize("name", FILES)
def test_emphasis_renders(lang, name):
    """No `**` left over after rendering. CommonMark does not close `**15%**` when a
    letter follows the closing `**` (Korean `**15%**를`): the reader sees the asterisks.
    Write `**15%**를` as `**15%를**`, or `<b>15%</b>를`."""
    import re
    from bertgpt.course.export import _md
    page = _md().render(_lesson(lang, name).text)
    prose = re.sub(r"<(pre|code)>.*?</\1>", "", page, flags=re.S)
    left = re.findall(r".{0,30}\*\*.{0,30}", prose)
    assert not left, f"{lang}/{name}: unrendered bold: {left[:3]}"


# ---- the seed article's errata (lessons/<lang>/errata.md, shown in the app) ---------------

@pytest.mark.parametrize("lang", L.LANGS)
def test_errata_page_exists_and_every_cited_bug_is_on_it(lang):
    path = L.ROOT / lang / L.ERRATA
    assert path.is_file(), f"{path} is missing"
    text = path.read_text(encoding="utf-8")
    bugs = L.errata_bugs(text)
    assert bugs == list(range(1, len(bugs) + 1)) and len(bugs) >= 6, bugs
    assert L.errata_bugs((L.ROOT / "en" / L.ERRATA).read_text(encoding="utf-8")) == bugs
    assert "DESIGN.md" not in text and "GRADIO-NOTES" not in text
    for lesson in L.load_all(lang):
        missing = L.cited_bugs(lesson.text, lang) - set(bugs)
        assert not missing, f"{lesson.path} cites bug(s) {sorted(missing)}, not in {path}"
    # its links open real tabs too (the app shows the page under the header)
    page = L.parse(text, lang, str(path))
    assert page.links and all(("lang" in p) == (lang == "ko") for _, p in page.links)


def test_errata_citations_are_found_in_prose_and_links():
    assert L.cited_bugs("as (errata, bug 2) says, see [bug 5](?tab=errata#bug-5)", "en") == {2, 5}
    assert L.cited_bugs("(정오표, 버그 3), [버그 1](?tab=errata&lang=ko#bug-1)", "ko") == {1, 3}
    lesson = L.parse("# T\n\n## A\n[bug 2](?tab=errata&lang=ko#bug-2)\n", "ko")
    assert lesson.links == [("bug 2", {"tab": "errata", "lang": "ko"})]
