"""train.py: the loop learns, honours its limits, and always leaves a usable model."""
import math
import threading

import pytest
import torch

from bertgpt.corpus import generate_world
from bertgpt.errors import ConfigError
from bertgpt.train import TrainConfig, lr_at, pick_device, train

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
