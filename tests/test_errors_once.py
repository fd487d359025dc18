"""Bad input is reported once, on a deliberate action, and logged in one line.

A student's gesture (clearing a box, dragging a slider, pressing a button) fires every
event bound to what it touches; the Blocks-level tests below run all of those handlers,
and the ones chained after them, as Gradio would, and count the errors raised. Clearing
or dragging is mid-edit: no error, a note in place. The button: exactly one error.
"""
from __future__ import annotations

import logging

import gradio as gr
import pytest

from bertgpt.app import build_app

gradio_client = pytest.importorskip("gradio_client")
from apphelp import running_app  # noqa: E402


@pytest.fixture(scope="module")
def demo():
    return build_app()


def _run(demo, triggers: set, values: dict) -> tuple[int, list]:
    """Run every handler `triggers` fire, and those chained after them (.then; .success
    only after a success), with the components' current values overridden by `values`
    (component -> value). The number of gr.Errors raised, and what the handlers returned."""
    errors, returned = 0, []

    def call(block_fn) -> bool:
        nonlocal errors
        args = [values.get(c, getattr(c, "value", None)) for c in block_fn.inputs]
        try:
            returned.append(block_fn.fn(*args))
            ok = True
        except gr.Error:
            errors += 1
            ok = False
        for after in demo.fns.values():
            if after.trigger_after == block_fn._id and after.fn is not None \
                    and (ok or not after.trigger_only_on_success):
                call(after)
        return ok

    for block_fn in list(demo.fns.values()):
        if block_fn.fn is not None and {(c, e) for c, e in block_fn.targets} & triggers:
            call(block_fn)
    return errors, returned


def _button(demo, api_name: str):
    fn = next(f for f in demo.fns.values() if f.api_name == api_name)
    return {(c, e) for c, e in fn.targets if e == "click"}


def _by_label_id(demo, key: str):
    return next(b for b in demo.blocks.values() if getattr(getattr(b, "label", None), "key",
                                                            None) == key)


def _notes(returned) -> list[str]:
    return [str(v) for out in returned for v in (out if isinstance(out, (list, tuple))
                                                   else [out])
            if isinstance(v, str) and v.startswith("✎")]


@pytest.mark.parametrize("tab,api_name", [("tokenize", "tokenize"), ("mlm", "mask"),
                                          ("masks", "masks"), ("attention", "attention")])
def test_an_emptied_box_is_a_note_and_the_button_one_error(demo, tab, api_name):
    box = demo.links[tab]["text"]
    typing = {(box._id, "change"), (box._id, "input")}
    errors, returned = _run(demo, typing, {box: ""})
    assert errors == 0, f"{tab}: clearing the box raised {errors} error(s)"
    assert any("empty" in n for n in _notes(returned)), f"{tab}: no note in place"
    errors, _ = _run(demo, _button(demo, api_name), {box: ""})
    assert errors == 1, f"{tab}: the button raised {errors} errors for one press"


def test_a_slider_through_sizes_that_do_not_fit_is_a_note_and_the_button_one_error(demo):
    heads, preset = _by_label_id(demo, "sizes.heads"), demo.links["sizes"]["preset"]
    width = _by_label_id(demo, "sizes.width")
    bad = {heads: 7, width: 768, preset: "custom"}
    drag = {(heads._id, e) for e in ("input", "change", "release")}
    errors, returned = _run(demo, drag, bad)
    assert errors == 0
    assert any("divisible" in n for n in _notes(returned))
    assert _run(demo, _button(demo, "params"), bad)[0] == 1


# ------------------------------------------------------------------ the server's log
@pytest.fixture(scope="module")
def client():
    with running_app() as app:
        yield gradio_client.Client(app.local_url, verbose=False)


def test_a_refusal_is_one_log_line_and_a_bug_keeps_its_traceback(client, caplog, capfd,
                                                                  monkeypatch):
    from gradio_client.exceptions import AppError
    capfd.readouterr()
    with caplog.at_level(logging.WARNING, logger="bertgpt.app"):
        with pytest.raises(AppError, match="empty"):
            client.predict("", 2000, "word", api_name="/tokenize")
    refused = [r.getMessage() for r in caplog.records if r.name == "bertgpt.app"]
    assert len(refused) == 1 and "The text is empty" in refused[0] \
        and "\n" not in refused[0], refused
    assert "Traceback" not in capfd.readouterr().err

    from bertgpt.app import tab_tokenize

    def broken(*args):
        raise RuntimeError("a real bug")
    monkeypatch.setattr(tab_tokenize, "compute", broken)
    with pytest.raises(AppError):
        client.predict("some text", 2000, "word", api_name="/tokenize")
    err = capfd.readouterr().err
    assert "Traceback" in err and "a real bug" in err
