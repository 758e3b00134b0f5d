"""Progress bars: one place decides where they write and how often they redraw.

In a terminal a bar redraws up to ten times a second. Written to a file (a Slurm log, `2> log`,
CI) every redraw is a carriage-return segment kept forever: a two-minute `adapt` fit left over
1,900 of them on one line. So off a terminal the bars redraw every `LOG_INTERVAL_S` seconds
instead (tqdm still writes the final state when a bar closes). `TQDM_MININTERVAL` in the
environment overrides either: tqdm reads its `TQDM_*` variables itself, unless a value is passed.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

from tqdm import tqdm

#: Seconds between redraws of a bar that does not write to a terminal.
LOG_INTERVAL_S: float = 30.0


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream
        return False


def progress_bar(iterable: Any = None, *, file: TextIO | None = None, **kwargs: Any) -> tqdm:
    """`tqdm(iterable, **kwargs)` on stderr (or `file`), redrawing every `LOG_INTERVAL_S` s off a terminal."""
    stream = file if file is not None else sys.stderr
    if "mininterval" not in kwargs and "TQDM_MININTERVAL" not in os.environ and not _is_terminal(stream):
        kwargs["mininterval"] = LOG_INTERVAL_S
    return tqdm(iterable, file=stream, **kwargs)
