"""Tab 1, Tokenize: the same text through BERT's WordPiece and GPT's byte-level BPE.

Each piece is a coloured chip labelled with its id; the colour says what kind of piece it
is (word start, continuation, [UNK], a raw byte), and the piece's own spelling says it too
(`##`, `␣`, `[UNK]`, `<0xF0>`), so colour is never the only signal.
"""
from __future__ import annotations

import gradio as gr

from ..io.assets import world_tokenizer
from ..text.tokenizer import SPECIAL_MEANINGS, bpe_merges, explain, piece_display
from .common import PALETTE, check_text, friendly, live
from .i18n import t

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

LEGEND = ("**How to read the chips.** Each chip is one token; the small number is its id. "
          "Colour = kind, and the spelling says the same thing: "
          f"<span style='background:{PALETTE['sky']}55;padding:0 4px'>word start</span> · "
          f"<span style='background:{PALETTE['orange']}55;padding:0 4px'>continuation "
          "(`##…` in WordPiece; no leading `␣` in BPE)</span> · "
          f"<span style='background:{PALETTE['vermillion']}55;padding:0 4px'>`[UNK]`: "
          "information lost</span> · "
          f"<span style='background:{PALETTE['purple']}55;padding:0 4px'>`<0xF0>`: one raw "
          "byte of a character the BPE vocabulary has no piece for</span>")

MEANINGS = "\n".join(f"- `{k}` — {v}" for k, v in SPECIAL_MEANINGS.items()
                     if k in ("[UNK]", "##", "Ġ", "[CLS]", "[SEP]", "[MASK]", "<|endoftext|>")
                     ) + "\n- `␣` — how this app draws the space that `Ġ` stands for."


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


def bytes_line(text: str, n_bpe_tokens: int) -> str:
    """The non-ASCII characters of `text` with their UTF-8 bytes, the alphabet byte-level
    BPE starts from ("" for pure ASCII, where every character is one byte)."""
    chars = list(dict.fromkeys(c for c in text if ord(c) > 127 and not c.isspace()))
    if not chars:
        return ""
    shown = " · ".join(f"`{c}` {' '.join(f'{b:02X}' for b in c.encode())}"
                       for c in chars[:BYTES_SHOWN])
    if len(chars) > BYTES_SHOWN:
        shown += f" · … {len(chars) - BYTES_SHOWN} more"
    line = (f"**UTF-8 bytes, BPE's alphabet.** The text is {len(text):,} characters and "
            f"{len(text.encode()):,} bytes; byte-level BPE made {n_bpe_tokens:,} tokens of it. "
            f"Per character: {shown}.")
    if any(_is_hangul(c) for c in chars):
        line += (" A Hangul syllable is 3 bytes: unless a learned merge joins them, it costs "
                 "3 tokens, one per byte. This BPE learned its merges from English text only.")
    return line


def _summary(wp, bpe, ex_wp, ex_bpe, vocab: int, text: str = "") -> str:
    def row(name, f):
        return f"| {name} | {f(wp, ex_wp)} | {f(bpe, ex_bpe)} |"
    lines = [
        "| | WordPiece (BERT) | byte-level BPE (GPT-2) |", "|---|---|---|",
        row("tokens", lambda t, e: f"**{e['n_tokens']}**"),
        row("characters per token", lambda t, e: f"{e['n_chars'] / max(e['n_tokens'], 1):.2f}"),
        row("`[UNK]` (lost)", lambda t, e: f"{e['unk_count']}"),
        row("vocabulary", lambda t, e: f"{t.vocab_size:,} learned (asked for {vocab:,})"),
    ]
    notes = []
    if ex_wp["unk_count"]:
        notes.append(f"WordPiece replaced {ex_wp['unk_count']} piece(s) with `[UNK]`: its "
                     "vocabulary was learned from English text, so it cannot spell the rest "
                     "and that information is gone. Byte-level BPE never says `[UNK]`: it "
                     "falls back to raw bytes (`<0x..>` chips), so every text survives.")
    if text and (line := bytes_line(text, ex_bpe["n_tokens"])):
        notes.append(line)
    if max(wp.vocab_size, bpe.vocab_size) < vocab:
        notes.append("A tokenizer learned fewer pieces than asked: the world corpus is small "
                     "and ran out of pairs worth merging.")
    return "\n".join(lines) + ("\n\n" + "\n\n".join(notes) if notes else "")


def _merge_rows(bpe, word: str) -> list[list]:
    word = word.strip()
    if not word:
        raise gr.Error("The word for the BPE replay is empty: type one word, e.g. "
                       "'unbelievably'.")
    if len(word) > 40:
        raise gr.Error(f"The BPE replay takes one word of at most 40 characters (got "
                       f"{len(word)}); type a single word.")
    rows = []
    for s in bpe_merges(bpe, word):
        pieces = " | ".join(piece_display(bpe, p) for p in s["pieces"])
        merged = "start: one symbol per byte" if s["merged"] is None else (
            " + ".join(piece_display(bpe, p) for p in s["merged"]))
        rows.append([s["step"], merged, "" if s["rank"] is None else s["rank"], pieces])
    return rows


def compute(text: str, vocab_size: float, word: str):
    """Plain data for every output: (chips, colours) twice, the table, the merge rows."""
    text = check_text(text, "text", MAX_CHARS)
    vocab = int(vocab_size)
    wp, bpe = world_tokenizer("wordpiece", vocab), world_tokenizer("bpe", vocab)
    wp_value, wp_colours, ex_wp = chips(wp, text)
    bpe_value, bpe_colours, ex_bpe = chips(bpe, text)
    return ((wp_value, wp_colours), (bpe_value, bpe_colours),
            _summary(wp, bpe, ex_wp, ex_bpe, vocab, text), _merge_rows(bpe, word))


@friendly
def tokenize(text: str, vocab_size: float, word: str):
    """Tokenize text as BERT (WordPiece) and GPT-2 (byte-level BPE) do, both trained on
    the world corpus, and replay the BPE merges of one word.

    Args:
        text: any text (English, Korean, emoji, made-up words).
        vocab_size: vocabulary size both tokenizers are trained to, 300 to 4000.
        word: one word whose BPE merges are replayed step by step.
    Returns:
        WordPiece pieces, BPE pieces, a comparison table, the merge steps.
    """
    (wp, wp_colours), (bpe, bpe_colours), summary, merges = compute(text, vocab_size, word)
    # A new colour map travels with the value: one colour per id, chosen by its kind.
    return (gr.HighlightedText(value=wp, color_map=wp_colours),
            gr.HighlightedText(value=bpe, color_map=bpe_colours), summary, merges)


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
    gr.Markdown(LEGEND, elem_classes=["token-legend"])
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
    merges = gr.Dataframe(first[3], headers=["step", "merged pair", "rank (0 = learned first)",
                                             "pieces after this step"],
                          label=t("tokenize.merges"),
                          interactive=False, wrap=True,
                          # widths in px, not %: on a phone the table scrolls sideways
                          # instead of squeezing "step" into a letter per line
                          column_widths=["64px", "150px", "130px", "320px"])
    with gr.Accordion(t("tokenize.meanings"), open=True):
        gr.Markdown(MEANINGS)
    inputs, shown = [text, vocab, word], [wp_out, bpe_out, summary, merges]
    # The button and Enter ask on purpose: a refusal is a toast. Typing and the slider
    # follow live, so a box on its way to the next text gets a note (common.live).
    gr.on([go.click, word.submit], tokenize, inputs, shown, api_name="tokenize",
          trigger_mode="always_last", show_progress="minimal")
    gr.on([text.change, vocab.change], live(tokenize, shown.index(summary), len(shown)),
          inputs, shown, api_visibility="private", trigger_mode="always_last",
          show_progress="minimal")
    return {"text": text, "vocab": vocab, "word": word}
