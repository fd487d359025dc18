"""Where live training runs: CUDA when present, else CPU; through `@spaces.GPU` on ZeroGPU.

The job itself (jobs.py) is the same everywhere; this module says what the hardware is
and hands the app the job in the right wrapper: ZeroGPU's decorator, registered while
the Blocks are built, or a process of the app's own (worker.py).
"""
from __future__ import annotations

import math
import os

from . import jobs

# Caps that keep a class fair; a host with more to spare raises them with env vars. On
# ZeroGPU a visitor's daily GPU quota is minutes, so a run defaults to at most 60 s there.
_ON_ZERO = os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")
MAX_STEPS = int(os.environ.get("BERTGPT_MAX_STEPS", 2000))
MAX_SECONDS = float(os.environ.get("BERTGPT_MAX_SECONDS", 60 if _ON_ZERO else 120))
MAX_TRAIN_BYTES = int(os.environ.get("BERTGPT_MAX_TRAIN_BYTES", 2_000_000))


def zero_gpu() -> bool:
    """True on a ZeroGPU Space: `spaces` imports and SPACES_ZERO_GPU is set."""
    if os.environ.get("SPACES_ZERO_GPU", "").lower() not in ("1", "t", "true"):
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
    return int(math.ceil(min(float(spec["seconds"]), MAX_SECONDS))) + 30


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
