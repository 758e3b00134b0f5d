"""SIGTERM ends a command the way Ctrl-C does: through every clean-up path, so no work file is left.

Slurm (at the time limit or `scancel`), Docker (`docker stop`) and systemd send SIGTERM, whose
default action kills the process on the spot: no `finally`, no `atomic_output` clean-up, so hidden
`.OUT.work-PID.tif` and `.OUT.tmp-PID.tif` files stay behind. `terminate_on_sigterm` (installed by
the CLI around a command) turns the signal into `Terminated`, a `KeyboardInterrupt`, so everything
that already cleans up after Ctrl-C cleans up after SIGTERM too. Training installs its own handler
while it runs (`train.interrupt.StopRequest`: finish the step, write a checkpoint) and restores
this one afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

#: What a shell reports for a process ended by SIGTERM (128 + 15); the CLI exits with it.
EXIT_TERMINATED: int = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM received: raised in the main thread, unwinds like Ctrl-C."""


def _handler(owner: int) -> Callable[[int, FrameType | None], None]:
    """The handler for the process `owner`. A forked child (a DataLoader or curate pool worker)
    inherits it but is not the command: there SIGTERM keeps its default action, so the child ends
    quietly as before instead of printing a `KeyboardInterrupt` traceback."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise Terminated(f"signal {signum}")

    return handle


@contextlib.contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """While active, SIGTERM raises `Terminated` in the main thread (no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _handler(os.getpid()))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


#: The signals that end a command (Ctrl-C, and what Slurm, Docker and systemd send).
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_signals_blocked() -> Iterator[None]:
    """Hold SIGINT/SIGTERM back while a child process or a thread starts.

    A signal handled in the middle of a start leaves it half done: a forked DataLoader worker could
    be killed before it ignores the signal, and a thread pool's worker started by
    `Thread.start()` is added to the pool only after the start returns, so an exception there leaves
    a running thread that the pool's shutdown does not join (predict's read-ahead thread then read
    a dataset the main thread had closed: SIGSEGV). A forked child inherits the blocked mask and
    keeps the signal pending until it unblocks it; the main process receives its copy when the
    block ends. No-op off the main thread and where the platform lacks sigmasks.
    """
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
