"""The live training job: trains, probes and hands back the models, on whatever device
the process running it has (CPU, CUDA, or a GPU that ZeroGPU lends; gpu.py decides where
it runs).

On a ZeroGPU Space the job runs in a *forked worker*: its arguments and everything it
yields are pickled across, and nothing it mutates reaches the app. So the job is written
to that contract everywhere, not only on ZeroGPU: it takes a plain `spec` dict, yields
plain metric dicts (a "tick" about twice a second, never a model), and ends with each
model as a CPU `state_dict` + config dict + tokenizer JSON, which `rebuild` turns back
into a `checkpoint.Loaded` in the app's process. The app's own worker process
(worker.py) relies on the same contract, and the tests run that path on this CPU
(tests/test_gpu_dispatch.py).

Stopping crosses the fork too: a threading.Event cannot be pickled, so `StopFlag` is an
Event in this process plus a marker file the worker can see.
"""
from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid

import torch

from ..io.checkpoint import Loaded
from ..model.config import ModelConfig
from ..errors import BertGptError
from ..model.build import build
from ..model.sampling import fill_mask, generate
from ..pretrain.embedspace import embedding_map
from ..pretrain.streams import round_robin
from ..text.tokenizer import Tokenizer
from ..pretrain.loop import TrainConfig, pick_device, train

TICK = 0.5          # seconds between updates sent to the browser (~2 per second)
PROBE_EVERY = 3.0   # seconds between probes of the models being trained
PROBE_TOKENS = 12   # new tokens in each GPT probe

# Fixed probes on the world corpus: facts it states again and again, so a class can
# watch them being learned ("paris" climbs the list, the continuation turns to English).
WORLD_PROBES = {"gpt": ["The capital of France is", "Every morning, she"],
                "bert": ["the capital of france is [MASK] .", "people in japan speak [MASK] .",
                         "after breakfast , he walks to the [MASK] , where he bakes bread ."]}


class StopFlag:
    """Set by the Stop button; read by the training loop at every step.

    In this process it is a threading.Event. Pickled into ZeroGPU's forked worker, the
    Event stays behind and the worker watches a marker file instead (same machine, same
    file system), so Stop works there too.
    """

    def __init__(self):
        self._event: threading.Event | None = threading.Event()
        self.path = os.path.join(tempfile.gettempdir(), f"bertgpt-stop-{uuid.uuid4().hex}")
        self.closed = False  # the run is over: no marker file is needed any more

    def set(self) -> None:
        if self._event is not None:
            self._event.set()
        if not self.closed:
            with open(self.path, "w"):
                pass

    def is_set(self) -> bool:
        if self._event is not None and self._event.is_set():
            return True
        return os.path.exists(self.path)

    def close(self) -> None:
        """The run is over: remove the marker file, and write no new one."""
        self.closed = True
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass

    def __getstate__(self):
        return {"_event": None, "path": self.path, "closed": False}


def _probe(arch: str, net, tok, prompts: list[str]) -> list[dict]:
    """What the model says right now about the fixed probes (greedy, so it is repeatable)."""
    was_training = net.training
    out = []
    try:
        for prompt in prompts:
            try:
                if arch == "gpt":
                    g = generate(net, tok, prompt, max_new_tokens=PROBE_TOKENS, temperature=0.0)
                    out.append({"prompt": prompt, "text": g["text"]})
                else:
                    guesses = fill_mask(net, tok, prompt, top_k=3)
                    out.append({"prompt": prompt, "guesses": [
                        [(c["token"], round(c["prob"], 3)) for c in m["candidates"]]
                        for m in guesses]})
            except BertGptError as e:  # e.g. the probe does not fit this model's block
                out.append({"prompt": prompt, "error": str(e)})
    finally:
        net.train(was_training)
    return out


def _without_notes(events):
    """A training loop's events less its "note" (the Train tab shows none), so that a
    note takes no turn of its own and the loops keep stepping in the same order."""
    for event in events:
        if event["type"] != "note":
            yield event


def train_job(spec: dict, stop=None):
    """Train the models in `spec`, yielding only picklable values.

    spec: archs (["bert"], ["gpt"] or both), text, model (ModelConfig overrides), steps,
    seconds, batch_size, lr, seed, vocab_size, probes ({arch: [prompts]}), and
    embed_groups ({group: [words]}, optional: the words of the embedding map).
    Yields {"type": "tick", "events", "meta", "probes", "maps", "device"} at most every TICK
    seconds, then one {"type": "model", ...} per arch. With two archs the loops take
    turns step by step, so both curves grow side by side on one device.
    """
    cfg = TrainConfig(steps=int(spec["steps"]), time_budget=float(spec["seconds"]),
                      batch_size=int(spec.get("batch_size", 32)), lr=float(spec.get("lr", 3e-3)),
                      eval_every=int(spec.get("eval_every", 50)), seed=int(spec.get("seed", 0)),
                      eval_batches=int(spec.get("eval_batches", 4)),
                      warmup=min(50, max(1, int(spec["steps"]) // 10)))
    device = pick_device(cfg.device).type
    loops, runs, meta = {}, {}, {}
    # One clock for the whole job: the budget is the wall time a student waits, both
    # tokenizers and both data sets of a side-by-side run included (loop.train says why).
    started = time.perf_counter()
    for arch in spec["archs"]:
        loop = train(arch, spec["text"], vocab_size=spec.get("vocab_size", 2000),
                     model=spec["model"], cfg=cfg, stop=stop, started=started)
        start = next(loop)  # the set-up: tokenizer, data, the seeded model
        net, tok = start["model"], start["tokenizer"]  # stay here; the probes read them
        loops[arch], runs[arch] = _without_notes(loop), (net, tok)
        meta[arch] = {"vocab": tok.vocab_size, "params": sum(p.numel() for p in net.parameters()),
                      "config": net.cfg.to_dict()}
    prompts = spec.get("probes") or {}
    groups = spec.get("embed_groups") or {}
    events, done, probes, reported = [], {}, {}, set()
    # The embedding maps go out with the probes (a PCA of ~60 vectors: well under a
    # millisecond); each frame is turned to face the last one sent, kept here.
    maps, shown = {}, {}

    def draw_maps():
        if groups:
            for a, (net, tok) in runs.items():
                shown[a] = embedding_map(net, tok, groups, previous=shown.get(a))
        return dict(shown)

    last_tick = last_probe = time.perf_counter()
    first_probe = True
    yield {"type": "tick", "events": [], "meta": meta, "probes": {}, "device": device}
    for arch, event in round_robin(loops):
        if event["type"] == "done":
            done[arch] = event
        else:
            events.append({"arch": arch, **event})
            reported.add(arch)
        now = time.perf_counter()
        # The first probe waits for an event from every model, so none is shown untrained
        # beside one that has taken a step.
        if now - last_probe >= PROBE_EVERY or (first_probe and len(reported) == len(runs)):
            probes = {a: _probe(a, r[0], r[1], prompts.get(a, [])) for a, r in runs.items()}
            maps = draw_maps()
            last_probe, first_probe = time.perf_counter(), False
        if now - last_tick >= TICK:
            yield {"type": "tick", "events": events, "meta": meta, "probes": probes,
                   "maps": maps, "device": device}
            events, probes, maps, last_tick = [], {}, {}, now
    final_probes = {a: _probe(a, r[0], r[1], prompts.get(a, [])) for a, r in runs.items()}
    yield {"type": "tick", "events": events, "meta": meta, "probes": final_probes,
           "maps": draw_maps(), "device": device}
    for arch, (net, tok) in runs.items():
        state = {k: v.detach().to("cpu", torch.float32) for k, v in net.state_dict().items()}
        yield {"type": "model", "arch": arch, "state_dict": state, "config": net.cfg.to_dict(),
               "tokenizer_json": tok.to_json(), "record": done[arch]["record"],
               "stopped_by": done[arch]["stopped_by"], "device": device}


def rebuild(payload: dict):
    """A job's {"type": "model"} payload -> checkpoint.Loaded, in the app's process."""
    model = build(ModelConfig.from_dict(payload["config"]))
    model.load_state_dict(payload["state_dict"])
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return Loaded(model, Tokenizer.from_json(payload["tokenizer_json"]), payload["record"])
