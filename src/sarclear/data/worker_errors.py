"""Keep the one-line, exit-2 error of bad data when the data is read in DataLoader worker processes.

torch re-raises an exception from a worker in the main process by calling its class with one
argument, the whole formatted worker traceback (`torch._utils.ExceptionWrapper.reraise`): a
`RasterError(path, problem)` cannot be rebuilt that way and becomes a `RuntimeError` traceback, and
a one-argument error comes back with the traceback as its message. `reported_from_worker` wraps a
dataset's `__getitem__` (or a collate function): in a worker, a `SarclearInputError` leaves as
`WorkerInputError`, whose constructor finds the original one-line message again in what torch
passes it, so the CLI prints exactly what `--workers 0` would have printed. `ErrorSafeLoader` then
shuts the workers down at once, so the command also exits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import TypeVar

from torch.utils.data import DataLoader, get_worker_info

from sarclear.errors import SarclearInputError

F = TypeVar("F", bound=Callable[..., object])


class WorkerInputError(SarclearInputError):
    """A `SarclearInputError` raised in a DataLoader worker, carried to the main process by torch."""

    def __init__(self, message: str) -> None:
        super().__init__(_original_message(message))


def _original_message(message: str) -> str:
    """The message itself, or, inside torch's "Caught ... in DataLoader worker process" text, the last
    traceback line's message (the traceback ends with `module.WorkerInputError: <message>`)."""
    if "DataLoader worker process" not in message:
        return message
    marker = f"{WorkerInputError.__module__}.{WorkerInputError.__qualname__}: "
    for line in reversed(message.splitlines()):
        if line.startswith(marker):
            return line[len(marker) :]
    return message.strip().splitlines()[-1]


def reported_from_worker(function: F) -> F:
    """Decorator: in a worker process, re-raise a `SarclearInputError` as `WorkerInputError`."""

    @functools.wraps(function)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return function(*args, **kwargs)
        except SarclearInputError as exc:
            if get_worker_info() is None or isinstance(exc, WorkerInputError):
                raise
            raise WorkerInputError(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


class ErrorSafeLoader(DataLoader):
    """A `DataLoader` whose workers are shut down as soon as a batch fails, not when the failed
    iterator happens to be garbage-collected.

    torch re-raises a worker's error from a frame that holds the exception (a reference cycle), so
    the iterator, and with it the workers, outlive the error until the cycle collector runs. At
    interpreter exit `multiprocessing` then waits for those workers forever when they ignore
    SIGTERM (training's workers do, `train.interrupt.ignore_stop_signals`): the command printed
    its one-line error and never exited.
    """

    def __iter__(self) -> Iterator[object]:
        batches = super().__iter__()
        try:
            yield from batches
        except BaseException:
            shutdown = getattr(batches, "_shutdown_workers", None)  # the multi-process iterator only
            if shutdown is not None:
                shutdown()
            raise
