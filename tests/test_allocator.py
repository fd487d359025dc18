"""bertgpt/pretrain/allocator.py: a training process keeps freed memory instead of faulting it back in."""
import subprocess
import sys

import pytest

# Trains a small BERT (the throughput benchmark's shape) as a training process does and
# prints how many of 30 steps, once the heap has reached its size, page-faulted. Tuned,
# a step reuses what the last one freed: 0-3 of 30 steps faulted in eight runs here (the
# heap growing now and then). Untuned, 14-22 of 30 did, often hundreds of pages each.
PROBE = """
import resource, torch
from bertgpt.pretrain.allocator import keep_freed_memory
from bertgpt.model.config import ModelConfig
from bertgpt.model.build import build
tuned = keep_freed_memory()
torch.manual_seed(0)
model = build(ModelConfig("bert", vocab_size=65, n_layer=4, n_head=4, n_embd=128,
                          block_size=64)).train()
opt = torch.optim.AdamW(model.parameters())
ids = torch.randint(5, 65, (12, 64))
labels = torch.where(torch.rand(12, 64) < 0.15, ids, -100)
def step():
    loss, _ = model.pretraining_loss(ids, None, None, labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
for _ in range(10):
    step()
faulting = 0  # steps that page-faulted in more than 8 pages (32 kB)
for _ in range(30):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step()
    faulting += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before > 8
print(tuned, faulting)
"""


def _probe(env_value):
    env = {"BERTGPT_MALLOC_TUNE": env_value, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         env=env, check=True).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_tuned_malloc_reuses_freed_blocks_instead_of_faulting_them_in():
    tuned, faults = _probe("1")     # steps of 30 that faulted
    off, faults_off = _probe("0")
    assert tuned and not off
    assert faults <= 5 and faults_off >= 8, (faults, faults_off)


def test_train_tunes_the_allocator_on_the_cpu(monkeypatch):
    from bertgpt.pretrain import loop as train_mod
    calls = []
    monkeypatch.setattr(train_mod, "keep_freed_memory", lambda: calls.append(1))
    cfg = train_mod.TrainConfig(steps=1, batch_size=2, eval_every=10, device="cpu")
    text = "the capital of france is paris . " * 40
    list(train_mod.train("gpt", text, model={"n_layer": 1, "n_head": 2, "n_embd": 16,
                                             "block_size": 8}, cfg=cfg))
    assert calls == [1]
