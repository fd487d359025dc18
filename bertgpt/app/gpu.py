"""Where live training runs: CUDA when present, else CPU; through `@spaces.GPU` on ZeroGPU.

The job itself (jobs.py) is the same everywhere; this module says what the hardware is
and hands the app the job in the right wrapper: ZeroGPU's decorator, registered while
the Blocks are built, or a process of the app's own (worker.py).
"""
from __future__ import annotations

import math

from .. import settings
from . import jobs


def zero_gpu() -> bool:
    """True on a ZeroGPU Space: `spaces` imports and SPACES_ZERO_GPU is set."""
    if not settings.current().spaces_zero_gpu:
        return False
    try:
        import spaces  # noqa: F401
    except ImportError:
        return False
    return True


def has_gpu() -> bool:
    """A GPU will run training: local CUDA, or ZeroGPU lending one per run."""
    import torch
    return zero_gpu() or torch.cuda.is_available()


def describe() -> str:
    """The hardware in words, for the Train tab."""
    import torch
    if zero_gpu():
        return "a ZeroGPU GPU (lent for each run; the app itself runs on CPU)"
    if torch.cuda.is_available():
        return f"CUDA GPU ({torch.cuda.get_device_name(0)})"
    return f"CPU ({torch.get_num_threads()} threads); no GPU on this server"


def duration(spec: dict, stop=None) -> int:
    """Seconds of GPU to ask ZeroGPU for: the run's budget plus set-up and the last eval.
    Shorter requests queue faster, so never ask for more than the run can use."""
    cap = settings.current().bertgpt_max_seconds
    return int(math.ceil(min(float(spec["seconds"]), cap))) + 30


def trainer():
    """The training job as the app calls it: `spaces.GPU`-wrapped on ZeroGPU, else in a
    process of its own (or as is with BERTGPT_TRAIN_PROCESS=0).
    Called while the Blocks are built (ZeroGPU wants its functions known at start-up)."""
    if zero_gpu():
        import spaces
        return spaces.GPU(duration=duration)(jobs.train_job)
    from . import classroom, worker
    if worker.enabled():  # its own process: clicks never wait on the run (worker.py)
        return worker.InOwnProcess(jobs.train_job, classroom.train_threads())
    return jobs.train_job
