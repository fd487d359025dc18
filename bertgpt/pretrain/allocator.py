"""Keep the C allocator from handing a training step's memory back to the kernel.

Every CPU training step frees and re-allocates the same few-MB activations. glibc's
malloc returns big freed blocks to the kernel (blocks past its mmap threshold, and the
heap's top past its trim threshold), so the next step page-faults them back in, zeroed:
on the throughput benchmark's BERT that was ~1,800 page faults and ~4.5 ms of kernel time
a step. With blocks up to 32 MB taken from the heap and up to 256 MB of free heap kept,
it is ~20 faults (benchmarks/README.md has the step times). The price is that a process
which trained keeps up to that much freed memory for its next allocations.

glibc on Linux only; elsewhere, or with BERTGPT_MALLOC_TUNE=0, nothing changes.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

from .. import settings

# mallopt(3) parameter numbers (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20   # glibc's own ceiling for its adaptive threshold
TRIM_THRESHOLD = 256 << 20


@functools.cache
def keep_freed_memory() -> bool:
    """Tune malloc once per process; True if it was tuned."""
    if not sys.platform.startswith("linux") or not settings.current().bertgpt_malloc_tune:
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return (mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
