"""The lessons as printable pages: one self-contained HTML file per language.

For a class without a server: every lesson of a language on one page, with a table of
contents, the exercises' answers folded, the app links pointing at a running app, and
the figures the tabs would draw (masks, MLM fates, model sizes) inline as SVG. Written
by `bertgpt lessons --export DIR`.
"""
from __future__ import annotations

import functools
import html
import io
import re
from pathlib import Path

from .lessons import _LINK, ERRATA, LANGS, ROOT, Lesson, load_all, parse

_TEXT = {
    "en": {"title": "bertgpt — BERT & GPT pre-training: the lessons", "toc": "Contents",
           "intro": "Each lesson goes with one tab of the bertgpt app. Links to the app "
                    "open it at {url}; run <code>python app.py</code> first.",
           "masks": "Which keys each token may attend to (✓ = may attend).",
           "mlm": "One seeded masking run over the world corpus (seed 0): of the selected "
                  "tokens, about 80% became [MASK], 10% a random token, 10% stayed.",
           "sizes": "Parameters by model size, counted by the core (log scale).",
           "causal": "causal (GPT)", "bidirectional": "bidirectional (BERT)",
           "fates": ("[MASK]", "random", "kept"), "params": "parameters"},
    "ko": {"title": "bertgpt — BERT와 GPT 사전학습: 강의 노트", "toc": "목차",
           "intro": "각 강의는 bertgpt 앱의 탭 하나와 짝을 이룹니다. 앱 링크는 {url} 에서 "
                    "열립니다. 먼저 <code>python app.py</code> 를 실행하세요.",
           "masks": "각 토큰이 어떤 키에 어텐션할 수 있는지 (✓ = 볼 수 있음).",
           "mlm": "월드 코퍼스에 대한 마스킹 한 번 (seed 0): 선택된 토큰 중 약 80%는 [MASK], "
                  "10%는 무작위 토큰, 10%는 그대로 남았습니다.",
           "sizes": "모델 크기별 파라미터 수 (코어가 직접 셈, 로그 스케일).",},
}


def _svg(fig) -> str:
    """A matplotlib figure as inline SVG text (no external files, fonts as paths)."""
    import matplotlib.pyplot as plt
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def _figure_masks(t: dict) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ..model.masks import bidirectional_mask, causal_mask
    from .viz import HIDDEN, PALETTE
    from matplotlib.colors import ListedColormap
    T = 6
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
    for ax, (name, mask) in zip(axes, (("bidirectional", bidirectional_mask(T)),
                                       ("causal", causal_mask(T)))):
        ax.imshow(mask.int().numpy(), cmap=ListedColormap([HIDDEN, PALETTE["sky"]]), vmin=0, vmax=1)
        for i in range(T):
            for j in range(T):
                ax.text(j, i, "✓" if mask[i, j] else "✗", ha="center", va="center", fontsize=11)
        ax.set_title(t[name])
        ax.set_xticks(range(T))
        ax.set_yticks(range(T))
        ax.set_xlabel("key")
        ax.set_ylabel("query")
    return _svg(fig)


def _figure_mlm(t: dict) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ..io.assets import world_tokenizer
    from ..text.corpus import generate_world
    from ..text.mlm import mask_tokens
    from .viz import PALETTE
    tok = world_tokenizer("wordpiece")
    ids = tok.encode(generate_world(seed=0, size=20_000))
    res = mask_tokens(ids, mask_id=tok.special_id("mask"), special_ids=list(tok.special_ids),
                      vocab_size=tok.vocab_size, seed=0)
    counts = [int((res.fate == k).sum()) for k in (1, 2, 3)]
    total = sum(counts)
    fig, ax = plt.subplots(figsize=(6, 2.6))
    bars = ax.bar(t["fates"], counts, color=[PALETTE["blue"], PALETTE["orange"], PALETTE["green"]])
    for bar, n in zip(bars, counts):
        ax.text(bar.get_x() + bar.get_width() / 2, n, f"{n} ({n / total:.0%})", ha="center",
                va="bottom")
    ax.set_ylim(0, max(counts) * 1.2)
    ax.set_title(f"{total:,} of {len(ids):,} tokens selected ({total / len(ids):.1%})")
    return _svg(fig)


def _figure_sizes(t: dict) -> str:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ..model.config import PRESETS
    from ..model.build import count_params
    from .viz import PALETTE, human_count
    names = list(PRESETS)
    totals = [count_params(n)["published_total"] for n in names]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    colours = [PALETTE["blue"] if PRESETS[n][0].arch == "bert" else PALETTE["orange"]
               for n in names]
    ax.barh(names, totals, color=colours)
    ax.set_xscale("log")
    for i, v in enumerate(totals):
        ax.text(v, i, " " + human_count(v), va="center", fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel(t["params"])
    return _svg(fig)


FIGURES = {"masks": _figure_masks, "mlm": _figure_mlm, "sizes": _figure_sizes}


@functools.lru_cache(maxsize=8)
def figure_svg(tab: str) -> str:
    """One figure as SVG, drawn once per process (both languages share it)."""
    return FIGURES[tab](_TEXT["en"])


def _md():
    from markdown_it import MarkdownIt
    # html=True keeps the <details> answers; the lessons are our own files, not user input.
    return MarkdownIt("commonmark", {"html": True}).enable("table")


def stray_asterisks(markdown: str) -> list[str]:
    """Text that would show a literal `*` once rendered: emphasis CommonMark does not open
    or close, as `*자기지도 학습(…)*이라고` (a closing `*` after ")" and before a letter is
    not right-flanking). Code is not text, so `*` there is fine. Gradio's renderer follows
    the same flanking rules."""
    found = []

    def walk(tokens):
        for t in tokens:
            if t.children:
                walk(t.children)
            elif t.type == "text" and "*" in t.content:
                found.append(t.content)
    walk(_md().parse(markdown))
    return found


def _anchor(lesson: Lesson) -> str:
    return Path(lesson.path).stem or re.sub(r"\W+", "-", lesson.title).strip("-").lower()


def _target(query: str, app_url: str) -> str:
    """Where a lesson's link points on the printed page: the errata are on the page itself
    (?tab=errata#bug-2 -> #bug-2); every other link opens the running app."""
    if query.split("#", 1)[0].split("&", 1)[0] == "?tab=errata":
        return "#" + (query.split("#", 1)[1] if "#" in query else "errata")
    return app_url + query


def render_html(lessons: list[Lesson], lang: str, app_url: str = "http://127.0.0.1:7860/",
                figures: dict | None = None) -> str:
    """One self-contained HTML page: contents, every lesson, figures as inline SVG."""
    t = _TEXT.get(lang, _TEXT["en"])
    md = _md()
    figures = FIGURES if figures is None else figures
    toc, body = [], []
    for lesson in lessons:
        anchor = _anchor(lesson)
        tab = anchor.split("-", 1)[-1]
        toc.append(f'<li><a href="#{anchor}">{html.escape(lesson.title)}</a></li>')
        text = _LINK.sub(lambda m: f"[{m.group(1)}]({_target(m.group(2), app_url)})",
                         lesson.text)
        part = md.render(text)
        if tab in figures:
            caption = html.escape(t.get(tab, ""))
            # figure text stays English: no Hangul font can be assumed on the machine
            svg = figure_svg(tab) if figures is FIGURES else figures[tab](_TEXT["en"])
            fig = (f'<figure>{svg}'
                   f'<figcaption>{caption}</figcaption></figure>')
            # after the first section ("The idea"), where the picture helps most
            marker = "<h2>"
            second = part.find(marker, part.find(marker) + 1)
            part = part[:second] + fig + part[second:] if second > 0 else part + fig
        body.append(f'<section id="{anchor}">{part}</section>')
    return f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(t['title'])}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto;
  padding: 0 1rem; line-height: 1.55; }}
pre {{ background: #f4f4f4; padding: .8rem; overflow-x: auto; }}
code {{ font-size: .92em; }}
details {{ border: 1px solid #ccc; padding: .4rem .8rem; margin: .5rem 0; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: .2rem .5rem; }}
figure {{ margin: 1rem 0; }} figure svg {{ max-width: 100%; height: auto; }}
section {{ page-break-before: always; }}
@media print {{ details {{ display: block; }} details > * {{ display: block; }} }}
</style></head><body>
<h1>{html.escape(t['title'])}</h1>
<p>{t['intro'].format(url=html.escape(app_url))}</p>
<nav><h2>{t['toc']}</h2><ol>{''.join(toc)}</ol></nav>
{''.join(body)}
</body></html>
"""


def export(out_dir, root: Path = ROOT, app_url: str = "http://127.0.0.1:7860/") -> list[Path]:
    """Write lessons-<lang>.html for each language with lessons; the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for lang in LANGS:
        lessons = load_all(lang, root)
        if not lessons:
            continue
        errata = root / lang / ERRATA  # the seed article's errata, which lessons cite
        if errata.is_file():
            lessons.append(parse(errata.read_text(encoding="utf-8"), lang, str(errata)))
        path = out / f"lessons-{lang}.html"
        path.write_text(render_html(lessons, lang, app_url), encoding="utf-8")
        written.append(path)
    return written
