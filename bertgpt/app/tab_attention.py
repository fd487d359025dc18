"""Tab 5, attention heatmaps: what BERT and GPT actually attend to on the same sentence.

BERT's maps fill the whole square (bidirectional); GPT's are zero above the diagonal
(causal). The weights come from the models' own forward(need_weights=True)."""
from __future__ import annotations

import gradio as gr
import torch

from ..io import hub
from ..course import viz
from ..io.assets import bundled
from ..text.tokenizer import piece_display
from .common import check_known, check_text, friendly, get_model, live, viz_words
from .i18n import say, t

ID = "attention"
LABEL = t("attention.title")
MAX_CHARS = 500
MAX_TOKENS = 40  # a 40 x 40 heatmap is the most a projector shows legibly
DEFAULT_TEXT = "The capital of France is Paris, and people there speak French."
SOURCES = [(t("attention.source.bundled"), "bundled"), (t("attention.source.own"), "own")]
REAL_LAYERS, REAL_HEADS = 12, 12  # bert-base-uncased and gpt2 both: 12 layers x 12 heads


def _sources():
    """The two minis, the session's own, and "real": bert-base-uncased beside gpt2."""
    rank = ("offline", "download", "cached")  # the pair is as ready as its worse half
    state = min((hub.status(hub.DEFAULT_REAL[a], probe=True) for a in ("bert", "gpt")),
                key=rank.index)
    label = {"cached": t("attention.source.real.cached"),
             "offline": t("attention.source.real.offline")}.get(state)
    return SOURCES + [(label or t("attention.source.real.download"), "real")]


def _ranges(source):
    """Layer and head sliders sized for the chosen models (the minis or the real pair)."""
    ref = bundled("bert")
    layers, heads = (REAL_LAYERS, REAL_HEADS) if source == "real" else (
        (ref.cfg.n_layer, ref.cfg.n_head) if ref else (4, 4))
    return gr.Slider(maximum=layers), gr.Slider(maximum=heads)


def _pick(arch: str, source: str, own, lang: str = "en"):
    """The chosen model; for "own" without that architecture, the bundled one and a note."""
    if source == "own" and not (own and arch in own):
        return get_model(arch, "bundled", own), say(lang, "attention.note.no_own",
                                                    arch=arch.upper())
    return get_model(arch, source, own), ""


def _clamp(value, n: int, what: str, arch: str, notes: list, lang: str = "en") -> int:
    """`value` (from 1) as an index within n; a note when it had to be moved. `what` is
    "layer" or "head"."""
    v = int(value)
    if not 1 <= v <= n:
        notes.append(say(lang, f"attention.note.{what}", arch=arch.upper(), n=n,
                         shown=min(max(v, 1), n)))
    return min(max(v, 1), n) - 1


@torch.no_grad()
def _weights(loaded, arch: str, text: str, lang: str = "en"):
    """Token strings and per-layer (H, T, T) weights as nested lists."""
    tok, model = loaded.tokenizer, loaded.model
    if arch == "bert":
        ids = [tok.special_id("cls")] + check_known(tok, text) + [tok.special_id("sep")]
        names = [tok.id_to_token(i) for i in ids]
    else:
        ids = tok.encode(text)
        names = [piece_display(tok, tok.id_to_token(i)) for i in ids]
    if len(ids) > min(MAX_TOKENS, model.cfg.block_size):
        raise gr.Error(say(lang, "attention.err.tokens", n=len(ids), arch=arch.upper(),
                           limit=min(MAX_TOKENS, model.cfg.block_size) + 1))
    out = model(torch.tensor([ids]), need_weights=True)
    return names, [w[0].float().tolist() for w in out.attentions]  # L x (H, T, T)


@friendly
def attention(text, source, layer, head, own=None, lang="en"):
    """Attention weights of BERT and GPT on one sentence: one chosen head as a heatmap,
    and every layer and head as small multiples.

    Args:
        text: an English sentence.
        source: which models: bundled (the minis), own (the session's trained models) or
            real (bert-base-uncased and gpt2 where available).
        layer: the layer to show, from 0.
        head: the head to show, from 0.
        lang: the language of what is written back ("en" or "ko").
    Returns:
        heatmaps for BERT and GPT, and notes on what was clamped.
    """
    text = check_text(text, "sentence", MAX_CHARS)
    if source not in ("bundled", "own", "real"):
        raise gr.Error(say(lang, "attention.err.source"))
    figs, notes, words = [], [], viz_words(lang)
    for arch in ("bert", "gpt"):
        loaded, note = _pick(arch, source, own, lang)
        notes += [note] if note else []
        names, weights = _weights(loaded, arch, text, lang)
        l = _clamp(layer, len(weights), "layer", arch, notes, lang)
        h = _clamp(head, len(weights[0]), "head", arch, notes, lang)
        figs.append(viz.attention_heatmap(
            weights[l][h], names, words=words,
            title=say(lang, "attention.map.title", arch=arch.upper(), l=l + 1, h=h + 1)))
        figs.append(viz.attention_overview(
            weights, names, words=words, title=say(lang, "attention.all.title",
                                                   arch=arch.upper(), L=len(weights),
                                                   H=len(weights[0]))))
    md = say(lang, "attention.explain")
    if notes:  # <em>, not *: a note may end in a Korean particle ("...표시합니다.*")
        md += "\n\n" + " ".join(f"<em>{n}</em>" for n in notes)
    bert_map, bert_all, gpt_map, gpt_all = figs
    return bert_map, gpt_map, bert_all, gpt_all, md


def build(ctx) -> dict:
    ref = bundled("bert")
    n_layer = ref.cfg.n_layer if ref else 4
    n_head = ref.cfg.n_head if ref else 4
    with gr.Row():
        text = gr.Textbox(DEFAULT_TEXT, label=t("attention.text"), scale=3)
        source = gr.Radio(_sources(), value="bundled", label=t("attention.source"), scale=1)
    with gr.Row():
        layer = gr.Slider(1, n_layer, value=n_layer, step=1, label=t("attention.layer"))
        head = gr.Slider(1, n_head, value=1, step=1, label=t("attention.head"))
        go = gr.Button(t("attention.go"), variant="primary")
    try:
        first = attention(DEFAULT_TEXT, "bundled", n_layer, 1)
    except gr.Error as e:  # no bundled models yet: the tab still builds and says why
        first = (viz.empty(str(e.message)),) * 4 + (str(e.message),)
    md = gr.Markdown(first[4])
    with gr.Row(equal_height=False):
        bert_map = gr.Plot(first[0], label=t("attention.bert_map"), show_label=False)
        gpt_map = gr.Plot(first[1], label=t("attention.gpt_map"), show_label=False)
    with gr.Row(equal_height=False):
        bert_all = gr.Plot(first[2], label=t("attention.bert_all"), show_label=False)
        gpt_all = gr.Plot(first[3], label=t("attention.gpt_all"), show_label=False)
    inputs = [text, source, layer, head, ctx.own, ctx.lang]
    shown = [bert_map, gpt_map, bert_all, gpt_all, md]
    # The button and Enter ask on purpose: a refusal is a toast. Typing and the settings
    # follow live, so a box on its way to the next text gets a note (common.live).
    gr.on([go.click, text.submit], attention, inputs, shown, api_name="attention",
          trigger_mode="always_last", show_progress="minimal")
    gr.on([text.change, source.change, layer.change, head.change, ctx.lang.change],
          live(attention, shown.index(md), len(shown)), inputs, shown,
          api_visibility="private", trigger_mode="always_last", show_progress="minimal")
    source.change(_ranges, source, [layer, head], api_visibility="private",
                  show_progress="hidden")
    return {"text": text, "source": source, "layer": layer, "head": head}
