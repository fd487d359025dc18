"""Training (and the fine-tune lab's long runs) in a process of its own, so a class's
clicks never wait behind it.

A run on a thread of the server shares the server's interpreter lock with every click:
a small model's training step is mostly Python, so while one trained, a 20-token
generation for another student took about 1 s at p95 under a 30-student load instead of
the 0.17 s it takes alone (benchmarks/classroom_load.py). A child process has its own
interpreter; reniced (BERTGPT_TRAIN_NICE, default 10) it takes only the CPU the clicks
leave; and whatever memory the run took goes back when it ends.

The job is already written for this: `jobs.train_job` takes a plain spec dict and yields
plain, picklable values (ZeroGPU runs it in a forked worker too). Children come from a
fork server that has imported torch and the job once, so a run starts in well under a
second instead of paying for a fresh interpreter. BERTGPT_TRAIN_PROCESS=0 trains on a
thread of the server instead (what a ZeroGPU Space does anyway, through spaces.GPU).
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import threading
import traceback

from .. import settings
from ..errors import BertGptError

_ctx = None
_ctx_lock = threading.Lock()
# torch._dynamo too: torch imports it lazily, when the first optimizer is made, and that
# took 3.6-4 s of every run's time budget in its fresh child (0.1-0.2 s once preloaded;
# a tiny GPT on this 2-core machine, measured with loop.py's record["setup_seconds"]).
PRELOAD = ["torch", "torch._dynamo", "bertgpt.app.jobs"]


def enabled() -> bool:
    return settings.current().bertgpt_train_process


def context():
    """The multiprocessing context children come from: a fork server (started once, on
    first use, with torch imported) where the platform has one, else spawn."""
    global _ctx
    with _ctx_lock:
        if _ctx is None:
            if "forkserver" in multiprocessing.get_all_start_methods():
                _ctx = multiprocessing.get_context("forkserver")
                _ctx.set_forkserver_preload(PRELOAD)
            else:
                _ctx = multiprocessing.get_context("spawn")
    return _ctx


def _start(proc) -> None:
    """proc.start(), without the child re-running the server's main script. multiprocessing
    makes a child import `__main__` from its file (as `__mp_main__`) so that functions
    defined there can be found; for `python app.py` that would build a whole second app in
    every run's process. The target lives in this package, so the child needs no main: the
    file name is hidden for the moment start() reads it (under the lock, briefly)."""
    import sys
    main = sys.modules.get("__main__")
    with _ctx_lock:
        path = getattr(main, "__file__", None)
        if path is None:
            proc.start()
            return
        del main.__file__
        try:
            proc.start()
        finally:
            main.__file__ = path


def _noop() -> None:
    return None


def warm() -> None:
    """Start the fork server in the background while the app starts, so the first
    student's run does not wait for torch to be imported again."""
    def start():
        try:
            p = context().Process(target=_noop, daemon=True)
            _start(p)
            p.join(120)
        except Exception:  # noqa: BLE001  (a cold start later is still correct)
            traceback.print_exc()
    threading.Thread(target=start, daemon=True, name="bertgpt-warm-worker").start()


def _child(fn, args, kwargs, out, threads: int, nice: int = 0) -> None:
    """In the child: run the generator, send each item pickled (tensors by value: the
    parent may read them after this process is gone), then "end", or the error as text."""
    import torch
    torch.set_num_threads(max(1, threads))
    if nice > 0:
        # Below the server in the OS's eyes: a click that needs a core gets it first, and
        # the run takes whatever is left. (On a thread of the server this backfired: the
        # run could be descheduled while holding the interpreter lock every click needs.)
        try:
            os.nice(nice)
        except OSError:
            pass
    try:
        for item in fn(*args, **kwargs):
            out.put(("item", pickle.dumps(item)))
        out.put(("end", None))
    except BertGptError as e:
        out.put(("bertgpt", str(e)))
    except Exception as e:  # noqa: BLE001  (gr.Error or a bug: the parent decides)
        message = getattr(e, "message", None)
        if message is None:
            traceback.print_exc()  # a bug: leave the details in the server's log
        out.put(("gradio" if message is not None else "bug",
                 message if message is not None else f"{type(e).__name__}: {e}"))


def iterate(fn, *args, stop=None, threads: int = 1, nice: int | None = None, **kwargs):
    """Yield what the generator `fn(*args, **kwargs)` yields, computed in a child process.
    `fn` must be importable by name and its arguments and items picklable. Closed early
    (a cancelled event, an error): the child is asked to stop through `stop` when there
    is one (jobs.StopFlag crosses processes), else ended at once."""
    ctx = context()
    out = ctx.Queue()
    proc = ctx.Process(target=_child,
                       args=(fn, args, kwargs, out, threads,
                             settings.current().bertgpt_train_nice if nice is None else nice),
                       daemon=True, name="bertgpt-worker")
    _start(proc)
    finished = False
    try:
        while True:
            try:
                kind, payload = out.get(timeout=0.5)
            except queue.Empty:
                if not proc.is_alive():
                    raise RuntimeError(f"the worker process ended without a result "
                                       f"(exit code {proc.exitcode})") from None
                continue
            if kind == "item":
                yield pickle.loads(payload)
            elif kind == "end":
                finished = True
                return
            elif kind == "bertgpt":
                raise BertGptError(payload)
            elif kind == "gradio":
                import gradio as gr
                raise gr.Error(payload)
            else:
                raise RuntimeError(payload)
    finally:
        if not finished and proc.is_alive():
            if stop is not None:
                stop.set()  # let the child end at its next step, keeping what it has
                proc.join(10)
            if proc.is_alive():
                proc.kill()
        proc.join(5)
        out.close()


class InOwnProcess:
    """`job(spec, stop)` run in a child process; called the same way, yields the same
    items. `stop` must cross processes (jobs.StopFlag does, through a marker file)."""

    def __init__(self, job, threads: int = 1, nice: int | None = None):
        self.job, self.threads = job, threads
        self.nice = settings.current().bertgpt_train_nice if nice is None else nice

    def __call__(self, spec: dict, stop=None):
        return iterate(self.job, spec, stop, stop=stop, threads=self.threads, nice=self.nice)
