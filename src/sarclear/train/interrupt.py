"""Ctrl-C and SIGTERM (what Slurm and Kubernetes send before killing a job) end training cleanly.

The handler only sets a flag; the loop checks it after each step, writes a checkpoint and stops,
so `--resume` continues from the step that was interrupted. A second signal stops at once.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType, TracebackType

from sarclear.signals import STOP_SIGNALS, stop_signals_blocked

__all__ = ["StopRequest", "ignore_stop_signals", "stop_signals_blocked"]


class StopRequest:
    """Context manager that turns SIGINT/SIGTERM into `requested = True` while it is active."""

    SIGNALS = STOP_SIGNALS

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, object] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:  # second signal: give up on the clean stop
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> StopRequest:  # noqa: PYI034 (typing.Self needs Python 3.11)
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]


def ignore_stop_signals(worker_id: int) -> None:
    """DataLoader `worker_init_fn`: workers ignore Ctrl-C and SIGTERM (sent to the whole process
    group); the main process finishes its step and writes a checkpoint first, then shuts them down."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, StopRequest.SIGNALS)
