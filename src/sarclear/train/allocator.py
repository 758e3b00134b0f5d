"""Keep freed memory in the process instead of handing it back to the kernel (glibc's malloc).

Why: a training step allocates and frees the same large buffers every time (bf16 copies of the
weights, float32 gradients, activations). glibc serves blocks above its mmap threshold with fresh
pages from the kernel and returns freed memory above its trim threshold, so every step pays page
faults that zero that memory again (`getrusage` counts them; docs/train.md has the fault counts and
the speed-up). It is what PyTorch's performance guide gets by preloading jemalloc or
tcmalloc, with two `mallopt` calls instead of an extra library.

The cost: the process keeps its peak heap (RSS does not shrink between steps), which a training
process wants anyway. Other C libraries (musl, macOS, Windows) are left alone.
"""

from __future__ import annotations

import ctypes
import sys

#: glibc's `mallopt` parameter numbers (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: The largest mmap threshold glibc accepts on 64-bit systems (HEAP_MAX_SIZE / 2).
MMAP_THRESHOLD = 32 * 2**20
#: Freed memory at the top of the heap is kept up to this much (a C int, so below 2 GiB).
TRIM_THRESHOLD = 2**30


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; True when glibc took both."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # no symbol table to search, or a libc without mallopt
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
