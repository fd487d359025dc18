"""The app in a real browser: Debian's chromium, driven by Playwright, visits every tab,
presses its main button, checks what a student would see, and saves a screenshot per tab
into screenshots/ (gitignored) for a person to look at.

Needs `playwright` (pip) and /usr/bin/chromium (`apt-get install -y chromium`; Playwright
cannot download a browser here). Skipped, with the reason, when either is missing."""
from __future__ import annotations

import importlib

import pytest

from browserhelp import CHROMIUM, FLAGS, SHOTS, sync_api  # noqa: E402,F401

from bertgpt.io.assets import bundled, world_tokenizer  # noqa: E402
from bertgpt.text.mlm import mask_text  # noqa: E402
from apphelp import running_app  # noqa: E402

pytestmark = pytest.mark.browser
HAVE_MODELS = bundled("bert") is not None and bundled("gpt") is not None
# What a student must see on each of this part's tabs after pressing its main button.
EXPECT = {
    "tokenize": ["##", "Byte-level BPE", "BPE merges"],
    "mlm": ["→ [MASK]", "−100", "measured on the world corpus"],
    "nsp": ["segment 0 = A", "segment 1 = B", "IsNext"],
    "masks": ["✓", "✗", "−∞", "row = the token that looks"],
    "attention": ["layer 1", "head 1", "column = what it may see"] if HAVE_MODELS else [],
    "sizes": ["encoder", "decoder", "2048", "parameters"],
    "finetune": ["pre-trained", "scratch", "held-out test examples"] if HAVE_MODELS else [],
}
NEEDS_MODELS = {"attention", "fillmask", "generate", "finetune"}  # their button errors without models


@pytest.fixture(scope="module")
def url():
    with running_app() as demo:
        yield demo.local_url


@pytest.fixture(scope="module")
def page(url):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        pg = browser.new_page(viewport={"width": 1440, "height": 1000})
        pg.set_default_timeout(20_000)
        yield pg
        browser.close()


def _tabs():
    from bertgpt.app import TABS
    return [(t, importlib.import_module(f"bertgpt.app.tab_{t}").LABEL) for t in TABS]


def _open_tab(page, label: str) -> None:
    """Click a tab; with many tabs Gradio moves the last ones into a "More tabs" menu."""
    tab = page.get_by_role("tab", name=label)
    if tab.count() and tab.first.is_visible():
        tab.first.click()
        return
    page.get_by_role("button", name="More tabs").click()
    page.locator(".overflow-dropdown button", has_text=label).first.click()


PANEL_JS = "[...document.querySelectorAll('[role=tabpanel]')].find(e => e.offsetParent)"


def _idle(page):
    """Wait until no event is running: a running one shows queue/timer text in its tracker."""
    page.wait_for_function("!document.querySelector("
                           "'[data-testid=status-tracker]:not(.hide) .progress-text')",
                           timeout=60_000)


def _panel_has(page, needle: str, where: str = ""):
    try:
        page.wait_for_function(f"({PANEL_JS})?.textContent.includes({needle!r})")
    except sync_api.TimeoutError:
        raise AssertionError(f"{where}: {needle!r} is not shown") from None


def test_every_tab_answers_its_main_button(page, url):
    SHOTS.mkdir(exist_ok=True)
    page.goto(url)
    page.get_by_role("tab", name=_tabs()[0][1]).wait_for()
    for tab_id, label in _tabs():
        _open_tab(page, label)
        panel = page.locator("[role=tabpanel]:visible")
        button = panel.locator("button.primary").first
        button.wait_for(state="visible")
        errors_before = page.locator(".toast-title.error").count()
        button.click()
        if tab_id == "train":  # let the curve move a little, then stop: the model stays
            page.wait_for_timeout(4000)
            panel.get_by_role("button", name="Stop", exact=False).click()
        page.wait_for_timeout(300)
        _idle(page)
        for needle in EXPECT.get(tab_id, []):
            _panel_has(page, needle, label)
        if HAVE_MODELS or tab_id not in NEEDS_MODELS:
            assert page.locator(".toast-title.error").count() == errors_before, \
                f"{label}: pressing '{button.inner_text()}' showed an error"
        if HAVE_MODELS or tab_id not in NEEDS_MODELS:
            assert panel.locator(".js-plotly-plot, [data-testid=highlighted-text], table"
                                 ).count() > 0, f"{label}: nothing drawn"
        page.screenshot(path=str(SHOTS / f"{tab_id}.png"), full_page=True)
        # Close any toasts so the next tab's screenshot is clean.
        for close in page.locator(".toast-close").all():
            close.click()


def test_bad_input_shows_an_error_and_the_tab_recovers(page, url):
    page.goto(url)
    page.get_by_role("tab", name="MLM masking").click()
    box = page.get_by_label("Text to mask")
    box.fill("")  # mid-edit: a note in place, no toast
    _panel_has(page, "The text is empty", "MLM, box cleared")
    _idle(page)
    assert page.locator(".toast-title.error").count() == 0, "clearing the box showed a toast"
    page.locator("[role=tabpanel]:visible button.primary").first.click()
    page.locator(".toast-title.error").first.wait_for()
    _idle(page)
    page.wait_for_timeout(500)
    # One press, one message: Gradio groups repeated toasts under "Error (2)".
    assert page.locator(".toast-title.error").inner_text().split() == ["Error"]
    assert "empty" in page.locator("[data-testid=toast-body]").first.inner_text()
    box.fill("The cow eats grass on the farm.")
    _idle(page)
    _panel_has(page, "grass")


def test_deep_link_opens_the_same_view(page, url):
    text = "The cow eats grass and the dog eats meat on the farm."
    page.goto(url + "?tab=mlm&seed=5&text=" + text.replace(" ", "%20"))
    panel = page.locator("[role=tabpanel]:visible")
    panel.get_by_label("Seed").wait_for()
    page.wait_for_function(f"({PANEL_JS})?.querySelector('input[type=number]')?.value === '5'")
    _idle(page)
    core = mask_text(text, world_tokenizer("wordpiece"), seed=5)
    picked = [f"{t['original_token']} ({t['label']})" for t in core["tokens"]
              if t["label"] is not None]
    assert picked, "pick a seed that selects something"
    _panel_has(page, picked[0])  # the labels row is the one for seed 5, not the default
    text = panel.inner_text()
    assert all(p in text for p in picked), "the deep link's seed did not reach the view"
    if HAVE_MODELS:  # ...and BERT's guesses are for that masking, not the default one
        first = next(t for t in core["tokens"] if t["label"] is not None)
        _panel_has(page, f"position {first['position']}: '{first['original_token']}'",
                   "deep link")
    page.screenshot(path=str(SHOTS / "deeplink-mlm-seed5.png"), full_page=True)
