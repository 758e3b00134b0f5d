"""Errors a user can cause. The CLI turns every `SarclearInputError` into one line and exit code 2.

Each message names the file (or flag) at fault and, where there is one, the fix, because the
person reading it is usually looking at a terminal on a cluster node, not at a traceback.
"""

from __future__ import annotations

from pathlib import Path


class SarclearInputError(Exception):
    """Bad input or usage: the CLI prints `sarclear: error: <message>` and exits 2."""


class RasterError(SarclearInputError):
    """A raster file is missing, unreadable, truncated, or not what the caller needs."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class GridMismatchError(RasterError):
    """Files that must share one pixel grid (a triplet; an S2 scene and its mask) do not."""


class LayoutError(SarclearInputError):
    """A dataset root or manifest does not hold what the command expects."""


class ConfigError(SarclearInputError):
    """A configuration file or flag has an invalid value."""


class CheckpointError(SarclearInputError):
    """A checkpoint is missing, unreadable, or belongs to another model configuration."""
