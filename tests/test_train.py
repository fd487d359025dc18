"""bertgpt/pretrain/loop.py: the loop learns, honours its limits, and always leaves a usable model."""
import math
import threading

import pytest
import torch

from bertgpt.text.corpus import generate_world
from bertgpt.errors import ConfigError
from bertgpt.pretrain.data import GPTData, split_text
from bertgpt.pretrain.loop import TrainConfig, lr_at, pick_device, train

SMALL = dict(n_layer=2, n_head=2, n_embd=64, block_size=48)


@pytest.fixture(scope="module")
def world():
    return generate_world(seed=3, size=60_000)


def _run(arch, text, **cfg):
    events = list(train(arch, text, vocab_size=600, model=SMALL,
                        cfg=TrainConfig(batch_size=16, eval_every=20, **cfg)))
    return [e for e in events if e["type"] == "eval"], events[-1]


@pytest.mark.parametrize("arch", ["gpt", "bert"])
def test_validation_loss_falls(world, arch):
    evals, done = _run(arch, world, steps=60)
    assert done["type"] == "done" and done["stopped_by"] == "steps"
    assert evals[-1]["step"] == 60  # the run always ends on a validation figure
    assert evals[-1]["val_loss"] < evals[0]["val_loss"] - 0.3
    if arch == "gpt":
        assert 0 < evals[-1]["val_bpc"] < evals[0]["val_bpc"]
    else:
        assert "val_nsp_acc" in evals[-1] and evals[-1]["val_mlm_acc"] > 0.05
    steps = [e for e in done["record"]["history"] if e["type"] == "step"]
    assert all(math.isfinite(e["loss"]) and e["tokens_per_s"] > 0 for e in steps)
    assert done["tokenizer"].vocab_size == done["model"].cfg.vocab_size


def test_stop_flag_ends_early_with_a_usable_model(world):
    stop = threading.Event()
    events = []
    for ev in train("gpt", world, vocab_size=600, model=SMALL,
                    cfg=TrainConfig(steps=500, batch_size=8), stop=stop):
        events.append(ev)
        if ev["type"] == "step" and ev["step"] == 3:
            stop.set()
    done = events[-1]
    assert done["stopped_by"] == "stop" and done["step"] == 3
    assert events[-2]["type"] == "eval"  # still ends on a validation figure
    logits = done["model"](torch.tensor([[1, 2, 3]])).logits
    assert torch.isfinite(logits).all()


def test_time_budget_is_honoured(world):
    evals, done = _run("gpt", world, steps=100_000, time_budget=1.5)
    assert done["stopped_by"] == "time"
    assert done["elapsed"] >= 1.5 and done["elapsed"] < 6


def test_lr_schedule_warms_up_then_decays_to_min():
    cfg = TrainConfig(steps=100, lr=1e-3, warmup=10)
    assert lr_at(0, 0.0, cfg) == pytest.approx(1e-4)
    assert lr_at(9, 0.09, cfg) == pytest.approx(1e-3)
    assert lr_at(50, 0.5, cfg) == pytest.approx((1e-3 + 1e-4) / 2)
    assert lr_at(100, 1.0, cfg) == pytest.approx(1e-4)


@pytest.mark.parametrize("bad, match", [
    (dict(steps=0), "steps must be at least 1"),
    (dict(batch_size=0), "batch size must be at least 1"),
    (dict(time_budget=-1), "time budget"),
    (dict(lr=5), "learning rate"),
    (dict(device="tpu"), "device must be"),
])
def test_bad_settings_are_refused(bad, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**bad)


def test_cuda_refused_clearly_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        pick_device("cuda")
    assert pick_device("auto").type in ("cpu", "mps")


def test_single_document_trains_bert_without_nsp():
    text = " ".join(f"The capital of France is Paris number {i}." for i in range(300))
    events = list(train("bert", text, vocab_size=300, model=SMALL,
                        cfg=TrainConfig(steps=5, batch_size=4)))
    assert events[-1]["type"] == "done"
    assert "val_nsp_acc" not in events[-1]["record"]["final"]
    start, note = events[:2]  # the set-up says so, and a "note" event follows it
    assert "NSP" in start["note"] and note == {"type": "note", "message": start["note"]}
    assert events[-1]["record"]["note"] == start["note"]


def test_the_first_event_hands_over_the_model_it_trains(world):
    """"start" comes once, first, with the very model and tokenizer the loop trains,
    untrained yet, so a caller can watch it learn (the app's probes do)."""
    loop = train("gpt", world, vocab_size=600, model=SMALL, cfg=TrainConfig(steps=3,
                                                                           batch_size=4))
    start = next(loop)
    assert start["type"] == "start" and start["note"] == ""
    before = {k: v.clone() for k, v in start["model"].state_dict().items()}
    rest = list(loop)
    assert [e["type"] for e in rest].count("start") == 0 and rest[0]["type"] == "step"
    done = rest[-1]
    assert done["model"] is start["model"] and done["tokenizer"] is start["tokenizer"]
    assert start["model"].cfg.vocab_size == start["tokenizer"].vocab_size
    after = done["model"].state_dict()
    assert any(not torch.equal(before[k], after[k].cpu()) for k in before)  # it trained


def _memorise(keep_best):
    """A tiny text read for hundreds of epochs at a high rate: validation gets worse."""
    text = ("the cat sat on the mat and looked at the dog. " * 20
            + "a bird flew over a river, while snow fell on old hills. " * 2)
    cfg = TrainConfig(steps=240, batch_size=16, lr=1e-2, warmup=5, eval_every=20,
                      keep_best=keep_best)
    events = list(train("gpt", text, tokenizer_kind="char", model=dict(SMALL, block_size=16),
                        cfg=cfg))
    done = events[-1]
    data = GPTData(done["tokenizer"], *split_text(text, cfg.val_fraction), 16, cfg)
    return [e for e in events if e["type"] == "eval"], done, data, cfg


def test_keep_best_hands_back_the_best_validation_weights():
    evals, done, data, cfg = _memorise(keep_best=True)
    best = min(evals, key=lambda e: e["val_loss"])
    assert evals[-1]["val_loss"] > best["val_loss"] + 0.05  # it did overfit, as set up
    assert done["best_step"] == best["step"] < done["step"]
    assert done["record"]["final"] == best
    # The weights handed back are that step's: evaluating them gives the best figure.
    with torch.no_grad():
        again = data.evaluate(done["model"], cfg.batch_size, cfg.eval_batches,
                              torch.device("cpu"))
    assert again["val_loss"] == pytest.approx(best["val_loss"], rel=1e-5)


def test_keep_best_off_ends_on_the_last_weights():
    evals, done, data, cfg = _memorise(keep_best=False)
    assert done["best_step"] == done["step"]
    assert done["record"]["final"] == evals[-1]
    with torch.no_grad():
        again = data.evaluate(done["model"], cfg.batch_size, cfg.eval_batches,
                              torch.device("cpu"))
    assert again["val_loss"] == pytest.approx(evals[-1]["val_loss"], rel=1e-5)
