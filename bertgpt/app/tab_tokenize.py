"""Tab 1, Tokenize: the same text through BERT's WordPiece and GPT's byte-level BPE.

Each piece is a coloured chip labelled with its id; the colour says what kind of piece it
is (word start, continuation, [UNK], a raw byte), and the piece's own spelling says it too
(`##`, `␣`, `[UNK]`, `<0xF0>`), so colour is never the only signal.
"""
from __future__ import annotations

import gradio as gr

from ..io.assets import world_tokenizer
from ..text.tokenizer import bpe_merges, explain, piece_display
from .common import PALETTE, check_text, friendly, live
from .i18n import say, t

ID = "tokenize"
LABEL = t("tokenize.title")
MAX_CHARS = 2000  # a tokenization view of more than this is unreadable anyway
DEFAULT_TEXT = "Minho bakes unbelievably delicious croissants in Seoul 🥐"
DEFAULT_WORD = "unbelievably"
# A Korean sentence first: the byte cost of Hangul is what a Korean class asks about.
EXAMPLES = ("민호는 서울에서 크루아상을 굽습니다 🥐", "서울", DEFAULT_TEXT)
BYTES_SHOWN = 8  # distinct non-ASCII characters listed with their bytes
KIND_COLOURS = {"word start": PALETTE["sky"], "continuation": PALETTE["orange"],
                "[UNK]: lost": PALETTE["vermillion"], "raw byte": PALETTE["purple"],
                "special": PALETTE["grey"]}

def legend():
    """How to read the chips: a Msg, so the header switch shows it in either language."""
    return t("tokenize.legend.md", sky=PALETTE["sky"], orange=PALETTE["orange"],
             vermillion=PALETTE["vermillion"], purple=PALETTE["purple"])


def _kind(tok, piece: str, display: str, cont: bool) -> str:
    if piece == tok.specials.get("unk"):
        return "[UNK]: lost"
    if piece in tok.specials.values():
        return "special"
    if display.startswith("<0x"):
        return "raw byte"
    return "continuation" if cont else "word start"


def chips(tok, text: str) -> tuple[list[tuple[str, str | None]], dict[str, str], dict]:
    """HighlightedText value: (piece, id) chips, with the spaces of `text` carried between
    WordPiece pieces (BPE pieces carry their own spaces, drawn as ␣). Also the colour map
    id -> kind colour, and the explainer's output."""
    ex = explain(tok, text)
    value: list[tuple[str, str | None]] = []
    colours: dict[str, str] = {}
    prev_end = None
    for piece, shown, i, cont, (start, end) in zip(ex["pieces"], ex["display"], ex["ids"],
                                                   ex["is_continuation"], ex["offsets"]):
        if tok.kind == "wordpiece" and prev_end is not None and start > prev_end:
            value.append(("\n" if "\n" in text[prev_end:start] else " ", None))
        label = str(i)
        value.append((shown, label))
        colours[label] = KIND_COLOURS[_kind(tok, piece, shown, cont)]
        prev_end = end
    return value, colours, ex


def _is_hangul(ch: str) -> bool:
    return "\uac00" <= ch <= "\ud7a3"  # the precomposed syllables 가 ... 힣


def bytes_line(text: str, n_bpe_tokens: int, lang: str = "en") -> str:
    """The non-ASCII characters of `text` with their UTF-8 bytes, the alphabet byte-level
    BPE starts from ("" for pure ASCII, where every character is one byte)."""
    chars = list(dict.fromkeys(c for c in text if ord(c) > 127 and not c.isspace()))
    if not chars:
        return ""
    shown = " · ".join(f"`{c}` {' '.join(f'{b:02X}' for b in c.encode())}"
                       for c in chars[:BYTES_SHOWN])
    if len(chars) > BYTES_SHOWN:
        shown += " · " + say(lang, "tokenize.bytes.more", n=len(chars) - BYTES_SHOWN)
    line = say(lang, "tokenize.bytes", chars=f"{len(text):,}", bytes=f"{len(text.encode()):,}",
               tokens=f"{n_bpe_tokens:,}", shown=shown)
    if any(_is_hangul(c) for c in chars):
        line += " " + say(lang, "tokenize.bytes.hangul")
    return line


def _summary(wp, bpe, ex_wp, ex_bpe, vocab: int, text: str = "", lang: str = "en") -> str:
    def row(name, f):
        return f"| {name} | {f(wp, ex_wp)} | {f(bpe, ex_bpe)} |"
    lines = [
        say(lang, "tokenize.sum.head"), "|---|---|---|",
        row(say(lang, "tokenize.sum.tokens"), lambda t, e: f"**{e['n_tokens']}**"),
        row(say(lang, "tokenize.sum.per_token"),
            lambda t, e: f"{e['n_chars'] / max(e['n_tokens'], 1):.2f}"),
        row(say(lang, "tokenize.sum.unk"), lambda t, e: f"{e['unk_count']}"),
        row(say(lang, "tokenize.sum.vocab"), lambda t, e: say(lang, "tokenize.sum.learned",
                                                   n=f"{t.vocab_size:,}", asked=f"{vocab:,}")),
    ]
    notes = []
    if ex_wp["unk_count"]:
        notes.append(say(lang, "tokenize.note.unk", n=ex_wp["unk_count"]))
    if text and (line := bytes_line(text, ex_bpe["n_tokens"], lang)):
        notes.append(line)
    if max(wp.vocab_size, bpe.vocab_size) < vocab:
        notes.append(say(lang, "tokenize.note.fewer"))
    return "\n".join(lines) + ("\n\n" + "\n\n".join(notes) if notes else "")


def _merge_rows(bpe, word: str, lang: str = "en") -> list[list]:
    word = word.strip()
    if not word:
        raise gr.Error(say(lang, "tokenize.err.no_word"))
    if len(word) > 40:
        raise gr.Error(say(lang, "tokenize.err.long_word", n=len(word)))
    rows = []
    for s in bpe_merges(bpe, word):
        pieces = " | ".join(piece_display(bpe, p) for p in s["pieces"])
        merged = say(lang, "tokenize.merge.start") if s["merged"] is None else (
            " + ".join(piece_display(bpe, p) for p in s["merged"]))
        rows.append([s["step"], merged, "" if s["rank"] is None else s["rank"], pieces])
    return rows


def headers(lang: str = "en") -> list[str]:
    """The merge table's column names."""
    return [say(lang, "tokenize.col.step"), say(lang, "tokenize.col.merged"),
            say(lang, "tokenize.col.rank"), say(lang, "tokenize.col.pieces")]


def compute(text: str, vocab_size: float, word: str, lang: str = "en"):
    """Plain data for every output: (chips, colours) twice, the table, the merge rows."""
    text = check_text(text, "text", MAX_CHARS)
    vocab = int(vocab_size)
    wp, bpe = world_tokenizer("wordpiece", vocab), world_tokenizer("bpe", vocab)
    wp_value, wp_colours, ex_wp = chips(wp, text)
    bpe_value, bpe_colours, ex_bpe = chips(bpe, text)
    return ((wp_value, wp_colours), (bpe_value, bpe_colours),
            _summary(wp, bpe, ex_wp, ex_bpe, vocab, text, lang), _merge_rows(bpe, word, lang))


@friendly
def tokenize(text: str, vocab_size: float, word: str, lang: str = "en"):
    """Tokenize text as BERT (WordPiece) and GPT-2 (byte-level BPE) do, both trained on
    the world corpus, and replay the BPE merges of one word.

    Args:
        text: any text (English, Korean, emoji, made-up words).
        vocab_size: vocabulary size both tokenizers are trained to, 300 to 4000.
        word: one word whose BPE merges are replayed step by step.
        lang: the language of what is written back ("en" or "ko").
    Returns:
        WordPiece pieces, BPE pieces, a comparison table, the merge steps.
    """
    (wp, wp_colours), (bpe, bpe_colours), summary, merges = compute(text, vocab_size, word,
                                                                    lang)
    # A new colour map travels with the value: one colour per id, chosen by its kind.
    return (gr.HighlightedText(value=wp, color_map=wp_colours),
            gr.HighlightedText(value=bpe, color_map=bpe_colours), summary,
            _table(merges, headers(lang)))


def _table(rows: list[list], columns: list[str]):
    """A Dataframe value that brings its column names along (the page's language), in the
    same {"headers", "data"} shape an API client got before."""
    import pandas as pd
    return pd.DataFrame(rows, columns=columns)


def build(ctx) -> dict:
    with gr.Row():
        text = gr.Textbox(DEFAULT_TEXT, label=t("tokenize.text"),
                          lines=2, max_lines=6, scale=3)
        with gr.Column(scale=1, min_width=220):
            vocab = gr.Slider(300, 4000, value=2000, step=100, label=t("tokenize.vocab"),
                              info=t("tokenize.vocab.info"))
            go = gr.Button(t("tokenize.go"), variant="primary")
    gr.Examples([[e] for e in EXAMPLES], inputs=[text], label=t("tokenize.examples"))
    first = compute(DEFAULT_TEXT, 2000, DEFAULT_WORD)
    gr.Markdown(legend(), elem_classes=["token-legend"])
    with gr.Row(equal_height=False):
        wp_out = gr.HighlightedText(first[0][0], color_map=first[0][1],
                                    label=t("tokenize.wordpiece"), show_legend=False,
                                    elem_classes=["tokens"])
        bpe_out = gr.HighlightedText(first[1][0], color_map=first[1][1],
                                     label=t("tokenize.bpe"), show_legend=False,
                                     elem_classes=["tokens"])
    summary = gr.Markdown(first[2])
    with gr.Row():
        word = gr.Textbox(DEFAULT_WORD, label=t("tokenize.word"), scale=1)
    merges = gr.Dataframe(first[3], headers=headers(),
                          label=t("tokenize.merges"),
                          interactive=False, wrap=True,
                          # widths in px, not %: on a phone the table scrolls sideways
                          # instead of squeezing "step" into a letter per line
                          column_widths=["64px", "150px", "130px", "320px"])
    with gr.Accordion(t("tokenize.meanings"), open=True):
        gr.Markdown(t("tokenize.meanings.md"))
    inputs, shown = [text, vocab, word, ctx.lang], [wp_out, bpe_out, summary, merges]
    # The button and Enter ask on purpose: a refusal is a toast. Typing and the slider
    # follow live, so a box on its way to the next text gets a note (common.live).
    gr.on([go.click, word.submit], tokenize, inputs, shown, api_name="tokenize",
          trigger_mode="always_last", show_progress="minimal")
    gr.on([text.change, vocab.change, ctx.lang.change], live(tokenize, shown.index(summary), len(shown)),
          inputs, shown, api_visibility="private", trigger_mode="always_last",
          show_progress="minimal")
    return {"text": text, "vocab": vocab, "word": word}
