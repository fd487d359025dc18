"""A class on one server: the training line (app/classroom.py) and a small classroom load
run (benchmarks/classroom_load.py: 5 students, about a minute) that must end with zero
errors and zero leaks between sessions. Latency is not asserted here (CI machines are
noisy); the benchmark reports it."""
import sys
import threading
from pathlib import Path

import pytest

from bertgpt import settings
from bertgpt.app.classroom import ClassBusy, TrainGate, train_threads, waiting_text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))


def test_gate_lets_slots_train_and_lines_up_the_rest():
    gate = TrainGate(slots=1, max_waiting=2)
    a, b, c = gate.join(), gate.join(), gate.join()
    assert gate.wait(a, 0) and not gate.wait(b, 0.01)
    assert [gate.position(t) for t in (a, b, c)] == [0, 1, 2]
    with pytest.raises(ClassBusy, match="you would be number 3 in line") as busy:
        gate.join()
    assert busy.value.position == 3
    gate.leave(a)                       # a's run ends: b trains, c moves up
    assert gate.wait(b, 0) and gate.position(c) == 1
    gate.leave(c)                       # c gave up while waiting
    assert gate.counts() == {"training": 1, "waiting": 0}
    gate.leave(c)                       # twice is harmless
    d = gate.join()
    assert gate.position(d) == 1


def test_a_waiting_run_starts_when_a_slot_frees():
    gate = TrainGate(slots=1, max_waiting=5)
    first, second = gate.join(), gate.join()
    started = threading.Event()
    threading.Thread(target=lambda: gate.wait(second, 10) and started.set()).start()
    assert not started.wait(0.1)
    gate.leave(first)
    assert started.wait(5)


def test_training_keeps_a_core_for_the_other_tabs(monkeypatch):
    monkeypatch.delenv("BERTGPT_TRAIN_THREADS", raising=False)
    assert train_threads(2) == 1 and train_threads(1) == 1 and train_threads(16) >= 8
    monkeypatch.setenv("BERTGPT_TRAIN_THREADS", "3")
    settings.reset()
    assert train_threads(2) == 3
    assert "number 4 in line" in waiting_text(4, 1)


@pytest.mark.slow
def test_five_students_no_errors_no_leaks():
    classroom_load = pytest.importorskip("classroom_load")
    report = classroom_load.classroom(students=5, duration=45, think=1.0, train_seconds=3,
                                      arrive=5)
    assert report["errors"] == [], report["errors"]
    assert report["leaks"] == []
    # Students 0 and 3 trained: both finished, and their own models answered with their words.
    assert report["training"]["completed"] == 2
    assert report["own_models_confirmed"] >= 1
    # Every tab's main action was exercised, and the non-trainers' "own" was refused.
    for name in ("/tokenize", "/mask", "/attention", "/fill_mask", "/generate", "/train"):
        assert report["endpoints"][name]["n"] >= 1, name
    assert report["peak_rss_mb"] and report["peak_rss_mb"] > 100


def test_the_queue_never_rebuilds_gradios_monitoring_summary():
    """Gradio summarises every past event with pandas after each event, for a monitoring
    page the app keeps off; launch() turns that off, or clicks slow as a class goes on."""
    import gradio as gr
    from apphelp import free_port
    from bertgpt.app import launch
    with gr.Blocks() as demo:
        gr.Button().click(lambda: None)
    launch(demo, prevent_thread_lock=True, server_port=free_port(), quiet=True)
    try:
        q = demo._queue
        q.events_recorded = q.event_count_at_last_cache + 5000  # as after 5,000 clicks
        records = [{"function": "f", "status": "success", "process_time": 0.1}] * 5000
        assert q.compute_analytics_summary(records) == {"functions": {}}  # not rebuilt
    finally:
        demo.close()


@pytest.mark.slow
def test_a_class_answers_with_no_loss_and_no_leaks():
    """benchmarks/classroom_load.py --class, small: a teacher pushing, five students
    answering, one training meanwhile. Every acknowledged answer is in the CSV and shown
    back to its student after the reveal; no student sees another's name."""
    classroom_load = pytest.importorskip("classroom_load")
    report = classroom_load.class_session(students=5, trainers=1, duration=50, think=1.0,
                                          train_seconds=3, arrive=5)
    assert report["errors"] == [], report["errors"]
    assert report["leaks"] == []
    c = report["class"]
    assert c["pushes"] >= 2 and c["answers_acknowledged"] >= 5
    assert c["lost_answers"] == 0, c["lost"]
    assert c["csv_rows"] == c["answers_acknowledged"]
