"""Hostile and careless input against every endpoint, sent straight to the API (no browser
to enforce slider ranges or text lengths): empty and 1 MB text, NaN and out-of-range
numbers, unknown and path-like names, binary / non-UTF-8 / over-size uploads, HTML.

Every case must end in one of two ways: refused with a clear message (a gr.Error the user
can act on; never Gradio's generic "the app raised an exception"), or answered with
nothing unsafe in it (user HTML in a Markdown output is escaped, never live). After each
endpoint's cases the endpoint still answers a good call, and a bystander's session still
has its own model and gets the same answer as before.

The endpoints come from the running app. An endpoint with no row in TABLE fails
`test_every_endpoint_is_in_the_table`, so a new tab cannot slip in untested: add its row
(a base call, and the cases its inputs invite). On top of the table, every parameter gets
generic cases chosen by its component type (GENERIC)."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from apphelp import running_app  # noqa: E402

NAN, INF = float("nan"), float("inf")
BIG = "word " * 200_000          # 1 MB of text
HTML = '<script>alert("x")</script><img src=x onerror=alert(1)> <b>bold</b>'
PATH = "../../etc/passwd"
ODD = "caf\udce9 \x00 nul"        # a lone surrogate (not valid UTF-8) and a NUL byte
SHORT = "a b c. d e f.\n\ng h i."  # too short to train on: refused after every other check
OK = "ok"          # the call must succeed (and its outputs be safe)
ANY = "any"        # success with safe outputs, or a clear refusal
CRASH = "has raised an exception"  # gradio_client's text when a handler crashed
LIVE_HTML = re.compile(r"<\s*(script|img|iframe|svg)\b", re.I)


@dataclass
class Case:
    label: str
    expect: str                     # OK, ANY, or a regex the error message must match
    args: dict = field(default_factory=dict)  # parameter name -> value, over the base


def C(label, expect, **args) -> Case:
    return Case(label, expect, args)


@dataclass
class Row:
    cases: list[Case]
    base: dict = field(default_factory=dict)  # over the API's defaults: a call that works
    base_fails: str | None = None   # the base call is refused on purpose (regex): /train


RANGE = "less than minimum|greater than maximum"
NOT_CHOICE = "not in the list of choices"
NOT_NUMBER = "must be a number"

TABLE: dict[str, Row] = {
    "/tokenize": Row([
        C("empty", "empty", text=""), C("1 MB", "at most 2,000", text=BIG),
        C("html shown as chips", OK, text=HTML), C("vocab NaN", NOT_NUMBER, vocab_size=NAN),
        C("vocab -1", RANGE, vocab_size=-1), C("word empty", "empty", word="  "),
        C("word 1 MB", "at most 40", word=BIG), C("path as word", OK, word=PATH)]),
    "/mask": Row([
        C("empty", "empty", text=""), C("1 MB", "at most 2,000", text=BIG),
        C("seed -1", RANGE, seed=-1), C("prob 2", RANGE, prob=2), C("prob NaN", NOT_NUMBER, prob=NAN),
        C("html", ANY, text=HTML)]),
    "/mask_predict": Row([
        C("unknown model", NOT_CHOICE, source="bert-large-uncased"),
        C("path as model", NOT_CHOICE, source=PATH), C("top_k 10**9", RANGE, top_k=10**9),
        C("top_k NaN", NOT_NUMBER, top_k=NAN), C("own before training", "not trained a BERT",
                                                  source="own"),
        C("1 MB", "at most 2,000", text=BIG)]),
    "/pairs": Row([
        C("path as source", NOT_CHOICE, source=PATH),
        C("my documents empty", "empty", source="my documents", documents=""),
        C("my documents 1 MB", "at most 20,000", source="my documents", documents=BIG),
        C("my documents html", ANY, source="my documents", documents=HTML),
        C("seed -1", RANGE, seed=-1), C("max_len NaN", NOT_NUMBER, max_len=NAN),
        C("show 10**9", RANGE, show=10**9)]),
    "/nsp_predict": Row([
        C("A empty", "empty", sentence_a=""), C("B 1 MB", "at most 500", sentence_b=BIG),
        C("unknown model", NOT_CHOICE, source="no-such-bert"),
        C("own before training", "not trained a BERT", source="own"),
        C("html", ANY, sentence_a=HTML)]),
    "/masks": Row([
        C("empty", "empty", text="\n \n"), C("1 MB", "at most 2,000", text=BIG),
        C("path as kind", NOT_CHOICE, kind=PATH), C("seed -1", RANGE, seed=-1),
        C("inspect NaN", NOT_NUMBER, inspect=NAN)]),
    "/attention": Row([
        C("empty", "empty", text=""), C("1 MB", "at most 500", text=BIG),
        C("unknown models", NOT_CHOICE, source="gpt-4"), C("layer 10**9", RANGE, layer=10**9),
        C("head NaN", NOT_NUMBER, head=NAN), C("html", ANY, text=HTML)]),
    "/params": Row([
        C("path as preset", NOT_CHOICE, preset=PATH), C("unknown preset", NOT_CHOICE,
                                                          preset="gpt-5"),
        C("vocab -1", RANGE, preset="custom", vocab_size=-1),
        C("layers NaN", NOT_NUMBER, preset="custom", n_layer=NAN),
        C("context 10**9", RANGE, preset="custom", block_size=10**9)]),
    "/preset_table": Row([   # the Sizes table in the page's language: only the language
        C("unknown language", NOT_CHOICE, lang="fr"), C("html as language", NOT_CHOICE,
                                                          lang=HTML)]),
    "/train": Row(base=dict(arch="gpt", size="tiny", corpus="paste", pasted=SHORT, limit="steps",
                            steps=5, seconds=10, batch=8, world_k=20),
                  base_fails="training tokens", cases=[
        C("steps 10**9", RANGE, steps=10**9), C("seconds -1", RANGE, seconds=-1, limit="time"),
        C("lr NaN", NOT_NUMBER, lr=NAN), C("lr -1", "learning rate", lr=-1),
        C("seed -1", RANGE, seed=-1), C("GPU size without a GPU", NOT_CHOICE, size="small"),
        C("path as arch", NOT_CHOICE, arch=PATH), C("unknown corpus", NOT_CHOICE, corpus="web"),
        C("pasted empty", "empty", pasted=" "), C("upload missing", "upload first",
                                                   corpus="upload"),
        C("binary upload", "binary", corpus="upload", upload=b"\x00\x01\x02binary" * 100),
        C("non-UTF-8 upload", "not UTF-8", corpus="upload", upload=b"caf\xe9 au lait. " * 50),
        C("photo renamed .txt", "binary|not UTF-8", corpus="upload",
          upload=b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 40),
        C("3 MB upload", "over the 2,000,000-byte limit", corpus="upload",
          upload=b"The capital of France is Paris.\n" * 100_000),
        C("12 MB upload", "maximum (allowed )?(file )?size|too large|413", corpus="upload",
          upload=b"x" * 12_000_000),
        C("server path instead of a file", "upload|not allowed|cannot|File", corpus="upload",
          upload={"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}),
        C("html in training text: probes show it as text", OK, pasted=(
            '<script>alert("x")</script> The cat eats fish and the dog barks at the cat . '
            * 120))]),
    "/stop_training": Row([C("nothing to stop", OK)]),
    # Fine-tuning: the base is the CSV task with an empty box, refused before any training.
    "/finetune": Row(base=dict(task="csv", csv_text="", steps=10), base_fails="empty", cases=[
        C("csv 1 MB", "at most", csv_text=BIG), C("csv html", ANY, csv_text=HTML + ",positive"),
        C("path as task", NOT_CHOICE, task=PATH), C("unknown model", NOT_CHOICE,
                                                      source="bert-base-uncased"),
        C("examples path", NOT_CHOICE, examples=PATH), C("steps 10**9", RANGE, steps=10**9),
        C("seed -1", RANGE, seed=-1), C("steps NaN", NOT_NUMBER, steps=NAN)]),
    "/finetune_sweep": Row(base=dict(task="csv", csv_text="", steps=10), base_fails="empty",
                           cases=[C("csv 1 MB", "at most", csv_text=BIG),
                                  C("seed -1", RANGE, seed=-1),
                                  C("steps NaN", NOT_NUMBER, steps=NAN)]),
    # A real re-run pre-trains and fine-tunes for minutes: the base is refused on purpose.
    "/lab_rerun": Row(base=dict(steps=5), base_fails=RANGE, cases=[
        C("path as arm", NOT_CHOICE, arm=PATH), C("unknown arm", NOT_CHOICE, arm="mask-50"),
        C("seed NaN", NOT_NUMBER, seed=NAN), C("seed -1", RANGE, seed=-1),
        C("steps 10**9", RANGE, steps=10**9)]),
    "/finetune_inspect": Row(base_fails="Fine-tune first", cases=[
        C("1 MB", "at most|Fine-tune first", text=BIG), C("html", ANY, text=HTML),
        C("empty", "empty|Fine-tune first", text="")]),
    "/gpt_prompting": Row(base=dict(k=0), cases=[
        C("k 10**9", RANGE, k=10**9), C("k NaN", NOT_NUMBER, k=NAN),
        C("path as task", NOT_CHOICE, task=PATH), C("unknown model", NOT_CHOICE, source="gpt2"),
        C("own before training", "not trained a GPT", source="own")]),
    "/intro_ask": Row([C("path as country", NOT_CHOICE, country=PATH),
                       C("html as country", NOT_CHOICE, country=HTML)]),
    "/set_language": Row([C("unknown language", NOT_CHOICE, lang="fr"),
                          C("path as language", NOT_CHOICE, lang=PATH)]),
    # The Class tab's API (app/class_tab.py): with the defaults there is no such class.
    "/class_create": Row([C("unknown language", ANY, lang="fr"),
                          C("path as language", ANY, lang=PATH)]),
    "/class_push": Row(base=dict(tab="mlm"), base_fails="no class", cases=[
        C("settings not JSON", "bad input", code="NOPE99", settings_json="{nope"),
        C("settings a list", "JSON object", code="NOPE99", settings_json="[1, 2]"),
        C("settings 1 MB", "at most 5,000", settings_json=BIG),
        C("path as tab", "no exercise", code="NOPE99", tab=PATH),
        C("variant -1", "variant", code="NOPE99", variant=-1),
        C("no such class", "no class", code="NOPE99", tab="mlm")]),
    "/class_reveal": Row(base_fails="no class", cases=[
        C("html code", "at most 12|no class", code=HTML), C("1 MB secret", "at most", secret=BIG)]),
    "/class_export": Row(base_fails="no class", cases=[C("path as code", "at most 12", code=PATH)]),
    "/class_join": Row(base=dict(name="Ada"), base_fails="no class", cases=[
        C("1 MB name", "at most", name=BIG), C("html name", "name of 1 to 40", code="NOPE99", name=HTML),
        C("NUL in student", "NUL|surrogate", student=ODD)]),
    "/class_answer": Row(base_fails="no class", cases=[
        C("1 MB answer", "at most", answer=BIG), C("html answer", "no class", answer=HTML)]),
    "/class_view": Row(base_fails="no class", cases=[C("html code", "at most 12", code=HTML)]),
    "/fill_mask": Row([
        C("empty", "empty|at most", text=""), C("1 MB", "at most 2,000", text=BIG),
        C("no mask", r"\[MASK\]", text="no mask here"),
        C("html with a mask", OK, text="<b>the capital</b> of <script>x</script> is [MASK] ."),
        C("top_k NaN", NOT_NUMBER, top_k=NAN), C("top_k 10**9", RANGE, top_k=10**9),
        C("path as model", NOT_CHOICE, source=PATH),
        C("own before training", "not trained a BERT", source="own")]),
    "/next_token": Row([
        C("temperature -1", RANGE, temperature=-1), C("top_p 2", RANGE, top_p=2),
        C("temperature NaN", NOT_NUMBER, temperature=NAN), C("seed -1", RANGE, seed=-1),
        C("seed 10**30", RANGE, seed=10**30), C("prompt 1 MB", "at most 2,000", prompt=BIG),
        C("empty prompt", OK, prompt=""), C("html prompt", OK, prompt=HTML),
        C("unknown model", NOT_CHOICE, source="no-such-gpt")]),
    "/generate": Row(base=dict(max_tokens=8), cases=[
        C("temperature -1", RANGE, temperature=-1), C("top_p 2", RANGE, top_p=2),
        C("top_p NaN", NOT_NUMBER, top_p=NAN), C("seed -1", RANGE, seed=-1),
        C("max tokens 10**9", RANGE, max_tokens=10**9), C("prompt 1 MB", "at most 2,000",
                                                          prompt=BIG),
        C("html prompt", OK, prompt=HTML), C("path as model", NOT_CHOICE, source=PATH),
        C("own before training", "not trained a GPT", source="own")]),
}


def link_row(params: list[dict]) -> Row:
    """/link_<tab> (one function makes them all): any value becomes a bounded query
    string, or is refused as the component would refuse it."""
    cases = []
    for p in params:
        name, kind = p["parameter_name"], p["component"]
        if kind == "Textbox":
            cases += [C(f"{name} 1 MB", ANY, **{name: BIG}), C(f"{name} html", OK, **{name: HTML})]
        elif kind in ("Slider", "Number"):
            cases += [C(f"{name} NaN", NOT_NUMBER, **{name: NAN})]
        elif kind in ("Radio", "Dropdown"):
            cases += [C(f"{name} path", NOT_CHOICE, **{name: PATH})]
    return Row(cases)


def generic_cases(params: list[dict]) -> list[Case]:
    """Cases every parameter gets from its component type: a clear refusal or a safe answer."""
    out = []
    for p in params:
        name, kind = p["parameter_name"], p["component"]
        if kind == "Textbox":
            out += [C(f"{name}: {w}", ANY, **{name: v}) for w, v in
                    (("empty", ""), ("1 MB", BIG), ("html", HTML), ("surrogate+NUL", ODD))]
        elif kind in ("Slider", "Number"):
            out += [C(f"{name}: {w}", ANY, **{name: v}) for w, v in
                    (("NaN", NAN), ("-inf", -INF), ("1e12", 1e12))]
        elif kind in ("Radio", "Dropdown"):
            out += [C(f"{name}: {w}", ANY, **{name: v}) for w, v in
                    (("path", PATH), ("unknown", "no-such-model"))]
        elif kind == "File":
            out += [C(f"{name}: binary", ANY, **{name: bytes(range(256)) * 8})]
    return out


# ------------------------------------------------------------------ the app, two clients
@pytest.fixture(scope="module")
def app():
    with running_app() as demo:
        yield demo.local_url


@pytest.fixture(scope="module")
def api(app):
    return Client(app, verbose=False).view_api(return_format="dict", print_info=False)


@pytest.fixture(scope="module")
def bystander(app):
    """Another student, with a GPT of their own: must be untouched by everything here."""
    c = Client(app, verbose=False)
    c.predict("gpt", "tiny", "world", 20, "", None, "steps", 10, 5, 8, 3e-3, 3,
              api_name="/train")
    before = c.predict("own", "The", 0.8, 0, 1.0, 5, 6, api_name="/generate")[2]
    return c, before


def check_bystander(bystander):
    c, before = bystander
    now = c.predict("own", "The", 0.8, 0, 1.0, 5, 6, api_name="/generate")[2]
    assert now["model"] == before["model"] and now["sampled"] == before["sampled"], \
        "another session's model changed"


def _value(v, tmp_path, n: list):
    if isinstance(v, bytes):  # an upload: written to a file, sent as a file
        n[0] += 1
        path = tmp_path / f"upload{n[0]}.txt"
        path.write_bytes(v)
        return handle_file(str(path))
    return v


class RawError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


def raw_call(client, name: str, values: list):
    """POST the JSON ourselves: gradio_client (httpx) refuses to send NaN or Infinity,
    but any other client can (Python's json writes them, the server's json reads them)."""
    import httpx
    base = client.src.rstrip("/") + "/gradio_api/call" + name
    r = httpx.post(base, content=json.dumps({"data": values}),
                   headers={"content-type": "application/json"}, timeout=60)
    r.raise_for_status()
    stream = httpx.get(f"{base}/{r.json()['event_id']}", timeout=120).text
    events = re.findall(r"event: (\w+)\ndata: (.*)", stream)
    kind, data = events[-1]
    if kind == "error":
        data = json.loads(data) if data.strip() not in ("", "null") else None
        raise RawError((data or {}).get("error") or CRASH)
    return json.loads(data)


def call(client, name: str, params: list[dict], args: dict, tmp_path):
    unknown = set(args) - {p["parameter_name"] for p in params}
    assert not unknown, f"{name} has no parameter {unknown}: update TABLE"
    n = [0]
    values = [_value(args[p["parameter_name"]], tmp_path, n) if p["parameter_name"] in args
              else p.get("parameter_default") for p in params]
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        return raw_call(client, name, values)
    return client.predict(*values, api_name=name)


def unsafe(outputs, returns: list[dict]) -> str | None:
    """The first Markdown/HTML output that carries live HTML tags, if any."""
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    for value, ret in zip(outputs, returns):
        if ret["component"] in ("Markdown", "HTML"):
            text = value.get("value", "") if isinstance(value, dict) else str(value or "")
            if LIVE_HTML.search(text):
                return f"{ret['component']} output shows live HTML: {text[:200]!r}"
    return None


def run_case(client, name, ep, base, case, tmp_path) -> str | None:
    """None if the case ended as expected, else what went wrong."""
    try:
        out = call(client, name, ep["parameters"], {**base, **case.args}, tmp_path)
    except Exception as e:  # an AppError from the app; anything else is the client's
        msg = getattr(e, "message", None) or str(e)
        if CRASH in msg or not msg.strip():
            return f"{case.label}: the handler crashed (no clear message)"
        if case.expect == OK:
            return f"{case.label}: refused ({msg[:160]!r}) but should be answered"
        if case.expect != ANY and not re.search(case.expect, msg, re.I):
            return f"{case.label}: message {msg[:160]!r} does not match {case.expect!r}"
        return None
    if case.expect not in (OK, ANY):
        return f"{case.label}: accepted, but should be refused ({case.expect!r})"
    problem = unsafe(out, ep["returns"])
    return f"{case.label}: {problem}" if problem else None


def exercise(client, name, ep, row: Row, tmp_path, bystander):
    problems = [p for case in row.cases + generic_cases(ep["parameters"])
                if (p := run_case(client, name, ep, row.base, case, tmp_path))]
    # Still healthy: the same endpoint answers a good call (or refuses the base on purpose).
    try:
        call(client, name, ep["parameters"], row.base, tmp_path)
        assert row.base_fails is None, f"{name}: the base call should be refused"
    except AppError as e:
        assert row.base_fails and re.search(row.base_fails, e.message or ""), \
            f"{name}: after the bad input, a good call fails: {e}"
    check_bystander(bystander)
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


# ------------------------------------------------------------------ the tests
def test_every_endpoint_is_in_the_table(api):
    named = set(api["named_endpoints"])
    missing = sorted(n for n in named if n not in TABLE and not n.startswith("/link_"))
    assert not missing, (f"endpoints with no bad-input cases: {missing}. Add a row to TABLE "
                         "in tests/test_bad_input.py")
    stale = sorted(set(TABLE) - named)
    assert not stale, f"TABLE rows for endpoints the app no longer has: {stale}"
    assert not api["unnamed_endpoints"], "every public event needs an api_name"


@pytest.mark.parametrize("name", sorted(TABLE))
def test_bad_input(app, api, bystander, name, tmp_path):
    assert name in api["named_endpoints"], f"the app has no {name} (see the table test)"
    client = Client(app, verbose=False)  # a fresh session: the bystander's model is not its own
    exercise(client, name, api["named_endpoints"][name], TABLE[name], tmp_path, bystander)


def test_link_endpoints(app, api, bystander, tmp_path):
    links = sorted(n for n in api["named_endpoints"] if n.startswith("/link_"))
    assert links, "the copy-link endpoints are missing"
    client = Client(app, verbose=False)
    for name in links:
        ep = api["named_endpoints"][name]
        exercise(client, name, ep, link_row(ep["parameters"]), tmp_path, bystander)
        if ep["parameters"][0]["component"] != "Textbox":
            continue
        try:  # a 1 MB value is refused (a box with max_length) or cut: never a 1 MB link
            query = call(client, name, ep["parameters"],
                         {ep["parameters"][0]["parameter_name"]: BIG}, tmp_path)
        except AppError as e:
            assert "at most" in e.message, f"{name}: {e.message}"
            continue
        assert len(query) < 20_000, f"{name}: a 1 MB value made a {len(query):,}-character link"


def test_html_in_a_filled_sentence_is_text(app):
    """The filled sentence (Markdown) keeps the user's tags as visible characters."""
    c = Client(app, verbose=False)
    _, filled, _ = c.predict("<b>the capital</b> of france is [MASK] .", 3, "bundled",
                             api_name="/fill_mask")
    assert "&lt;b&gt;the capital&lt;/b&gt;" in filled and "<b>" not in filled


def test_nan_never_reaches_a_handler():
    """The shared guard refuses NaN/inf and over-long text by the field's label."""
    import gradio as gr
    from bertgpt.app.common import _check_value
    with pytest.raises(gr.Error, match="'Seed' must be a number"):
        _check_value(gr.Number(label="Seed"), math.nan)
    with pytest.raises(gr.Error, match="'Prompt' is 11 characters; it takes at most 10"):
        _check_value(gr.Textbox(label="Prompt", max_length=10), "x" * 11)
    _check_value(gr.Slider(0, 1, label="p"), 0.5)  # fine values pass
