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
from .common import (PALETTE, check_known, check_text, friendly, get_model, real_choices,
                     viz_words)
from .i18n import LANGS, say, t

ID = "nsp"
LABEL = t("nsp.title")
SOURCES = ["world corpus", "my documents"]
MAX_DOC_CHARS = 20_000
MAX_SENTENCE_CHARS = 500
N_SHOWN = 6
DEFAULT_SEED = 4  # the six pairs shown are 3 IsNext, 3 NotNext, one truncated
DEFAULT_MAX_LEN = 24
UNITS = [(t("nsp.unit.sentences"), "sentences"), (t("nsp.unit.segments"), "segments")]
_CHIP_COLOUR = {"seg0": "sky", "seg1": "orange", "mislabeled": "purple",
                "truncated": "yellow", "degenerate": "grey"}
# The chips' labels in every language share one colour map (IsNext and NotNext are the
# label names of BERT's code and of `transformers`: the same in every language).
COLOURS = {"IsNext": PALETTE["green"], "NotNext": PALETTE["vermillion"],
           **{say(lang, f"nsp.chip.{key}"): PALETTE[colour] for lang in LANGS
              for key, colour in _CHIP_COLOUR.items()}}
EXAMPLE_DOCS = ("Anna is a teacher who lives in Paris. Every morning, she drinks a cup of tea. "
                "Then she walks to the school.\n\nA cow is an animal that lives on a farm. "
                "The cow eats grass. Ben likes to watch the cow.\n\nI watched the film "
                "Blue Sky in Rome. The story was slow and boring. I would not watch it again.")
DEFAULT_A = "Anna is a teacher who lives in Paris, the capital of France."
DEFAULT_B = "Every morning, she wakes up early and drinks a cup of tea."


@lru_cache(maxsize=1)
def _world_docs() -> tuple:
    return tuple(tuple(d.sentences) for d in world_documents(seed=0, n_docs=200))


def _documents(source: str, documents: str, lang: str = "en"):
    if source == SOURCES[0]:
        return [list(d) for d in _world_docs()]
    if source != SOURCES[1]:
        raise gr.Error(say(lang, "nsp.err.source", choices=", ".join(SOURCES)))
    text = check_text(documents, "documents box", MAX_DOC_CHARS)
    check_known(world_tokenizer("wordpiece"), text, "documents text")
    return split_documents(text)


def _span(lang: str, sentences) -> str:
    start, stop = sentences
    return (say(lang, "nsp.why.sentence", n=start) if stop - start == 1
            else say(lang, "nsp.why.sentences", first=start, last=stop - 1))


def _why(p: dict, lang: str) -> str:
    """Why the pair has its label: the core's English sentence, or the same facts in
    `lang` (the core writes English only; the pair carries the facts)."""
    if lang == "en":
        return p["why"]
    if "a_sentences" in p:  # packed segments
        a, b = _span(lang, p["a_sentences"]), _span(lang, p["b_sentences"])
        if p["is_next"]:
            return say(lang, "nsp.why.seg_next", a=a, b=b, doc=p["a_doc"])
        return say(lang, "nsp.why.seg_not", a=a, b=b, doc=p["a_doc"], other=p["b_doc"])
    if p["is_next"]:
        return say(lang, "nsp.why.next", doc=p["a_doc"])
    if p["b_doc"] != p["a_doc"]:
        return say(lang, "nsp.why.other", n=p["b_idx"], doc=p["b_doc"])
    if p["b_idx"] == p["a_idx"] + 1:
        return say(lang, "nsp.why.mislabeled")
    if p["b_idx"] == p["a_idx"]:
        return say(lang, "nsp.why.copy")
    return say(lang, "nsp.why.same", n=p["b_idx"])


def _pair_chips(k: int, p: dict, lang: str = "en") -> list[tuple[str, str | None]]:
    seg0 = " ".join(t for t, s in zip(p["tokens"], p["segment_ids"]) if s == 0)
    seg1 = " ".join(t for t, s in zip(p["tokens"], p["segment_ids"]) if s == 1)
    label = (say(lang, "nsp.chip.mislabeled") if p["mislabeled"]
             else say(lang, "nsp.chip.degenerate") if p.get("degenerate") else p["label"])
    chips = [(say(lang, "nsp.pair", k=k), None), (_why(p, lang), label), ("\n", None),
             (seg0, say(lang, "nsp.chip.seg0")), (" ", None), (seg1, say(lang, "nsp.chip.seg1"))]
    if p["truncated"]:
        where = (" " + say(lang, "nsp.cut_where", front=p["cut_front"], back=p["cut_back"])
                 if p.get("cut_front") else "")
        chips += [(" ", None), (say(lang, "nsp.cut", n=p["truncated"], max_len=p["max_len"])
                                + where, say(lang, "nsp.chip.truncated"))]
    return chips + [("\n\n", None)]


def _stats_md(st: dict, bug: bool, other: dict, expected: dict, lang: str = "en") -> str:
    md = say(lang, "nsp.stats", n=f"{st['n']:,}", is_next=f"{st['is_next']:,}",
             share=f"{st['is_next_share']:.1%}", not_next=f"{st['not_next']:,}") + " "
    if bug:
        md += say(lang, "nsp.stats.bug", mislabeled=f"{st['mislabeled']:,}",
                  mislabeled_share=f"{st['mislabeled_share']:.1%}",
                  expected_mislabeled=f"{expected['mislabeled']:.0f}",
                  degenerate=f"{st['degenerate']:,}",
                  degenerate_share=f"{st['degenerate_share']:.1%}",
                  expected_degenerate=f"{expected['degenerate']:.0f}")
    else:
        md += say(lang, "nsp.stats.clean", same=st["same_document"],
                  mislabeled=f"{other['mislabeled']:,}",
                  mislabeled_share=f"{other['mislabeled_share']:.1%}",
                  degenerate=f"{other['degenerate']:,}")
    return md + "\n\n" + say(lang, "nsp.labels_note")


def _segments_md(st: dict, max_len: int, lang: str = "en") -> str:
    return say(lang, "nsp.segments", n=f"{st['n']:,}", is_next=f"{st['is_next']:,}",
               share=f"{st['is_next_share']:.1%}", not_next=f"{st['not_next']:,}",
               per_segment=f"{st['sentences_per_segment']:.1f}",
               multi=f"{st['multi_sentence_segments']:,}",
               per_instance=f"{st['tokens_per_instance']:.1f}", max_len=max_len,
               short=f"{st['short_target']:,}", truncated=f"{st['truncated']:,}") \
        + "\n\n" + say(lang, "nsp.labels_note")


@friendly
def pairs(source, documents, seed, max_len, same_document_bug, show, unit="sentences",
          lang="en"):
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
        lang: the language of what is written back ("en" or "ko").
    Returns:
        the pairs with their labels and why, the counts, the IsNext/NotNext balance, and
        one pair's packed input with segment ids.
    """
    if seed is None or not 0 <= seed < 2**31:
        raise gr.Error(say(lang, "app.err.seed"))
    if unit not in [v for _, v in UNITS]:
        raise gr.Error(say(lang, "nsp.err.unit", choices=", ".join(v for _, v in UNITS)))
    lang = lang if lang in LANGS else "en"
    docs = _documents(source, documents, lang)
    tok = world_tokenizer("wordpiece")
    segments = unit == "segments"
    bug = bool(same_document_bug) and not segments
    ex = (explain_segments(docs, tok, seed=int(seed), max_len=int(max_len), n=N_SHOWN)
          if segments else explain_pairs(docs, tok, seed=int(seed), max_len=int(max_len),
                                         same_document_bug=bug, n=N_SHOWN))
    st = ex["stats"]
    chips = []
    for k, p in enumerate(ex["pairs"], start=1):
        chips += _pair_chips(k, {**p, "max_len": int(max_len)}, lang)
    wrong = say(lang, "nsp.bar.mislabeled")
    counts = {"IsNext": st["is_next"], "NotNext": st["not_next"], wrong: st["mislabeled"]}
    colours = {"IsNext": PALETTE["green"], "NotNext": PALETTE["vermillion"],
               wrong: PALETTE["purple"], "B = A": PALETTE["grey"]}
    if segments:
        md = _segments_md(st, int(max_len), lang)
    else:
        other = st if bug else pair_stats(make_pairs(docs, seed=int(seed),
                                                     same_document_bug=True))
        md = _stats_md(st, bug, other, ex["expected"] or seed_bug_expectation(docs), lang)
        if bug:
            counts["B = A"] = st["degenerate"]
    balance = viz.count_bars(counts, colours, title=say(lang, "nsp.balance.title"))
    k = min(max(int(show), 1), len(ex["pairs"]))
    p = ex["pairs"][k - 1]
    strip = viz.embedding_strip(p["tokens"], p["segment_ids"], words=viz_words(lang),
                                title=say(lang, "nsp.strip.title", k=k, label=p["label"]))
    return chips[:-1], md, balance, strip


@torch.no_grad()
@friendly
def nsp_predict(sentence_a, sentence_b, source, own=None, lang="en"):
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
    md = say(lang, "nsp.read", n=len(tokens), tokens=" ".join(tokens),
             segments="".join(map(str, packed.segment_ids)))
    if packed.truncated:
        md += " " + say(lang, "nsp.read.cut", n=packed.truncated, limit=loaded.cfg.block_size)
    if "nsp.weight" in (loaded.record or {}).get("fresh_heads", []):
        md += " " + say(lang, "nsp.read.fresh")
    return {say(lang, "nsp.verdict.next"): p_next, say(lang, "nsp.verdict.not"): p_not}, md


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
           documents.submit, unit.change, ctx.lang.change], pairs,
          [source, documents, seed, max_len, bug, show, unit, ctx.lang],
          [shown, stats, balance, strip], api_name="pairs", trigger_mode="always_last",
          show_progress="minimal")
    asked = [sent_a, sent_b, model_src, ctx.own, ctx.lang]
    gr.on([ask.click, sent_a.submit, sent_b.submit], nsp_predict, asked, [verdict, packed],
          api_name="nsp_predict")
    ctx.lang.change(nsp_predict, asked, [verdict, packed], api_visibility="private",
                    show_progress="hidden")
    return {"source": source, "seed": seed, "max_len": max_len, "bug": bug, "unit": unit}
