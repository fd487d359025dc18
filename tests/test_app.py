"""The app through its API, as a person (or a script) uses it: launch it on 127.0.0.1, call
every endpoint of the tokenize / MLM / NSP / masks / attention / sizes tabs with
`gradio_client`, and check what comes back against the core computing the same thing."""
from __future__ import annotations

import json
import re

import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client.exceptions import AppError  # noqa: E402

from bertgpt import settings  # noqa: E402
from bertgpt.io.assets import bundled, world_tokenizer  # noqa: E402
from bertgpt.text.corpus import world_documents  # noqa: E402
from bertgpt.text.mlm import mask_text  # noqa: E402
from bertgpt.model.build import count_params  # noqa: E402
from bertgpt.text.nsp import explain_pairs  # noqa: E402
from apphelp import running_app  # noqa: E402

TEXT = "The capital of France is Paris. People in France speak French."
needs_models = pytest.mark.skipif(
    bundled("bert") is None or bundled("gpt") is None,
    reason="the bundled minis (assets/models/bert-mini, gpt-mini) are not there yet")


@pytest.fixture(scope="module")
def client():
    with running_app() as demo:
        yield gradio_client.Client(demo.local_url, verbose=False)


def chips(out) -> list[tuple[str, str | None]]:
    """A HighlightedText output (a value, or an update carrying one) as (text, label)."""
    value = out["value"] if isinstance(out, dict) else out
    return [(c["token"], c["class_or_confidence"]) for c in value]


def figure(out) -> dict:
    return json.loads(out["plot"])


# ------------------------------------------------------------------ tokenize
def test_tokenize_shows_both_tokenizers_with_ids(client):
    text = "Minho bakes unbelievably delicious croissants 🥐"
    wp, bpe, summary, merges = client.predict(text, 2000, "unbelievably",
                                              api_name="/tokenize")
    wp_tok, bpe_tok = world_tokenizer("wordpiece"), world_tokenizer("bpe")
    wp_chips = [c for c in chips(wp) if c[1] is not None]
    assert [int(label) for _, label in wp_chips] == wp_tok.encode(text)
    assert ("[UNK]", str(wp_tok.token_to_id("[UNK]"))) in wp_chips  # the emoji is lost
    assert [int(label) for _, label in chips(bpe)] == bpe_tok.encode(text)
    assert any(t.startswith("<0x") for t, _ in chips(bpe))  # ...but bytes survive in BPE
    # Spaces are carried: WordPiece chips are separated as the words were, BPE marks ␣.
    assert "".join(t for t, _ in chips(bpe)).startswith("Minho␣bakes")
    assert chips(wp)[1] == (" ", None) or chips(wp)[1][0].startswith("##")
    # Every chip has a colour chosen by its kind.
    assert set(wp["color_map"]) == {label for _, label in wp_chips}
    assert "[UNK]" in summary and "1" in summary
    final = merges["data"][-1][3].split(" | ")
    assert final == [bpe_tok.id_to_token(i) for i in bpe_tok.encode("unbelievably")]


def test_korean_example_shows_three_bytes_per_hangul_syllable():
    from bertgpt.app.tab_tokenize import EXAMPLES, bytes_line, compute
    assert any("\uac00" <= c <= "\ud7a3" for c in EXAMPLES[0])  # a Korean example is offered
    _, (bpe, _), summary, _ = compute("서울", 2000, "word")
    # One chip per byte: no merge of the English world corpus joins Hangul bytes.
    assert [t for t, _ in bpe] == ["<0xEC>", "<0x84>", "<0x9C>", "<0xEC>", "<0x9A>", "<0xB8>"]
    assert "`서` EC 84 9C" in summary and "`울` EC 9A B8" in summary
    assert "2 characters and 6 bytes" in summary and "made 6 tokens" in summary
    assert "Hangul syllable is 3 bytes" in summary
    assert bytes_line("plain ASCII", 2) == ""           # nothing to show for one-byte text
    assert "F0 9F A5 90" in bytes_line("🥐", 4) and "Hangul" not in bytes_line("🥐", 4)


def test_vocab_slider_retrains(client):
    _, small, summary, _ = client.predict(TEXT, 400, "paris", api_name="/tokenize")
    _, big, _, _ = client.predict(TEXT, 2000, "paris", api_name="/tokenize")
    assert "asked for 400" in summary
    assert len(chips(small)) > len(chips(big))  # fewer merges, more pieces


# ------------------------------------------------------------------ MLM
def test_mask_matches_the_core_trace(client):
    fate, model_in, labels, counts, rates = client.predict(TEXT, 7, 0.3, 0.8, 0.1,
                                                           api_name="/mask")
    core = mask_text(TEXT, world_tokenizer("wordpiece"), seed=7, prob=0.3)
    trace = core["tokens"]
    fate_chips = [c for c in chips(fate) if c[0] != " "]
    assert [t for t, _ in fate_chips] == core["original_tokens"]
    assert [label for _, label in fate_chips] == [
        None if t["fate"] == "not selected" else f"→ {t['fate']}" for t in trace]
    assert [t for t, _ in chips(model_in) if t != " "] == core["input_tokens"]
    shown = [t for t, _ in chips(labels) if t != " "]
    assert shown == ["−100" if t["label"] is None else f"{t['original_token']} ({t['label']})"
                     for t in trace]
    assert f"**{core['counts']['selected']}** were" in counts
    bars = {tr["name"]: tr["y"] for tr in figure(rates)["data"]}
    measured = bars["measured on the world corpus"]
    assert abs(measured[0] - 0.3) < 0.02 and abs(measured[1] - 0.8) < 0.03


def test_mask_same_seed_same_picture(client):
    a = client.predict(TEXT, 11, 0.15, 0.8, 0.1, api_name="/mask")[0]
    b = client.predict(TEXT, 11, 0.15, 0.8, 0.1, api_name="/mask")[0]
    assert chips(a) == chips(b)


@needs_models
def test_mask_predict_marks_the_answer(client):
    plot, md = client.predict(TEXT, 7, 0.3, 0.8, 0.1, 5, "bundled", api_name="/mask_predict")
    core = mask_text(TEXT, world_tokenizer("wordpiece"), seed=7, prob=0.3)
    picked = [t for t in core["tokens"] if t["label"] is not None]
    bars = figure(plot)["data"]
    assert len(bars) == min(len(picked), 8)
    for bar, t in zip(bars, picked):
        assert f"✓ {t['original_token']}" in " ".join(bar["y"])  # the answer is always shown
    assert re.search(r"\*\*\d+ of \d+\*\*", md)


# ------------------------------------------------------------------ NSP
def _shown_pairs(out):
    """(why, label) for each pair in the NSP chips."""
    return [(t, label) for t, label in chips(out)
            if label in ("IsNext", "NotNext", "⚠ mislabeled")]


def test_pairs_notnext_partner_is_from_another_document(client):
    shown, stats, balance, strip = client.predict("world corpus", "", 3, 24, False, 1,
                                                  api_name="/pairs")
    docs = [d.sentences for d in world_documents(seed=0, n_docs=200)]
    core = explain_pairs(docs, world_tokenizer("wordpiece"), seed=3, max_len=24, n=6)
    assert [why for why, _ in _shown_pairs(shown)] == [p["why"] for p in core["pairs"]]
    for p in core["pairs"]:
        if not p["is_next"]:
            assert p["b_doc"] != p["a_doc"]
    assert any(label == "NotNext" for _, label in _shown_pairs(shown))
    assert f"{core['stats']['is_next']:,} IsNext" in stats
    counts = dict(zip(figure(balance)["data"][0]["x"], figure(balance)["data"][0]["y"]))
    assert counts["mislabeled"] == 0
    assert abs(counts["IsNext"] / (counts["IsNext"] + counts["NotNext"]) - 0.5) < 0.05
    first, cells = core["pairs"][0], figure(strip)["data"][0]
    assert [row[0] for row in cells["text"]] == first["tokens"]  # one row per position
    assert [row[1] for row in cells["z"]] == first["segment_ids"]


def test_pairs_seed_article_bug_counts_mislabels(client):
    shown, stats, balance, _ = client.predict("world corpus", "", 3, 24, True, 1,
                                              api_name="/pairs")
    docs = [d.sentences for d in world_documents(seed=0, n_docs=200)]
    core = explain_pairs(docs, world_tokenizer("wordpiece"), seed=3, max_len=24,
                         same_document_bug=True, n=6)
    assert core["stats"]["mislabeled"] > 0
    assert f"{core['stats']['mislabeled']:,} pairs" in stats
    assert any(label == "⚠ mislabeled" for _, label in _shown_pairs(shown))
    counts = dict(zip(figure(balance)["data"][0]["x"], figure(balance)["data"][0]["y"]))
    assert counts["mislabeled"] == core["stats"]["mislabeled"]


def test_pairs_from_pasted_documents_and_truncation(client):
    docs = ("Anna lives in Paris. She is a teacher. She likes tea.\n\n"
            "A cow lives on a farm. The cow eats grass.\n\nI watched a film. It was long.")
    shown, stats, _, strip = client.predict("my documents", docs, 0, 8, False, 1,
                                            api_name="/pairs")
    assert "4 pairs" in stats
    assert any(label == "✂ truncated" for _, label in chips(shown))
    assert len(figure(strip)["data"][0]["text"]) <= 8


@needs_models
def test_nsp_predict_gives_a_probability(client):
    out, md = client.predict("Anna lives in Paris.", "She is a teacher.", "bundled",
                             api_name="/nsp_predict")
    probs = {c["label"]: c["confidence"] for c in out["confidences"]}
    assert abs(sum(probs.values()) - 1) < 1e-4
    assert "[CLS] anna" in md and "[SEP]" in md


# ------------------------------------------------------------------ masks
def test_masks_causal_padding_grid(client):
    grids, compare, scores, md = client.predict("the cat\nthe dog barks at the cat",
                                                "causal+padding", 0, 1, api_name="/masks")
    short, long_ = (d["z"] for d in figure(grids)["data"])
    T = len(long_)
    assert long_ == [[int(j <= i) for j in range(T)] for i in range(T)]  # causal
    assert all(row[2:] == [0] * (T - 2) for row in short)  # [PAD] columns hidden
    assert len(figure(compare)["data"]) == 4
    masked = figure(scores)["data"][1]["z"]
    probs = figure(scores)["data"][3]["z"]
    assert masked[0][1] is None and probs[0][1] == 0  # −∞ becomes exactly 0
    assert all(abs(sum(r) - 1) < 0.01 for r in probs)
    assert "row = the token that looks" in md


# ------------------------------------------------------------------ attention
@needs_models
def test_attention_bert_sees_both_ways_gpt_only_back(client):
    bert_map, gpt_map, bert_all, gpt_all, md = client.predict(
        "The capital of France is Paris.", "bundled", 1, 1, api_name="/attention")
    bert_w, gpt_w = figure(bert_map)["data"][0]["z"], figure(gpt_map)["data"][0]["z"]
    assert all(abs(sum(r) - 1) < 1e-3 for r in bert_w + gpt_w)
    assert all(v == 0 for i, r in enumerate(gpt_w) for v in r[i + 1:])
    assert any(v > 0 for i, r in enumerate(bert_w) for v in r[i + 1:])
    assert figure(bert_map)["layout"]["xaxis"]["ticktext"][0] == "[CLS]"
    n_layer = bundled("bert").cfg.n_layer
    assert len(figure(bert_all)["layout"]["yaxis"]["ticktext"]) == n_layer


def test_attention_own_models_fall_back_with_a_note(client):
    if bundled("bert") is None:
        with pytest.raises(AppError, match="bundled BERT is missing"):
            client.predict(TEXT, "own", 1, 1, api_name="/attention")
        return
    *_, md = client.predict(TEXT, "own", 1, 1, api_name="/attention")
    assert "have not trained a BERT" in md


# ------------------------------------------------------------------ sizes
def test_params_presets_and_the_article_fixes(client):
    md, plot = client.predict("gpt3-175b", "gpt", 1, 1, 1, 16, 1, api_name="/params")
    total = count_params("gpt3-175b")["total"]
    assert f"{total:,}" in md and "2048" in md and "4096" in md
    assert sum(figure(plot)["data"][0]["x"]) == total
    md, _ = client.predict("bert-large", "bert", 1, 1, 1, 16, 1, api_name="/params")
    assert "335M" in md


def test_params_custom_config(client):
    md, plot = client.predict("custom", "gpt", 2000, 4, 4, 128, 128, api_name="/params")
    assert "1,065,728 parameters" in md  # = gpt-mini
    with pytest.raises(AppError, match="divisible"):
        client.predict("custom", "gpt", 2000, 4, 3, 128, 128, api_name="/params")


# ------------------------------------------------------------------ bad input
KOREAN = "서울은 한국의 수도입니다"
BAD = [
    ("/tokenize", lambda t: (t, 2000, "word")),
    ("/mask", lambda t: (t, 1, 0.15, 0.8, 0.1)),
    ("/pairs", lambda t: ("my documents", t, 1, 24, False, 1)),
    ("/nsp_predict", lambda t: (t, "She is a teacher.", "bundled")),
    ("/masks", lambda t: (t, "causal", 0, 1)),
    ("/attention", lambda t: (t, "bundled", 1, 1)),
]


@pytest.mark.parametrize("api,args", BAD, ids=[a for a, _ in BAD])
def test_bad_text_is_refused_clearly(client, api, args):
    for text, said in (("", "empty"), ("x " * 50_000, "characters"), (KOREAN, "[UNK]"),
                       ("😀🎉🚀", "[UNK]")):
        if api == "/tokenize" and said == "[UNK]":
            continue  # Korean and emoji are the Tokenize tab's lesson, not an error
        if api in ("/nsp_predict", "/attention") and said == "[UNK]" and bundled("bert") is None:
            said = "missing"  # without the bundled BERT the model check comes first
        with pytest.raises(AppError) as err:
            client.predict(*args(text), api_name=api)
        assert said in str(err.value)
    # ...and the server keeps working.
    assert client.predict(TEXT, 2000, "paris", api_name="/tokenize")[2]


def test_bad_settings_are_refused_clearly(client):
    with pytest.raises(AppError, match="at most 1"):
        client.predict(TEXT, 1, 0.15, 0.8, 0.5, api_name="/mask")
    with pytest.raises(AppError, match="minimum"):  # the seed box's own bounds
        client.predict(TEXT, -5, 0.15, 0.8, 0.1, api_name="/mask")
    with pytest.raises(AppError, match="2 documents"):
        client.predict("my documents", "One. Two. Three.", 1, 24, False, 1, api_name="/pairs")
    with pytest.raises(AppError, match="at most 4"):
        client.predict("a\nb\nc\nd\ne", "causal", 0, 1, api_name="/masks")
    with pytest.raises(AppError, match="list of choices"):  # the dropdown checks it
        client.predict("gpt-5", "gpt", 1, 1, 1, 16, 1, api_name="/params")
    with pytest.raises(AppError, match="not trained a BERT"):
        client.predict(TEXT, 1, 0.15, 0.8, 0.1, 5, "own", api_name="/mask_predict")


# ------------------------------------------------------------------ real checkpoints
def test_real_checkpoint_offline_is_a_clear_error(client, monkeypatch, tmp_path):
    """The selector's real entries through the API: offline with an empty cache (set in this
    process, where the app runs) the answer is the reason, not a stack trace."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # never download in a test
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    settings.reset()  # the app runs in this process: its next Hub lookup reads these
    with pytest.raises(AppError, match="'bert-base-uncased' is not in the Hugging Face cache"):
        client.predict("the capital of france is [MASK] .", 5, "bert-base-uncased",
                       api_name="/fill_mask")
    with pytest.raises(AppError, match="'gpt2-xl' is not in the Hugging Face cache.*OFFLINE"):
        client.predict("gpt2-xl", "Hello", 1.0, 0, 1.0, 0, api_name="/next_token")
    with pytest.raises(AppError, match="'bert-base-uncased' is not in the Hugging Face"):
        client.predict("Anna is here.", "real", 1, 1, api_name="/attention")  # BERT first
    assert client.predict("the capital of france is [MASK] .", 5, "bundled",
                          api_name="/fill_mask")[1]  # and the bundled model still answers
