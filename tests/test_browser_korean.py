"""Issue #22 in a real browser: each of these tabs opened with ?lang=ko shows its results
(written at build time in English) in Korean once the page has loaded, and not the English
ones. Screenshots: screenshots/ko-<tab>.png (gitignored), for a person to look at.

Same setup as tests/test_browser_i18n.py: pip `playwright` + Debian's /usr/bin/chromium."""
from __future__ import annotations


import pytest

from browserhelp import CHROMIUM, FLAGS, SHOTS, sync_api  # noqa: E402,F401

from apphelp import running_app  # noqa: E402
from bertgpt.app import i18n  # noqa: E402
from bertgpt.io.assets import bundled  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    bundled("bert") is None or bundled("gpt") is None, reason="bundled minis missing")]
PANEL_JS = "[...document.querySelectorAll('[role=tabpanel]')].find(e => e.offsetParent)"

# tab -> (Korean that a handler wrote, the English it replaces)
WRITTEN = {
    "intro": ("빈칸을 채웁니다", "fills the blank"),
    "tokenize": ("토큰당 글자 수", "characters per token"),
    "mlm": ("고를 수 있는 토큰은", "could be picked"),
    "nsp": ("문장마다 BERT가", "coin per sentence"),
    "masks": ("격자 읽는 법", "How to read a grid"),
    "attention": ("다른 토큰을 바라보는", "looking at the others"),
    "finetune": ("둘 다 미세조정", "to train the two side by side"),
    "sizes": ("사전학습 헤드를 빼고", "Without the pre-training heads"),
}


@pytest.fixture(scope="module")
def browser_page():
    with running_app() as demo, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(60_000)
        yield page, demo.local_url
        browser.close()


@pytest.mark.parametrize("tab", list(WRITTEN))
def test_a_korean_page_shows_korean_results(browser_page, tab):
    page, url = browser_page
    SHOTS.mkdir(exist_ok=True)
    korean, english = WRITTEN[tab]
    page.goto(url + f"?tab={tab}&lang=ko")
    # the handler's Korean, and the header switch's labels (so the picture is all Korean)
    for text in (korean, i18n.table("ko")["app.copy_link"]):
        try:
            page.wait_for_function(f"({PANEL_JS})?.innerText.includes({text!r})")
        except sync_api.TimeoutError:
            raise AssertionError(f"{tab}: {text!r} is not on the page") from None
    page.wait_for_timeout(2500)  # the figures and the lesson settle
    page.screenshot(path=str(SHOTS / f"ko-{tab}.png"), full_page=True)
    assert english not in page.evaluate(f"({PANEL_JS}).innerText")
