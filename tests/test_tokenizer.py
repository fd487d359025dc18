import hashlib
import json
import pathlib
import re
import subprocess
import sys
import time

import pytest
from tokenizers import Tokenizer as Backend

from bertgpt.text.corpus import generate_world
from bertgpt.errors import CheckpointError, ConfigError, TextError
from bertgpt.text.tokenizer import KINDS, SPECIAL_MEANINGS, Tokenizer, bpe_merges, explain, piece_display, train_tokenizer

MIXED = "The capital of Korea is Seoul. 서울은 한국의 수도입니다 😀🎉 naïve café\n\nQ: Why?"


@pytest.fixture(scope="module")
def world() -> str:
    return generate_world(seed=0, size=100_000)


@pytest.fixture(scope="module")
def toks(world) -> dict[str, Tokenizer]:
    out = {}
    for kind in KINDS:
        start = time.perf_counter()
        out[kind] = train_tokenizer(kind, world, vocab_size=2000)
        assert time.perf_counter() - start < 10, f"{kind} training is too slow"
    return out


def test_kinds_and_default_specials(toks):
    wp, bpe, char = toks["wordpiece"], toks["bpe"], toks["char"]
    assert (wp.kind, bpe.kind, char.kind) == ("wordpiece", "bpe", "char")
    for i, tok in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]):
        assert wp.token_to_id(tok) == i
    assert [wp.special_id(r) for r in ("pad", "unk", "cls", "sep", "mask")] == [0, 1, 2, 3, 4]
    assert wp.special_ids == [0, 1, 2, 3, 4]
    assert bpe.special_id("eos") == 0 and bpe.specials == {"eos": "<|endoftext|>"}
    assert char.special_id("eos") == 0 and char.special_id("unk") == 1
    assert char.special_ids == [0, 1]
    # The saved file carries BERT's template, so transformers adds [CLS]/[SEP] itself;
    # our own encode() never adds them.
    assert wp.backend.encode("paris").tokens == ["[CLS]", "paris", "[SEP]"]
    assert wp.id_to_token(wp.encode("paris")[0]) == "paris"


def test_model_option_picks_specials(world):
    bert_bpe = train_tokenizer("bpe", world[:20_000], 400, model="bert")
    assert [bert_bpe.special_id(r) for r in ("pad", "unk", "cls", "sep", "mask")] == [0, 1, 2, 3, 4]
    gpt_wp = train_tokenizer("wordpiece", world[:20_000], 400, model="gpt")
    assert gpt_wp.special_id("eos") == 0 and gpt_wp.special_id("unk") == 1


def test_missing_role_is_a_config_error_naming_role_and_kind(toks):
    with pytest.raises(ConfigError, match=r"bpe tokenizer has no 'mask' token"):
        toks["bpe"].special_id("mask")
    assert not toks["bpe"].has("pad") and toks["wordpiece"].has("mask")
    # BERT has no end-of-text token; [SEP] plays that part.
    assert not toks["wordpiece"].has("eos")
    assert toks["wordpiece"].special_id("eos") == toks["wordpiece"].special_id("sep")


def test_round_trips(toks, world):
    sample = world[:3000]
    assert toks["bpe"].decode(toks["bpe"].encode(sample)) == sample
    assert toks["char"].decode(toks["char"].encode(sample)) == sample
    wp = toks["wordpiece"]
    # WordPiece is uncased and re-spaces punctuation: compare with spaces removed.
    squash = lambda s: re.sub(r"\s+", "", s)  # noqa: E731
    assert squash(wp.decode(wp.encode(sample))) == squash(sample.lower())
    assert wp.decode(wp.encode("Naïve CAFÉ")) == "naive cafe"


def test_bpe_encodes_any_text_with_no_unknowns(toks):
    bpe = toks["bpe"]
    ids = bpe.encode(MIXED)
    assert bpe.decode(ids) == MIXED
    assert all(0 <= i < bpe.vocab_size for i in ids)
    assert explain(bpe, MIXED)["unk_count"] == 0


def test_char_tokenizer_maps_unseen_characters_to_unk(toks):
    char = toks["char"]
    ids = char.encode("cat 😀")
    assert len(ids) == 5 and ids[-1] == char.special_id("unk")
    assert char.decode(ids) == "cat [UNK]"  # decode keeps [UNK] visible on purpose


def test_char_vocab_size_is_a_cap_on_most_frequent(world):
    tok = train_tokenizer("char", world, vocab_size=20)
    assert tok.vocab_size == 20
    assert tok.token_to_id(" ") is not None and tok.token_to_id("e") is not None
    assert tok.token_to_id("Z") is None


def test_small_corpus_trains_anyway_and_reports_real_size():
    tok = train_tokenizer("bpe", "tiny text, tiny text.", vocab_size=5000)
    assert 257 <= tok.vocab_size < 5000


def test_decode_skips_specials(toks):
    wp = toks["wordpiece"]
    ids = [wp.special_id("cls"), *wp.encode("paris"), wp.special_id("sep"), wp.special_id("pad")]
    assert wp.decode(ids) == "paris"
    assert "[CLS]" in wp.decode(ids, skip_special=False)
    bpe = toks["bpe"]
    assert bpe.decode(bpe.encode("a<|endoftext|>b")) == "ab"
    assert bpe.encode("<|endoftext|>") == [0]


def test_wordpiece_splits_rare_words_into_continuations(toks):
    wp = toks["wordpiece"]
    info = explain(wp, "Xylophones")
    assert len(info["pieces"]) > 1 and info["pieces"][1].startswith("##")
    assert info["is_continuation"][0] is False and all(info["is_continuation"][1:])
    assert explain(wp, "capital")["pieces"] == ["capital"]  # frequent words stay whole


@pytest.mark.parametrize("kind", KINDS)
def test_explain_offsets_map_back_to_the_text(toks, kind):
    tok = toks[kind]
    info = explain(tok, MIXED)
    n = info["n_tokens"]
    assert info["kind"] == kind and info["n_chars"] == len(MIXED) and n > 0
    assert all(len(info[k]) == n for k in ("pieces", "ids", "offsets", "display",
                                           "is_continuation"))
    for piece, shown, (s, e) in zip(info["pieces"], info["display"], info["offsets"]):
        assert 0 <= s < e <= len(MIXED)
        if kind == "char" and piece != "[UNK]":
            assert MIXED[s:e] == piece
        if kind == "wordpiece" and piece != "[UNK]" and MIXED[s:e].isascii():
            assert MIXED[s:e].lower() == piece.removeprefix("##")
        if kind == "bpe" and not shown.startswith("<0x"):
            assert MIXED[s:e] == shown.replace("␣", " ").replace("↵", "\n")


def test_bpe_display_shows_spaces_and_whole_characters(toks):
    bpe = toks["bpe"]
    assert piece_display(bpe, "Ġcapital") == "␣capital"
    assert piece_display(bpe, "ĊĊ") == "↵↵"
    korean = bpe.backend.encode("수").tokens  # one Hangul syllable is 3 bytes
    shown = [piece_display(bpe, p) for p in korean]
    assert "".join(shown) == "수" or all(s.startswith("<0x") for s in shown)
    assert piece_display(bpe, "".join(korean)) == "수"
    info = explain(bpe, "Hello world")
    assert sum(d.startswith("␣") for d in info["display"]) == 1  # the one before "world"
    assert info["is_continuation"] == [
        False, *[p[0] != "Ġ" for p in info["pieces"][1:]]]


@pytest.mark.parametrize("word", ["playing", " playing", "capital", " Paris", "서울",
                                  "😀", "Hello world", "  x", "unbelievable"])
def test_bpe_merges_replay_matches_backend(toks, word):
    bpe = toks["bpe"]
    steps = bpe_merges(bpe, word)
    assert steps[0]["step"] == 0 and steps[0]["merged"] is None
    assert steps[-1]["pieces"] == bpe.backend.encode(word, add_special_tokens=False).tokens
    for prev, step in zip(steps, steps[1:]):
        left, right = step["merged"]
        assert left + right in step["pieces"] and len(step["pieces"]) < len(prev["pieces"])
        assert step["rank"] >= 0


def test_bpe_merges_builds_frequent_words(toks):
    steps = bpe_merges(toks["bpe"], " playing")
    assert steps[-1]["pieces"] == ["Ġplaying"] and len(steps) > 3
    assert [s["rank"] for s in steps[1:]] == sorted(s["rank"] for s in steps[1:])


def test_bpe_merges_needs_bpe(toks):
    with pytest.raises(ConfigError, match="needs a BPE tokenizer"):
        bpe_merges(toks["wordpiece"], "word")


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(toks, tmp_path, kind):
    tok = toks[kind]
    path = tok.save(tmp_path / kind)
    assert path.name == "tokenizer.json" and list((tmp_path / kind).iterdir()) == [path]
    for source in (path, tmp_path / kind):
        again = Tokenizer.load(source)
        assert again.kind == kind and again.specials == tok.specials
        assert again.encode(MIXED) == tok.encode(MIXED)
        assert again.vocab_size == tok.vocab_size
    assert Tokenizer.from_json(tok.to_json()).encode(MIXED) == tok.encode(MIXED)
    file_path = tok.save(tmp_path / "named.json")
    assert file_path.name == "named.json" and Tokenizer.load(file_path).kind == kind


def test_roles_inferred_from_real_style_layouts(toks):
    # bert-base-uncased keeps [PAD] at 0 and [UNK] [CLS] [SEP] [MASK] at 100..103;
    # gpt2 keeps <|endoftext|> last. Roles come from the strings, not the positions.
    spec = json.loads(toks["wordpiece"].to_json())
    vocab = {f"[unused{i}]": i for i in range(1, 100)}
    vocab.update({"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "[MASK]": 103,
                  "the": 104, "cat": 105, "##s": 106})
    spec["model"]["vocab"], spec["added_tokens"], spec["post_processor"] = vocab, [], None
    bert = Tokenizer.from_backend(Backend.from_str(json.dumps(spec)))
    assert bert.kind == "wordpiece"
    assert [bert.special_id(r) for r in ("pad", "unk", "cls", "sep", "mask")] == [
        0, 100, 101, 102, 103]
    assert bert.encode("The cats") == [104, 105, 106]

    gpt = json.loads(toks["bpe"].to_json())
    vocab = {t: i - 1 for t, i in gpt["model"]["vocab"].items() if i > 0}  # eos was id 0
    vocab["<|endoftext|>"] = gpt["added_tokens"][0]["id"] = len(vocab)
    gpt["model"]["vocab"] = vocab
    gpt["model"]["merges"] = [" ".join(m) for m in gpt["model"]["merges"]]  # older format
    g = Tokenizer.from_json(json.dumps(gpt))
    assert g.kind == "bpe" and g.special_id("eos") == g.vocab_size - 1
    assert g.decode(g.encode(MIXED)) == MIXED
    assert bpe_merges(g, " capital")[-1]["pieces"] == g.backend.encode(" capital").tokens


def test_training_is_deterministic(world):
    text = world[:30_000]
    for kind in KINDS:
        assert train_tokenizer(kind, text, 600).to_json() == train_tokenizer(
            kind, text, 600).to_json(), kind


def test_training_is_deterministic_across_processes(world):
    # Hash-map order differs per process; this is what a shared class link relies on.
    code = ("import hashlib; from bertgpt.text.corpus import generate_world as g; "
            "from bertgpt.text.tokenizer import train_tokenizer as t; w = g(0, 100_000)[:30_000]; "
            "print(*[hashlib.sha1(t(k, w, 600).to_json().encode()).hexdigest() "
            "for k in ('wordpiece', 'bpe', 'char')])")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, cwd=pathlib.Path(__file__).parents[1]).stdout.split()
    here = [hashlib.sha1(train_tokenizer(k, world[:30_000], 600).to_json().encode()).hexdigest()
            for k in KINDS]
    assert other == here


def test_iterable_of_texts_is_accepted():
    tok = train_tokenizer("wordpiece", ["The cat sleeps.", "The dog barks."], 100)
    assert tok.decode(tok.encode("the cat barks")) == "the cat barks"


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(kind="sentencepiece"), ConfigError, "choose one of wordpiece, bpe, char"),
    (dict(kind="bpe", vocab_size=100), ConfigError, "at least 257"),
    (dict(kind="bpe", vocab_size=256, model="bert"), ConfigError, "at least 261"),
    (dict(kind="char", vocab_size=300_000), ConfigError, "200,000 limit"),
    (dict(kind="wordpiece", model="t5"), ConfigError, "'bert' or 'gpt'"),
    (dict(kind="bpe", texts=""), TextError, "no text"),
    (dict(kind="char", texts=["", "  \n "]), TextError, "no text"),
    (dict(kind="wordpiece", texts=[]), TextError, "no text"),
])
def test_training_errors(kwargs, error, message):
    args = dict(kind="bpe", texts="some text", vocab_size=1000) | kwargs
    with pytest.raises(error, match=message):
        train_tokenizer(args.pop("kind"), args.pop("texts"), **args)


def test_corrupt_or_missing_files_are_checkpoint_errors(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"model": {"type": "BPE", "vocab": ')
    with pytest.raises(CheckpointError, match="not a valid tokenizer.json"):
        Tokenizer.load(bad)
    with pytest.raises(CheckpointError, match="not a valid tokenizer.json"):
        Tokenizer.load(tmp_path)  # the folder holding it
    with pytest.raises(CheckpointError, match="no tokenizer file"):
        Tokenizer.load(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="not a valid tokenizer JSON"):
        Tokenizer.from_json("not json")


def test_special_meanings_cover_every_marker():
    for key in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "##", "Ġ", "<|endoftext|>"):
        assert len(SPECIAL_MEANINGS[key]) > 20
