"""Tab 3, NSP pairs: how BERT's pairs are drawn, packed and labelled: one sentence each (the
seed article's picture, and what its same-document sampling does to the labels) or packed
segments of several sentences (what google-research/bert builds). The pairs, the trace and
the counts come from `nsp.explain_pairs` (`segments.explain_segments` when packed); this module draws them."""
from __future__ import annotations

from functools import lru_cache

import gradio as gr
import torch

from ..course import viz
from ..io.assets import world_tokenizer
from ..text.corpus import split_documents, world_documents
from ..text.nsp import explain_pairs, make_pairs, pack_pair, pair_stats, seed_bug_expectation
from ..text.segments import explain_segments
from .common import PALETTE, check_known, check_text, friendly, get_model, real_choices
from .i18n import t

ID = "nsp"
LABEL = t("nsp.title")
SOURCES = ["world corpus", "my documents"]
MAX_DOC_CHARS = 20_000
MAX_SENTENCE_CHARS = 500
N_SHOWN = 6
DEFAULT_SEED = 4  # the six pairs shown are 3 IsNext, 3 NotNext, one truncated
DEFAULT_MAX_LEN = 24
UNITS = [(t("nsp.unit.sentences"), "sentences"), (t("nsp.unit.segments"), "segments")]
SEG = ("segment 0 = A", "segment 1 = B")
COLOURS = {SEG[0]: PALETTE["sky"], SEG[1]: PALETTE["orange"], "IsNext": PALETTE["green"],
           "NotNext": PALETTE["vermillion"], "⚠ mislabeled": PALETTE["purple"],
           "✂ truncated": PALETTE["yellow"], "⧉ B = A": PALETTE["grey"]}
EXAMPLE_DOCS = ("Anna is a teacher who lives in Paris. Every morning, she drinks a cup of tea. "
                "Then she walks to the school.\n\nA cow is an animal that lives on a farm. "
                "The cow eats grass. Ben likes to watch the cow.\n\nI watched the film "
                "Blue Sky in Rome. The story was slow and boring. I would not watch it again.")
DEFAULT_A = "Anna is a teacher who lives in Paris, the capital of France."
DEFAULT_B = "Every morning, she wakes up early and drinks a cup of tea."


@lru_cache(maxsize=1)
def _world_docs() -> tuple:
    return tuple(tuple(d.sentences) for d in world_documents(seed=0, n_docs=200))


def _documents(source: str, documents: str):
    if source == SOURCES[0]:
        return [list(d) for d in _world_docs()]
    if source != SOURCES[1]:
        raise gr.Error(f"Pick the source: one of {', '.join(SOURCES)}.")
    text = check_text(documents, "documents box", MAX_DOC_CHARS)
    check_known(world_tokenizer("wordpiece"), text, "documents text")
    return split_documents(text)


def _pair_chips(k: int, p: dict) -> list[tuple[str, str | None]]:
    seg0 = " ".join(t for t, s in zip(p["tokens"], p["segment_ids"]) if s == 0)
    seg1 = " ".join(t for t, s in zip(p["tokens"], p["segment_ids"]) if s == 1)
    label = ("⚠ mislabeled" if p["mislabeled"] else "⧉ B = A" if p.get("degenerate")
             else p["label"])
    chips = [(f"Pair {k}: ", None), (p["why"], label), ("\n", None),
             (seg0, SEG[0]), (" ", None), (seg1, SEG[1])]
    if p["truncated"]:
        where = (f" (front {p['cut_front']}, back {p['cut_back']}: random ends, as "
                 "pre-training does)" if p.get("cut_front") else "")
        chips += [(" ", None), (f"{p['truncated']} token(s) cut to fit {p['max_len']}{where}",
                                "✂ truncated")]
    return chips + [("\n\n", None)]


def _stats_md(st: dict, bug: bool, other: dict, expected: dict) -> str:
    md = (f"**{st['n']:,} pairs** from this corpus: **{st['is_next']:,} IsNext "
          f"({st['is_next_share']:.1%})** and **{st['not_next']:,} NotNext** — BERT's 50/50 "
          "coin per sentence. ")
    if bug:
        md += (f"With the seed article's sampling every NotNext partner comes from A's own "
               f"document. **{st['mislabeled']:,} pairs ({st['mislabeled_share']:.1%}) are "
               "mislabeled**: labelled NotNext although B *is* the next sentence (expected "
               f"≈ {expected['mislabeled']:.0f}: 1/(2n) of the pairs of a document of n "
               f"sentences). Another **{st['degenerate']:,} ({st['degenerate_share']:.1%}) "
               "are (A, A)**: NotNext is right, but B is a copy of A, a negative any model "
               f"spots by comparing (expected ≈ {expected['degenerate']:.0f}, also 1/(2n)).")
    else:
        md += (f"Every NotNext partner comes from another document ({st['same_document']} from "
               f"the same one), so no label is wrong. The seed article's same-document "
               f"sampling would mislabel **{other['mislabeled']:,}** "
               f"({other['mislabeled_share']:.1%}) of the same pairs (B really next, labelled "
               f"NotNext) and pair **{other['degenerate']:,}** sentences with themselves: "
               "tick the box to see them.")
    return md + ("\n\nLabels: 0 = IsNext, 1 = NotNext (as `transformers`; the article uses "
                 "1 = IsNext).")


def _segments_md(st: dict, max_len: int) -> str:
    return (f"**{st['n']:,} instances** from this corpus, packed as google-research/bert's "
            f"`create_pretraining_data.py` does: **{st['is_next']:,} IsNext "
            f"({st['is_next_share']:.1%})** and **{st['not_next']:,} NotNext**. A segment "
            f"holds **{st['sentences_per_segment']:.1f} sentences** on average "
            f"({st['multi_sentence_segments']:,} segments have more than one), and an "
            f"instance fills {st['tokens_per_instance']:.1f} of the {max_len} positions. "
            f"{st['short_target']:,} instances come from documents that drew a shorter "
            f"target (10% of documents); {st['truncated']:,} were cut to fit, from random "
            "ends. IsNext falls below 50%: a chunk of one sentence can only become "
            "NotNext, and a NotNext instance uses only A's sentences (the rest of the chunk "
            "starts the next one). NotNext segments always come from another document, so the seed "
            "article's checkbox does not apply here.\n\nLabels: 0 = IsNext, 1 = NotNext "
            "(as `transformers`; the article uses 1 = IsNext).")


@friendly
def pairs(source, documents, seed, max_len, same_document_bug, show, unit="sentences"):
    """Build BERT's next-sentence-prediction pairs, IsNext or NotNext, from the world
    corpus or your documents, as BERT does (packed segments) or one sentence a side.

    Args:
        source: world corpus, or my documents (then `documents` is used).
        documents: your own documents, separated by a blank line.
        seed: random seed; the same seed gives the same pairs everywhere.
        max_len: longest packed input in tokens, [CLS] and both [SEP] included.
        same_document_bug: draw NotNext partners from the same document, as the seed
            article's code does, to count the pairs it mislabels.
        show: which pair's packed input to show, from 1.
        unit: sentences (one sentence a side) or segments (BERT's way: contiguous
            sentences packed up to max_len, split at a random point).
    Returns:
        the pairs with their labels and why, the counts, the IsNext/NotNext balance, and
        one pair's packed input with segment ids.
    """
    if seed is None or not 0 <= seed < 2**31:
        raise gr.Error("The seed must be a whole number from 0 to 2147483647.")
    if unit not in [v for _, v in UNITS]:
        raise gr.Error(f"Pick what a pair is made of: one of {', '.join(v for _, v in UNITS)}.")
    docs = _documents(source, documents)
    tok = world_tokenizer("wordpiece")
    segments = unit == "segments"
    bug = bool(same_document_bug) and not segments
    ex = (explain_segments(docs, tok, seed=int(seed), max_len=int(max_len), n=N_SHOWN)
          if segments else explain_pairs(docs, tok, seed=int(seed), max_len=int(max_len),
                                         same_document_bug=bug, n=N_SHOWN))
    st = ex["stats"]
    chips = []
    for k, p in enumerate(ex["pairs"], start=1):
        chips += _pair_chips(k, {**p, "max_len": int(max_len)})
    counts = {"IsNext": st["is_next"], "NotNext": st["not_next"], "mislabeled": st["mislabeled"]}
    colours = {"IsNext": PALETTE["green"], "NotNext": PALETTE["vermillion"],
               "mislabeled": PALETTE["purple"], "B = A": PALETTE["grey"]}
    if segments:
        md = _segments_md(st, int(max_len))
    else:
        other = st if bug else pair_stats(make_pairs(docs, seed=int(seed),
                                                     same_document_bug=True))
        md = _stats_md(st, bug, other, ex["expected"] or seed_bug_expectation(docs))
        if bug:
            counts["B = A"] = st["degenerate"]
    balance = viz.count_bars(counts, colours, title="Labels over every pair of the corpus")
    k = min(max(int(show), 1), len(ex["pairs"]))
    p = ex["pairs"][k - 1]
    strip = viz.embedding_strip(p["tokens"], p["segment_ids"], title=(
        f"Pair {k} as BERT reads it: token + segment + position embeddings ({p['label']})"))
    return chips[:-1], md, balance, strip


@torch.no_grad()
@friendly
def nsp_predict(sentence_a, sentence_b, source, own=None):
    """The chosen BERT's probability that B really follows A."""
    a = check_text(sentence_a, "sentence A", MAX_SENTENCE_CHARS)
    b = check_text(sentence_b, "sentence B", MAX_SENTENCE_CHARS)
    loaded = get_model("bert", source, own)
    tok = loaded.tokenizer
    packed = pack_pair(check_known(tok, a, "sentence A"), check_known(tok, b, "sentence B"),
                       cls_id=tok.special_id("cls"), sep_id=tok.special_id("sep"),
                       max_len=loaded.cfg.block_size)
    out = loaded.model(torch.tensor([packed.input_ids]), torch.tensor([packed.segment_ids]))
    p_next, p_not = out.nsp_logits[0].float().softmax(-1).tolist()  # index 0 = IsNext
    tokens = [tok.id_to_token(i) for i in packed.input_ids]
    md = (f"BERT read {len(tokens)} tokens: `{' '.join(tokens)}`, segment ids "
          f"`{''.join(map(str, packed.segment_ids))}`. It answers from the pooled [CLS] "
          "vector (dense + tanh), then a 2-way classifier.")
    if packed.truncated:
        md += f" {packed.truncated} token(s) were cut to fit {loaded.cfg.block_size}."
    if "nsp.weight" in (loaded.record or {}).get("fresh_heads", []):
        md += (" **This checkpoint was saved without its NSP head: the classifier is freshly "
               "initialised, so the answer is a coin toss.**")
    return {"IsNext: B follows A": p_next, "NotNext: B is from elsewhere": p_not}, md


def build(ctx) -> dict:
    with gr.Row():
        source = gr.Radio([(t("nsp.source.world"), SOURCES[0]),
                           (t("nsp.source.mine"), SOURCES[1])],
                          value=SOURCES[0], label=t("nsp.source"))
        seed = gr.Number(DEFAULT_SEED, label=t("nsp.seed"), precision=0, minimum=0,
                         maximum=2**31 - 1)
        max_len = gr.Slider(8, 128, value=DEFAULT_MAX_LEN, step=1, label=t("nsp.max_len"),
                            info=t("nsp.max_len.info"))
    documents = gr.Textbox(EXAMPLE_DOCS, label=t("nsp.documents"),
                           lines=4, max_lines=12, visible=False)
    with gr.Row():
        unit = gr.Radio(UNITS, value="sentences", label=t("nsp.unit"),
                        info=t("nsp.unit.info"))
        bug = gr.Checkbox(False, label=t("nsp.bug"))
    with gr.Row():
        show = gr.Slider(1, N_SHOWN, value=1, step=1, label=t("nsp.show"))
        go = gr.Button(t("nsp.go"), variant="primary")
    first = pairs(SOURCES[0], EXAMPLE_DOCS, DEFAULT_SEED, DEFAULT_MAX_LEN, False, 1)
    shown = gr.HighlightedText(first[0], color_map=COLOURS, show_legend=False,
                               elem_classes=["tokens"],
                               label=t("nsp.shown"))
    with gr.Row(equal_height=False):
        stats = gr.Markdown(first[1])
        balance = gr.Plot(first[2], label=t("nsp.balance"), show_label=False)
    strip = gr.Plot(first[3], label=t("nsp.strip"), show_label=False)
    gr.Markdown(t("nsp.ask_heading.md"))
    with gr.Row():
        sent_a = gr.Textbox(DEFAULT_A, label=t("nsp.sent_a"))
        sent_b = gr.Textbox(DEFAULT_B, label=t("nsp.sent_b"))
    with gr.Row():
        model_src = gr.Radio([(t("nsp.model_src.bundled"), "bundled"),
                              (t("nsp.model_src.own"), "own")] + real_choices("bert"),
                             value="bundled", label=t("nsp.model_src"))
        ask = gr.Button(t("nsp.ask"), variant="secondary")
    gr.Examples([[DEFAULT_A, DEFAULT_B], [DEFAULT_A, "The cow eats grass."],
                 ["The capital of Italy is Rome.", "People in Italy speak Italian."]],
                [sent_a, sent_b], label=t("nsp.examples"))
    try:
        first_verdict = nsp_predict(DEFAULT_A, DEFAULT_B, "bundled")
    except gr.Error as e:  # no bundled BERT yet: the tab still builds and says why
        first_verdict = (None, e.message)
    verdict = gr.Label(first_verdict[0], label=t("nsp.verdict"),
                       num_top_classes=2)
    packed = gr.Markdown(first_verdict[1])

    source.change(lambda s: gr.Textbox(visible=s == SOURCES[1]), source, documents,
                  api_visibility="private", show_progress="hidden")
    gr.on([go.click, source.change, seed.change, max_len.change, bug.change, show.change,
           documents.submit, unit.change], pairs, [source, documents, seed, max_len, bug, show,
                                                   unit],
          [shown, stats, balance, strip], api_name="pairs", trigger_mode="always_last",
          show_progress="minimal")
    gr.on([ask.click, sent_a.submit, sent_b.submit], nsp_predict,
          [sent_a, sent_b, model_src, ctx.own], [verdict, packed], api_name="nsp_predict")
    return {"source": source, "seed": seed, "max_len": max_len, "bug": bug, "unit": unit}
