"""The app on a phone (390×844) and a laptop (1366×768), in a real browser (issue #22):
the tab bar on the first screen with every title on it (no "…" menu), tables that keep
their words whole, and lesson links that switch the tab in place instead of opening a new
page (a new page is a new session: what the student trained would be gone).

Screenshots of every tab go to screenshots/phone-<tab>-ko.png and
screenshots/laptop-<tab>-en.png (gitignored) for a person to look at.
Same setup as tests/test_browser.py: pip `playwright` + Debian's /usr/bin/chromium."""
from __future__ import annotations

import importlib

import pytest

from browserhelp import CHROMIUM, FLAGS, SHOTS, sync_api  # noqa: E402,F401

from apphelp import running_app  # noqa: E402
from bertgpt.app import TABS, i18n  # noqa: E402

pytestmark = pytest.mark.browser
PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 768}

# Where each tab button is, and whether it sits inside Gradio's overflow ("…") menu.
TAB_BUTTONS_JS = """() => [...document.querySelectorAll('[role=tablist] [role=tab]')].map(b => {
  const r = b.getBoundingClientRect();
  return {text: b.innerText.trim(), top: r.top, bottom: r.bottom, left: r.left,
          right: r.right, shown: b.offsetParent !== null,
          in_menu: !!b.closest('.overflow-dropdown')};
})"""
# Words cut across lines inside table cells of the visible panel and the header: for each
# word of a cell, a Range over its letters; a word on one line has one client rect per
# line box it spans, so more than one means the browser broke it mid-word.
BROKEN_WORDS_JS = """() => {
  const out = [];
  const cells = [...document.querySelectorAll('[role=tabpanel] td, [role=tabpanel] th')]
    .filter(c => c.offsetParent !== null);
  for (const cell of cells) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode());) {
      // a line may end after a hyphen or a slash, or before "(" ("인코더 / (encoder)")
      const re = /[^\\s\\-–—\\/(]+/g;
      for (let m; (m = re.exec(node.data));) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set([...range.getClientRects()].filter(r => r.width > 0)
                              .map(r => Math.round(r.top)));
        if (tops.size > 1) out.push(m[0]);
      }
    }
  }
  return {cells: cells.length, broken: out};
}"""


# The lesson tabs, then the Class tab (class_tab.py) that the app puts after them.
ALL_TABS = [*TABS, "class"]


def _labels(lang: str) -> dict[str, str]:
    found = {tab: importlib.import_module(f"bertgpt.app.tab_{tab}").LABEL.read(lang)
             for tab in TABS}
    found["class"] = i18n.table(lang)["class.title"]
    return found


@pytest.fixture(scope="module")
def url():
    with running_app() as demo:
        yield demo.local_url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def _page(browser, viewport):
    page = browser.new_page(viewport=viewport)
    page.set_default_timeout(30_000)
    return page


def _open(page, url: str, query: str, tab: str):
    """Open the app at `query` and wait until the tab titled `tab` is the selected one
    (the page first shows Start here; the link's tab is selected once the page loads)."""
    page.goto(url + query)
    page.get_by_role("tab", name=tab, exact=True, selected=True).wait_for()
    page.wait_for_timeout(1000)  # the lesson panels and figures settle


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_phone_has_every_tab_on_the_first_screen_and_tables_keep_words(browser, url, lang):
    labels = _labels(lang)
    page = _page(browser, PHONE)
    SHOTS.mkdir(exist_ok=True)
    _open(page, url, f"?tab=intro&lang={lang}", labels["intro"])
    buttons = page.evaluate(TAB_BUTTONS_JS)
    assert [b["text"] for b in buttons] == [labels[t] for t in ALL_TABS]  # none in a menu
    assert page.locator(".overflow-menu:not(.hide) button[aria-label='More tabs']").count() == 0
    for b in buttons:   # all of them on the first screen, inside the page's width
        assert b["shown"] and not b["in_menu"], b
        assert 0 <= b["top"] and b["bottom"] < PHONE["height"], b
        assert 0 <= b["left"] and b["right"] <= PHONE["width"], b
    # the header is stacked: the language switch under the title, not beside it
    title = page.locator("#app-title").bounding_box()
    switch = page.get_by_text("Language / 언어").bounding_box()
    assert switch["y"] >= title["y"] + title["height"] - 1
    assert title["width"] > PHONE["width"] * 0.7
    checked = 0
    for tab in ALL_TABS:
        page.get_by_role("tab", name=labels[tab], exact=True).click()
        page.wait_for_timeout(700)
        found = page.evaluate(BROKEN_WORDS_JS)
        assert found["broken"] == [], (tab, found["broken"][:10])
        checked += found["cells"]
        if lang == "ko":
            page.screenshot(path=str(SHOTS / f"phone-{tab}-ko.png"), full_page=True)
    assert checked > 20   # the lessons' tables were there to be measured
    # nothing wider than the screen makes the whole page scroll sideways (a wide table
    # scrolls inside its own box instead)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.close()


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_laptop_shows_every_tab_title_without_a_more_menu(browser, url, lang):
    labels = _labels(lang)
    page = _page(browser, LAPTOP)
    _open(page, url, f"?tab=intro&lang={lang}", labels["intro"])
    buttons = page.evaluate(TAB_BUTTONS_JS)
    assert [b["text"] for b in buttons] == [labels[t] for t in ALL_TABS]
    assert all(b["shown"] and not b["in_menu"] and b["bottom"] < LAPTOP["height"]
               for b in buttons), buttons
    assert len({round(b["top"]) for b in buttons}) <= 2   # one or two rows
    if lang == "en":
        for tab in ALL_TABS:
            page.get_by_role("tab", name=labels[tab], exact=True).click()
            page.wait_for_timeout(700)
            page.screenshot(path=str(SHOTS / f"laptop-{tab}-en.png"), full_page=True)
    page.close()


def test_a_lesson_link_switches_tab_and_settings_in_place(browser, url):
    page = _page(browser, LAPTOP)
    _open(page, url, "?tab=masks", _labels("en")["masks"])
    page.evaluate("window.stillTheSamePage = 42")   # gone if the page reloads
    pages_before = len(page.context.pages)
    # The Masks lesson's "padding" link: ?tab=masks&kind=padding&inspect=3
    panel = page.locator("[role=tabpanel]:visible .lesson")
    panel.locator("a[href*='kind=padding']").first.click()
    page.wait_for_function("new URLSearchParams(location.search).get('kind') === 'padding'")
    page.wait_for_function("[...document.querySelectorAll('[role=tabpanel] input[type=radio]')]"
                           ".some(r => r.checked && r.value === 'padding')")
    assert page.evaluate("window.stillTheSamePage") == 42
    assert len(page.context.pages) == pages_before   # no new browser tab either
    # An errata link opens the errata accordion in place ...
    panel.locator("a[href^='?tab=errata']").first.click()
    page.wait_for_function("location.hash.startsWith('#bug-')")
    page.wait_for_function("[...document.querySelectorAll('#errata-box h2')]"
                           ".some(h => h.offsetParent !== null)")
    # ... and the errata's link to another tab switches to that tab.
    page.locator("#errata-box .lesson a[href^='?tab=sizes']").first.click()
    page.wait_for_function("[...document.querySelectorAll('[role=tab]')]"
                           ".some(b => b.getAttribute('aria-selected') === 'true' && "
                           "b.innerText.trim() === 'BERT vs GPT & sizes')")
    assert page.evaluate("window.stillTheSamePage") == 42
    assert len(page.context.pages) == pages_before
    # The browser's Back walks the links in place: errata#bug-4 (the accordion; the tab
    # stays), then the Masks view with padding.
    page.go_back()
    page.wait_for_function("location.hash.startsWith('#bug-')")
    page.go_back()
    page.wait_for_function("new URLSearchParams(location.search).get('kind') === 'padding'")
    page.get_by_role("tab", name="Attention masks", exact=True, selected=True).wait_for()
    assert page.evaluate("window.stillTheSamePage") == 42
    page.close()


def test_the_class_link_is_empty_until_asked_and_cleared_by_a_change(browser, url):
    page = _page(browser, LAPTOP)
    _open(page, url, "?tab=mlm", _labels("en")["mlm"])
    panel = page.locator("[role=tabpanel]:visible")
    box = panel.locator("label", has_text="Link for the class").locator("textarea, input").first
    assert box.input_value() == ""                        # nothing shown before a click
    assert "copied" not in panel.inner_text().split("Press the button")[0].lower()
    panel.get_by_role("button", name="Copy link to this view").click()
    page.wait_for_function("[...document.querySelectorAll('[role=tabpanel] textarea')]"
                           ".some(t => t.value.includes('?tab=mlm'))")
    seed = panel.get_by_label(i18n.table("en")["mlm.seed"]).first
    seed.fill("11")
    seed.press("Enter")
    page.wait_for_function("![...document.querySelectorAll('[role=tabpanel] textarea')]"
                           ".some(t => t.value.includes('?tab=mlm'))")
    assert box.input_value() == ""                        # the stale link is gone
    page.close()
