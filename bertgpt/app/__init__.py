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

TABS = ["intro", "tokenize", "mlm", "nsp", "masks", "attention", "train", "fillmask", "generate", "finetune", "lab", "sizes"]

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


# Installed once per page: a click on a link inside a lesson (or the errata) whose address
# is a query of this app ("?tab=masks&kind=padding", "?tab=errata#bug-4") does not open a
# new page. The address bar shows the link (history.pushState, so a reload or a copied
# address opens the same view), and the hidden button applies it through follow_link.
# Gradio's Markdown gives every link target=_blank and has no option for in-app links,
# hence this handler. It listens in the capture phase, before the link's default action.
_LINK_JS = """() => {
  if (window.bertgptLinks) return;
  window.bertgptLinks = true;
  document.addEventListener("click", (e) => {
    const a = e.target.closest && e.target.closest(".lesson a[href^='?']");
    if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;  // new tab asked
    const go = document.querySelector("#lesson-link-go button, button#lesson-link-go");
    if (!go) return;
    e.preventDefault();
    const href = a.getAttribute("href");
    history.pushState(null, "", window.location.pathname + href);
    window.bertgptLink = href;
    go.click();
  }, true);
  // Back and Forward walk through the links followed, as they would through pages.
  window.addEventListener("popstate", () => {
    const go = document.querySelector("#lesson-link-go button, button#lesson-link-go");
    if (!go) return;
    window.bertgptLink = window.location.search + window.location.hash;
    go.click();
  });
}"""
# The hidden button's input: the link the click handler stored (not the Textbox's value).
_READ_LINK_JS = "(q) => [window.bertgptLink || q || '']"


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
    # Empty until the button is pressed, so it never shows a link nobody asked for.
    box = gr.Textbox(label=t("app.link_box"), info=t("app.link_box.info"),
                     buttons=["copy"], interactive=False)
    button.click(lambda *v: link_query(tab_id, names, list(v[:len(names)]),
                                       v[len(names)] if lang is not None else None), comps, box,
                 api_name=f"link_{tab_id}", show_progress="hidden"
                 ).then(None, box, box, js=_COPY_JS)
    # A link made before a setting changed would open the old view: clear it. In the
    # browser only (js, no fn), so dragging a slider sends nothing to the server.
    for comp in links.values():
        comp.change(None, None, box, js="() => ''", show_progress="hidden",
                    queue=False, api_visibility="private")


def build_app() -> gr.Blocks:
    modules = [importlib.import_module(f".tab_{name}", __package__) for name in TABS]
    # delete_cache bounds Gradio's temp files (plots, zips) on a long-running class server.
    with gr.Blocks(title="bertgpt: BERT & GPT pre-training", delete_cache=(3600, 3600)) as demo:
        # The session's own trained models: arch -> checkpoint.Loaded. Starts as None
        # (a State's default is deep-copied per session; a model must never be in it).
        own = gr.State(None, time_to_live=settings.current().bertgpt_session_ttl)
        ctx = SimpleNamespace(own=own, demo=demo)
        # A short header, so the tab bar is on a phone's first screen. The title's column
        # asks for 320 px: Gradio's Row wraps its children when they do not fit, so on a
        # phone the language switch goes under the title instead of squeezing it.
        with gr.Row(elem_id="app-header", equal_height=False):
            with gr.Column(scale=1, min_width=320):
                gr.Markdown(t("app.header.md"), elem_id="app-title")
            # English / 한국어: labels and lessons switch; the browser remembers (i18n.py)
            lang = gr.Radio([(name, code) for code, name in i18n.LANGS.items()], value="en",
                            label="Language / 언어", scale=0, min_width=260)
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
        # "wrap": every tab title stays on the bar, on as many rows as it takes; Gradio's
        # default ("menu") hides the ones that do not fit behind a "…" button.
        with gr.Tabs(selected=TABS[0], overflow_behavior="wrap", elem_id="tabs") as tabs:
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

        def apply_query(params: dict) -> list:
            """Updates for the tab a query names and the settings it gives (`?tab=mlm&seed=7`)."""
            tab = params.get("tab")
            updates = [gr.Tabs(selected=tab) if tab in TABS else gr.Tabs()]
            for tab_id, key, comp in linkable:
                value = _coerce(comp, params[key]) if tab_id == tab and key in params else None
                updates.append(gr.update(value=value) if value is not None else gr.update())
            return updates

        def open_link(request: gr.Request):
            return apply_query(dict(request.query_params) if request else {})

        def follow_link(query: str):
            from urllib.parse import parse_qsl, urlsplit
            return apply_query(dict(parse_qsl(urlsplit(query or "").query)))

        link_targets = [tabs] + [c for _, _, c in linkable]
        demo.load(open_link, None, link_targets,
                  api_visibility="private", show_progress="hidden"
                  ).then(None, js=_ERRATA_JS)
        # A lesson's link (?tab=...) followed in place: the click handler in _LINK_JS puts
        # the link's query here and presses the hidden button, and the same code as a
        # page load applies it. Opening it as a page would start a new session and lose
        # what this one trained (gr.State lives with the page).
        link_query_box = gr.Textbox(visible="hidden", elem_id="lesson-link-query")
        link_go = gr.Button("↪", visible="hidden", elem_id="lesson-link-go")
        # always_last: a click while one is still applied (Back, Back) is not dropped.
        link_go.click(follow_link, link_query_box, link_targets, js=_READ_LINK_JS,
                      api_visibility="private", show_progress="hidden",
                      trigger_mode="always_last"
                      ).then(None, js=_ERRATA_JS)
        demo.load(None, js=_LINK_JS)
        # The sign-in button writes its own label ("Logout (name)"): the switch leaves it.
        i18n.install(demo, lang, lang_stored, lesson_panels, lesson,
                     keep=[login] if login is not None else [])
        demo.links = {t: {k: c for i, k, c in linkable if i == t} for t in TABS}  # for tests
        demo.links[ERRATA] = {}  # ?tab=errata#bug-N: a page, no settings
    return guard_inputs(demo, lang)  # NaN, over-long text: refused before any handler runs


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
#app-title h2 { margin: 0.2rem 0; }
/* Tables in lessons and results: Gradio's prose style breaks words anywhere to fit the
   width ('Tran/sfor/mer' on a phone). Keep words whole and let a wide table scroll
   sideways instead; no Gradio option sets this. */
.prose table { display: block; width: fit-content; max-width: 100%; overflow-x: auto; }
/* keep-all: Korean words too (CSS lets Korean break between any two syllables). */
.prose th, .prose td { word-break: keep-all; overflow-wrap: normal; }
/* A slider's end labels ("16384") were cut off in a narrow column: let the track give
   way to them. */
.slider_input_container input[type=range] { min-width: 0; flex: 1 1 auto; }
.slider_input_container .max_value, .slider_input_container .min_value { flex: none; }
@media (max-width: 640px) {
  /* A phone: a smaller title, so the tab bar is on the first screen. */
  #app-title h2 { font-size: 1.2rem; }
  #app-title p { font-size: 0.85rem; margin: 0; }
  /* Plotly's toolbar sat on a narrow chart's title and labels; a phone zooms by pinching. */
  .js-plotly-plot .modebar-container { display: none; }
}
"""
