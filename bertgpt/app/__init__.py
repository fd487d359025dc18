"""The Gradio app: one module per tab (`tab_<id>.py`), assembled here.

Each tab module defines ID, LABEL and `build(ctx) -> dict[str, component]`; the dict
names the inputs a deep link may set (`?tab=mlm&seed=7&text=...`).
"""
from __future__ import annotations

import importlib
import os
import threading
from types import SimpleNamespace

import gradio as gr

from .. import settings
from . import class_tab, exercise_panel, i18n, serving
from .common import guard_inputs, lesson
from .i18n import t

TABS = ["intro", "tokenize", "mlm", "nsp", "masks", "attention", "train", "fillmask", "generate", "finetune", "sizes"]

ERRATA = "errata"
# A link such as ?tab=errata#bug-2 (a lesson's "errata, bug 2"): open the errata accordion,
# as a click would, and scroll to the heading of that bug ("Bug 2: ..." / "버그 2: ...").
_ERRATA_JS = """() => {
  if (new URLSearchParams(window.location.search).get("tab") !== "errata") return;
  const m = window.location.hash.match(/^#bug-(\\d+)$/);
  const re = new RegExp("^(Bug|버그) " + (m ? m[1] : "") + ":");
  let tries = 0, clicked = false;
  const timer = setInterval(() => {
    const box = document.getElementById("errata-box");
    const heads = box ? [...box.querySelectorAll("h2")] : [];
    if (++tries > 40) clearInterval(timer);
    if (!box) return;
    if (!heads.length || heads[0].offsetParent === null) {  // closed (its content may not
      if (!clicked) { box.querySelector("button")?.click(); clicked = true; }  // exist yet)
      return;
    }
    clearInterval(timer);
    const go = () => ((m && [...box.querySelectorAll("h2")].find(h => re.test(h.innerText)))
                      || box).scrollIntoView();
    go(); setTimeout(go, 1000);               // again once the lesson panels have settled
  }, 250);
}"""


def _coerce(component, raw: str):
    """A query-string value in the type the component holds; None if it does not fit."""
    try:
        if isinstance(component, (gr.Slider, gr.Number)):
            value = float(raw)
            lo, hi = getattr(component, "minimum", None), getattr(component, "maximum", None)
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                return None
            return int(value) if float(value).is_integer() else value
        if isinstance(component, gr.Checkbox):
            return raw.lower() in ("1", "true", "yes", "on")
        if isinstance(component, (gr.Radio, gr.Dropdown)):
            choices = [c[1] if isinstance(c, tuple) else c for c in component.choices]
            return raw if raw in choices else None
        return raw[:5000]
    except (TypeError, ValueError):
        return None


def link_query(tab_id: str, names: list[str], values: list, lang: str | None = None) -> str:
    """The query string that reopens a tab with these settings (what open_link reads)."""
    from urllib.parse import urlencode
    params = {"tab": tab_id}
    if lang and lang != "en":
        params["lang"] = lang  # the class sees the lesson and labels in the sender's language
    for name, value in zip(names, values):
        if value is None or value == "" or isinstance(value, (dict, list)):
            continue  # files and figures cannot travel in a link
        if isinstance(value, bool):
            value = "true" if value else "false"
        params[name] = str(value)[:1000]
    return "?" + urlencode(params)


# Runs in the browser: the page's own address plus the query, copied to the clipboard.
_COPY_JS = """(q) => { const u = window.location.origin + window.location.pathname + q;
  if (navigator.clipboard) { navigator.clipboard.writeText(u).catch(() => {}); } return u; }"""


def _link_button(tab_id: str, links: dict, lang=None):
    """A "Copy link" button: this tab with its current settings, for the whole class."""
    names, comps = list(links), list(links.values())
    if lang is not None:  # the language switch rides along as the last input
        comps = comps + [lang]
    button = gr.Button(t("app.copy_link"), size="sm")
    box = gr.Textbox(label=t("app.link_box"), buttons=["copy"], interactive=False)
    button.click(lambda *v: link_query(tab_id, names, list(v[:len(names)]),
                                       v[len(names)] if lang is not None else None), comps, box,
                 api_name=f"link_{tab_id}", show_progress="hidden"
                 ).then(None, box, box, js=_COPY_JS)


def build_app() -> gr.Blocks:
    modules = [importlib.import_module(f".tab_{name}", __package__) for name in TABS]
    # delete_cache bounds Gradio's temp files (plots, zips) on a long-running class server.
    with gr.Blocks(title="bertgpt: BERT & GPT pre-training", delete_cache=(3600, 3600)) as demo:
        # The session's own trained models: arch -> checkpoint.Loaded. Starts as None
        # (a State's default is deep-copied per session; a model must never be in it).
        own = gr.State(None, time_to_live=settings.current().bertgpt_session_ttl)
        ctx = SimpleNamespace(own=own, demo=demo)
        with gr.Row():
            gr.Markdown(t("app.header.md"))
            # English / 한국어: labels and lessons switch; the browser remembers (i18n.py)
            lang = gr.Radio([(name, code) for code, name in i18n.LANGS.items()], value="en",
                            label="Language / 언어", scale=0, min_width=200)
            ctx.lang = lang  # a handler that writes text takes it as its last input
            # On a ZeroGPU Space a signed-in visitor's GPU time comes from their own
            # account, not from one anonymous quota per address (docs/DEPLOY.md).
            login = (gr.LoginButton(scale=0, min_width=200) if serving.login_enabled()
                     else None)
        lang_stored = gr.BrowserState("en", storage_key=i18n.STORAGE_KEY,
                                       secret=serving.browser_secret())
        lesson_panels: dict[str, gr.Markdown] = {}
        # The seed article's errata (lessons/<lang>/errata.md), which lessons cite as
        # "(errata, bug N)": one closed row under the header; ?tab=errata opens it.
        with gr.Accordion(t("app.errata"), open=False, elem_id="errata-box"):
            errata_md = gr.Markdown(lesson(ERRATA), elem_classes=["lesson"])
        linkable: list[tuple[str, str, gr.components.Component]] = []
        with gr.Tabs(selected=TABS[0]) as tabs:
            for mod in modules:
                with gr.Tab(mod.LABEL, id=mod.ID):
                    with gr.Row():
                        with gr.Column(scale=3):
                            links = mod.build(ctx) or {}
                        with gr.Column(scale=2, min_width=300):
                            if links:
                                _link_button(mod.ID, links, lang)
                            # --- issue #20: predict, then reveal (exercise_panel.py), above
                            # the lesson: below a long one, no one would scroll to it ---
                            if mod.ID in exercise_panel.TABS and links:
                                exercise_panel.panel(mod.ID, links, lang)
                            with gr.Accordion(t("app.lesson"), open=True):
                                lesson_panels[mod.ID] = gr.Markdown(lesson(mod.ID),
                                                                    elem_classes=["lesson"])
                linkable += [(mod.ID, key, comp) for key, comp in links.items()]
            # --- issue #20: the Class tab (class_tab.py), after the lesson tabs ---
            ctx.tabs = tabs
            with gr.Tab(t("class.title"), id=class_tab.ID):
                class_tab.build(ctx, {i: {k: c for j, k, c in linkable if j == i}
                                      for i in TABS})
        ctx.tabs = tabs
        lesson_panels[ERRATA] = errata_md  # after the tabs': the switch returns them in order

        def open_link(request: gr.Request):
            params = dict(request.query_params) if request else {}
            tab = params.get("tab")
            updates = [gr.Tabs(selected=tab) if tab in TABS else gr.Tabs()]
            for tab_id, key, comp in linkable:
                value = _coerce(comp, params[key]) if tab_id == tab and key in params else None
                updates.append(gr.update(value=value) if value is not None else gr.update())
            return updates

        demo.load(open_link, None, [tabs] + [c for _, _, c in linkable],
                  api_visibility="private", show_progress="hidden"
                  ).then(None, js=_ERRATA_JS)
        # The sign-in button writes its own label ("Logout (name)"): the switch leaves it.
        i18n.install(demo, lang, lang_stored, lesson_panels, lesson,
                     keep=[login] if login is not None else [])
        demo.links = {t: {k: c for i, k, c in linkable if i == t} for t in TABS}  # for tests
        demo.links[ERRATA] = {}  # ?tab=errata#bug-N: a page, no settings
    return guard_inputs(demo)  # NaN, over-long text: refused before any handler runs


def launch(demo: gr.Blocks | None = None, **overrides):
    """Launch with the settings a class needs: an upload cap, no monitoring page, the
    address and port from Gradio's variables (serving.py), and the MCP server if asked."""
    demo = demo or build_app()
    options = dict(max_file_size="10mb", enable_monitoring=False,
                   footer_links=["api", "gradio"], theme=gr.themes.Soft(), css=CSS,
                   mcp_server=serving.mcp_enabled())
    options.update(serving.bind())
    options.update(overrides)
    block = not options.pop("prevent_thread_lock", False)
    if not options["enable_monitoring"]:
        # After every event Gradio's queue rebuilds a pandas summary of all past events
        # (up to 10,000) for its monitoring page, under the interpreter lock: a class's
        # clicks got slower the longer the class ran. With the page off, never rebuild it.
        # (A write that configures Gradio, which reads it itself: not one of our settings.)
        os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(10**9))
    env = settings.current()
    demo.queue(max_size=env.bertgpt_queue, default_concurrency_limit=env.bertgpt_concurrency)
    from . import gpu, worker
    if worker.enabled() and not gpu.zero_gpu():
        worker.warm()  # the training process's fork server imports torch now, not at Train
    # Not a daemon: a process that exits within its two seconds waits for it, instead of
    # tearing down torch and the tokenizer's thread pool under it (which aborts).
    threading.Thread(target=_warm_tasks, name="bertgpt-warm-tasks").start()
    # Gradio builds the MCP tool table while it launches, so launch without blocking,
    # narrow the table, then block as Gradio itself would have.
    result = demo.launch(prevent_thread_lock=True, **options)
    serving.limit_mcp_tools(demo)
    if block:
        demo.block_thread()
    return result


def _warm_tasks() -> None:
    """The Fine-tune tab's held-out tasks for the bundled BERT, built while the server
    starts. Built on a student's first click instead, they held the interpreter lock for
    1.4 s and every click in the class waited behind them (benchmarks/classroom_load.py)."""
    try:
        from ..finetune import tasks
        from ..io.assets import bundled
        bert = bundled("bert")
        if bert is not None:
            tasks.warm(bert.tokenizer, bert.cfg.block_size)
    except Exception:  # noqa: BLE001  (the first fine-tune builds them instead: slower, same)
        import traceback
        traceback.print_exc()


CSS = """
.lesson { font-size: 0.95rem; }
.token-legend { font-size: 0.9rem; }
.tokens .token .text { font-size: 1.1rem; }
.tokens .token .label { font-size: 0.8rem; }
"""
