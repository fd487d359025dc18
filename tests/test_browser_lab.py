"""The Lab tab in a real browser, in English and via ?lang=ko: the shipped table, the
chart and the verdict sentences are there on first load, in the page's language.
Screenshots go to screenshots/lab-en.png and screenshots/lab-ko.png (gitignored) for a
person to look at. Same setup as tests/test_browser_i18n.py."""
from __future__ import annotations


import pytest

from browserhelp import CHROMIUM, FLAGS, SHOTS, sync_api  # noqa: E402,F401

from apphelp import running_app  # noqa: E402
from bertgpt.app import i18n, tab_lab  # noqa: E402

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(tab_lab.shipped() is None, reason="no shipped Lab table")]
PANEL_JS = "[...document.querySelectorAll('[role=tabpanel]')].find(e => e.offsetParent)"


@pytest.fixture(scope="module")
def browser_page():
    with running_app() as demo, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(30_000)
        yield page, demo.local_url
        browser.close()


def _shows(page, text: str, where: str = PANEL_JS):
    try:
        page.wait_for_function(f"({where})?.innerText.includes({text!r})")
    except sync_api.TimeoutError:
        raise AssertionError(f"{text!r} is not on the page") from None


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_lab_shows_the_shipped_table_in_the_page_language(browser_page, lang):
    page, url = browser_page
    SHOTS.mkdir(exist_ok=True)
    page.goto(url + "?tab=lab" + ("&lang=ko" if lang == "ko" else ""))
    page.get_by_role("tab", name=i18n.say(lang, "lab.title")).wait_for()
    _shows(page, i18n.say(lang, "lab.arm.mask_100"))          # the table, worded
    _shows(page, i18n.say(lang, "lab.cmp.masking"))           # a verdict heading
    _shows(page, i18n.say(lang, "lab.paper.direction")[:30])  # what the paper found
    _shows(page, i18n.say(lang, "lab.go"))                    # the re-run button
    page.wait_for_selector(".js-plotly-plot .bars", state="attached")  # the bar chart
    if lang == "ko":
        assert i18n.say("en", "lab.paper.direction")[:30] not in page.inner_text("body")
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / f"lab-{lang}.png"), full_page=True)
