"""The Class tab: a teacher opens a class and pushes exercises; students join with the
code and answer; the teacher watches the spread and reveals.

State lives in course/class_store.py's SQLite file (BERTGPT_CLASS_DB), so a reload or a
server restart loses nothing. Who is who lives in the browser: a student's opaque id and
a teacher's class secret are gr.BrowserState (localStorage), so the same browser comes
back as the same student or teacher. A student's views come only from `own` and
`spread`, which return no names; names need the teacher's secret.
"""
from __future__ import annotations

import functools
import tempfile
import time
import uuid
from pathlib import Path

import gradio as gr

from .. import settings
from ..course import exercises, viz
from ..course.class_store import ClassError, ClassStore
from ..errors import BertGptError
from . import exercise_panel as ep
from . import serving
from .i18n import say, t

ID = "class"
POLL_S = 2.0  # how often a class's views refresh: answers show up within two seconds


@functools.lru_cache(maxsize=4)
def _store_at(path: str) -> ClassStore:
    return ClassStore(path)


def store() -> ClassStore:
    """The server's class store (one per file; tests point BERTGPT_CLASS_DB elsewhere)."""
    return _store_at(settings.current().bertgpt_class_db)


def _err(lang, e: ClassError) -> str:
    return "⚠ " + say(lang, f"class.error.{e.reason}", **e.args_)


def spread_figure(spread: dict | None, right_label: str | None, lang: str):
    """The answers as bars; after the reveal the right answer's bar is green."""
    if not spread or not spread["counts"]:
        return viz.empty(say(lang, "class.no_answers"))
    colours = {k: viz.PALETTE["vermillion"] if right_label is not None else viz.PALETTE["sky"]
               for k in spread["counts"]}
    if right_label is not None:
        colours[right_label] = viz.PALETTE["green"]
    return viz.count_bars(spread["counts"], colours, title=say(
        lang, "class.chart_title", answered=spread["answered"], members=spread["members"]))


def _right_label(push: dict) -> str:
    g = exercises.grade(push["tab"], push["settings"], _any_answer(push), push["variant"])
    return exercises.answer_label(g["right_answer"])


def _any_answer(push: dict):
    """A well-formed answer to grade with, to learn the right one (grade returns it)."""
    q = exercises.question(push["tab"], push["settings"], push["variant"])
    return {"number": 0, "multi": [], "choice": (q["choices"] or [("", "")])[0][1]}[q["format"]]


# ---- the teacher ---------------------------------------------------------------------------

def teacher_view(teacher: dict | None, lang: str, now: float | None = None):
    """(status markdown, spread figure) for the teacher's browser."""
    now = time.time() if now is None else now
    if not teacher or not teacher.get("code"):
        return say(lang, "class.teacher.none"), viz.empty(say(lang, "class.no_answers"))
    s, code = store(), teacher["code"]
    try:
        info = s.info(code, now)
        push = s.current(code, now)
    except ClassError as e:
        return _err(lang, e), viz.empty(str(e))
    head = say(lang, "class.teacher.status", code=code, members=info["members"],
               cap=info["cap"])
    if push is None:
        return head + "\n\n" + say(lang, "class.teacher.no_push"), viz.empty(
            say(lang, "class.no_answers"))
    spread = s.spread(code, push["id"], now)
    q = exercises.question(push["tab"], push["settings"], push["variant"])
    md = (head + "\n\n" + ep.question_md(q, lang) + "\n\n"
          + say(lang, "class.teacher.answered", answered=spread["answered"],
                members=spread["members"]))
    right = None
    if push["revealed"]:
        right = _right_label(push)
        md += "\n\n" + say(lang, "class.teacher.revealed", right=right,
                           n=spread.get("right", 0), answered=spread["answered"])
    return md, spread_figure(spread, right, lang)


def _link(request: gr.Request | None, code: str) -> str:
    base = ""
    if request is not None:
        try:
            base = str(request.request.base_url) if request.request else ""
        except AttributeError:
            base = ""
    return f"{base.rstrip('/')}/?tab=class&class={code}"


def create_class(teacher, lang, request: gr.Request = None):
    env = settings.current()
    code, secret = store().create(time.time(), ttl=env.bertgpt_class_hours * 3600,
                                  cap=env.bertgpt_class_cap)
    teacher = {"code": code, "secret": secret}
    return (teacher, say(lang, "class.teacher.created", code=code, link=_link(request, code)),
            *teacher_view(teacher, lang))


def push_exercise(teacher, tab_id, variant, all_settings, lang):
    if not teacher or not teacher.get("code"):
        return say(lang, "class.teacher.none")
    try:
        q = exercises.question(tab_id, all_settings.get(tab_id, {}), int(variant or 0))
        store().push(teacher["code"], teacher.get("secret"), tab_id, q["settings"],
                     q["variant"], time.time())
    except ClassError as e:
        return _err(lang, e)
    except BertGptError as e:
        return say(lang, "exercise.cannot", error=str(e))
    return say(lang, "class.teacher.pushed", tab=tab_id)


def reveal(teacher, lang):
    if not teacher or not teacher.get("code"):
        return say(lang, "class.teacher.none")
    s = store()
    try:
        push = s.current(teacher["code"], time.time())
        if push is None:
            return say(lang, "class.teacher.no_push")
        s.reveal(teacher["code"], teacher.get("secret"), push["id"], time.time())
    except ClassError as e:
        return _err(lang, e)
    return say(lang, "class.teacher.reveal_done")


def export(teacher, lang):
    if not teacher or not teacher.get("code"):
        return None, say(lang, "class.teacher.none")
    try:
        text = store().export_csv(teacher["code"], teacher.get("secret"), time.time())
    except ClassError as e:
        return None, _err(lang, e)
    folder = Path(tempfile.mkdtemp(prefix="bertgpt-class-"))
    path = folder / f"class-{teacher['code']}.csv"
    path.write_text(text, encoding="utf-8")
    return str(path), say(lang, "class.teacher.exported", rows=text.count("\n") - 1)


def close_class(teacher, lang):
    if not teacher or not teacher.get("code"):
        return teacher, say(lang, "class.teacher.none")
    try:
        store().close(teacher["code"], teacher.get("secret"), time.time())
    except ClassError as e:
        return teacher, _err(lang, e)
    return {"code": teacher["code"], "secret": teacher.get("secret"), "closed": True}, say(
        lang, "class.teacher.closed", code=teacher["code"])


# ---- the student ---------------------------------------------------------------------------

def join(student, code, name, lang):
    student = dict(student or {})
    student.setdefault("id", uuid.uuid4().hex)  # opaque: never shown, never a name
    try:
        got = store().join(code, student["id"], name, time.time())
    except ClassError as e:
        return student, _err(lang, e)
    student["code"] = got["code"]
    if got["rejoined"]:
        return student, say(lang, "class.student.rejoined", code=got["code"])
    return student, say(lang, "class.student.joined", code=got["code"])


def student_view(student, shown_push, lang, now: float | None = None):
    """(shown push id, question md, 3 answer-box updates, own result md, class figure).
    The answer boxes are reset only when a new push arrives, so a tick of the timer
    never clears what the student is choosing."""
    now = time.time() if now is None else now
    keep = (gr.update(), gr.update(), gr.update())
    if not student or not student.get("code"):
        return (shown_push, say(lang, "class.student.none"), *keep, "",
                viz.empty(say(lang, "class.no_answers")))
    s, code = store(), student["code"]
    try:
        push = s.current(code, now)
        if push is None:
            return (None, say(lang, "class.student.wait", code=code), *ep.show_boxes(None), "",
                    viz.empty(say(lang, "class.no_answers")))
        q = exercises.question(push["tab"], push["settings"], push["variant"])
        boxes = ep.show_boxes(q) if push["id"] != shown_push else keep
        mine = s.own(code, student["id"], push["id"], now)
        spread = s.spread(code, push["id"], now)
    except ClassError as e:
        return shown_push, _err(lang, e), *keep, "", viz.empty(str(e))
    if mine is None:
        own_md = (say(lang, "class.student.revealed_missed") if push["revealed"]
                  else say(lang, "class.student.your_turn"))
    elif not mine["revealed"]:
        own_md = say(lang, "class.student.committed", answer=mine["label"])
    else:
        g = exercises.grade(push["tab"], push["settings"], mine["answer"], push["variant"])
        own_md = ep.result_md(g, lang)
    right = _right_label(push) if push["revealed"] else None
    return (push["id"], ep.question_md(q, lang), *boxes, own_md,
            spread_figure(spread, right, lang))


def submit(student, number, choice, multi, lang):
    if not student or not student.get("code"):
        return say(lang, "class.student.none")
    s, now = store(), time.time()
    try:
        push = s.current(student["code"], now)
        if push is None:
            return say(lang, "class.student.wait", code=student["code"])
        q = exercises.question(push["tab"], push["settings"], push["variant"])
        g = exercises.grade(push["tab"], push["settings"], ep.pick_answer(q, number, choice,
                                                                         multi), push["variant"])
        s.answer(student["code"], student["id"], push["id"], g["answer"],
                 exercises.answer_label(g["answer"]), g["correct"], now)
    except ClassError as e:
        return _err(lang, e)
    except BertGptError as e:
        return say(lang, "exercise.cannot", error=str(e))
    return say(lang, "class.student.committed", answer=exercises.answer_label(g["answer"]))


# ---- the same actions as an API (plain data; benchmarks/classroom_load.py drives these) ---
# A student is named by their opaque id, as the page's BrowserState names them: it is a
# random 128-bit token, so holding it is what proves being that student.
MAX_API_TEXT = {"code": 12, "secret": 64, "student": 64, "name": 200, "tab": 20,
                "settings_json": 5000, "answer": 2000, "lang": 5}


def _api(fn):
    """An API endpoint that refuses bad input with a message, never a crash: text is
    bounded, NUL and lone surrogates are refused, and the class's refusals (ClassError)
    and the course's (BertGptError) come back as a gr.Error with their own words."""
    import inspect
    params = list(inspect.signature(fn).parameters)

    @functools.wraps(fn)
    def wrapper(*args):
        for name, value in zip(params, args):
            if value is None:
                continue
            if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                raise gr.Error(f"{name} must be text or a number")
            if isinstance(value, str):
                if len(value) > MAX_API_TEXT.get(name, 200):
                    raise gr.Error(f"{name} is {len(value):,} characters; at most "
                                   f"{MAX_API_TEXT.get(name, 200):,}")
                if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
                    raise gr.Error(f"{name} holds a NUL or an unpaired surrogate: send text")
        given = dict(zip(params, args))
        if "code" in params and not str(given.get("code") or "").strip():
            raise gr.Error(str(ClassError("unknown", code="''")))  # not "start one" as a page
        try:
            out = fn(*[(a if a is not None else "") if p != "variant" else (a or 0)
                       for p, a in zip(params, args)])
        except (ClassError, BertGptError) as e:
            raise gr.Error(str(e)) from None
        except (ValueError, TypeError, OverflowError) as e:
            raise gr.Error(f"bad input: {e}") from None
        # the page shows a refusal in place (⚠ ...); a script gets it as an error
        shown = out.get("question", "") if isinstance(out, dict) else out
        if isinstance(shown, str) and shown.startswith("⚠ "):
            raise gr.Error(shown[2:])
        return out
    return wrapper

def api_create(lang: str = "en") -> dict:
    """Start a class: {"code", "secret"}; the secret authorises push, reveal and export."""
    teacher, *_ = create_class(None, lang)
    return teacher


def api_push(code: str, secret: str, tab: str, settings_json: str = "{}", variant: int = 0,
             lang: str = "en") -> str:
    """Push an exercise (tab + deep-link settings as JSON) to the class."""
    import json
    settings_ = json.loads(settings_json or "{}")
    if not isinstance(settings_, dict):
        raise ValueError("settings_json must be a JSON object, e.g. {\"seed\": 7}")
    if tab not in exercises.TABS:
        raise ValueError(f"no exercise for tab {tab!r}; one of {', '.join(exercises.TABS)}")
    variant = float(variant)
    if variant != variant or not 0 <= variant <= 10**6:
        raise ValueError("variant must be a whole number from 0 to 1000000")
    return push_exercise({"code": code, "secret": secret}, tab, int(variant),
                         {tab: settings_}, lang)


def api_reveal(code: str, secret: str, lang: str = "en") -> str:
    return reveal({"code": code, "secret": secret}, lang)


def api_export(code: str, secret: str) -> str:
    """The class's answers as CSV text (teacher only)."""
    return store().export_csv(code, secret, time.time())


def api_join(code: str, student: str, name: str, lang: str = "en") -> str:
    return join({"id": student}, code, name, lang)[1]


def api_answer(code: str, student: str, answer: str, lang: str = "en") -> str:
    """Answer the current push: a number, a choice, or comma-separated choices."""
    s = store()
    push = s.current(code, time.time())  # an unknown code: a ClassError, said as such
    fmt = exercises.question(push["tab"], push["settings"], push["variant"])["format"] \
        if push else "choice"
    value = answer.split(",") if fmt == "multi" else answer
    return submit({"id": student, "code": (code or "").upper()}, value if fmt == "number"
                  else None, value if fmt == "choice" else None,
                  value if fmt == "multi" else None, lang)


def api_view(code: str, student: str, lang: str = "en") -> dict:
    """What this student's page shows: the question, their own result, the class counts."""
    st = {"id": student, "code": (code or "").upper()}
    push_id, question, *_, own, _fig = student_view(st, None, lang)
    spread = None
    if push_id is not None:
        try:
            spread = store().spread(st["code"], push_id, time.time())
        except ClassError:
            spread = None
    return {"push": push_id, "question": question, "own": own, "spread": spread}


# ---- the tab -------------------------------------------------------------------------------

def build(ctx, links_by_tab: dict[str, dict]) -> None:
    """Inside gr.Tabs: the Class tab. `links_by_tab` holds each tab's deep-link components;
    Push reads the chosen tab's current values from them."""
    lang = ctx.lang
    secret = serving.browser_secret()
    teacher_state = gr.BrowserState(None, storage_key="bertgpt-class-teacher", secret=secret)
    student_state = gr.BrowserState(None, storage_key="bertgpt-class-student", secret=secret)
    gr.Markdown(t("class.intro.md"))
    with gr.Row():
        with gr.Column():
            gr.Markdown(t("class.student.head.md"))
            with gr.Row():
                code_box = gr.Textbox(label=t("class.student.code"), max_length=12,
                                      elem_id="class-code")
                name_box = gr.Textbox(label=t("class.student.name"), max_length=40,
                                      elem_id="class-name")
            join_btn = gr.Button(t("class.student.join"), variant="primary",
                                 elem_id="class-join")
            join_md = gr.Markdown(elem_id="class-join-md")
            shown_push = gr.State(None)
            s_question = gr.Markdown(elem_id="class-question")
            number, choice, multi = ep.answer_boxes()
            submit_btn = gr.Button(t("class.student.submit"), elem_id="class-submit")
            submit_md = gr.Markdown(elem_id="class-submit-md")
            s_own = gr.Markdown(elem_id="class-own")
            s_plot = gr.Plot(label=t("class.chart"), show_label=False)
        with gr.Column():
            with gr.Accordion(t("class.teacher.head"), open=False, elem_id="class-teacher"):
                create_btn = gr.Button(t("class.teacher.create"), elem_id="class-create")
                created_md = gr.Markdown(elem_id="class-created")
                ex_tabs = [tab for tab in ep.TABS if tab in links_by_tab]
                with gr.Row():
                    tab_pick = gr.Dropdown([(t(f"exercise.tab.{tab}"), tab) for tab in ex_tabs],
                                           value="mlm", label=t("class.teacher.tab"),
                                           elem_id="class-tab-pick")
                    variant = gr.Number(0, precision=0, minimum=0, maximum=10**6,
                                        label=t("class.teacher.variant"))
                push_btn = gr.Button(t("class.teacher.push"), variant="primary",
                                     elem_id="class-push")
                with gr.Row():
                    reveal_btn = gr.Button(t("class.teacher.reveal"), elem_id="class-reveal")
                    export_btn = gr.Button(t("class.teacher.export"), elem_id="class-export")
                    close_btn = gr.Button(t("class.teacher.close"), variant="stop")
                action_md = gr.Markdown(elem_id="class-action")
                csv_file = gr.File(label=t("class.teacher.csv"), interactive=False,
                                   height=90, elem_id="class-csv")
                t_status = gr.Markdown(elem_id="class-teacher-status")
                t_plot = gr.Plot(label=t("class.chart"), show_label=False,
                                 elem_id="class-teacher-plot")
    timer = gr.Timer(POLL_S)
    for fn in (api_create, api_push, api_reveal, api_export, api_join, api_answer, api_view):
        # Quick database calls: none waits behind another in Gradio's per-event limit
        # (BERTGPT_CONCURRENCY), so thirty answers after a push do not queue four by four.
        gr.api(_api(fn), api_name="class_" + fn.__name__.removeprefix("api_"),
               concurrency_limit=None)
    # gr.api gives its invisible parameter components labels ("1st", "2nd", ...) that no
    # one sees; without them the language switch and its test pass these components over.
    from gradio.components.api_component import Api
    for block in ctx.demo.blocks.values():
        if isinstance(block, Api):
            block.label = None

    names = [(tab, key) for tab in ex_tabs for key in links_by_tab[tab]]
    comps = [links_by_tab[tab][key] for tab, key in names]

    def on_push(teacher, tab_id, var, *rest):
        *values, lang_ = rest
        per_tab: dict[str, dict] = {}
        for (tab, key), v in zip(names, values):
            if not isinstance(v, (dict, list)):
                per_tab.setdefault(tab, {})[key] = v
        return push_exercise(teacher, tab_id, var, per_tab, lang_)

    private = dict(api_visibility="private", show_progress="hidden")
    create_btn.click(create_class, [teacher_state, lang],
                     [teacher_state, created_md, t_status, t_plot], **private)
    push_btn.click(on_push, [teacher_state, tab_pick, variant, *comps, lang], action_md,
                   **private).then(teacher_view, [teacher_state, lang], [t_status, t_plot],
                                   **private)
    reveal_btn.click(reveal, [teacher_state, lang], action_md, **private).then(
        teacher_view, [teacher_state, lang], [t_status, t_plot], **private)
    export_btn.click(export, [teacher_state, lang], [csv_file, action_md], **private)
    close_btn.click(close_class, [teacher_state, lang], [teacher_state, action_md], **private)
    join_btn.click(join, [student_state, code_box, name_box, lang], [student_state, join_md],
                   **private).then(student_view, [student_state, shown_push, lang],
                                   [shown_push, s_question, number, choice, multi, s_own,
                                    s_plot], **private)
    submit_btn.click(submit, [student_state, number, choice, multi, lang], submit_md,
                     concurrency_limit=None, **private)
    timer.tick(teacher_view, [teacher_state, lang], [t_status, t_plot], concurrency_limit=None,
               **private)
    timer.tick(student_view, [student_state, shown_push, lang],
               [shown_push, s_question, number, choice, multi, s_own, s_plot],
               concurrency_limit=None, **private)

    def on_load(student, teacher, request: gr.Request):
        """?class=CODE fills the code box and opens this tab (so does ?tab=class: the
        app's own link reader knows only the lesson tabs); a teacher's browser coming
        back (reload, restart) sees its class again."""
        params = dict(request.query_params) if request else {}
        code = (params.get("class") or (student or {}).get("code") or "").upper()[:12]
        created = ""
        if teacher and teacher.get("code"):
            page_lang = params.get("lang") or "en"
            created = say(page_lang, "class.teacher.back", code=teacher["code"])
        opened = params.get("class") or params.get("tab") == ID
        tabs = gr.Tabs(selected=ID) if opened else gr.Tabs()
        return code, created, tabs

    ctx.demo.load(on_load, [student_state, teacher_state], [code_box, created_md, ctx.tabs],
                  **private)
