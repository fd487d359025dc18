"""bertgpt/app/gpu.py: training goes through `spaces.GPU` only on ZeroGPU; bertgpt/app/jobs.py:
the job keeps ZeroGPU's forked-worker contract (picklable CPU values in, picklable CPU
values out) on every host, so this CPU exercises the same path a Space runs."""
import multiprocessing
import os
import pickle
import sys
import types

import pytest
import torch

from bertgpt import settings
from bertgpt.text.corpus import generate_world
from bertgpt.model.sampling import fill_mask, generate
from bertgpt.app import gpu, jobs

TINY = dict(n_layer=2, n_head=2, n_embd=32, block_size=32)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One intra-op thread while these tests train: on a busy 2-core box, two OpenMP
    threads that spin-wait for each other make each step 10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def spec(archs=("gpt",), steps=6, **kw):
    return {"archs": list(archs), "text": generate_world(seed=1, size=25_000), "model": TINY,
            "steps": steps, "seconds": 60, "batch_size": 8, "lr": 3e-3, "seed": 0,
            "eval_every": 3, "vocab_size": 300, "probes": jobs.WORLD_PROBES, **kw}


def fake_spaces(calls: list):
    mod = types.ModuleType("spaces")

    def GPU(task=None, *, duration=None, size=None):
        def wrap(fn):
            calls.append({"fn": fn, "duration": duration})

            def wrapped(*a, **k):
                yield from fn(*a, **k)
            wrapped.zerogpu = True
            return wrapped
        return wrap(task) if callable(task) else wrap
    mod.GPU = GPU
    return mod


def test_without_spaces_installed_runs_as_usual(monkeypatch):
    monkeypatch.setitem(sys.modules, "spaces", None)  # `import spaces` raises ImportError
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert not gpu.zero_gpu()
    assert _plain(gpu.trainer())


def _plain(runner) -> bool:
    """Not ZeroGPU: the job itself, in a process of its own (worker.py) unless turned off."""
    from bertgpt.app import worker
    return isinstance(runner, worker.InOwnProcess) and runner.job is jobs.train_job


def test_spaces_installed_but_not_on_zero_gpu(monkeypatch):
    calls = []
    monkeypatch.setitem(sys.modules, "spaces", fake_spaces(calls))
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert not gpu.zero_gpu()
    assert _plain(gpu.trainer())
    assert calls == []


def test_real_spaces_package_without_zero_gpu_is_a_no_op(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    spaces = pytest.importorskip("spaces")
    assert spaces.GPU(duration=gpu.duration)(jobs.train_job) is jobs.train_job
    assert _plain(gpu.trainer())


def test_training_process_can_be_turned_off(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    monkeypatch.setenv("BERTGPT_TRAIN_PROCESS", "0")
    assert gpu.trainer() is jobs.train_job


def test_on_zero_gpu_the_job_is_wrapped_with_a_duration(monkeypatch):
    calls = []
    monkeypatch.setitem(sys.modules, "spaces", fake_spaces(calls))
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert gpu.zero_gpu() and gpu.has_gpu()
    runner = gpu.trainer()
    assert runner is not jobs.train_job and getattr(runner, "zerogpu", False)
    assert calls[0]["fn"] is jobs.train_job
    duration = calls[0]["duration"]
    assert duration({"seconds": 20}) == 50  # the run's budget + set-up and last eval
    cap = settings.current().bertgpt_max_seconds
    assert duration({"seconds": 10_000}) == int(cap) + 30  # never past the cap


def _contains_module(value) -> bool:
    if isinstance(value, torch.nn.Module):
        return True
    if isinstance(value, dict):
        return any(_contains_module(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_contains_module(v) for v in value)
    return False


def test_job_yields_only_picklable_cpu_values_and_models_rebuild():
    items = [pickle.loads(pickle.dumps(item)) for item in jobs.train_job(spec(("bert", "gpt")))]
    assert not any(_contains_module(i) for i in items)
    ticks = [i for i in items if i["type"] == "tick"]
    events = [e for t in ticks for e in t["events"]]
    assert {e["arch"] for e in events} == {"bert", "gpt"}  # both trained, side by side
    assert any(e["type"] == "eval" for e in events)
    assert ticks[0]["meta"]["gpt"]["vocab"] > 0
    assert {"gpt", "bert"} <= set(ticks[-1]["probes"])
    models = {i["arch"]: i for i in items if i["type"] == "model"}
    assert set(models) == {"bert", "gpt"}
    for payload in models.values():
        assert all(t.device.type == "cpu" for t in payload["state_dict"].values())
        assert isinstance(payload["tokenizer_json"], str) and payload["record"]["steps"] == 6
    gpt = jobs.rebuild(models["gpt"])
    assert gpt.model.cfg.n_embd == 32 and not gpt.model.training
    assert generate(gpt.model, gpt.tokenizer, "The", max_new_tokens=3, temperature=0)["tokens"]
    bert = jobs.rebuild(models["bert"])
    assert fill_mask(bert.model, bert.tokenizer, "the capital of france is [MASK] .")


def _losses(events) -> dict:
    """{arch: ([step losses], [validation losses])}; events with no "arch" are one run's."""
    out = {}
    for e in events:
        mine = out.setdefault(e.get("arch"), ([], []))
        if e["type"] == "step":
            mine[0].append(e["loss"])
        elif e["type"] == "eval":
            mine[1].append(e["val_loss"])
    return out


def test_the_job_trains_exactly_as_train_train_does():
    """The job runs train.train itself: for a seed, each model's losses are those of
    train.train alone, also while two models take turns on one device."""
    from bertgpt.pretrain.loop import TrainConfig, train
    job_spec = spec(("bert", "gpt"), steps=6, seed=5)
    items = list(jobs.train_job(job_spec))
    job = _losses(e for i in items if i["type"] == "tick" for e in i["events"])
    cfg = TrainConfig(steps=6, time_budget=60.0, batch_size=8, lr=3e-3, eval_every=3, seed=5,
                      eval_batches=4, warmup=1)  # the job's warm-up: a tenth of the steps
    for arch in ("bert", "gpt"):
        alone = _losses(train(arch, job_spec["text"], vocab_size=300, model=TINY, cfg=cfg))
        assert len(alone[None][0]) == 6 and len(alone[None][1]) == 2
        assert job[arch] == alone[None], arch
    assert job["bert"] != job["gpt"]


def test_a_run_in_its_own_process_trains_stops_and_reports_errors():
    """The app's default on a CPU or CUDA host: the same job in a child process. Its items
    arrive as in-process ones do, Stop reaches it through the marker file, and a bad input
    comes back as the same BertGptError, not as a dead process."""
    from bertgpt.errors import BertGptError
    from bertgpt.app import worker
    job = worker.InOwnProcess(jobs.train_job, threads=1)
    items = list(job(spec(("bert", "gpt")), jobs.StopFlag()))
    assert items[0]["type"] == "tick" and [i["type"] for i in items[-2:]] == ["model", "model"]
    assert jobs.rebuild(items[-1]).record["steps"] == 6
    stop, seen = jobs.StopFlag(), 0
    for item in job(spec(steps=10**6), stop):
        seen += 1
        if seen == 2:
            stop.set()
    assert item["type"] == "model" and item["stopped_by"] == "stop"
    assert item["record"]["steps"] < 10**6
    with pytest.raises(BertGptError, match="block size"):
        list(job(spec(text="far too short"), jobs.StopFlag()))


def test_stop_flag_crosses_a_pickle():
    flag = jobs.StopFlag()
    copy = pickle.loads(pickle.dumps(flag))  # what a forked ZeroGPU worker receives
    assert copy._event is None and not copy.is_set()
    flag.set()
    assert flag.is_set() and copy.is_set()
    flag.close()  # the run is over: the marker goes, and a late Stop writes none
    assert not copy.is_set()
    flag.set()
    assert flag.is_set() and not os.path.exists(flag.path)


def test_stop_ends_the_job_early_and_keeps_the_model():
    flag = jobs.StopFlag()
    worker_flag = pickle.loads(pickle.dumps(flag))
    items = []
    try:
        for item in jobs.train_job(spec(steps=500), worker_flag):
            items.append(item)
            if any(e["type"] == "step" for e in item.get("events", [])):
                flag.set()
    finally:
        flag.close()
    model = next(i for i in items if i["type"] == "model")
    assert model["stopped_by"] == "stop" and model["record"]["steps"] < 500
    loaded = jobs.rebuild(model)
    assert generate(loaded.model, loaded.tokenizer, "The", max_new_tokens=2)["tokens"]


def _worker(job_spec, queue):  # runs in a forked process, as on ZeroGPU
    torch.set_num_threads(1)
    for item in jobs.train_job(job_spec):
        queue.put(pickle.dumps(item))  # plain pickle, as ZeroGPU's queue does
    queue.put(None)


@pytest.mark.skipif(sys.platform != "linux", reason="fork is how ZeroGPU runs the job")
def test_job_through_a_forked_worker():
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_worker, args=(spec(steps=4), queue), daemon=True)
    proc.start()
    items = []
    try:
        while (item := queue.get(timeout=60)) is not None:
            items.append(pickle.loads(item))
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
    payload = next(i for i in items if i["type"] == "model")
    loaded = jobs.rebuild(payload)
    assert loaded.record["steps"] == 4
    assert generate(loaded.model, loaded.tokenizer, "The", max_new_tokens=2)["tokens"]


def _report_nice(spec, stop=None):
    """A job that says how nice the process running it is."""
    yield {"nice": os.nice(0)}


def test_the_training_process_lets_clicks_go_first():
    """The run's process is reniced (BERTGPT_TRAIN_NICE, default 10); the server is not."""
    from bertgpt.app import worker
    base = os.nice(0)
    (item,) = list(worker.InOwnProcess(_report_nice, nice=7)({}, None))
    assert item["nice"] == min(19, base + 7)
    assert os.nice(0) == base
    (item,) = list(worker.InOwnProcess(_report_nice, nice=0)({}, None))
    assert item["nice"] == base
