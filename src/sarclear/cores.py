"""How many CPU cores this process may use: the default worker count of curate and pack, and the
parallel build of the compiled cloud detector."""

from __future__ import annotations

import os


def allowed_threads() -> int:
    """Threads for a library's own pool (GDAL's warper): the usable cores, capped by `sarclear --threads N`,
    which the CLI passes on as OMP_NUM_THREADS."""
    cap = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, min(usable_cores(), int(cap))) if cap.isdigit() else usable_cores()


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the OS has one (a Slurm job or
    `taskset` narrows it below the machine's count), else the machine's count, at least 1."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
