"""Predict, then reveal, in the app: a panel beside a tab's lesson, and the pieces the
Class tab shares with it (showing a question, its answer boxes, a graded result).

The questions and their grading are course/exercises.py's; this module only draws them,
in the page's language (`lang`, the header switch, is every handler's last input).
"""
from __future__ import annotations

import gradio as gr

from ..course import exercises
from ..errors import BertGptError
from .i18n import say, t

TABS = exercises.TABS


def settings_from(names: list[str], values: list) -> dict:
    """A tab's current settings, as its deep link carries them."""
    return {n: v for n, v in zip(names, values) if not isinstance(v, (dict, list))}


def question_md(q: dict, lang: str) -> str:
    p = q["prompt"]
    # the course names its texts under "exercise." (it has no language of its own)
    return ("**" + say(lang, "exercise.ask_head") + "** "
            + say(lang, f"exercise.{p['id']}", **p["args"]))


_FATE = {"[MASK]": "mask", "random": "random", "kept": "kept"}  # mask_text's fate names


def result_md(g: dict, lang: str) -> str:
    """✓ or ✗, what was answered and what is right, and the one-paragraph why."""
    mark = say(lang, "exercise.right" if g["correct"] else "exercise.wrong")
    head = say(lang, "exercise.result", mark=mark,
               answer=exercises.answer_label(g["answer"]),
               right=exercises.answer_label(g["right_answer"]))
    if g["format"] == "multi" and not g["correct"]:
        head += " " + say(lang, "exercise.close", hits=g["hits"], n=len(g["right_answer"]))
    args = dict(g["why"]["args"])
    if isinstance(args.get("fates"), list):  # MLM: each picked token and what became of it
        args["fates"] = ", ".join(f"{token} {say(lang, f'mlm.chip.to_{_FATE[fate]}')}"
                                  for token, fate in args["fates"])
    why = say(lang, f"exercise.{g['why']['id']}", **args)
    return f"{head}\n\n{why}"


def answer_boxes():
    """Three answer widgets, one shown at a time by the question's format."""
    number = gr.Number(label=t("exercise.number"), precision=0, minimum=0, visible=False)
    choice = gr.Radio([], label=t("exercise.choice"), visible=False)
    multi = gr.CheckboxGroup([], label=t("exercise.multi"), visible=False)
    return number, choice, multi


def show_boxes(q: dict | None):
    """Updates for (number, choice, multi): the question's widget shown, empty."""
    fmt = q["format"] if q else None
    choices = [(str(a), b) for a, b in q["choices"]] if q and q["choices"] else []
    return (gr.update(visible=fmt == "number", value=None),
            gr.update(visible=fmt == "choice", choices=choices if fmt == "choice" else [],
                      value=None),
            gr.update(visible=fmt == "multi", choices=choices if fmt == "multi" else [],
                      value=[]))


def pick_answer(q: dict, number, choice, multi):
    return {"number": number, "choice": choice, "multi": multi or []}[q["format"]]


def panel(tab_id: str, links: dict, lang) -> None:
    """The predict-then-reveal panel for one tab: Ask builds a question from the tab's
    current settings (a new variant each time), Commit grades it."""
    names, comps = list(links), list(links.values())
    with gr.Accordion(t("exercise.title"), open=False):
        gr.Markdown(t("exercise.intro.md"))
        ask = gr.Button(t("exercise.ask"), size="sm")
        asked = gr.State(None)
        q_md = gr.Markdown()
        number, choice, multi = answer_boxes()
        commit = gr.Button(t("exercise.commit"), variant="primary", size="sm")
        out = gr.Markdown()

    def on_ask(*values):
        *settings_values, previous, lang_ = values
        variant = (previous["variant"] + 1) if previous else 0
        try:
            q = exercises.question(tab_id, settings_from(names, settings_values), variant)
        except BertGptError as e:
            return (None, say(lang_, "exercise.cannot", error=str(e)), *show_boxes(None), "")
        return (q, question_md(q, lang_), *show_boxes(q), "")

    def on_commit(q, n, c, m, lang_):
        if not q:
            return say(lang_, "exercise.ask_first")
        try:
            g = exercises.grade(q["tab"], q["settings"], pick_answer(q, n, c, m), q["variant"])
        except BertGptError as e:
            return say(lang_, "exercise.cannot", error=str(e))
        return result_md(g, lang_)

    ask.click(on_ask, comps + [asked, lang], [asked, q_md, number, choice, multi, out],
              api_visibility="private", show_progress="minimal")
    commit.click(on_commit, [asked, number, choice, multi, lang], out,
                 api_visibility="private", show_progress="minimal")
