"""bertgpt/io/checkpoint.py: a model directory round-trips bit-exactly; a bad one says why."""
import json
import os
import stat

import pytest
import torch
from safetensors.torch import load_file, save_file

import bertgpt
from bertgpt.io import checkpoint
from bertgpt.io.checkpoint import FORMAT, CheckpointError, load, save
from bertgpt.model.config import ModelConfig
from bertgpt.text.corpus import generate_world
from bertgpt.model.build import build
from bertgpt.text.tokenizer import train_tokenizer

TEXTS = ["the capital of france is paris .", "Anna works as a teacher in Rome.", "안녕 😀 ok"]


@pytest.fixture(scope="module")
def tokenizers():
    text = generate_world(seed=0, size=8_000)
    return {"bert": train_tokenizer("wordpiece", text, 300, model="bert"),
            "gpt": train_tokenizer("bpe", text, 300, model="gpt")}


def _model(arch, tok, seed=0, **kw):
    torch.manual_seed(seed)
    cfg = ModelConfig(arch, vocab_size=tok.vocab_size, n_layer=1, n_head=2, n_embd=16,
                      block_size=16, **kw)
    return build(cfg)


@pytest.fixture(params=["bert", "gpt"])
def saved(request, tmp_path, tokenizers):
    arch = request.param
    tok = tokenizers[arch]
    model = _model(arch, tok)
    record = {"history": [{"type": "step", "step": 1, "loss": 6.25}], "final": {"val_loss": 5.5},
              "note": "안녕 ✓"}
    path = save(tmp_path / arch, model, tok, record)
    return path, model, tok, record


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k]), k
    return True


# ---------------------------------------------------------------- round trip
def test_round_trip_is_bit_exact(saved):
    path, model, tok, record = saved
    assert sorted(p.name for p in path.iterdir()) == sorted(checkpoint.FILES)
    loaded = load(path)
    assert _same_weights(model, loaded.model)
    assert loaded.cfg == model.cfg
    assert loaded.tokenizer.kind == tok.kind and loaded.tokenizer.vocab_size == tok.vocab_size
    for t in TEXTS:
        assert loaded.tokenizer.encode(t) == tok.encode(t)
    assert loaded.record == record
    assert loaded.path == str(path)
    assert not loaded.model.training  # ready for inference
    meta = json.loads((path / "config.json").read_text())
    assert meta["format"] == FORMAT and meta["tokenizer_kind"] == tok.kind


def test_loaded_model_computes_the_same_outputs(saved):
    path, model, tok, _ = saved
    loaded = load(path)
    model.eval()
    x = torch.tensor([tok.encode(TEXTS[0])[:16]])
    with torch.no_grad():
        a, b = model(x), loaded.model(x)
    first = (lambda o: o.logits) if model.cfg.arch == "gpt" else (lambda o: o.mlm_logits)
    assert torch.equal(first(a), first(b))


def test_bertgpt_load_is_the_public_entry(saved):
    path, model, _, _ = saved
    loaded = bertgpt.load(str(path))
    assert _same_weights(model, loaded.model)
    assert bertgpt.load(path, device="cpu").model.tok_emb.weight.device.type == "cpu"


def test_saving_over_an_existing_checkpoint_replaces_it(saved, tokenizers):
    path, model, tok, _ = saved
    other = _model(model.cfg.arch, tok, seed=1)
    save(path, other, tok, {"run": 2})
    loaded = load(path)
    assert _same_weights(other, loaded.model) and loaded.record == {"run": 2}
    assert not _leftovers(path)


def test_files_are_readable_by_others(tmp_path, tokenizers):
    """The directory used to be created 0700 and the weights 0600: a Space's server or a
    classmate running as another user could not read them."""
    old = os.umask(0o022)
    try:
        path = save(tmp_path / "m", _model("gpt", tokenizers["gpt"]), tokenizers["gpt"])
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    for f in path.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o644, f.name


def _leftovers(path):
    """Temporary siblings a save may leave behind (.name.partial-*, .name.old-*)."""
    return [p for p in path.parent.iterdir() if p.name.startswith(f".{path.name}.")]


# ---------------------------------------------------------------- interrupted saves
class Boom(Exception):
    pass


def test_interrupted_first_save_leaves_nothing(tmp_path, tokenizers, monkeypatch):
    tok = tokenizers["gpt"]

    def half_written(self, path):  # the weights are on disk, then the tokenizer fails
        raise Boom("disk full")
    monkeypatch.setattr(type(tok), "save", half_written)
    target = tmp_path / "run"
    with pytest.raises(Boom):
        save(target, _model("gpt", tok), tok, {})
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(CheckpointError, match="no model directory"):
        load(target)


@pytest.mark.parametrize("interrupt", [Boom("disk full"), KeyboardInterrupt()])
def test_interrupted_save_over_a_checkpoint_keeps_the_old_one(saved, monkeypatch, interrupt):
    path, model, tok, record = saved

    def fail(*a, **k):
        raise interrupt
    import safetensors.torch  # `save` imports save_file from here when it runs
    monkeypatch.setattr(safetensors.torch, "save_file", fail)
    with pytest.raises(type(interrupt)):
        save(path, _model(model.cfg.arch, tok, seed=1), tok, {"run": 2})
    loaded = load(path)
    assert _same_weights(model, loaded.model) and loaded.record == record
    assert not _leftovers(path)


def test_interrupted_swap_puts_the_old_checkpoint_back(saved, monkeypatch):
    """The moment of the swap itself: the old checkpoint has been moved aside and the new
    one fails to move in. The old one must be back at `path`, whole."""
    path, model, tok, record = saved
    real = os.replace
    calls = []

    def flaky(src, dst):
        calls.append(src)
        if ".partial-" in str(src):
            raise KeyboardInterrupt
        return real(src, dst)
    monkeypatch.setattr(checkpoint.os, "replace", flaky)
    with pytest.raises(KeyboardInterrupt):
        save(path, _model(model.cfg.arch, tok, seed=1), tok, {"run": 2})
    monkeypatch.setattr(checkpoint.os, "replace", real)
    assert any(".partial-" in str(c) for c in calls)
    loaded = load(path)
    assert _same_weights(model, loaded.model) and loaded.record == record
    assert not _leftovers(path)


# ---------------------------------------------------------------- refusing to overwrite
def test_save_never_deletes_a_directory_that_is_not_a_checkpoint(tmp_path, tokenizers):
    tok = tokenizers["gpt"]
    victim = tmp_path / "project"
    victim.mkdir()
    (victim / "notes.txt").write_text("precious")
    with pytest.raises(CheckpointError, match=r"notes\.txt.*refusing to overwrite"):
        save(victim, _model("gpt", tok), tok)
    assert (victim / "notes.txt").read_text() == "precious"
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(CheckpointError, match="is a file"):
        save(afile, _model("gpt", tok), tok)
    assert afile.read_text() == "x"


def test_save_to_the_current_directory_is_refused_when_it_holds_files(tmp_path, tokenizers,
                                                                      monkeypatch):
    tok = tokenizers["gpt"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.py").write_text("print(1)")
    with pytest.raises(CheckpointError, match="refusing"):
        save(".", _model("gpt", tok), tok)
    assert (tmp_path / "keep.py").exists()


def test_a_corrupt_checkpoint_can_be_overwritten(saved):
    path, model, tok, _ = saved
    (path / "model.safetensors").write_bytes(b"garbage")
    (path / "tokenizer.json").unlink()
    save(path, model, tok)
    assert _same_weights(model, load(path).model)


def test_save_into_an_empty_or_new_nested_directory(tmp_path, tokenizers):
    tok = tokenizers["bert"]
    (tmp_path / "empty").mkdir()
    save(tmp_path / "empty", _model("bert", tok), tok)
    save(tmp_path / "a" / "b" / "c", _model("bert", tok), tok)
    load(tmp_path / "empty"), load(tmp_path / "a" / "b" / "c")


# ---------------------------------------------------------------- corrupt / mismatched
def test_missing_directory(tmp_path):
    with pytest.raises(CheckpointError, match="no model directory.*bertgpt train"):
        load(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(CheckpointError, match="no model directory"):
        load(tmp_path / "file.txt")


@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "tokenizer.json"])
def test_missing_file(saved, name):
    path = saved[0]
    (path / name).unlink()
    with pytest.raises(CheckpointError, match=f"not a complete checkpoint: {name} is missing"):
        load(path)


def test_missing_training_record_still_loads(saved):
    path = saved[0]
    (path / "training.json").unlink()
    assert load(path).record == {}
    (path / "training.json").write_text("{not json")
    assert load(path).record == {}


@pytest.mark.parametrize("content", ["{bad json", "[1, 2]", '{"format": "x"}', "\xff\xfe",
                                     '{"model": {"arch": "bert", "vocab_size": 10, "colour": 1}}',
                                     '{"model": {"arch": "gpt", "vocab_size": 0}}'])
def test_bad_config_json(saved, content):
    path = saved[0]
    (path / "config.json").write_bytes(content.encode("utf-8", "surrogateescape")
                                       if content != "\xff\xfe" else b"\xff\xfe\x00")
    with pytest.raises(CheckpointError, match=r"config\.json is corrupt or not a bertgpt config"):
        load(path)


@pytest.mark.parametrize("data", [b"garbage", b"", b"\x08\x00\x00\x00\x00\x00\x00\x00{}"])
def test_garbage_weights(saved, data):
    path = saved[0]
    (path / "model.safetensors").write_bytes(data)
    with pytest.raises(CheckpointError, match=r"model\.safetensors is corrupt|do not match"):
        load(path)


def test_truncated_weights(saved):
    path = saved[0]
    raw = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors is corrupt"):
        load(path)


def _edit_config(path, **changes):
    meta = json.loads((path / "config.json").read_text())
    meta["model"].update(changes)
    (path / "config.json").write_text(json.dumps(meta))


def test_weights_of_the_wrong_shape_name_the_tensor(saved):
    path = saved[0]
    _edit_config(path, n_embd=32)
    with pytest.raises(CheckpointError, match=r"do not match config\.json: tok_emb\.weight "
                                              r"has shape \[\d+, 16\] but the config "
                                              r"needs \[\d+, 32\]"):
        load(path)


def test_a_huge_config_is_refused_before_allocating(saved):
    """A corrupt config asking for a giant model is compared on the meta device, so it
    costs no memory (building it for real would need ~26 GB)."""
    path = saved[0]
    _edit_config(path, n_layer=2, n_embd=16384, n_head=16)
    with pytest.raises(CheckpointError, match="do not match"):
        load(path)


def test_weights_of_the_other_architecture(saved):
    path = saved[0]
    other = "gpt" if json.loads((path / "config.json").read_text())["model"]["arch"] == "bert" \
        else "bert"
    _edit_config(path, arch=other)
    with pytest.raises(CheckpointError, match=r"do not match config\.json \((missing|unexpected)"):
        load(path)


def test_missing_or_extra_tensors(saved):
    path = saved[0]
    state = load_file(str(path / "model.safetensors"))
    first = sorted(state)[0]
    save_file({k: v for k, v in state.items() if k != first}, str(path / "model.safetensors"))
    with pytest.raises(CheckpointError, match=f"missing {first}"):
        load(path)
    save_file({**state, "extra.weight": torch.zeros(2)}, str(path / "model.safetensors"))
    with pytest.raises(CheckpointError, match="unexpected extra.weight"):
        load(path)


def test_tokenizer_larger_than_the_model_vocabulary(tmp_path, tokenizers):
    tok = tokenizers["gpt"]
    torch.manual_seed(0)
    small = build(ModelConfig("gpt", vocab_size=tok.vocab_size - 10, n_layer=1, n_head=2,
                              n_embd=16, block_size=16))
    path = save(tmp_path / "m", small, tok)
    with pytest.raises(CheckpointError, match=rf"tokenizer has {tok.vocab_size} tokens but the "
                                              rf"model only {tok.vocab_size - 10}"):
        load(path)


def test_corrupt_tokenizer(saved):
    path = saved[0]
    (path / "tokenizer.json").write_text("garbage")
    with pytest.raises(CheckpointError, match=r"tokenizer\.json"):
        load(path)
    (path / "tokenizer.json").write_text(json.dumps({"model": {"type": "Unigram"}}))
    with pytest.raises(CheckpointError, match=r"tokenizer"):
        load(path)


def test_errors_are_one_line(saved):
    path = saved[0]
    (path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError) as e:
        load(path)
    assert "\n" not in str(e.value)
