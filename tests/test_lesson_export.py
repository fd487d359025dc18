"""bertgpt/course/export.py: one valid, self-contained HTML page of lessons per language."""
from __future__ import annotations

import html as _html
from html.parser import HTMLParser
from pathlib import Path

from bertgpt.course import export as X
from bertgpt.course import lessons as L

N_LESSONS = 12  # one per tab (tests/test_lessons.py holds the list)



class _Checker(HTMLParser):
    """Tags close in order (void elements aside); no external resource is referenced."""
    VOID = {"meta", "br", "hr", "img", "input", "link", "source", "col", "area", "base",
            "wbr", "path", "use", "stop", "rect", "circle", "line", "polygon", "polyline",
            "ellipse"}

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.counts = [], [], {}

    def handle_starttag(self, tag, attrs):
        self.counts[tag] = self.counts.get(tag, 0) + 1
        for name, value in attrs:
            if name in ("src", "href") and value and value.startswith(("http", "//")) \
                    and tag != "a":
                self.errors.append(f"external {name} on <{tag}>: {value}")
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.counts[tag] = self.counts.get(tag, 0) + 1

    def handle_endtag(self, tag):
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()


def test_export_writes_one_valid_self_contained_page_per_language(tmp_path):
    written = X.export(tmp_path)
    assert [p.name for p in written] == ["lessons-en.html", "lessons-ko.html"]
    for path, lang in zip(written, L.LANGS):
        page = path.read_text(encoding="utf-8")
        checker = _Checker()
        checker.feed(page)
        checker.close()
        assert not checker.errors, checker.errors[:5]
        assert checker.stack == [], f"unclosed: {checker.stack}"
        lessons = L.load_all(lang)
        assert len(lessons) == N_LESSONS
        for lesson in lessons:
            assert f'id="{Path(lesson.path).stem}"' in page
            assert _html.escape(lesson.title) in page or lesson.title in page
        assert checker.counts.get("details", 0) >= sum(len(x.exercises) for x in lessons)
        assert checker.counts.get("svg") == len(X.FIGURES)  # the figures, inline
        assert checker.counts.get("script", 0) == 0 and checker.counts.get("link", 0) == 0


def test_cli_lessons_export_prints_what_it_wrote(tmp_path, capsys):
    from bertgpt.cli import main
    assert main(["lessons", "--export", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "lessons-en.html") in out and str(tmp_path / "lessons-ko.html") in out


def test_export_carries_the_errata_the_lessons_cite(tmp_path):
    for path in X.export(tmp_path):
        page = path.read_text(encoding="utf-8")
        assert 'id="errata"' in page and 'id="bug-2"' in page
        assert "?tab=errata" not in page          # a citation link stays on the page
    assert X._target("?tab=errata&lang=ko#bug-2", "http://x/") == "#bug-2"
    assert X._target("?tab=mlm&seed=7", "http://x/") == "http://x/?tab=mlm&seed=7"


def test_stray_asterisks_are_found_and_rendered_emphasis_is_not():
    assert X.stray_asterisks("이것을 *자기지도 학습(self-supervised)*이라고 부릅니다.")
    assert not X.stray_asterisks("이것을 <em>자기지도 학습(self-supervised)</em>이라고 합니다.")
    assert not X.stray_asterisks("*masked* words, **bold**, `a * b` and\n\n```\nx * y\n```\n")


def test_no_lesson_shows_a_literal_asterisk():
    bad = {}
    for lang in L.LANGS:
        for path in sorted((L.ROOT / lang).glob("*.md")):
            if (found := X.stray_asterisks(path.read_text(encoding="utf-8"))):
                bad[f"{lang}/{path.name}"] = found
    assert not bad, bad


def test_no_app_markdown_shows_a_literal_asterisk():
    import gradio as gr
    from bertgpt.app import build_app, i18n
    texts = [b.value for b in build_app().blocks.values()
             if isinstance(b, gr.Markdown) and isinstance(b.value, str)]
    texts += [ko for key, ko in i18n.table("ko").items() if key.endswith(".md")]
    bad = [found for t in texts if (found := X.stray_asterisks(t))]
    assert not bad, bad
