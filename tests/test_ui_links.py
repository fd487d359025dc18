"""Deep links: the "Copy link" query reopens the same view (bertgpt/app/__init__.py)."""
from urllib.parse import parse_qs

import gradio as gr

from bertgpt.app import _coerce, link_query


def test_link_query_round_trips_through_coerce():
    q = link_query("mlm", ["text", "seed", "prob", "bug", "file"],
                   ["the capital of france is paris .", 7, 0.2, True, {"path": "x"}])
    params = {k: v[0] for k, v in parse_qs(q[1:]).items()}
    assert params == {"tab": "mlm", "text": "the capital of france is paris .", "seed": "7",
                      "prob": "0.2", "bug": "true"}
    assert _coerce(gr.Slider(0, 100), params["seed"]) == 7
    assert _coerce(gr.Slider(0, 1), params["prob"]) == 0.2
    assert _coerce(gr.Checkbox(), params["bug"]) is True
    assert _coerce(gr.Slider(0, 10), "999") is None      # out of range: ignored
    assert _coerce(gr.Radio(["a", "b"]), "../../etc") is None


def test_every_tab_with_settings_gets_a_link_endpoint():
    from bertgpt.app import build_app
    demo = build_app()
    names = {d.api_name for d in demo.fns.values()}
    for tab in ("tokenize", "mlm", "nsp", "masks", "attention", "sizes"):
        assert f"link_{tab}" in names
