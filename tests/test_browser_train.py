"""Train live in a real browser, in English and via ?lang=ko: a short side-by-side run on
the world corpus ends with the loss chart and the embedding map (a panel per model), the
loss legend clear of the x-axis title, and the words in the page's language.
Screenshots: screenshots/train-live-en.png and train-live-ko.png (gitignored), for a
person to look at.

Same setup as tests/test_browser.py: pip `playwright` + Debian's /usr/bin/chromium."""
from __future__ import annotations


import pytest

from browserhelp import CHROMIUM, FLAGS, SHOTS, sync_api  # noqa: E402,F401

from apphelp import running_app  # noqa: E402
from bertgpt.app import i18n  # noqa: E402

pytestmark = pytest.mark.browser
PANEL_JS = "[...document.querySelectorAll('[role=tabpanel]')].find(e => e.offsetParent)"
# Boxes of the loss chart's legend and x-axis title, in page pixels.
BOXES_JS = """() => {
  const panel = %s;
  const plots = [...panel.querySelectorAll('.js-plotly-plot')];
  const box = (el) => { const r = el.getBoundingClientRect();
                        return [r.left, r.top, r.right, r.bottom]; };
  return plots.map(p => ({legend: p.querySelector('.legend') ? box(p.querySelector('.legend')) : null,
                          xtitle: [...p.querySelectorAll('.g-xtitle, .g-x2title')].map(box)}));
}""" % PANEL_JS


@pytest.fixture(scope="module")
def browser_page():
    with running_app() as demo, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(30_000)
        yield page, demo.local_url
        browser.close()


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_train_live_shows_the_embedding_map_in_the_page_language(browser_page, lang):
    page, url = browser_page
    say = lambda key, **kw: i18n.say(lang, key, **kw)  # noqa: E731
    page.goto(f"{url.rstrip('/')}/?tab=train&arch=both&size=tiny&seconds=8"
              + ("&lang=ko" if lang == "ko" else ""))
    start = page.get_by_role("button", name=i18n.table(lang)["train.start"])
    start.wait_for(state="visible")
    start.click()
    done = "**Done**" if lang == "en" else "**완료**"
    try:
        page.wait_for_function(f"({PANEL_JS})?.textContent.includes({done.strip('*')!r})",
                               timeout=120_000)
    except sync_api.TimeoutError:
        raise AssertionError("the run did not finish in 2 minutes") from None
    page.wait_for_timeout(1000)  # the last redraw of both figures
    text = page.evaluate(f"({PANEL_JS}).textContent")
    for needle in (say("train.map.group.country"), say("train.map.group.capital"),
                   say("train.map.group.job"), say("train.fig.step"),
                   say("train.status.end.time")):
        assert needle in text, needle
    # The map's panel captions for both models (plotly draws <b> as a bold tspan).
    assert text.count(say("train.map.axis", n=1)) == 2
    if lang == "ko":  # the status itself (the lesson beside it may name English terms)
        status = page.locator("[role=tabpanel]:visible .prose",
                              has_text=say("train.status.end.time")).last.inner_text()
        assert "초당" in status
        assert not any(w in status for w in ("tokens/s", "validation", "step", "Done")), status
    SHOTS.mkdir(exist_ok=True)  # taken before the checks, so a failure can be looked at
    page.screenshot(path=str(SHOTS / f"train-live-{lang}.png"), full_page=True)
    plots = page.evaluate(BOXES_JS)
    assert len(plots) >= 2, "the loss chart and the embedding map"
    for plot in plots:
        if plot["legend"]:
            for title in plot["xtitle"]:
                assert not _overlap(plot["legend"], title), "the legend sits on the axis title"
