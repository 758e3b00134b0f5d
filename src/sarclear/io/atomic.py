"""Write-to-temporary-then-rename, so an interrupted run never leaves a half-written file or folder."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from sarclear.errors import ConfigError


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds.

    The temporary file lives in the same directory so the final `os.replace` is atomic on POSIX
    (same filesystem). On any exception the temporary file is removed and `path` is untouched.
    The temporary name keeps the suffix, so writers that choose a driver from it still work.
    A `path` that is a device, pipe or socket is refused (ConfigError): the rename would replace it.
    """
    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():
        # a device (/dev/null), pipe or socket: the rename would replace it with a plain file
        raise ConfigError(f"{path}: exists and is not a regular file (a device, a pipe or a socket); "
                          "give the name of a new or ordinary file")  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `path`; swap it onto `path` only if the block succeeds.

    For outputs that are several files read as one (a training pack: arrays and the index that
    describes them): readers see the old folder or the complete new one, never a mix. A folder
    cannot be renamed onto a non-empty one, so the old folder is moved aside first and removed
    after the swap. On any exception the temporary folder is removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        previous = path.with_name(f".{path.name}.old-{os.getpid()}")
        if path.exists():
            os.replace(path, previous)
        os.replace(tmp, path)
        shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
