"""bertgpt/model/lens.py, the logit lens: at the last layer it is the model's own output
distribution (bundled GPT and BERT), and at every layer it is what transformers' hidden
states give through GPT-2's ln_f + lm_head and BERT's cls.predictions, for models saved
with save_pretrained to a local folder and loaded by bertgpt's loader. No network."""
import pytest
import torch

import bertgpt
from bertgpt.errors import ConfigError
from bertgpt.io.assets import bundled
from bertgpt.model import lens

SENTENCE = "The capital of France is Paris , and people there speak French ."


def _bundled(arch):
    loaded = bundled(arch)
    if loaded is None:
        pytest.skip(f"no bundled {arch.upper()} (assets/models)")
    return loaded


def test_gpt_lens_at_the_last_layer_is_the_next_token_distribution():
    gpt = _bundled("gpt")
    ids = gpt.tokenizer.encode(SENTENCE)
    with torch.no_grad():
        own = gpt.model(torch.tensor([ids])).logits[0].float().softmax(-1)  # (T, V)
    probs = lens.lens_probs(gpt.model, torch.tensor([ids]))  # (L + 1, 1, T, V)
    assert probs.shape == (gpt.model.cfg.n_layer + 1, 1, len(ids), own.shape[-1])
    torch.testing.assert_close(probs[-1, 0], own, atol=1e-6, rtol=1e-5)
    trace = lens.logit_lens(gpt.model, ids, top=3)
    for j in range(len(ids)):  # the trace's last row names the same tokens, same numbers
        top = own[j].topk(3)
        assert [c["id"] for c in trace["top"][-1][j]] == top.indices.tolist()
        assert trace["top"][-1][j][0]["prob"] == pytest.approx(float(top.values[0]), abs=1e-6)
        assert trace["answer_prob"][-1][j] == pytest.approx(float(top.values[0]), abs=1e-6)
        assert trace["kl_to_final"][-1][j] == pytest.approx(0.0, abs=1e-5)
    # The earlier layers are not the output: the lens would show nothing if they were.
    assert max(trace["kl_to_final"][0]) > 0.1


def test_bert_lens_at_the_last_layer_is_the_mlm_distribution():
    bert = _bundled("bert")
    tok = bert.tokenizer
    ids = ([tok.special_id("cls")] + tok.encode("the capital of france is [MASK] .")
           + [tok.special_id("sep")])
    with torch.no_grad():
        own = bert.model(torch.tensor([ids])).mlm_logits[0].float().softmax(-1)
    probs = lens.lens_probs(bert.model, torch.tensor([ids]))
    torch.testing.assert_close(probs[-1, 0], own, atol=1e-6, rtol=1e-5)
    mask = ids.index(tok.special_id("mask"))
    trace = lens.logit_lens(bert.model, ids, top=2, positions=[mask])
    assert trace["positions"] == [mask] and len(trace["top"]) == bert.model.cfg.n_layer + 1
    assert trace["top"][-1][0][0]["id"] == int(own[mask].argmax())


@pytest.mark.parametrize("arch", ["gpt", "bert"])
def test_padded_batch_walks_the_masks_as_the_model_does(arch):
    """Left padding for GPT, right padding for BERT: the walk's last layer must still be
    the model's own output at every real position."""
    loaded = _bundled(arch)
    tok, model = loaded.tokenizer, loaded.model
    a, b = tok.encode(SENTENCE.lower()), tok.encode("paris is")
    pad = tok.special_id("pad") if tok.has("pad") else 0
    ids = torch.full((2, len(a)), pad)
    attn = torch.zeros(2, len(a), dtype=torch.long)
    ids[0], attn[0] = torch.tensor(a), 1
    where = slice(len(a) - len(b), None) if arch == "gpt" else slice(0, len(b))
    ids[1, where], attn[1, where] = torch.tensor(b), 1
    with torch.no_grad():
        out = model(ids, attention_mask=attn)
        own = (out.logits if arch == "gpt" else out.mlm_logits).float().softmax(-1)
    probs = lens.lens_probs(model, ids, attention_mask=attn)[-1]
    real = attn.bool()
    torch.testing.assert_close(probs[real], own[real], atol=1e-6, rtol=1e-5)


def test_bad_requests_are_refused():
    gpt = _bundled("gpt")
    with pytest.raises(ConfigError):
        lens.logit_lens(gpt.model, [], top=1)
    with pytest.raises(ConfigError):
        lens.logit_lens(gpt.model, [1, 2], positions=[2])
    with pytest.raises(ConfigError):
        lens.logit_lens(gpt.model, [1, 2], top=0)


def test_window_keeps_the_asked_position_and_the_limit():
    assert lens.window(5, 8) == [0, 1, 2, 3, 4]
    assert lens.window(30, 8) == list(range(22, 30))       # GPT: the prompt's end
    assert lens.window(30, 8, keep=3) == list(range(0, 8))
    assert lens.window(30, 8, keep=15) == list(range(11, 19))
    assert lens.window(30, 8, keep=29) == list(range(22, 30))


# --- against transformers, for checkpoints in a local folder --------------------------

@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A tiny random-weight GPT2LMHeadModel and BertForMaskedLM, saved as real checkpoints
    are (save_pretrained + tokenizer.json), with the reference models themselves."""
    transformers = pytest.importorskip("transformers")
    from bertgpt.text.corpus import generate_world
    from bertgpt.text.tokenizer import train_tokenizer
    root = tmp_path_factory.mktemp("lens")
    text = generate_world(seed=0, size=30_000)
    bpe, wp = train_tokenizer("bpe", text, 400), train_tokenizer("wordpiece", text, 600)
    torch.manual_seed(0)
    eos = bpe.special_id("eos")
    # initializer_range 0.2: spread-out logits, so the layers' distributions differ
    # clearly and a wrong read-out cannot pass by being near-uniform everywhere.
    gpt = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        n_layer=3, n_embd=64, n_head=4, n_positions=64, vocab_size=bpe.vocab_size,
        bos_token_id=eos, eos_token_id=eos, initializer_range=0.2)).eval()
    bert = transformers.BertForMaskedLM(transformers.BertConfig(
        num_hidden_layers=3, hidden_size=64, num_attention_heads=4, intermediate_size=128,
        max_position_embeddings=64, vocab_size=wp.vocab_size, initializer_range=0.2)).eval()
    out = {"gpt": gpt, "bert": bert}
    for arch, model, tok in (("gpt", gpt, bpe), ("bert", bert, wp)):
        folder = root / arch
        model.save_pretrained(folder)
        tok.save(folder / "tokenizer.json")
        out[f"{arch}-folder"] = folder
    return out


def test_gpt2_lens_matches_transformers_hidden_states_through_ln_f_and_lm_head(folders):
    hf = folders["gpt"]
    loaded = bertgpt.load(folders["gpt-folder"])
    ids = torch.tensor([loaded.tokenizer.encode(SENTENCE)])
    with torch.no_grad():
        ref = hf(input_ids=ids, output_hidden_states=True)
        states = ref.hidden_states
        assert len(states) == hf.config.n_layer + 1
        # transformers' GPT2Model applies ln_f after the last block, and its output
        # recorder replaces hidden_states[-1] with that last_hidden_state
        # (utils/output_capturing.py, tie_last_hidden_states): the last entry is already
        # normalised, the others are raw residual streams. So ln_f goes on every entry
        # but the last one; applying it twice would not match.
        ours_raw = lens.layer_states(loaded.model, ids)
        torch.testing.assert_close(states[-1], loaded.model.ln_f(ours_raw[-1]), atol=1e-5,
                                   rtol=0)
        torch.testing.assert_close(states[1], ours_raw[1], atol=1e-5, rtol=0)  # raw stream
        theirs = [hf.lm_head(hf.transformer.ln_f(h)) for h in states[:-1]]
        theirs.append(hf.lm_head(states[-1]))
    torch.testing.assert_close(theirs[-1], ref.logits, atol=1e-5, rtol=0)
    ours = lens.lens_probs(loaded.model, ids)  # (L + 1, 1, T, V)
    for layer, logits in enumerate(theirs):
        torch.testing.assert_close(ours[layer], logits.softmax(-1), atol=1e-5, rtol=1e-4,
                                   msg=lambda m: f"layer {layer}: {m}")


def test_bert_lens_matches_transformers_hidden_states_through_cls_predictions(folders):
    hf = folders["bert"]
    loaded = bertgpt.load(folders["bert-folder"])
    tok = loaded.tokenizer
    ids = torch.tensor([[tok.special_id("cls")] + tok.encode("anna is a [MASK] in paris .")
                        + [tok.special_id("sep")]])
    with torch.no_grad():
        ref = hf(input_ids=ids, output_hidden_states=True)
        # BERT has no final LayerNorm (post-LN blocks): hidden_states[-1] is the last
        # block's output, the very tensor cls.predictions reads for the logits.
        theirs = [hf.cls.predictions(h) for h in ref.hidden_states]
    torch.testing.assert_close(theirs[-1], ref.logits, atol=1e-5, rtol=0)
    ours = lens.lens_probs(loaded.model, ids)
    assert len(ours) == len(theirs) == hf.config.num_hidden_layers + 1
    for layer, logits in enumerate(theirs):
        torch.testing.assert_close(ours[layer], logits.softmax(-1), atol=1e-5, rtol=1e-4,
                                   msg=lambda m: f"layer {layer}: {m}")
