"""English / 한국어 in a real browser: one tab opened in English and via ?lang=ko, the
Korean choice remembered by the browser, and the 한국어 switch itself. Screenshots go to
screenshots/mlm-en.png and screenshots/mlm-ko.png (gitignored) for a person to look at.

Same setup as tests/test_browser.py: pip `playwright` + Debian's /usr/bin/chromium."""
from __future__ import annotations


import pytest

from browserhelp import CHROMIUM, FLAGS, SHOTS, sync_api  # noqa: E402,F401

from apphelp import free_port, running_app  # noqa: E402
from bertgpt.app import i18n  # noqa: E402

KO = i18n.table("ko")

pytestmark = pytest.mark.browser
PANEL_JS = "[...document.querySelectorAll('[role=tabpanel]')].find(e => e.offsetParent)"


@pytest.fixture(scope="module")
def browser_page():
    with running_app() as demo, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(30_000)
        yield page, demo.local_url
        browser.close()


def _shows(page, text: str, where: str = "document.body"):
    try:
        page.wait_for_function(f"({where})?.innerText.includes({text!r})")
    except sync_api.TimeoutError:
        raise AssertionError(f"{text!r} is not on the page") from None


def test_one_tab_in_english_then_korean_and_remembered(browser_page):
    page, url = browser_page
    SHOTS.mkdir(exist_ok=True)
    page.goto(url + "?tab=mlm&seed=7")
    page.get_by_role("tab", name="MLM masking").wait_for()
    _shows(page, "The idea", PANEL_JS)                      # the English lesson beside it
    _shows(page, "Copy link to this view", PANEL_JS)
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / "mlm-en.png"), full_page=True)

    page.goto(url + "?tab=mlm&seed=7&lang=ko")
    page.get_by_role("tab", name=KO["mlm.title"]).wait_for()   # tab titles
    _shows(page, "핵심 아이디어", PANEL_JS)                    # the Korean lesson
    _shows(page, KO["app.copy_link"], PANEL_JS)                # buttons
    _shows(page, KO["mlm.text"], PANEL_JS)                     # labels
    assert page.get_by_role("tab", name="MLM masking").count() == 0
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / "mlm-ko.png"), full_page=True)

    page.goto(url + "?tab=mlm")                               # no lang: the browser remembers
    page.get_by_role("tab", name=KO["mlm.title"]).wait_for()


def test_the_header_switch_goes_back_to_english(browser_page):
    page, url = browser_page
    page.goto(url + "?tab=nsp&lang=ko")
    page.get_by_role("tab", name=KO["nsp.title"]).wait_for()
    page.get_by_label("English").check()
    page.get_by_role("tab", name="NSP pairs").wait_for()
    _shows(page, "The idea", PANEL_JS)
    page.goto(url + "?tab=nsp")                               # and English is remembered
    page.get_by_role("tab", name="NSP pairs").wait_for()


def test_the_choice_survives_a_server_restart(browser_page):
    """The browser keeps the choice encrypted (gr.BrowserState); a new server must read it.
    Two launches of a freshly built app on one port stand for a restart."""
    page, _ = browser_page
    port = free_port()
    with running_app(port) as demo:
        page.goto(demo.local_url + "?tab=masks&lang=ko")
        page.get_by_role("tab", name=KO["masks.title"]).wait_for()
        page.wait_for_timeout(1000)   # the choice is written to localStorage
    with running_app(port) as demo:   # a new process would build the app anew too
        page.goto(demo.local_url + "?tab=masks")
        page.get_by_role("tab", name=KO["masks.title"]).wait_for()
        _shows(page, "핵심 아이디어", PANEL_JS)
