"""Real checkpoints through hub.py, offline: random-init transformers models built from the
real bert-base-uncased and gpt2 configs (BertConfig() and GPT2Config() defaults are exactly
those; two layers, and the vocabulary of a world-corpus tokenizer, for time), saved with
save_pretrained / torch.save in transformers' layouts, must load into our models and compute
what transformers computes. Nothing here touches the network."""
import json
import os
import shutil
import socket
import time

import pytest
import torch

transformers = pytest.importorskip("transformers")
pytest.importorskip("huggingface_hub")

import bertgpt  # noqa: E402
from bertgpt import cli, settings
from bertgpt.io import hub  # noqa: E402
from bertgpt.text.corpus import generate_world  # noqa: E402
from bertgpt.errors import CheckpointError  # noqa: E402
from bertgpt.model.sampling import fill_mask, generate  # noqa: E402
from bertgpt.text.tokenizer import train_tokenizer  # noqa: E402

TEXT = "The Capital of FRANCE is Paris , and people there speak French ."


def _vocab_txt(tok, folder):
    vocab = sorted(tok.backend.get_vocab().items(), key=lambda kv: kv[1])
    (folder / "vocab.txt").write_text("".join(t + "\n" for t, _ in vocab), encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}))


def _vocab_merges(tok, folder):
    model = tok.model_json()
    (folder / "vocab.json").write_text(json.dumps(model["vocab"]), encoding="utf-8")
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(m + "\n" for m in merges),
                                       encoding="utf-8")


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """Folders 'bert-st', 'bert-bin', 'gpt-st', 'gpt-bin', 'gpt-sharded' and the models."""
    root = tmp_path_factory.mktemp("hub")
    text = generate_world(seed=0, size=60_000)
    wp, bpe = train_tokenizer("wordpiece", text, 1000), train_tokenizer("bpe", text, 600)
    eos = bpe.special_id("eos")
    torch.manual_seed(0)
    bert = transformers.BertForPreTraining(transformers.BertConfig(
        num_hidden_layers=2, vocab_size=wp.vocab_size)).eval()
    # initializer_range 0.2: spread-out logits, so greedy decoding has no near-ties that
    # float rounding could break differently in the two implementations.
    gpt = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        n_layer=2, vocab_size=bpe.vocab_size, bos_token_id=eos, eos_token_id=eos,
        initializer_range=0.2)).eval()
    out = {"bert": bert, "gpt": gpt, "wp": wp, "bpe": bpe}
    for arch, model, tok in (("bert", bert, wp), ("gpt", gpt, bpe)):
        st, binf = root / f"{arch}-st", root / f"{arch}-bin"
        model.save_pretrained(st)          # config.json + model.safetensors
        tok.save(st / "tokenizer.json")    # the file bert-base-uncased / gpt2 ship
        binf.mkdir()
        shutil.copy(st / "config.json", binf / "config.json")
        torch.save(model.state_dict(), binf / "pytorch_model.bin")  # the pre-2023 layout
        (_vocab_txt if arch == "bert" else _vocab_merges)(tok, binf)
        out[f"{arch}-st"], out[f"{arch}-bin"] = st, binf
    gpt.save_pretrained(root / "gpt-sharded", max_shard_size="5MB")
    _vocab_merges(bpe, root / "gpt-sharded")
    out["gpt-sharded"] = root / "gpt-sharded"
    return out


@pytest.fixture
def no_hub(tmp_path, monkeypatch):
    """An empty Hub cache, downloads off, and the shared cache emptied after the test."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings.reset()
    yield tmp_path / "hf-cache"
    hub._models.clear()


def _bert_batch(tok):
    a = [tok.special_id("cls")] + tok.encode(TEXT) + [tok.special_id("sep")]
    b = [tok.special_id("cls")] + tok.encode("anna is a [MASK] .") + [tok.special_id("sep")]
    ids = torch.full((2, len(a)), tok.special_id("pad"))
    ids[0], ids[1, :len(b)] = torch.tensor(a), torch.tensor(b)
    attn = (torch.arange(len(a)) < torch.tensor([[len(a)], [len(b)]])).long()
    seg = torch.zeros_like(ids)
    seg[0, len(a) // 2:] = 1
    return ids, seg, attn


@pytest.mark.parametrize("layout", ["st", "bin"])
def test_bert_folder_matches_transformers(real, layout):
    loaded = bertgpt.load(str(real[f"bert-{layout}"]))
    assert loaded.record["weights"] == ("model.safetensors" if layout == "st"
                                        else "pytorch_model.bin")
    assert loaded.record["fresh_heads"] == [] and loaded.cfg.n_embd == 768
    assert loaded.tokenizer.encode(TEXT) == real["wp"].encode(TEXT)
    ids, seg, attn = _bert_batch(loaded.tokenizer)
    with torch.no_grad():
        ref = real["bert"](input_ids=ids, token_type_ids=seg, attention_mask=attn)
        got = loaded.model(ids, seg, attn)
    torch.testing.assert_close(got.mlm_logits[attn.bool()], ref.prediction_logits[attn.bool()],
                               atol=1e-4, rtol=0)
    torch.testing.assert_close(got.nsp_logits, ref.seq_relationship_logits, atol=1e-4, rtol=0)
    # fill-mask reads the same distribution transformers gives at the [MASK]
    res = fill_mask(loaded.model, loaded.tokenizer, "anna is a [MASK] .", top_k=3)[0]
    probs = ref.prediction_logits[1, res["position"]].softmax(-1)
    probs[loaded.tokenizer.special_ids] = 0
    assert [c["id"] for c in res["candidates"]] == probs.topk(3).indices.tolist()


@pytest.mark.parametrize("layout", ["st", "bin", "sharded"])
def test_gpt_folder_matches_transformers(real, layout):
    loaded = bertgpt.load(real[f"gpt-{layout}"])
    assert loaded.record["weights"] == {"st": "model.safetensors", "bin": "pytorch_model.bin",
                                        "sharded": "model.safetensors.index.json"}[layout]
    ids = torch.tensor([loaded.tokenizer.encode(TEXT)])
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(ids).logits, real["gpt"](input_ids=ids).logits,
                                   atol=1e-4, rtol=0)


@pytest.mark.parametrize("layout", ["st", "bin"])
def test_greedy_generation_gives_transformers_tokens(real, layout):
    loaded = bertgpt.load(real[f"gpt-{layout}"])
    prompt = "The capital of France is"
    ids = loaded.tokenizer.encode(prompt)
    ours = generate(loaded.model, loaded.tokenizer, prompt, max_new_tokens=24, temperature=0.0)
    eos = real["bpe"].special_id("eos")
    with torch.no_grad():
        theirs = real["gpt"].generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids),
                                      dtype=torch.long), max_new_tokens=24, do_sample=False,
                                      eos_token_id=eos, pad_token_id=eos)
    assert len(ours["tokens"]) > 1
    assert [t["id"] for t in ours["tokens"]] == theirs[0, len(ids):].tolist()


def test_tokenizer_layouts_read_as_transformers_reads_them(real):
    text = "Anna Lives in PARIS, the capital of France. Ünïcode [MASK] <|endoftext|> x"
    for folder in ("bert-st", "bert-bin", "gpt-st", "gpt-bin"):
        ours = hub.tokenizer_from_folder(real[folder])
        theirs = transformers.AutoTokenizer.from_pretrained(real[folder])
        assert ours.encode(text) == theirs(text, add_special_tokens=False).input_ids, folder
    assert hub.tokenizer_from_folder(real["bert-bin"]).kind == "wordpiece"
    gpt = hub.tokenizer_from_folder(real["gpt-bin"])
    assert gpt.kind == "bpe" and gpt.byte_level and gpt.specials == {"eos": "<|endoftext|>"}


def test_do_lower_case_false_is_respected(real, tmp_path):
    folder = tmp_path / "cased"
    shutil.copytree(real["bert-bin"], folder)
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False}))
    cased, uncased = hub.tokenizer_from_folder(folder), hub.tokenizer_from_folder(real["bert-bin"])
    unk = cased.token_to_id("[UNK]")
    # the world vocabulary is lowercase, so a cased reader cannot spell "PARIS"
    assert unk in cased.encode("PARIS") and unk not in uncased.encode("PARIS")
    assert cased.encode("[MASK]") == [cased.special_id("mask")]


def test_load_gpt2_offline_with_an_empty_cache_says_why(no_hub, capsys):
    with pytest.raises(CheckpointError, match=r"'gpt2' is not in the Hugging Face cache.*"
                                              r"HF_HUB_OFFLINE=1.*local folder"):
        bertgpt.load("gpt2")
    assert hub.status("gpt2") == "offline"
    rc = cli.main(["sample", "--model", "gpt2", "--prompt", "hi"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "HF_HUB_OFFLINE" in err


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_load_with_no_network_fails_fast_and_says_offline(no_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    settings.reset()
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="offline: .* cannot be reached"):
        bertgpt.load("gpt2-medium")
    assert time.perf_counter() - start < 10  # not huggingface_hub's ~25 s of retries
    assert hub.status("gpt2-medium") == "download"  # no probe: no network touched
    assert hub.status("gpt2-medium", probe=True) == "offline"


def _put_in_cache(cache, repo, folder):
    """The layout huggingface_hub keeps: refs/main names a snapshot holding the files."""
    sha = "0123456789abcdef0123456789abcdef01234567"
    repo_dir = cache / f"models--{repo.replace('/', '--')}"
    shutil.copytree(folder, repo_dir / "snapshots" / sha)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(sha)


def test_a_cached_hub_model_loads_offline(real, no_hub):
    _put_in_cache(no_hub, "gpt2", real["gpt-bin"])
    assert hub.status("gpt2") == "cached"
    loaded = bertgpt.load("gpt2")
    assert loaded.record["name"] == "gpt2" and loaded.record["weights"] == "pytorch_model.bin"
    ids = torch.tensor([loaded.tokenizer.encode(TEXT)])
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(ids).logits, real["gpt"](input_ids=ids).logits,
                                   atol=1e-4, rtol=0)


def test_shared_cache_is_bounded_and_read_only(real, no_hub, monkeypatch):
    monkeypatch.setenv("BERTGPT_REAL_MODELS", "1")
    settings.reset()
    _put_in_cache(no_hub, "gpt2", real["gpt-st"])
    _put_in_cache(no_hub, "google-bert/bert-base-uncased", real["bert-st"])
    first = hub.shared("gpt2")
    assert hub.shared("gpt2") is first and hub.held() == ["gpt2"]
    assert not any(p.requires_grad for p in first.model.parameters())
    bert = hub.shared("google-bert/bert-base-uncased")
    assert hub.held() == ["google-bert/bert-base-uncased"] and bert.cfg.arch == "bert"
    monkeypatch.setenv("BERTGPT_REAL_MODELS", "2")
    settings.reset()
    hub.shared("gpt2")
    assert hub.held() == ["google-bert/bert-base-uncased", "gpt2"]
    with pytest.raises(CheckpointError, match="not in the Hugging Face cache"):
        hub.shared("gpt2-medium")  # cannot be had: evicts nothing
    assert hub.held() == ["google-bert/bert-base-uncased", "gpt2"]


def test_masked_lm_checkpoint_leaves_nsp_head_fresh(real, tmp_path):
    folder = tmp_path / "mlm"
    transformers.BertForMaskedLM(transformers.BertConfig(
        num_hidden_layers=1, hidden_size=64, num_attention_heads=2, intermediate_size=128,
        vocab_size=real["wp"].vocab_size)).save_pretrained(folder)
    real["wp"].save(folder / "tokenizer.json")
    loaded = bertgpt.load(folder)
    assert set(loaded.record["fresh_heads"]) == {"pooler.weight", "pooler.bias",
                                                 "nsp.weight", "nsp.bias"}
    assert all(p.device.type == "cpu" for p in loaded.model.parameters())  # nothing on meta
    ids, seg, attn = _bert_batch(loaded.tokenizer)
    assert torch.isfinite(loaded.model(ids, seg, attn).nsp_logits).all()


def _folder_without(real, tmp_path, name, drop):
    folder = tmp_path / name
    shutil.copytree(real[name], folder)
    for f in drop:
        os.remove(folder / f)
    return folder


def test_clear_errors_for_broken_or_foreign_folders(real, tmp_path):
    f = _folder_without(real, tmp_path, "gpt-st", ["model.safetensors"])
    with pytest.raises(CheckpointError, match="no weights: expected model.safetensors or "
                                              "pytorch_model.bin"):
        bertgpt.load(f)
    f = _folder_without(real, tmp_path, "gpt-bin", ["merges.txt"])
    with pytest.raises(CheckpointError, match=r"no tokenizer files \(vocab.json without "
                                              r"merges.txt\).*tokenizer.json, vocab.txt"):
        bertgpt.load(f)
    f = _folder_without(real, tmp_path, "bert-st", [])
    meta = json.loads((f / "config.json").read_text())
    (f / "config.json").write_text(json.dumps({**meta, "model_type": "llama",
                                               "architectures": ["LlamaForCausalLM"]}))
    with pytest.raises(CheckpointError, match="'llama' .LlamaForCausalLM. is not supported"):
        bertgpt.load(f)
    (f / "config.json").write_text(json.dumps({**meta, "num_hidden_layers": 3}))
    with pytest.raises(CheckpointError, match="missing weight 'encoder.layer.2"):
        bertgpt.load(f)
    (f / "config.json").write_text(json.dumps({**meta, "hidden_size": 384}))
    with pytest.raises(CheckpointError, match="shape .* do not belong together"):
        bertgpt.load(f)
    (f / "model.safetensors").write_bytes(b"\x00garbage" * 9)
    (f / "config.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="model.safetensors is corrupt"):
        bertgpt.load(f)


def test_hub_ids_and_paths_are_told_apart(real, tmp_path, monkeypatch):
    assert hub.is_hub_id("gpt2") and hub.is_hub_id("openai-community/gpt2-xl")
    assert not hub.is_hub_id("/abs/path") and not hub.is_hub_id("./gpt2")
    assert not hub.is_hub_id("a/b/c") and not hub.is_hub_id("../x")
    monkeypatch.chdir(tmp_path)
    shutil.copytree(real["gpt-st"], tmp_path / "gpt2")  # a local folder wins over the Hub
    assert not hub.is_hub_id("gpt2")
    assert bertgpt.load("gpt2").record["name"].endswith("gpt2")


def test_a_mistyped_folder_is_named_as_folder_and_as_hub_id(no_hub):
    with pytest.raises(CheckpointError, match="no model folder 'runs/gtp' here, and as a Hub "
                                              "id: 'runs/gtp' is not in the Hugging Face cache"):
        bertgpt.load("runs/gtp")


# ---------------------------------------------------------------- the app's model selector
gr = pytest.importorskip("gradio")


def test_selector_lists_real_models_with_their_state(real, no_hub):
    from bertgpt.app import tab_attention
    _put_in_cache(no_hub, "gpt2", real["gpt-st"])
    labels = dict((v, k) for k, v in hub.choices("gpt"))
    assert list(labels) == ["gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl"]
    # one that cannot be had says so before it is picked, and how to get it
    assert labels["gpt2"].endswith("ready")
    assert labels["gpt2-xl"].endswith(
        "⊘ unavailable offline (not downloaded: hf download gpt2-xl)")
    assert [v for _, v in hub.choices("bert")] == ["bert-base-uncased", "bert-large-uncased"]
    real_pair = tab_attention._sources()[-1]
    assert real_pair[1] == "real" and real_pair[0].endswith("offline, not cached")


def test_unreachable_real_model_is_a_clear_gr_error(no_hub):
    from bertgpt.app.common import get_model
    from bertgpt.app.tab_fillmask import fill_mask
    from bertgpt.app.tab_generate import next_token
    with pytest.raises(gr.Error, match="'gpt2' is not in the Hugging Face cache.*HF_HUB_OFFLINE"):
        get_model("gpt", "gpt2", None)
    with pytest.raises(gr.Error, match="gpt2 is a GPT; this needs a BERT"):
        get_model("bert", "gpt2", None)
    with pytest.raises(gr.Error, match="'bert-base-uncased' is not in the Hugging Face cache"):
        fill_mask("the capital of france is [MASK] .", 5, "bert-base-uncased", None)
    with pytest.raises(gr.Error, match="'gpt2-xl' is not in the Hugging Face cache"):
        next_token("gpt2-xl", "hello", 1.0, 0, 1.0, 0, None)
    assert hub.held() == []


def test_tabs_run_the_cached_real_models(real, no_hub):
    from bertgpt.app import tab_attention, tab_fillmask, tab_generate, tab_nsp
    _put_in_cache(no_hub, "gpt2", real["gpt-st"])
    _put_in_cache(no_hub, "bert-base-uncased", real["bert-bin"])
    _, md, data = tab_fillmask.fill_mask("the capital of france is [MASK] .", 3,
                                       "bert-base-uncased", None)
    assert "real bert-base-uncased" in md and data["model"]["n_embd"] == 768
    assert len(data["masks"][0]["candidates"]) == 3
    _, text, _, step = tab_generate.next_token("gpt2", "The capital of", 0.0, 0, 1.0, 0, None)
    assert text.startswith("The capital of") and step["model"]["source"] == "gpt2"
    probs, _ = tab_nsp.nsp_predict("Anna is a teacher.", "She lives in Paris.",
                                   "bert-base-uncased", None)
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-5)
    *_, md = tab_attention.attention("The capital of France is Paris.", "real", 12, 12, None)
    assert "has 2 layers" in md  # the test models are 2-layer; layer 12 is clamped, said so
    assert sorted(hub.held()) == ["bert-base-uncased", "gpt2"]
    assert tab_attention._ranges("real")[0].maximum == 12


def test_cli_runs_real_checkpoints_by_hub_id(real, no_hub, capsys):
    _put_in_cache(no_hub, "gpt2", real["gpt-bin"])
    _put_in_cache(no_hub, "bert-base-uncased", real["bert-bin"])
    assert cli.main(["sample", "--model", "gpt2", "--prompt", "The capital of", "--temperature",
                     "0", "--max-new-tokens", "6", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    loaded = bertgpt.load("gpt2")
    greedy = generate(loaded.model, loaded.tokenizer, "The capital of", max_new_tokens=6,
                      temperature=0.0)
    assert [t["id"] for t in out["tokens"]] == [t["id"] for t in greedy["tokens"]]
    assert cli.main(["fill-mask", "--model", "bert-base-uncased", "The Capital of FRANCE is "
                     "[MASK] .", "--json"]) == 0
    masks = json.loads(capsys.readouterr().out)["masks"]
    assert len(masks) == 1 and len(masks[0]["candidates"]) == 5
    assert cli.main(["fill-mask", "--model", "gpt2", "a [MASK] ."]) == 2  # a GPT: said so
    assert "GPT model" in capsys.readouterr().err


def test_half_precision_checkpoint_loads_as_float32(real, tmp_path):
    folder = tmp_path / "fp16"
    small = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        n_layer=1, n_embd=64, n_head=2, vocab_size=real["bpe"].vocab_size)).half()
    small.save_pretrained(folder)
    real["bpe"].save(folder / "tokenizer.json")
    loaded = bertgpt.load(folder)
    assert {p.dtype for p in loaded.model.parameters()} == {torch.float32}
    theirs = transformers.GPT2LMHeadModel.from_pretrained(folder, dtype=torch.float32).eval()
    ids = torch.tensor([loaded.tokenizer.encode(TEXT)])
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(ids).logits, theirs(input_ids=ids).logits,
                                   atol=1e-4, rtol=0)


def test_padded_vocabulary_never_offers_rows_past_the_tokenizer(real, tmp_path):
    """Some checkpoints pad the embedding to a round size; those rows spell no word."""
    folder, n = tmp_path / "padded", real["wp"].vocab_size
    model = transformers.BertForPreTraining(transformers.BertConfig(
        num_hidden_layers=1, hidden_size=64, num_attention_heads=2, intermediate_size=128,
        vocab_size=n + 64))
    with torch.no_grad():
        model.cls.predictions.bias[n:] = 100.0  # the padded rows would win every mask
    model.save_pretrained(folder)
    real["wp"].save(folder / "tokenizer.json")
    loaded = bertgpt.load(folder)
    cands = fill_mask(loaded.model, loaded.tokenizer, "the capital of france is [MASK] .",
                      top_k=5)[0]["candidates"]
    assert all(c["id"] < n and c["token"] for c in cands)
