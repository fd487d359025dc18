"""The lessons (lessons/<lang>/NN-<tab>.md): parsing and checking (lesson_export.py prints them).

A lesson is Markdown with a fixed shape, so a test can hold every lesson to it and a class
without a server can print them: one `# Title`, then six `## ` sections in a fixed order
(SECTIONS), exercises folded as `<details><summary>Answer</summary> ... </details>`,
```python cells under "In code", and deep links to the app such as `[MLM tab](?tab=mlm&seed=7)`.

Everything here is a pure function of the text, except `core_numbers` (asks the core
for the figures a lesson may state without a citation).
"""
from __future__ import annotations

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
    links = [(t, dict(parse_qsl(q[1:].split("#", 1)[0], keep_blank_values=True)))
             for t, q in _LINK.findall(text)]  # "#bug-2" is a place on the page, not a setting
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
    """The tab lessons, NN-<tab>.md. Other pages (errata.md) have no number and no tab."""
    return sorted((root / lang).glob("[0-9][0-9]-*.md"))


ERRATA = "errata.md"  # the seed article's errata, lessons/<lang>/errata.md, shown in the app
# How a lesson cites an erratum, in prose or as a link (?tab=errata#bug-N)
CITATION = {"en": re.compile(r"errata, bug (\d+)|tab=errata[^)\s]*#bug-(\d+)"),
            "ko": re.compile(r"정오표, 버그 (\d+)|tab=errata[^)\s]*#bug-(\d+)")}
_BUG_ANCHOR = re.compile(r'<a id="bug-(\d+)"></a>\s*\n## ')


def errata_bugs(text: str) -> list[int]:
    """The bug numbers an errata page defines (an `<a id="bug-N"></a>` before a `## ` heading)."""
    return [int(n) for n in _BUG_ANCHOR.findall(text)]


def cited_bugs(text: str, lang: str) -> set[int]:
    """The errata bug numbers a lesson cites."""
    return {int(a or b) for a, b in CITATION[lang].findall(text)}


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
