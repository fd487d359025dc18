"""The `bertgpt` command line: every subcommand runs and its --json parses (with checks
on what it says), and every bad input gets exit code 2 and one line on stderr.

Most calls run in-process through `bertgpt.cli.main` (fast); a few run the installed
console script in a subprocess, as a user would.
"""
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bertgpt.io.checkpoint import load
from bertgpt.cli import main

TINY = ["--world", "--size", "30000", "--steps", "5", "--layers", "1", "--heads", "2",
        "--dim", "32", "--block", "32", "--batch", "4", "--json"]


def run(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def ok_json(capsys, *argv):
    rc, out, err = run(capsys, *argv)
    assert rc == 0, err
    return json.loads(out)


def bad(capsys, *argv, match=None):
    """Exit code 2, nothing on stdout, exactly one line on stderr saying what is wrong."""
    rc, out, err = run(capsys, *argv)
    assert rc == 2, (rc, out, err)
    assert "Traceback" not in err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    assert lines[0].startswith(f"bertgpt {argv[0]}: error: ") and len(lines[0]) > 40, lines[0]
    assert out == "", out
    if match:
        assert match.lower() in lines[0].lower(), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """One tiny trained BERT and GPT for the whole module, through `bertgpt train`."""
    root = tmp_path_factory.mktemp("models")
    out = {}
    for arch in ("bert", "gpt"):
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            rc = main(["train", arch, *TINY, "--out", str(root / arch)])
        assert rc == 0, stderr.getvalue()
        out[arch] = (root / arch, [json.loads(line) for line in stdout.getvalue().splitlines()])
    return out


# ---------------------------------------------------------------- params
def test_params_bert_base_is_110m(capsys):
    d = ok_json(capsys, "params", "bert-base", "--json")
    assert abs(d["published_total"] - 110e6) / 110e6 < 0.01
    assert d["published"] == 110_000_000 and abs(d["relative_error"]) < 0.01
    assert sum(d["parts"].values()) == d["total"]
    assert {"embeddings", "attention", "mlp"} <= set(d["parts"])
    assert d["config"]["n_layer"] == 12 and d["config"]["n_embd"] == 768


def test_params_gpt3_is_175b_with_context_2048(capsys):
    d = ok_json(capsys, "params", "gpt3-175b", "--json")
    assert abs(d["published_total"] - 175e9) / 175e9 < 0.01
    assert d["config"]["block_size"] == 2048


def test_params_for_people(capsys):
    rc, out, _ = run(capsys, "params", "gpt2")
    assert rc == 0 and out.startswith("gpt2: ") and "attention" in out


def test_unknown_preset(capsys):
    line = bad(capsys, "params", "bert-huge", match="unknown preset")
    assert "bert-base" in line  # says what to choose instead


# ---------------------------------------------------------------- tokenize
@pytest.mark.parametrize("kind", ["wordpiece", "bpe", "char"])
def test_tokenize_json(capsys, kind):
    text = "The capital of France is Paris."
    d = ok_json(capsys, "tokenize", text, "--kind", kind, "--json")
    assert d["kind"] == kind and d["n_chars"] == len(text)
    n = d["n_tokens"]
    assert n == len(d["ids"]) == len(d["pieces"]) == len(d["offsets"]) == len(d["display"])
    assert 0 < n <= len(text)
    assert all(0 <= s <= e <= len(text) for s, e in d["offsets"])
    if kind == "char":
        assert n == len(text.replace(" ", "")) or n == len(text)


@pytest.mark.parametrize("kind", ["wordpiece", "bpe", "char"])
def test_tokenize_korean_and_emoji_work(capsys, kind):
    text = "안녕하세요 세계 😀 hello"
    d = ok_json(capsys, "tokenize", text, "--kind", kind, "--json")
    assert d["n_tokens"] > 0 and d["n_chars"] == len(text)
    if kind == "bpe":  # byte-level: nothing is unknown, decoding gives the text back
        from bertgpt.io.assets import world_tokenizer
        assert d["unk_count"] == 0
        assert world_tokenizer("bpe").decode(d["ids"]) == text


def test_tokenize_for_people(capsys):
    rc, out, _ = run(capsys, "tokenize", "playing cats")
    assert rc == 0 and "tokens for 12 characters" in out


@pytest.mark.parametrize("text", ["", "   \t\n "])
def test_tokenize_empty_text(capsys, text):
    bad(capsys, "tokenize", text, match="empty")


# ---------------------------------------------------------------- mask
MASK_TEXT = ("the capital of france is paris and the capital of italy is rome . "
             "anna works as a teacher in a school near the river .")


def test_mask_json_labels_and_determinism(capsys):
    a = ok_json(capsys, "mask", MASK_TEXT, "--seed", "7", "--prob", "0.15", "--json")
    b = ok_json(capsys, "mask", MASK_TEXT, "--seed", "7", "--prob", "0.15", "--json")
    assert a == b  # same seed, same picture
    toks, labels = a["tokens"], a["labels"]
    assert len(toks) == len(labels) == len(a["input_tokens"]) >= 20
    assert toks[0]["original_token"] == "[CLS]" and toks[-1]["original_token"] == "[SEP]"
    for t, y in zip(toks, labels):
        if t["fate"] == "not selected":
            assert y == -100 and t["label"] is None and t["input_id"] == t["original_id"]
        else:
            assert y == t["original_id"] == t["label"]
            assert t["original_token"] not in ("[CLS]", "[SEP]", "[PAD]")
        if t["fate"] == "[MASK]":
            assert t["input_token"] == "[MASK]"
    assert a["counts"]["selected"] == sum(y != -100 for y in labels)
    others = [ok_json(capsys, "mask", MASK_TEXT, "--seed", s, "--json")["labels"]
              for s in (1, 2, 3)]
    assert any(o != labels for o in others)


def test_mask_prob_zero_and_one(capsys):
    none = ok_json(capsys, "mask", MASK_TEXT, "--prob", "0", "--json")
    assert set(none["labels"]) == {-100}
    every = ok_json(capsys, "mask", MASK_TEXT, "--prob", "1", "--json")
    assert all(y != -100 for y in every["labels"][1:-1]) and every["labels"][0] == -100


def test_mask_exact_selection_always_gives_a_short_text_something(capsys):
    """'the cat sat on the mat' under Bernoulli picks nothing for many seeds; the
    reference's count (--selection exact) picks max(1, round(15% of its length)) for every
    seed (the bundled WordPiece makes 10 tokens of it, [CLS] and [SEP] included: 2)."""
    outs = [ok_json(capsys, "mask", "the cat sat on the mat", "--seed", str(s),
                    "--selection", "exact", "--json") for s in range(8)]
    want = max(1, round(0.15 * len(outs[0]["tokens"])))
    assert [sum(y != -100 for y in o["labels"]) for o in outs] == [want] * 8
    bern = [ok_json(capsys, "mask", "the cat sat on the mat", "--seed", str(s), "--json")
            for s in range(8)]
    assert bern[0]["selection"] == "bernoulli" and 0 < bern[0]["p_none"] < 1


def test_mask_korean_and_emoji_work(capsys):
    d = ok_json(capsys, "mask", "안녕하세요 😀 서울은 한국의 수도입니다", "--seed", "1", "--json")
    assert d["tokens"][0]["original_token"] == "[CLS]" and len(d["tokens"]) >= 3


def test_mask_for_people(capsys):
    rc, out, _ = run(capsys, "mask", MASK_TEXT, "--prob", "1")
    assert rc == 0 and "[CLS]" in out and "label" in out


@pytest.mark.parametrize("prob", ["1.5", "-0.1"])
def test_mask_prob_out_of_range(capsys, prob):
    bad(capsys, "mask", "hello world", "--prob", prob, match="prob")


@pytest.mark.parametrize("text", ["", "  \n\t"])
def test_mask_empty_text(capsys, text):
    bad(capsys, "mask", text, match="empty")


# ---------------------------------------------------------------- pairs
def test_pairs_world_json(capsys):
    a = ok_json(capsys, "pairs", "--world", "--seed", "3", "--json")
    assert a == ok_json(capsys, "pairs", "--world", "--seed", "3", "--json")
    assert a != ok_json(capsys, "pairs", "--world", "--seed", "4", "--json")
    assert len(a["pairs"]) == 8
    assert a["stats"]["n"] > 200 and 0.4 < a["stats"]["is_next_share"] < 0.6
    assert a["stats"]["mislabeled"] == 0
    for p in a["pairs"]:
        assert p["label"] in ("IsNext", "NotNext") and p["label_id"] == (p["label"] == "NotNext")
        if p["is_next"]:
            assert p["b_doc"] == p["a_doc"] and p["b_idx"] == p["a_idx"] + 1
        else:
            assert p["b_doc"] != p["a_doc"]  # NotNext comes from another document
        toks, seg = p["tokens"], p["segment_ids"]
        assert toks[0] == "[CLS]" and toks[-1] == "[SEP]" and toks.count("[SEP]") == 2
        first = toks.index("[SEP]")
        assert seg == [0] * (first + 1) + [1] * (len(toks) - first - 1)
        assert len(toks) <= a["max_len"]


def test_pairs_same_document_bug_shows_mislabeled_pairs(capsys):
    d = ok_json(capsys, "pairs", "--world", "--same-document", "--json")
    assert d["stats"]["mislabeled"] > 0 and any(p["mislabeled"] for p in d["pairs"])


def test_pairs_segments_pack_several_sentences(capsys):
    d = ok_json(capsys, "pairs", "--world", "--segments", "--max-len", "128", "--json")
    assert d["segments"] and d["stats"]["sentences_per_segment"] > 1.5
    for p in d["pairs"]:
        assert len(p["tokens"]) <= 128 and p["tokens"].count("[SEP]") == 2
        if not p["is_next"]:
            assert p["b_doc"] != p["a_doc"]


def test_pairs_from_a_file(capsys, tmp_path):
    f = tmp_path / "docs.txt"
    f.write_text("Anna is a teacher. She works in Rome. She likes it.\n\n"
                 "Ben is a pilot. He flies planes.\n\n서울은 크다. 부산은 바다가 있다.\n",
                 encoding="utf-8")
    d = ok_json(capsys, "pairs", "--text", f, "--n", "100", "--json")
    assert d["stats"]["n"] == 2 + 1 + 1 and len(d["pairs"]) == 4
    texts = {p["a"] for p in d["pairs"]}
    assert "Anna is a teacher." in texts and "She works in Rome." in texts


def test_pairs_for_people(capsys):
    rc, out, _ = run(capsys, "pairs", "--world", "--n", "2")
    assert rc == 0 and "A: " in out and "is_next_share" in out


def test_pairs_one_sentence_is_impossible(capsys, tmp_path):
    f = tmp_path / "one.txt"
    f.write_text("Only one sentence here.\n")
    bad(capsys, "pairs", "--text", f, match="NSP")
    f.write_text("One sentence.\n\nAnother document, one sentence.\n")
    bad(capsys, "pairs", "--text", f, match="NSP is impossible")


@pytest.fixture
def bad_files(tmp_path):
    files = {"empty": b"", "whitespace": b"  \n\n\t \n",
             "latin-1": "café crème à la française".encode("latin-1"),
             "binary": bytes(range(256)) * 8,
             "binary-no-nul": bytes(b % 32 for b in range(1, 4000) if b % 32 not in (0, 9, 10, 13)),
             "utf-16": "hello world. again.".encode("utf-16")}
    paths = {}
    for name, data in files.items():
        paths[name] = tmp_path / f"{name}.txt"
        paths[name].write_bytes(data)
    big = tmp_path / "big.txt"
    with open(big, "wb") as f:  # 50 MB, sparse: costs no time or disk
        f.truncate(50 * 1024 * 1024)
    paths["50MB"] = big
    paths["missing"] = tmp_path / "nope.txt"
    paths["a folder"] = tmp_path
    return paths


WHAT = {"empty": "empty", "whitespace": "whitespace", "latin-1": "not UTF-8",
        "binary": "binary", "binary-no-nul": "binary", "utf-16": "UTF-16", "50MB": "bytes, over",
        "missing": "not found", "a folder": "folder"}


@pytest.mark.parametrize("name", list(WHAT))
def test_pairs_bad_files(capsys, bad_files, name):
    bad(capsys, "pairs", "--text", bad_files[name], match=WHAT[name])


@pytest.mark.parametrize("name", ["latin-1", "binary", "50MB", "empty"])
def test_train_bad_files(capsys, bad_files, tmp_path, name):
    out = tmp_path / "run"
    bad(capsys, "train", "gpt", "--text", bad_files[name], "--out", out, match=WHAT[name])
    assert not out.exists()


def test_pairs_bad_numbers(capsys):
    bad(capsys, "pairs", "--world", "--size", "0", match="size")  # 0 used to mean the default
    bad(capsys, "pairs", "--world", "--n", "-1", match="n must")
    bad(capsys, "pairs", "--world", "--max-len", "3", match="max_len")


# ---------------------------------------------------------------- corpus
def test_corpus_is_deterministic(capsys):
    a = run(capsys, "corpus", "--seed", "5", "--size", "3000")
    b = run(capsys, "corpus", "--seed", "5", "--size", "3000")
    c = run(capsys, "corpus", "--seed", "6", "--size", "3000")
    assert a[0] == 0 and a == b and a[1] != c[1]
    text = a[1]
    assert 3000 <= len(text) < 4500 and "\n\n" in text
    assert text.isascii() and "capital" in run(capsys, "corpus", "--size", "20000")[1]


@pytest.mark.parametrize("size", ["0", "-5"])
def test_corpus_bad_size(capsys, size):
    bad(capsys, "corpus", "--size", size, match="size")


# ---------------------------------------------------------------- train
@pytest.mark.parametrize("arch", ["bert", "gpt"])
def test_train_json_lines_then_a_loadable_checkpoint(models, arch):
    path, events = models[arch]
    assert events[0]["type"] == "step"  # train()'s "start" holds live objects: not printed
    steps = [e for e in events if e["type"] == "step"]
    assert [e["step"] for e in steps] == [1, 2, 3, 4, 5]
    assert all(e["loss"] > 0 and e["device"] in ("cpu", "cuda", "mps") for e in steps)
    evals = [e for e in events if e["type"] == "eval"]
    assert evals and evals[-1]["step"] == 5
    done = events[-1]
    assert done["type"] == "done" and done["steps"] == 5 and done["stopped_by"] == "steps"
    assert done["out"] == str(path) and done["final"]["val_loss"] > 0
    if arch == "gpt":
        assert done["final"]["val_bpc"] > 0
    else:
        assert "val_mlm_acc" in done["final"] and steps[0]["mlm_loss"] > 0
    m = load(path)
    cfg = m.model.cfg
    assert (cfg.arch, cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.block_size) == (arch, 1, 2, 32, 32)
    assert m.record["steps"] == 5 and len(m.record["history"]) >= 5
    assert m.tokenizer.kind == ("wordpiece" if arch == "bert" else "bpe")
    assert not _leftovers(path)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_train_precision_flag_is_recorded(capsys, tmp_path, precision):
    rc, out, err = run(capsys, "train", "gpt", *TINY, "--steps", "2", "--precision", precision,
                       "--out", tmp_path / "m")
    assert rc == 0, err
    assert load(tmp_path / "m").record["train_config"]["precision"] == precision


def _leftovers(path):
    return [p for p in Path(path).parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("flags, what", [
    (["--steps", "0"], "steps must be at least 1"),
    (["--batch", "0"], "batch size must be at least 1"),
    (["--block", "100000"], "smaller block size"),        # larger than the text
    (["--tokenizer", "bpe", "--vocab", "10"], "vocab_size 10 is too small"),
    (["--tokenizer", "wordpiece", "--vocab", "2"], "too small"),
    (["--vocab", "10000000"], "limit"),
    (["--heads", "3"], "divisible"),
    (["--lr", "5"], "learning rate"),
])
def test_train_bad_settings(capsys, tmp_path, flags, what):
    out = tmp_path / "run"
    args = TINY[:]
    args[args.index("--size") + 1] = "3000"
    bad(capsys, "train", "gpt", *args, *flags, "--out", out, match=what)
    assert not out.exists() and list(tmp_path.iterdir()) == []  # nothing half-written


def test_train_refuses_to_overwrite_a_folder_of_other_files(capsys, tmp_path):
    """Before the fix `--out` pointing at a project folder deleted it after training."""
    (tmp_path / "notes.txt").write_text("precious")
    bad(capsys, "train", "gpt", *TINY, "--out", tmp_path, match="refusing to overwrite")
    assert (tmp_path / "notes.txt").read_text() == "precious"
    f = tmp_path / "afile"
    f.write_text("x")
    bad(capsys, "train", "gpt", *TINY, "--out", f, match="is a file")


# ---------------------------------------------------------------- sample
def test_sample_json_is_seeded(capsys, models):
    path = models["gpt"][0]
    args = ["sample", "--model", path, "--prompt", "the capital of france is",
            "--max-new-tokens", "8", "--json"]
    a = ok_json(capsys, *args, "--seed", "1")
    assert a == ok_json(capsys, *args, "--seed", "1")
    assert a["prompt"] == "the capital of france is"
    assert len(a["tokens"]) in range(1, 9)
    assert a["text"] == load(path).tokenizer.decode([t["id"] for t in a["tokens"]])
    assert all(0 <= t["prob"] <= 1 for t in a["tokens"])
    others = [ok_json(capsys, *args, "--seed", s)["text"] for s in (2, 3)]
    assert any(o != a["text"] for o in others)
    greedy = ok_json(capsys, *args, "--temperature", "0", "--seed", "9")
    assert greedy == ok_json(capsys, *args, "--temperature", "0", "--seed", "10")


def test_sample_for_people_and_unicode_prompt(capsys, models):
    rc, out, _ = run(capsys, "sample", "--model", models["gpt"][0], "--prompt", "서울 😀",
                     "--max-new-tokens", "3")
    assert rc == 0 and out.startswith("서울 😀")


def test_sample_with_a_bert_model(capsys, models):
    bad(capsys, "sample", "--model", models["bert"][0], "--prompt", "hi", match="BERT model")


@pytest.mark.parametrize("flags, what", [(["--temperature", "-1"], "temperature"),
                                         (["--top-p", "0"], "top_p"),
                                         (["--top-k", "-1"], "top_k"),
                                         (["--max-new-tokens", "0"], "max_new_tokens")])
def test_sample_bad_settings(capsys, models, flags, what):
    bad(capsys, "sample", "--model", models["gpt"][0], *flags, match=what)


# ---------------------------------------------------------------- fill-mask
def test_fill_mask_json(capsys, models):
    text = "the capital of france is [MASK] ."
    d = ok_json(capsys, "fill-mask", "--model", models["bert"][0], text, "--json")
    assert d["text"] == text and len(d["masks"]) == 1
    cands = d["masks"][0]["candidates"]
    assert len(cands) == 5
    probs = [c["prob"] for c in cands]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert not any(c["token"].startswith("[") for c in cands)  # never a special token
    two = ok_json(capsys, "fill-mask", "--model", models["bert"][0], "[MASK] is [MASK] .",
                  "--top-k", "2", "--json")
    assert len(two["masks"]) == 2 and all(len(m["candidates"]) == 2 for m in two["masks"])


def test_fill_mask_for_people(capsys, models):
    rc, out, _ = run(capsys, "fill-mask", "--model", models["bert"][0], "a [MASK] .")
    assert rc == 0 and out.count(",") == 4


def test_fill_mask_with_a_gpt_model(capsys, models):
    bad(capsys, "fill-mask", "--model", models["gpt"][0], "the [MASK] .", match="GPT model")


@pytest.mark.parametrize("text, flags, what", [("no mask here", [], "no [MASK]"),
                                               ("", [], "[MASK]"),
                                               ("a [MASK] .", ["--top-k", "0"], "top-k"),
                                               ("a [MASK] .", ["--top-k", "-2"], "top-k"),
                                               ("word " * 100 + "[MASK]", [], "at most 32")])
def test_fill_mask_bad_input(capsys, models, text, flags, what):
    bad(capsys, "fill-mask", "--model", models["bert"][0], text, *flags, match=what)


# ---------------------------------------------------------------- model directories
def test_model_directory_that_does_not_exist(capsys, tmp_path):
    bad(capsys, "sample", "--model", tmp_path / "nope", match="no model directory")
    bad(capsys, "fill-mask", "--model", tmp_path / "nope", "a [MASK]", match="no model directory")


@pytest.mark.parametrize("arch", ["bert", "gpt"])
def test_corrupt_model_directories(capsys, models, tmp_path, arch):
    cmd = ["sample", "--prompt", "hi"] if arch == "gpt" else ["fill-mask", "a [MASK] ."]
    garbage, no_tok = tmp_path / "garbage", tmp_path / "no-tokenizer"
    for p in (garbage, no_tok):
        shutil.copytree(models[arch][0], p)
    (garbage / "model.safetensors").write_bytes(b"\x00garbage" * 9)
    (no_tok / "tokenizer.json").unlink()
    bad(capsys, *cmd, "--model", garbage, match="model.safetensors is corrupt")
    bad(capsys, *cmd, "--model", no_tok, match="tokenizer.json is missing")


@pytest.mark.parametrize("damage, what", [
    (lambda p: (p / "model.safetensors").write_bytes(b"garbage"), "model.safetensors is corrupt"),
    (lambda p: (p / "tokenizer.json").unlink(), "tokenizer.json is missing"),
    (lambda p: (p / "tokenizer.json").write_text("{}"), "tokenizer.json"),
    (lambda p: (p / "config.json").write_text("{oops"), "config.json is corrupt"),
    (lambda p: (p / "config.json").write_text(
        (p / "config.json").read_text().replace('"n_embd": 32', '"n_embd": 64')), "shape"),
])
def test_corrupt_gpt_directory(capsys, models, tmp_path, damage, what):
    path = tmp_path / "broken"
    shutil.copytree(models["gpt"][0], path)
    damage(path)
    bad(capsys, "sample", "--model", path, match=what)


# ---------------------------------------------------------------- the real console script
def _script():
    exe = shutil.which("bertgpt") or str(Path(sys.executable).parent / "bertgpt")
    assert os.path.exists(exe), "the console script is not installed"
    return exe


def test_console_script_end_to_end(tmp_path):
    r = subprocess.run([_script(), "params", "bert-base", "--json"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and r.stderr == ""
    assert abs(json.loads(r.stdout)["published_total"] - 110e6) / 110e6 < 0.01
    f = tmp_path / "latin1.txt"
    f.write_bytes("café".encode("latin-1"))
    r = subprocess.run([_script(), "pairs", "--text", str(f)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "not UTF-8" in r.stderr and "Traceback" not in r.stderr


def test_console_script_into_a_closed_pipe():
    """`bertgpt corpus | head -c 100`: the reader leaving early is no error (it used to
    end in a BrokenPipeError traceback)."""
    r = subprocess.run(f"'{_script()}' corpus --size 400000 | head -c 100", shell=True,
                       capture_output=True, text=True, timeout=120)
    assert len(r.stdout) == 100 and "Traceback" not in r.stderr and r.stderr == ""
