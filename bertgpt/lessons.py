"""The lessons (lessons/<lang>/NN-<tab>.md): parsing, checking, and a printable export.

A lesson is Markdown with a fixed shape, so a test can hold every lesson to it and a class
without a server can print them: one `# Title`, then six `## ` sections in a fixed order
(SECTIONS), exercises folded as `<details><summary>Answer</summary> ... </details>`,
```python cells under "In code", and deep links to the app such as `[MLM tab](?tab=mlm&seed=7)`.

Everything here is a pure function of the text, except `export` (writes files) and
`core_numbers` (asks the core for the figures a lesson may state without a citation).
"""
from __future__ import annotations

import functools
import html
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parent.parent / "lessons"
LANGS = ("en", "ko")
SECTIONS = {
    "en": ("The idea", "Why it is done this way", "Try it in the tab", "In code", "Exercises",
           "Where the article's code goes wrong"),
    "ko": ("핵심 아이디어", "왜 이렇게 할까", "탭에서 해 보기", "코드로 보기", "연습 문제",
           "원문 코드의 함정"),
}
ANSWER = {"en": "Answer", "ko": "정답"}
CODE, EXERCISES = 3, 4  # indexes into SECTIONS

_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
_DETAILS = re.compile(r"<details>\s*<summary>(.*?)</summary>(.*?)</details>", re.S)
_LINK = re.compile(r"\[([^\]]*)\]\((\?[^)\s]*)\)")
# Numbers the contract asks about, most specific first (see lessons/numbers.txt).
_NUMBER = re.compile(r"""
    (?<![\w.,])(?P<sign>[-−]?)(?:
      (?P<pct>\d+(?:\.\d+)?)\s?%                              # 15%, 1.5 %
    | (?P<suf>\d+(?:\.\d+)?)(?P<unit>[KMB])(?![A-Za-z])       # 110M, 1.5B, 30K
    | (?P<sep>\d{1,3}(?:,\d{3})+(?:\.\d+)?)(?![\d])           # 109,482,240
    | (?P<big>\d{4,})(?![\d.,]\d)                            # 2048
    )""", re.X)
YEARS = range(1990, 2031)  # "BERT (2018)" is a date, not a claim to check


@dataclass
class Lesson:
    path: str
    lang: str
    title: str
    text: str
    sections: list[tuple[str, str]]           # (heading, body) for every `## ` section
    code: list[str] = field(default_factory=list)        # ```python cells under "In code"
    exercises: list[tuple[str, str]] = field(default_factory=list)  # (summary, answer)
    links: list[tuple[str, dict]] = field(default_factory=list)     # (text, query params)
    numbers: list[str] = field(default_factory=list)     # as written, outside code

    @property
    def headings(self) -> list[str]:
        return [h for h, _ in self.sections]


def parse(text: str, lang: str = "en", path: str = "") -> Lesson:
    """A lesson's parts. Headings inside fenced code are not headings."""
    lines, title, sections, current = text.splitlines(), "", [], None
    in_fence = False
    for line in lines:
        if line.startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.startswith("# ") and not title and current is None:
            title = line[2:].strip()
        elif not in_fence and line.startswith("## "):
            current = [line[3:].strip(), []]
            sections.append(current)
        elif current is not None:
            current[1].append(line)
    sections = [(h, "\n".join(body).strip()) for h, body in sections]
    bodies = dict(sections)
    names = SECTIONS.get(lang, SECTIONS["en"])
    code = [m.group(2) for m in _FENCE.finditer(bodies.get(names[CODE], ""))
            if m.group(1) == "python"]
    exercises = [(s.strip(), a.strip()) for s, a in
                 _DETAILS.findall(bodies.get(names[EXERCISES], ""))]
    links = [(t, dict(parse_qsl(q[1:], keep_blank_values=True))) for t, q in _LINK.findall(text)]
    return Lesson(path, lang, title, text, sections, code, exercises, links, numbers_in(text))


def numbers_in(text: str) -> list[str]:
    """Every number the contract covers, as written, outside fenced code and link targets."""
    prose = _FENCE.sub("", text)
    prose = _LINK.sub(lambda m: m.group(1), prose)
    found = []
    for m in _NUMBER.finditer(prose):
        if m.group("big") and int(m.group("big")) in YEARS:
            continue
        found.append(m.group(0).replace(" ", ""))
    return found


def lesson_files(lang: str, root: Path = ROOT) -> list[Path]:
    return sorted((root / lang).glob("[0-9][0-9]-*.md"))


def load_all(lang: str, root: Path = ROOT) -> list[Lesson]:
    return [parse(p.read_text(encoding="utf-8"), lang, str(p)) for p in lesson_files(lang, root)]


def code_signature(cell: str) -> str:
    """The code without comments and blank lines: what both languages must share."""
    import tokenize
    try:
        toks = tokenize.generate_tokens(io.StringIO(cell).readline)
        kept = [(t.type, t.string) for t in toks
                if t.type not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE,
                                  tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return cell.strip()
    return " ".join(s for _, s in kept)


# ---- numbers ---------------------------------------------------------------------------

def read_numbers_file(path: Path = ROOT / "numbers.txt") -> dict[str, str]:
    """lessons/numbers.txt: `<number as written> — <source>` per line -> {number: source}."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = re.split(r"\s+[—–-]\s+", line, maxsplit=1)
        out[parts[0].replace(" ", "")] = parts[1].strip() if len(parts) > 1 else ""
    return out


def core_numbers() -> dict:
    """What the core can compute, for checking the numbers lessons state.

    {"ints": set of exact integers, "counts": set of parameter-like counts (for 110M-style
    rounding), "rates": set of fractions (for percentages)}. Parameter counts come from
    `count_params` on the meta device; sizes from PRESETS and the bundled minis.
    """
    from .assets import bundled
    from .config import PRESETS
    from .mlm import mask_tokens  # noqa: F401  (the defaults below are its signature's)
    from .models import _part, build
    from .recipes import BERT_DEFAULT, GPT_DEFAULT
    from .train import TrainConfig
    import inspect
    import torch

    ints, counts, rates = set(), set(), set()
    configs = [(name, cfg) for name, (cfg, _, _) in PRESETS.items()]
    for arch in ("bert", "gpt"):
        loaded = bundled(arch)
        if loaded is not None:
            configs.append((f"bundled {arch}", loaded.model.cfg))
            ints.add(loaded.tokenizer.vocab_size)
    for name, (cfg, published, _) in PRESETS.items():
        if published:
            counts.add(published)
            ints.add(published)
    for name, cfg in configs:
        # count_params's own rule, from one meta-device build (GPT-3 costs ~0.5 s a build)
        with torch.device("meta"):
            model = build(cfg)
        tensors = dict(model.named_parameters())  # tied weights once, as count_params
        parts: dict[str, int] = {}
        for pname, p in tensors.items():
            parts[_part(pname)] = parts.get(_part(pname), 0) + p.numel()
        total = sum(parts.values())
        published_total = total - parts.get("pretraining heads", 0)
        if name in PRESETS and PRESETS[name][1]:
            rates.add((published_total - PRESETS[name][1]) / PRESETS[name][1])
        per = [total, published_total, *parts.values(), *(p.numel() for p in tensors.values())]
        blocks = getattr(model, "blocks", None)
        if blocks is not None and len(blocks):
            per.append(sum(p.numel() for p in blocks[0].parameters()))
        ints.update(per)
        counts.update(per)
        ints.update(v for v in (cfg.vocab_size, cfg.block_size, cfg.n_embd, cfg.inner,
                                cfg.n_layer, cfg.n_head, cfg.head_dim))
        ints.update((cfg.vocab_size * cfg.n_embd, cfg.block_size * cfg.n_embd,
                     12 * cfg.n_embd ** 2))
    for recipe in (GPT_DEFAULT, BERT_DEFAULT):
        ints.add(recipe["vocab"])
        ints.update(v for part in ("model", "train") for v in recipe[part].values()
                    if isinstance(v, int))
    ints.update(v for v in vars(TrainConfig()).values()
                if isinstance(v, int) and not isinstance(v, bool))
    masking = inspect.signature(mask_tokens).parameters
    p, m, r = (masking[k].default for k in ("prob", "mask_rate", "random_rate"))
    keep = 1 - m - r
    rates.update((p, m, r, keep, 1 - p, p * m, p * r, p * keep, p * (r + keep)))
    return {"ints": ints, "counts": counts, "rates": rates}


def _close(value: float, written: str) -> bool:
    """True if `value` shows as `written` at the written precision (rounded or cut)."""
    decimals = len(written.split(".")[1]) if "." in written else 0
    scale = 10 ** decimals
    target = round(float(written) * scale)
    return round(value * scale) == target or int(value * scale + 1e-9) == target


def check_number(written: str, table: dict) -> bool:
    """Whether a number as written (from `numbers_in`) is computable from the core."""
    m = _NUMBER.fullmatch(written)
    if not m:
        return False
    sign = "-" if m.group("sign") else ""
    if m.group("pct"):
        return any(_close(v * 100, sign + m.group("pct")) for v in table["rates"])
    if m.group("suf"):
        unit = {"K": 1e3, "M": 1e6, "B": 1e9}[m.group("unit")]
        return any(_close(v / unit, m.group("suf")) for v in table["counts"] | table["ints"])
    raw = (m.group("sep") or m.group("big")).replace(",", "")
    return "." not in raw and int(raw) in table["ints"]


def unchecked_numbers(lesson: Lesson, table: dict, listed: dict[str, str]) -> list[str]:
    """The lesson's numbers that are neither computable from the core nor listed."""
    return [n for n in lesson.numbers
            if n not in listed and n.replace("−", "-") not in listed
            and not check_number(n, table)]


# ---- export ----------------------------------------------------------------------------

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
    from .masks import bidirectional_mask, causal_mask
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
    from .assets import world_tokenizer
    from .corpus import generate_world
    from .mlm import mask_tokens
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
    from .config import PRESETS
    from .models import count_params
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


def _anchor(lesson: Lesson) -> str:
    return Path(lesson.path).stem or re.sub(r"\W+", "-", lesson.title).strip("-").lower()


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
        text = _LINK.sub(lambda m: f"[{m.group(1)}]({app_url}{m.group(2)})", lesson.text)
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
        path = out / f"lessons-{lang}.html"
        path.write_text(render_html(lessons, lang, app_url), encoding="utf-8")
        written.append(path)
    return written
