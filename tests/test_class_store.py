"""The class's server-side state (course/class_store.py): every bad input the issue names
gets its own reason and loses nothing, the file survives a reopen, students see only their
own answers and counts, and concurrent joins and answers do not beat the cap or the
one-answer rule."""
import csv
import io
import random
import threading

import pytest

from bertgpt.course.class_store import ClassError, ClassStore

NOW = 1_800_000_000.0


@pytest.fixture
def store(tmp_path):
    return ClassStore(tmp_path / "class.sqlite")


def _reason(fn, *a, **kw):
    with pytest.raises(ClassError) as e:
        fn(*a, **kw)
    return e.value.reason


def test_codes_are_short_readable_and_seeded(store, tmp_path):
    code, secret = store.create(NOW, rng=random.Random(1))
    other = ClassStore(tmp_path / "b.sqlite").create(NOW, rng=random.Random(1))[0]
    assert code == other and len(code) == 6 and not set(code) & set("01OIL")
    assert len(secret) >= 20 and secret not in code
    assert store.create(NOW)[0] != code


def test_a_whole_exercise_round(store):
    code, secret = store.create(NOW)
    for sid, name in (("s1", "Ada"), ("s2", "Ben"), ("s3", "Chae")):
        store.join(code.lower(), sid, name, NOW)  # codes are typed in any case
    pid = store.push(code, secret, "mlm", {"seed": 7}, 0, NOW)
    assert store.current(code, NOW)["settings"] == {"seed": 7}
    store.answer(code, "s1", pid, [1, 2], "{1, 2}", True, NOW)
    store.answer(code, "s2", pid, [3], "{3}", False, NOW)
    store.answer(code, "s3", pid, [1, 2], "{1, 2}", True, NOW)
    spread = store.spread(code, pid, NOW)
    assert spread["counts"] == {"{1, 2}": 2, "{3}": 1} and spread["answered"] == 3
    assert "right" not in spread                              # nothing given away yet
    assert store.own(code, "s2", pid, NOW)["correct"] is None
    store.reveal(code, secret, pid, NOW)
    assert store.own(code, "s2", pid, NOW)["correct"] is False
    assert store.own(code, "s1", pid, NOW)["correct"] is True
    assert store.spread(code, pid, NOW)["right"] == 2
    rows = list(csv.DictReader(io.StringIO(store.export_csv(code, secret, NOW))))
    assert [(r["student"], r["answer"], r["correct"]) for r in rows] == [
        ("Ada", "{1, 2}", "1"), ("Ben", "{3}", "0"), ("Chae", "{1, 2}", "1")]


def test_bad_inputs_each_get_their_reason_and_lose_nothing(store):
    code, secret = store.create(NOW, cap=2, ttl=100)
    assert _reason(store.join, "NOPE99", "s1", "Ada", NOW) == "unknown"
    assert _reason(store.join, code, "s1", "   ", NOW) == "name"
    store.join(code, "s1", "Ada", NOW)
    store.join(code, "s2", "Ben", NOW)
    assert _reason(store.join, code, "s3", "Chae", NOW) == "full"
    assert store.join(code, "s1", "Ada L.", NOW)["rejoined"]  # a reload: still in, not full
    pid = store.push(code, secret, "nsp", {}, 0, NOW)
    assert _reason(store.push, code, "wrong-secret", "nsp", {}, 0, NOW) == "not_teacher"
    assert _reason(store.reveal, code, None, pid, NOW) == "not_teacher"
    assert _reason(store.answer, code, "s3", pid, "IsNext", "IsNext", True, NOW) == "not_member"
    assert _reason(store.answer, code, "s1", pid + 99, "IsNext", "IsNext", True, NOW) == "no_push"
    store.answer(code, "s1", pid, "IsNext", "IsNext", True, NOW)
    assert _reason(store.answer, code, "s1", pid, "NotNext", "NotNext", False, NOW) == "answered"
    assert store.own(code, "s1", pid, NOW)["label"] == "IsNext"  # the first answer is kept
    store.reveal(code, secret, pid, NOW)
    assert _reason(store.answer, code, "s2", pid, "IsNext", "IsNext", True, NOW) == "revealed"
    assert _reason(store.info, code, NOW + 100) == "expired"
    store.close(code, secret, NOW)
    assert _reason(store.join, code, "s9", "Zed", NOW) == "closed"
    # answers outlive the door: the gradebook export still works, for the teacher only
    assert "IsNext" in store.export_csv(code, secret, NOW + 1000)
    assert _reason(store.export_csv, code, "guess", NOW) == "not_teacher"
    assert "full (2 students)" in str(ClassError("full", code=code, cap=2))


def test_the_class_survives_a_restart(tmp_path):
    path = tmp_path / "class.sqlite"
    first = ClassStore(path)
    code, secret = first.create(NOW)
    first.join(code, "s1", "Ada", NOW)
    pid = first.push(code, secret, "masks", {"kind": "causal"}, 2, NOW)
    first.answer(code, "s1", pid, [0, 1], "{0, 1}", True, NOW)
    del first
    again = ClassStore(path)  # a new process opens the same file
    assert again.current(code, NOW)["id"] == pid
    assert again.is_teacher(code, secret, NOW)
    assert again.own(code, "s1", pid, NOW)["label"] == "{0, 1}"
    assert again.spread(code, pid, NOW)["members"] == 1


def test_students_never_see_names(store):
    code, secret = store.create(NOW)
    store.join(code, "s1", "Ada", NOW)
    store.join(code, "s2", "Ben", NOW)
    pid = store.push(code, secret, "tokenize", {}, 0, NOW)
    store.answer(code, "s1", pid, 3, "3", True, NOW)
    student_views = [store.info(code, NOW), store.spread(code, pid, NOW),
                     store.own(code, "s2", pid, NOW), store.current(code, NOW)]
    assert not any(n in repr(v) for v in student_views for n in ("Ada", "Ben", "s1"))
    assert _reason(store.roster, code, None, pid, NOW) == "not_teacher"
    assert [r["name"] for r in store.roster(code, secret, pid, NOW)] == ["Ada", "Ben"]


def test_leaderboard_ranks_per_budget_and_hides_names_from_students(store):
    code, secret = store.create(NOW)
    for sid, name in (("s1", "Ada"), ("s2", "Ben")):
        store.join(code, sid, name, NOW)
    store.record_run(code, "s1", "gpt", 10_000, 3.1, NOW)
    store.record_run(code, "s1", "gpt", 10_000, 2.9, NOW)   # their best counts
    store.record_run(code, "s2", "gpt", 10_000, 3.0, NOW)
    store.record_run(code, "s2", "gpt", 50_000, 2.5, NOW)
    teacher = store.leaderboard(code, NOW, secret=secret)
    assert [(r["tokens"], r["rank"], r["who"], r["val_loss"]) for r in teacher] == [
        (10_000, 1, "Ada", 2.9), (10_000, 2, "Ben", 3.0), (50_000, 1, "Ben", 2.5)]
    mine = store.leaderboard(code, NOW, student="s2")
    assert [r["who"] for r in mine] == [None, "you", "you"]


def test_concurrent_joins_respect_the_cap_and_answers_count_once(store):
    code, secret = store.create(NOW, cap=20)
    pid = store.push(code, secret, "nsp", {}, 0, NOW)
    errors = []

    def student(i):
        try:
            store.join(code, f"s{i}", f"n{i}", NOW)
            for _ in range(3):  # a double click, from three tabs
                try:
                    store.answer(code, f"s{i}", pid, "IsNext", "IsNext", True, NOW)
                except ClassError as e:
                    errors.append(e.reason)
        except ClassError as e:
            errors.append(e.reason)

    threads = [threading.Thread(target=student, args=(i,)) for i in range(30)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors.count("full") == 10
    assert store.spread(code, pid, NOW)["answered"] == 20
    assert errors.count("answered") == 40
