"""Train live: press Train, watch the loss fall and the probes turn from noise into
language; the models you train become "own" models in the other tabs.

How a run flows. The handler validates the inputs (caps, text) and starts the job
(`gpu.trainer()`: the same picklable job on CPU, CUDA and ZeroGPU) in a thread that
fills a per-run `Run` record. The handler itself only renders that record about twice a
second, so a slow browser never slows training. Stop sets the run's `StopFlag`: the loop
ends at its next step, runs one last validation, and the model is kept. Stop also
cancels the streaming event (and takes a queued one out of the queue); its own handler
waits for the run to finish and hands the model over, so nothing is lost either way.
"""
from __future__ import annotations

import contextvars
import re
import shutil
import tempfile
import threading
import time
import traceback
from pathlib import Path

import gradio as gr

from .. import settings
from ..errors import BertGptError
from . import classroom, gpu, jobs
from . import train_view as view
from .i18n import say, t
from ..pretrain.embedspace import WORLD_GROUPS

ID = "train"
LABEL = t("train.title")

# name -> (label, ModelConfig overrides, needs a GPU)
SIZES = {
    "tiny": (t("train.size.tiny"),
             dict(n_layer=2, n_head=2, n_embd=64, block_size=64), False),
    "mini": (t("train.size.mini"),
             dict(n_layer=4, n_head=4, n_embd=128, block_size=64), False),
    "small": (t("train.size.small"),
              dict(n_layer=6, n_head=6, n_embd=384, block_size=128), True),
    "medium": (t("train.size.medium"),
               dict(n_layer=8, n_head=8, n_embd=512, block_size=256), True),
}
ARCHS = [("BERT", "bert"), ("GPT", "gpt"), (t("train.arch.both"), "both")]
CORPORA = [(t("train.corpus.world"), "world"), (t("train.corpus.paste"), "paste"),
           (t("train.corpus.upload"), "upload")]
LIMITS = [(t("train.limit.time"), "time"), (t("train.limit.steps"), "steps")]
STOP_WAIT = 60.0  # seconds Stop waits for the loop's last step and validation


class Run:
    """One training run of one session: what the job has reported, and how to stop it."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.stop = jobs.StopFlag()
        self.lock = threading.Lock()
        self.train: dict[str, list] = {a: [] for a in spec["archs"]}  # arch -> [(step, loss)]
        self.val: dict[str, list] = {a: [] for a in spec["archs"]}
        self.last: dict[str, dict] = {}     # arch -> latest step event
        self.last_eval: dict[str, dict] = {}
        self.meta: dict[str, dict] = {}     # arch -> vocab, params, config
        self.probes: dict[str, list] = {}
        self.maps: dict[str, dict] = {}     # arch -> latest embedding map (embedspace.py)
        self.maps_version = 0               # +1 with each new map: the page redraws only then
        self.device = "…"
        self.models: dict = {}              # arch -> checkpoint.Loaded, when the run ends
        self.stopped_by: dict[str, str] = {}
        self.zip_path: str | None = None
        self.error: str | None = None       # a message for the page, as it came
        self.bug: str | None = None         # or a bug's type and text, said in the page's words
        self.finished = threading.Event()
        self.delivered = False  # the final outputs (models, zip) reached the page

    def absorb(self, tick: dict) -> None:
        with self.lock:
            self.meta, self.device = tick["meta"] or self.meta, tick["device"]
            self.probes.update(tick["probes"])
            if tick.get("maps"):
                self.maps.update(tick["maps"])
                self.maps_version += 1
            for e in tick["events"]:
                arch = e["arch"]
                if e["type"] == "step":
                    # BERT's curve is its MLM loss, comparable with validation and ln V.
                    self.train[arch].append((e["step"], e.get("mlm_loss", e["loss"])))
                    self.last[arch] = e
                elif e["type"] == "eval":
                    self.val[arch].append((e["step"], e["val_loss"]))
                    self.last_eval[arch] = e

    def cleanup(self) -> None:
        if self.zip_path:
            shutil.rmtree(Path(self.zip_path).parent, ignore_errors=True)


def _produce(run: Run, job, done=None) -> None:
    """The thread behind a run: drive the job, keep what it reports, rebuild the models;
    `done()` at the end frees the run's place in the class's line (classroom.TrainGate)."""
    try:
        import torch
        torch.set_num_threads(classroom.train_threads())  # this thread only: a core stays free
        for item in job(run.spec, run.stop):
            if item["type"] == "tick":
                run.absorb(item)
            else:
                run.models[item["arch"]] = jobs.rebuild(item)
                run.stopped_by[item["arch"]] = item["stopped_by"]
        run.zip_path = _zip(run.models)
    except BertGptError as e:
        run.error = str(e)
    except gr.Error as e:
        run.error = e.message
    except Exception as e:  # a bug: say so plainly, log the rest
        traceback.print_exc()
        run.bug = f"{type(e).__name__}: {e}"
    finally:
        run.stop.close()
        run.finished.set()
        if done is not None:
            done()


def _zip(models: dict) -> str | None:
    """The run's checkpoints (checkpoint.save directories) in one zip to download.

    Zips live in one folder under the temp dir; any older than a session's lifetime are
    removed here, so disk use stays bounded even when a session ends without its State's
    delete callback (a server restart, Gradio dropping sessions past its capacity)."""
    from ..io.checkpoint import save
    if not models:
        return None
    base = Path(tempfile.gettempdir()) / "bertgpt-runs"
    base.mkdir(exist_ok=True)
    for old in base.iterdir():
        if time.time() - old.stat().st_mtime > settings.current().bertgpt_session_ttl:
            shutil.rmtree(old, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix="run-", dir=base))
    for arch, loaded in models.items():
        save(folder / "models" / f"{arch}-own", loaded.model, loaded.tokenizer, loaded.record)
    path = shutil.make_archive(str(folder / "bertgpt-own-models"), "zip", folder / "models")
    shutil.rmtree(folder / "models", ignore_errors=True)
    return path


def _text_probes(text: str) -> dict:
    """Probes for the user's own text: a sentence from it, half given to GPT as a
    prompt, one middle word masked for BERT."""
    # re.split is one pass; findall(r"[^.!?\n]+[.!?]") retried from every position and took
    # minutes on a 1 MB paste with no full stop (quadratic), holding a worker thread.
    parts = re.split(r"([.!?\n])", text)
    for body, end in zip(parts[::2], parts[1::2]):
        if end == "\n":
            continue
        words = (body + end).split()
        if 5 <= len(words) <= 25:
            mid = len(words) // 2
            masked = words[:mid] + ["[MASK]"] + words[mid + 1:]
            return {"gpt": [" ".join(words[:mid])], "bert": [" ".join(masked)]}
    return {}


def _failed(run: Run, lang: str) -> str | None:
    """What went wrong with the run, in the page's language; None if nothing did."""
    if run.bug:
        return say(lang, "train.error.failed", detail=run.bug)
    return run.error


def _corpus(corpus, world_k, pasted, upload, seed, lang="en") -> tuple[str, dict]:
    from ..text.corpus import generate_world, load_text
    try:
        if corpus == "world":
            size = int(min(max(float(world_k or 200), 20), 2000) * 1000)
            return generate_world(seed=int(seed), size=size), jobs.WORLD_PROBES
        if corpus == "paste":
            text = load_text(pasted or "", max_bytes=settings.current().bertgpt_max_train_bytes)
        elif corpus == "upload":
            if not upload:
                raise gr.Error(say(lang, "train.error.upload_first"))
            text = load_text(Path(upload), max_bytes=settings.current().bertgpt_max_train_bytes)
        else:
            raise gr.Error(say(lang, "train.error.corpus", corpus=repr(corpus)))
    except BertGptError as e:  # the reason itself comes from text/corpus.py, in English
        raise gr.Error(say(lang, "train.error.text", reason=str(e))) from None
    return text, _text_probes(text)


def make_spec(arch, size, corpus, world_k, pasted, upload, limit, seconds, steps,
              batch, lr, seed, lang="en") -> dict:
    """Check every input against the caps; a gr.Error (in `lang`) says what to change."""
    if arch not in ("bert", "gpt", "both"):
        raise gr.Error(say(lang, "train.error.arch"))
    if size not in SIZES:
        raise gr.Error(say(lang, "train.error.size", size=repr(size), sizes=", ".join(SIZES)))
    if SIZES[size][2] and not gpu.has_gpu():
        raise gr.Error(say(lang, "train.error.needs_gpu", size=size))
    try:
        seconds, steps, batch = float(seconds), int(steps), int(batch)
        lr, seed = float(lr), int(seed)
    except (TypeError, ValueError):
        raise gr.Error(say(lang, "train.error.numbers")) from None
    env = settings.current()
    max_steps, max_seconds = env.bertgpt_max_steps, env.bertgpt_max_seconds
    if limit == "time":
        if not 1 <= seconds <= max_seconds:
            raise gr.Error(say(lang, "train.error.seconds", max=f"{max_seconds:g}"))
        steps = max_steps
    elif limit == "steps":
        if not 1 <= steps <= max_steps:
            raise gr.Error(say(lang, "train.error.steps", max=max_steps))
        seconds = max_seconds  # a steps run is still capped in time
    else:
        raise gr.Error(say(lang, "train.error.limit"))
    if not 1 <= batch <= 256 or not 0 < lr < 1:
        raise gr.Error(say(lang, "train.error.batch_lr"))
    text, probes = _corpus(corpus, world_k, pasted, upload, seed, lang)
    gpu_run = gpu.has_gpu()
    # Validation on 2 batches: a few dots per run on a CPU, cheap enough to do often.
    every = max(5, min(100, steps // 12)) if limit == "steps" else (100 if gpu_run else 10)
    return {"archs": ["bert", "gpt"] if arch == "both" else [arch], "text": text,
            "model": dict(SIZES[size][1]), "steps": steps, "seconds": seconds,
            "batch_size": batch, "lr": lr, "seed": seed, "eval_every": every, "eval_batches": 2,
            "probes": probes,
            # The embedding map's words are the world corpus's own: a pasted text may
            # not have them, or have them too rarely to place.
            "embed_groups": WORLD_GROUPS if corpus == "world" else {}}


def _merge(own: dict | None, run: Run) -> dict | None:
    if not run.models:
        return own
    merged = dict(own or {})
    merged.update(run.models)
    return merged


def build(ctx) -> dict:
    env = settings.current()
    max_steps, max_seconds = env.bertgpt_max_steps, env.bertgpt_max_seconds
    job = gpu.trainer()
    # This app's line of training runs.
    gate = classroom.TrainGate(env.bertgpt_train_concurrency, env.bertgpt_train_queue)
    sizes = [(label, name) for name, (label, _, big) in SIZES.items() if gpu.has_gpu() or not big]
    gr.Markdown(t("train.caps.md", device=gpu.describe(), steps=max_steps,
                  seconds=f"{max_seconds:g}", kb=f"{env.bertgpt_max_train_bytes // 1000:,}",
                  runs=env.bertgpt_train_concurrency))
    with gr.Row():
        arch = gr.Radio(ARCHS, value="gpt", label=t("train.arch"))
        size = gr.Radio(sizes, value="mini", label=t("train.size"))
    with gr.Row():
        corpus = gr.Radio(CORPORA, value="world", label=t("train.corpus"))
        world_k = gr.Slider(20, 2000, value=200, step=10,
                            label=t("train.world_k"))
    pasted = gr.Textbox(lines=6, label=t("train.pasted"),
                        visible=False, max_length=env.bertgpt_max_train_bytes)
    upload = gr.File(file_types=[".txt"], type="filepath", label=t("train.upload"),
                     visible=False)
    with gr.Row():
        limit = gr.Radio(LIMITS, value="time", label=t("train.limit"))
        seconds = gr.Slider(2, max_seconds, value=min(30, max_seconds), step=1,
                            label=t("train.seconds"))
        steps = gr.Slider(5, max_steps, value=min(300, max_steps), step=5,
                          label=t("train.steps"), visible=False)
    with gr.Accordion(t("train.more"), open=False):
        with gr.Row():
            batch = gr.Slider(4, 128, value=32, step=4, label=t("train.batch"))
            lr = gr.Number(value=3e-3, label=t("train.lr"))
            seed = gr.Number(value=0, precision=0, label=t("train.seed"),
                             minimum=0, maximum=2**31 - 1)
    with gr.Row():
        start = gr.Button(t("train.start"), variant="primary")
        stop = gr.Button(t("train.stop"), variant="stop")
    status = gr.Markdown(t("train.status.ready.md"))
    plot = gr.Plot(label=t("train.plot"), show_label=False)
    probes = gr.Markdown()
    embed = gr.Plot(label=t("train.map"), show_label=False)
    download = gr.File(label=t("train.download"), interactive=False)
    run_state = gr.State(None, time_to_live=env.bertgpt_session_ttl, delete_callback=_forget)

    def show_corpus(choice):
        return (gr.update(visible=choice == "world"), gr.update(visible=choice == "paste"),
                gr.update(visible=choice == "upload"))

    def show_limit(choice):
        return gr.update(visible=choice == "time"), gr.update(visible=choice == "steps")

    corpus.change(show_corpus, corpus, [world_k, pasted, upload], api_visibility="private",
                  queue=False, show_progress="hidden")
    limit.change(show_limit, limit, [seconds, steps], api_visibility="private",
                 queue=False, show_progress="hidden")

    def train_live(arch, size, corpus, world_k, pasted, upload, limit, seconds, steps,
                   batch, lr, seed, own, previous, lang="en"):
        """Train BERT, GPT or both; stream the loss, speed, probes and embedding map; keep
        the models. Every word it writes is in `lang`, the page's language."""
        spec = make_spec(arch, size, corpus, world_k, pasted, upload, limit, seconds, steps,
                         batch, lr, seed, lang)
        if previous is not None:  # one run per session: a new one replaces the last
            previous.stop.set()
            previous.cleanup()
        try:
            ticket = gate.join()
        except classroom.ClassBusy as e:
            raise gr.Error(str(e)) from None
        started = False
        try:  # wait for a free slot in plain sight: "you are number N"
            while not gate.wait(ticket, jobs.TICK):
                yield (classroom.waiting_text(gate.position(ticket), gate.slots), gr.skip(),
                       gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip())
            run = Run(spec)
            threading.Thread(target=contextvars.copy_context().run,
                             args=(_produce, run, job, lambda: gate.leave(ticket)),
                             daemon=True, name="bertgpt-train").start()
            started = True
        finally:  # cancelled or gone while waiting: give the place in line back
            if not started:
                gate.leave(ticket)
        drawn = [-1]  # the maps_version the page shows

        def shown(final=False):  # what the page shows of the run now
            # The map changes only with the probes (every few seconds): sent only then, so
            # the browser does not re-lay out ~60 labels per model twice a second.
            fresh = final or run.maps_version != drawn[0]
            drawn[0] = run.maps_version
            return (view.status(run, lang, final), view.figure(run, lang),
                    view.probes(run, lang), view.embedding(run, lang) if fresh else gr.skip())
        try:
            yield *shown(), None, gr.skip(), run
            while not run.finished.wait(jobs.TICK):
                yield *shown(), gr.skip(), gr.skip(), gr.skip()
            run.delivered = True
            if _failed(run, lang):
                raise gr.Error(_failed(run, lang))
            yield *shown(final=True), run.zip_path, _merge(own, run), run
        finally:  # cancelled or the client went away: end the loop too
            if not run.finished.is_set():
                run.stop.set()

    def stop_training(run, own, lang="en"):
        """Stop the session's run at its next step and keep the model trained so far."""
        skip = (gr.skip(),) * 5
        if run is None or run.delivered:
            return say(lang, "train.status.nothing"), *skip
        run.stop.set()
        if not run.finished.wait(STOP_WAIT):
            return say(lang, "train.status.stopping"), *skip
        run.delivered = True  # in a browser, Stop also cancelled the stream: hand over here
        if _failed(run, lang):
            raise gr.Error(_failed(run, lang))
        return (view.status(run, lang, final=True), view.figure(run, lang),
                view.probes(run, lang), view.embedding(run, lang), run.zip_path,
                _merge(own, run))

    inputs = [arch, size, corpus, world_k, pasted, upload, limit, seconds, steps, batch, lr, seed]
    # The gate, not Gradio's queue, holds the line (so a waiting student sees their place
    # and the line has an end); Gradio only bounds how many handlers exist at once.
    train_event = start.click(
        train_live, inputs + [ctx.own, run_state, ctx.lang],
        [status, plot, probes, embed, download, ctx.own, run_state], api_name="train",
        concurrency_limit=gate.slots + gate.max_waiting + 2, concurrency_id="train-gate",
        show_progress="full", show_progress_on=[plot])
    stop.click(stop_training, [run_state, ctx.own, ctx.lang],
               [status, plot, probes, embed, download, ctx.own],
               api_name="stop_training", cancels=[train_event], concurrency_limit=None,
               show_progress="hidden")
    return {"arch": arch, "size": size, "corpus": corpus, "limit": limit, "seconds": seconds,
            "steps": steps, "seed": seed}


def _forget(run) -> None:
    """A session's run state expired or its tab closed: end the run, drop its files."""
    if run is not None:
        run.stop.set()
        run.cleanup()
