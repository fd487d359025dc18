"""A stand-in for Hugging Face's `spaces` package, used by tests/test_space.py only.

The real package cannot be imported with SPACES_ZERO_GPU=true on a machine whose torch
is a CPU build, so the rehearsal puts this folder first on PYTHONPATH. It keeps the two
promises of `spaces.GPU` the app relies on: the decorated function is registered when the
decorator runs (at start-up), and a call runs the function in a worker whose arguments
and yielded values cross by pickling. Each registration and call is appended to the JSON
file named by BERTGPT_STANDIN_RECORD, for the test to read.
"""
import functools
import json
import os
import pickle

RECORD = os.environ["BERTGPT_STANDIN_RECORD"]


def _log(entry: dict) -> None:
    entries = json.loads(open(RECORD).read()) if os.path.exists(RECORD) else []
    with open(RECORD, "w") as f:
        json.dump(entries + [entry], f)


def GPU(task=None, *, duration=None, size=None):
    def wrap(fn):
        probe = duration({"seconds": 20}) if callable(duration) else duration
        _log({"function": fn.__name__, "duration_for_20s": probe})

        @functools.wraps(fn)
        def run(*args, **kwargs):
            asked = duration(*args, **kwargs) if callable(duration) else duration
            _log({"ran": fn.__name__, "duration": asked})
            args, kwargs = pickle.loads(pickle.dumps((args, kwargs)))
            for value in fn(*args, **kwargs):
                yield pickle.loads(pickle.dumps(value))
        run.zerogpu = True
        return run
    return wrap(task) if callable(task) else wrap


def gradio_auto_wrap(task):
    """Gradio asks a Space's `spaces` to wrap every handler; without
    SPACES_GRADIO_AUTO_WRAP the real package hands each one back as it is."""
    return task
