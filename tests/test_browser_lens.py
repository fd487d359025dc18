"""The logit lens in a real browser: Fill-mask and Generate open with their example
answered and its lens drawn, in English and via ?lang=ko; a click on Next token redraws
the lens for the prompt it drew after. Screenshots go to screenshots/lens-<tab>-<lang>.png
(gitignored) for a person to look at.

Same setup as tests/test_browser.py: pip `playwright` + Debian's /usr/bin/chromium."""
from __future__ import annotations


import pytest

from browserhelp import CHROMIUM, FLAGS, SHOTS, sync_api  # noqa: E402,F401

from apphelp import running_app  # noqa: E402
from bertgpt.app import i18n  # noqa: E402
from bertgpt.io.assets import bundled  # noqa: E402

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(bundled("gpt") is None or bundled("bert") is None,
                                 reason="the bundled models are missing (assets/models)")]
# Plotly writes figure titles and panel titles as SVG text (classes gtitle and
# annotation-text), which innerText does not see.
TITLES_JS = ("[...document.querySelectorAll('.gtitle, .annotation-text')]"
             ".map(e => e.textContent)")


@pytest.fixture(scope="module")
def browser_page():
    with running_app() as demo, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(60_000)
        yield page, demo.local_url
        browser.close()


def _title_shown(page, title: str):
    try:
        page.wait_for_function(f"{TITLES_JS}.includes({title!r})")
    except sync_api.TimeoutError:
        raise AssertionError(f"no figure titled {title!r}; titles: "
                             f"{page.evaluate(TITLES_JS)}") from None


@pytest.mark.parametrize("lang", ["en", "ko"])
@pytest.mark.parametrize("tab,arch", [("fillmask", "bert"), ("generate", "gpt")])
def test_the_tab_opens_with_its_lens(browser_page, tab, arch, lang):
    page, url = browser_page
    SHOTS.mkdir(exist_ok=True)
    page.goto(url + f"?tab={tab}&lang={lang}")  # explicit: the browser remembers a choice
    words = i18n.table(lang)
    page.get_by_role("tab", name=words[f"{tab}.title"]).wait_for()
    _title_shown(page, words[f"lens.title.{arch}"])
    # The other figure of the tab is drawn too, in the same language.
    _title_shown(page, words["fillmask.fig.panel"].format(n=1, position=6) if tab == "fillmask"
                 else words["generate.fig.raw"])
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SHOTS / f"lens-{tab}-{lang}.png"), full_page=True)


def test_next_token_redraws_the_lens_for_the_prompt(browser_page):
    page, url = browser_page
    page.goto(url + "?tab=generate&lang=en")
    _title_shown(page, i18n.table("en")["lens.title.gpt"])
    box = page.get_by_label(i18n.table("en")["generate.prompt"])
    before = box.input_value()
    page.get_by_role("button", name=i18n.table("en")["generate.step_btn"]).click()
    page.wait_for_function(f"document.body.innerText.includes('Drew')")
    assert box.input_value() != before and box.input_value().startswith(before)
    # The grid's last column is the prompt's last token as it was before the click.
    last = before.split()[-1]
    page.wait_for_function(
        "[...document.querySelectorAll('.xtick text')].some(e => e.textContent.startsWith("
        f"'␣{last}'))")
    page.wait_for_timeout(800)
    page.screenshot(path=str(SHOTS / "lens-generate-step-en.png"), full_page=True)
