"""The lessons (lessons/<lang>/NN-<tab>.md): parsing and checking (export.py prints them).

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

ROOT = Path(__file__).resolve().parents[2] / "lessons"
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
    from ..io.assets import bundled
    from ..model.config import PRESETS
    from ..text.mlm import mask_tokens  # noqa: F401  (the defaults below are its signature's)
    from ..model.build import _part, build
    from ..pretrain.recipes import BERT_DEFAULT, GPT_DEFAULT
    from ..pretrain.loop import TrainConfig
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


# ---- Korean: one term per concept, and the Korean UI's names ----------------------------
# Both checks read prose only: fenced code, `code spans` and link targets are blanked out
# (same length, same line breaks) first, so a hit keeps its line number.

GLOSSARY = ROOT / "ko" / "glossary.tsv"
_CODE_SPAN = re.compile(r"`[^`\n]+`")
_TARGET = re.compile(r"(?<=\])\([^)\s]*\)")
_HANGUL = "가-힣"


@dataclass(frozen=True)
class Term:
    english: str
    korean: str
    forbidden: tuple[str, ...]
    note: str = ""


def read_glossary(path: Path = GLOSSARY) -> list[Term]:
    """lessons/ko/glossary.tsv: `english<TAB>korean<TAB>forbidden, variants<TAB>note`."""
    terms = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cols = [c.strip() for c in line.split("\t")] + ["", ""]
        forbidden = tuple(v.strip() for v in cols[2].split(",") if v.strip())
        terms.append(Term(cols[0], cols[1], forbidden, cols[3]))
    return terms


def prose(text: str) -> str:
    """`text` with fenced code, code spans and link targets blanked (offsets kept)."""
    blank = lambda m: re.sub(r"[^\n]", " ", m.group(0))  # noqa: E731
    return _TARGET.sub(blank, _CODE_SPAN.sub(blank, _FENCE.sub(blank, text)))


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _variant_pattern(variant: str) -> re.Pattern:
    if re.search(r"[A-Za-z]", variant):  # a Latin word: whole word, any case ('softmax로')
        return re.compile(rf"(?<![A-Za-z0-9_.]){re.escape(variant)}(?![A-Za-z0-9_])", re.I)
    return re.compile(r"\s+".join(map(re.escape, variant.split())))  # wrapped lines too


def glossary_violations(text: str, glossary: list[Term]) -> list[tuple[int, str, str]]:
    """(line, variant as written, the glossary's term) for each forbidden variant in prose.
    A hit inside a longer hit (컨텍스트 inside 인컨텍스트 러닝) is reported once, as the longer."""
    body, hits = prose(text), []
    for term in glossary:
        for variant in term.forbidden:
            hits += [(m.start(), m.end(), m.group(0), term.korean)
                     for m in _variant_pattern(variant).finditer(body)]
    kept = [h for h in hits if not any(o[0] <= h[0] and h[1] <= o[1] and o[1] - o[0] > h[1] - h[0]
                                       for o in hits)]
    return [(_line(text, s), " ".join(written.split()), korean)
            for s, _, written, korean in sorted(kept)]


def _core(english: str) -> str:
    """A UI string as a lesson names it: '■ Stop (keeps the model)' -> 'Stop',
    '1 · Temperature (0 = greedy)' -> 'Temperature', 'Next token ▶ (...)' -> 'Next token'."""
    s = re.sub(r"^(?:[▶■]\s*|\d+\s*[·.]\s*)", "", english.strip())
    s = re.sub(r"\s*\([^()]*\)$", "", s)
    return re.sub(r"[\s▶:]+$", "", s)


def _shows(korean: str, english: str) -> bool:
    """The Korean UI string itself shows `english` (Top-k in '2 · Top-k (0 = 끔)')."""
    return re.search(rf"(?<![\w-]){re.escape(english)}(?![\w-])", korean) is not None


def ui_name_violations(text: str, table: dict[str, str], tabs=(), keep=()
                       ) -> list[tuple[int, str, list[tuple[str, str]]]]:
    """Where Korean prose names an English UI string that the Korean UI does not show.

    `table` is the translation table (English -> Korean), `tabs` the English tab titles,
    `keep` what stays English in Korean. A name counts as a mention when it is in bold,
    italics or quotes (the whole span, or its first words: **Freeze** for 'Freeze the
    encoder (...)'), when it is followed by 탭 (a tab may go by its first word: 'Train 탭'),
    or when a Korean particle follows it directly ('Generate에서'). Returns (line, the
    English as written, [(English UI string, Korean UI string), ...]).
    """
    keep, tabs = set(keep), set(tabs)
    entries = [(en, ko, _core(en)) for en, ko in table.items()
               if en not in keep and en != ko and re.search(r"[A-Za-z]", en)]

    def words(s):
        return [w.strip(",:") for w in s.split()]

    def named(name, prefix=False, among=None):
        """The (English, Korean) entries `name` names and the Korean UI does not show:
        those it is the whole of, else (with `prefix`) those it is the first words of."""
        if name in keep or not re.search(r"[A-Za-z]", name):
            return []
        mine = [(en, ko, core) for en, ko, core in entries
                if (among is None or en in among) and not _shows(ko, name)]
        exact = [(en, ko) for en, ko, core in mine if name in (en, core)]
        if exact or not prefix or (len(name) < 4 and " " not in name):
            return exact
        return [(en, ko) for en, ko, core in mine
                if words(core)[:len(words(name))] == words(name)]

    body, found = prose(text), []

    def add(pos, name, hits):  # one report per line and name, naming every entry it hit
        same = [f for f in found if f[:2] == (_line(text, pos), name)]
        if same:
            same[0][2].extend(h for h in hits if h not in same[0][2])
        elif hits:
            found.append((_line(text, pos), name, list(hits)))

    spans = [r"\*\*([^*\n]+(?:\n[^*\n]+)?)\*\*", r"<b>(.+?)</b>",
             r"(?<![*A-Za-z0-9])\*([^*\s][^*\n]*?)\*(?![*A-Za-z0-9])",
             r'"([^"\n]+)"', r"“([^”\n]+)”", r"‘([^’\n]+)’",
             r"(?<![A-Za-z0-9])'([^'\n]+)'(?![A-Za-z0-9])"]
    for pattern in spans:
        for m in re.finditer(pattern, body):
            name = " ".join(m.group(1).split())
            name = re.sub(rf"[{_HANGUL}]+$", "", name).strip()  # '**Train을**'
            add(m.start(), name, named(name, prefix=True))
    latin_run = r"([A-Za-z][A-Za-z0-9&'·-]*(?: [A-Za-z0-9&'·-]+)*)"
    for m in re.finditer(rf"(?<![A-Za-z0-9&'·-]){latin_run}[ ]?탭", body):
        run = m.group(1).split()
        for i in range(len(run)):  # 'the Train 탭' names 'Train', the tab 'Train live'
            name = " ".join(run[i:])
            if hits := named(name, prefix=True, among=tabs) or named(name):
                add(m.start(1), name, hits)
                break
    for m in re.finditer(rf"(?<![A-Za-z0-9&'·-]){latin_run}(?=[{_HANGUL}])", body):
        run = m.group(1).split()
        for i in range(len(run)):  # 'Generate에서': the button, or the tab it begins
            name = " ".join(run[i:])
            hits = named(name)
            hits += [h for h in named(name, prefix=True, among=tabs) if h not in hits]
            if hits:
                add(m.start(1), name, hits)
                break
    return sorted(found)


# Counts written the English way: '175B개', '3.3B 단어', '토큰 300B'. Korean style puts the
# 만/억 form first and the English figure in parentheses: '1,750억(175B) 개'.
_COUNTER = "개|단어|토큰|파라미터|문자|글자|문장|쌍|스텝|바이트"
_SUFFIXED = r"\d+(?:\.\d+)?[KMB](?![A-Za-z])"
_BARE_COUNT = re.compile(rf"(?<![\w.,]){_SUFFIXED}(?!\))\s?(?:{_COUNTER})"
                         rf"|(?:{_COUNTER})\s{_SUFFIXED}(?![\w)])")


def number_style_violations(text: str) -> list[tuple[int, str]]:
    """(line, as written) for each count written as '175B개' rather than '1,750억(175B) 개'."""
    body = prose(text)
    return [(_line(text, m.start()), " ".join(m.group(0).split()))
            for m in _BARE_COUNT.finditer(body)]
