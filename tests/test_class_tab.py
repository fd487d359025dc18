"""The Class tab's handlers (app/class_tab.py) without a browser: a teacher and three
students through one MLM exercise, every view graded by course/exercises.py, then a
server restart (a fresh store on the same file) with nothing lost."""
import csv
import io

import pytest

from bertgpt import settings
from bertgpt.app import class_tab as ct
from bertgpt.course import exercises
from bertgpt.text.mlm import mask_text
from bertgpt.io.assets import world_tokenizer

MLM = {"text": "The waiter was friendly and the service was fast.", "seed": 7}


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setenv("BERTGPT_CLASS_DB", str(tmp_path / "classes.sqlite"))
    settings.reset()
    ct._store_at.cache_clear()
    yield tmp_path / "classes.sqlite"
    settings.reset()
    ct._store_at.cache_clear()


def _selected():
    res = mask_text(MLM["text"], world_tokenizer("wordpiece"), seed=MLM["seed"])
    return [t["position"] for t in res["tokens"] if t["label"] is not None]


def test_teacher_and_three_students_through_one_exercise(db):
    teacher, created, *_ = ct.create_class(None, "en")
    code = teacher["code"]
    assert code in created
    students = []
    for name in ("Ada", "Ben", "Chae"):
        st, msg = ct.join(None, code.lower(), name, "en")
        assert "joined" in msg and st["code"] == code
        students.append(st)
    assert "Pushed" in ct.push_exercise(teacher, "mlm", 0, {"mlm": MLM}, "en")
    right = _selected()
    q = exercises.question("mlm", MLM)
    others = [v for _, v in q["choices"] if v not in right]
    answers = [right, others[:1], others[1:3]]                 # one right, two wrong
    for st, ans in zip(students, answers):
        shown, q_md, *_ = ct.student_view(st, None, "en")
        assert str(MLM["seed"]) in q_md
        assert "is in" in ct.submit(st, None, None, ans, "en")
    assert "already answered" in ct.submit(students[0], None, None, others, "en")
    md, fig = ct.teacher_view(teacher, "en")
    assert "3 of 3" in md
    bars = fig["data"][0]
    assert sorted(bars["y"]) == [1, 1, 1] and len(bars["x"]) == 3
    # before the reveal a student sees their answer committed, not graded
    assert "✓" not in ct.student_view(students[0], None, "en")[5]
    assert "Revealed" in ct.reveal(teacher, "en")
    revealed = ct.teacher_view(teacher, "en")[1]["data"][0]
    green = [x for x, c in zip(revealed["x"], revealed["marker"]["color"])
             if c == ct.viz.PALETTE["green"]]
    assert green == [exercises.answer_label(sorted(right))]   # the chart marks the answer
    own = [ct.student_view(st, None, "en")[5] for st in students]
    assert own[0].startswith("**✓") and own[1].startswith("**✗") and own[2].startswith("**✗")
    assert "Ada" not in "".join(own) and "Ben" not in "".join(own)
    path, note = ct.export(teacher, "en")
    rows = list(csv.DictReader(io.open(path, encoding="utf-8")))
    assert len(rows) == 3 and [r["correct"] for r in rows] == ["1", "0", "0"]
    # the server restarts: a new store on the same file knows the class and every answer
    ct._store_at.cache_clear()
    md_after, fig_after = ct.teacher_view(teacher, "en")
    assert "3 of 3" in md_after and sorted(fig_after["data"][0]["y"]) == [1, 1, 1]
    assert ct.student_view(students[1], None, "en")[5].startswith("**✗")


def test_the_views_speak_korean_and_errors_are_messages(db):
    assert "없습니다" in ct.join(None, "ZZZZZZ", "Ada", "ko")[1]
    teacher, *_ = ct.create_class(None, "ko")
    st, _ = ct.join(None, teacher["code"], "Ada", "ko")
    ct.push_exercise(teacher, "nsp", 2, {"nsp": {"seed": 3}}, "ko")
    assert "문장 A" in ct.student_view(st, None, "ko")[1]
    assert "교사만" in ct.reveal({"code": teacher["code"], "secret": "stolen"}, "ko")
    assert ct.close_class(teacher, "ko")[1].startswith("수업")
    assert "닫았습니다" in ct.join(None, teacher["code"], "Ben", "ko")[1]
