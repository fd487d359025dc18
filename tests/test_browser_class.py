"""The Class tab in a real browser (issue #20's "done when"): one teacher and three
students, each in a browser context of their own; the teacher pushes the MLM exercise,
the students answer differently, the teacher's chart shows three answers, the reveal
marks each student's own view, the CSV has three rows; then the server restarts and the
class is still there. Screenshots: screenshots/class-teacher-{en,ko}.png and
screenshots/class-student-{en,ko}.png (gitignored), for a person to look at.

Same setup as tests/test_browser.py: pip `playwright` + Debian's /usr/bin/chromium."""
from __future__ import annotations

import csv
import io

import pytest

from browserhelp import CHROMIUM, FLAGS, SHOTS, sync_api  # noqa: E402,F401

from apphelp import free_port, running_app  # noqa: E402
from bertgpt import settings  # noqa: E402
from bertgpt.app import class_tab, i18n, tab_mlm  # noqa: E402
from bertgpt.course import exercises  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]
KO = i18n.table("ko")


def _shows(page, text: str, selector: str = "body", timeout: float = 30_000):
    try:
        page.wait_for_function(
            f"document.querySelector({selector!r})?.innerText.includes({text!r})",
            timeout=timeout)
    except sync_api.TimeoutError:
        seen = page.evaluate(f"document.querySelector({selector!r})?.innerText")
        raise AssertionError(f"{text!r} is not in {selector}: {seen!r}") from None


PANEL_JS = "[...document.querySelectorAll('[role=tabpanel]')].find(e => e.offsetParent)"


def _panel_shows(page, text: str):
    try:
        page.wait_for_function(f"({PANEL_JS})?.innerText.includes({text!r})")
    except sync_api.TimeoutError:
        raise AssertionError(f"{text!r} is not in the open tab") from None


@pytest.fixture
def class_db(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGPT_CLASS_DB", str(tmp_path / "classes.sqlite"))
    settings.reset()
    class_tab._store_at.cache_clear()
    yield
    class_tab._store_at.cache_clear()


def test_one_teacher_three_students_and_a_restart(class_db):
    SHOTS.mkdir(exist_ok=True)
    # What the MLM tab shows by default is what the teacher pushes; its answer comes from
    # the same grading the app does, never from this file.
    pushed = {"text": tab_mlm.DEFAULT_TEXT, "seed": tab_mlm.DEFAULT_SEED}
    q = exercises.question("mlm", pushed)
    right = exercises.grade("mlm", pushed, [])["right_answer"]
    label = dict((v, lab) for lab, v in q["choices"])
    wrong = [v for v in label if v not in right]
    answers = {"Ada": right, "Ben": wrong[:1], "Chae": wrong[1:3]}
    port = free_port()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        pages = {}
        for who in ["teacher", *answers]:
            page = browser.new_context(viewport={"width": 1440, "height": 1100}).new_page()
            page.set_default_timeout(60_000)
            pages[who] = page
        teacher = pages["teacher"]
        with running_app(port) as demo:
            url = demo.local_url
            teacher.goto(url + "?tab=class")
            teacher.get_by_text("I am the teacher").click()
            teacher.locator("#class-create").click()
            _shows(teacher, "Class code:", "#class-created")
            code = teacher.locator("#class-created strong").first.inner_text().split(": ")[1]
            assert len(code) == 6
            teacher.locator("#class-push").click()
            _shows(teacher, "Pushed", "#class-action")

            for name, ans in answers.items():
                page = pages[name]
                page.goto(f"{url}?class={code}")          # the teacher's link
                page.locator("#class-name textarea, #class-name input").first.fill(name)
                page.locator("#class-join").click()
                _shows(page, "joined", "#class-join-md")
                _shows(page, f"{tab_mlm.DEFAULT_SEED}", "#class-question")
                for v in ans:
                    page.get_by_label(label[v], exact=True).check()
                page.locator("#class-submit").click()
                _shows(page, "is in", "#class-submit-md")
            # one student tries again: refused, the first answer kept
            pages["Ben"].get_by_label(label[right[0]], exact=True).check()
            pages["Ben"].locator("#class-submit").click()
            _shows(pages["Ben"], "already answered", "#class-submit-md")

            _shows(teacher, "3 of 3", "#class-teacher-status")
            teacher.wait_for_function(
                "document.querySelectorAll('#class-teacher-plot .bars .point').length == 3")
            teacher.locator("#class-reveal").click()
            _shows(teacher, "Revealed", "#class-teacher-status")
            teacher.wait_for_timeout(1500)
            teacher.screenshot(path=str(SHOTS / "class-teacher-en.png"), full_page=True)
            marks = {}
            for name in answers:
                _shows(pages[name], "the answer is", "#class-own")
                marks[name] = pages[name].locator("#class-own").inner_text()
                assert "Ada" not in pages[name].locator("body").inner_text().replace(
                    name, "") or name == "Ada"
            assert "✓" in marks["Ada"] and "✗" not in marks["Ada"], marks
            assert all("✗" in marks[n] and "✓" not in marks[n] for n in ("Ben", "Chae")), marks
            pages["Ben"].screenshot(path=str(SHOTS / "class-student-en.png"), full_page=True)

            teacher.locator("#class-export").click()
            link = teacher.locator("#class-csv a[href]").first
            link.wait_for()
            text = teacher.request.get(link.get_attribute("href")).text()
            rows = list(csv.DictReader(io.StringIO(text)))
            assert sorted(r["student"] for r in rows) == sorted(answers)
            assert [r["correct"] for r in sorted(rows, key=lambda r: r["student"])] == [
                "1", "0", "0"]

            for page in pages.values():   # stop their timers' polling while it is down
                page.goto("about:blank")
        class_tab._store_at.cache_clear()            # the new server opens the file anew
        with running_app(port) as demo:              # the server restarts mid-class
            teacher.goto(demo.local_url + "?tab=class&lang=ko")
            teacher.get_by_text(KO["class.teacher.head"]).click()
            _shows(teacher, "3명", "#class-teacher-status")
            teacher.wait_for_function(
                "document.querySelectorAll('#class-teacher-plot .bars .point').length == 3")
            teacher.wait_for_timeout(1500)
            teacher.screenshot(path=str(SHOTS / "class-teacher-ko.png"), full_page=True)
            ben = pages["Ben"]
            ben.goto(f"{demo.local_url}?class={code}&lang=ko")
            _shows(ben, "정답:", "#class-own")
            own = ben.locator("#class-own").inner_text()
            assert "✗" in own and "✓" not in own, own
            ben.wait_for_timeout(1000)
            ben.screenshot(path=str(SHOTS / "class-student-ko.png"), full_page=True)
        browser.close()


def test_predict_then_reveal_beside_a_lesson(class_db):
    """The Tokenize tab's panel: Ask, commit a wrong count, see ✗ and the pieces; then the
    right count, ✓. Both counts come from the grading itself, not from this file."""
    from bertgpt.app import tab_tokenize
    settings_ = {"word": tab_tokenize.DEFAULT_WORD, "vocab": 2000}
    right = exercises.grade("tokenize", settings_, 0)["right_answer"]
    with running_app() as demo, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1100})
        page.set_default_timeout(60_000)
        page.goto(demo.local_url + "?tab=tokenize")
        panel = page.locator("[role=tabpanel]:visible").first
        panel.get_by_text("Predict, then reveal").click()
        panel.get_by_role("button", name="Ask me").click()
        _panel_shows(page, tab_tokenize.DEFAULT_WORD)
        box = panel.get_by_label("Your answer (a whole number)")
        box.fill(str(right + 1))
        panel.get_by_role("button", name="Commit my answer").click()
        _panel_shows(page, "Not this time")
        box.fill(str(right))
        panel.get_by_role("button", name="Commit my answer").click()
        _panel_shows(page, "✓ Right")
        page.wait_for_timeout(800)
        page.screenshot(path=str(SHOTS / "exercise-tokenize-en.png"), full_page=True)
        page.get_by_label("한국어").check()
        panel.get_by_role("button", name=KO["exercise.commit"]).click()
        _panel_shows(page, "맞았습니다")
        page.screenshot(path=str(SHOTS / "exercise-tokenize-ko.png"), full_page=True)
        browser.close()
