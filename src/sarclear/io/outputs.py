"""Refuse an output path that cannot be written, or that would overwrite an input, before any work.

Why: `predict` and `adapt` read a scene and fit or run a model for minutes before the first byte
is written; a `--out` that names a folder, sits under a file, or names one of the band files being
read must fail in one line at the start, not after the work (or, worse, replace the user's data:
a band file of a per-band folder given as `--s2` is an input too, as are the files a SAFE holds).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from sarclear.errors import ConfigError

#: The files a VRT stacks (`io.vrt`: a product's bands, an S1 pair given as two files).
_VRT_SOURCE = re.compile(r"<SourceFilename[^>]*>([^<]+)</SourceFilename>")


def input_files(inputs: Iterable[str | Path | None], vrt_sources: Iterable[str] = ()) -> set[Path]:
    """Every file the inputs stand for, resolved: a file itself, every file inside a folder (a
    per-band folder, a SAFE), and the files the given VRT texts name."""
    files: set[Path] = set()
    for item in inputs:
        if item is None:
            continue
        path = Path(item).resolve()
        if path.is_dir():
            files.update(p.resolve() for p in path.rglob("*") if p.is_file())
        else:
            files.add(path)
    for text in vrt_sources:
        files.update(Path(name).resolve() for name in _VRT_SOURCE.findall(text or "") if not name.startswith("/vsi"))
    return files


def product_folders(inputs: Iterable[str | Path | None]) -> set[Path]:
    """The inputs that are folders (a per-band product, a SAFE, an S1 folder), resolved: source data
    that no output is written into."""
    return {Path(item).resolve() for item in inputs if item is not None and Path(item).is_dir()}


def check_outputs(outputs: Iterable[Path | None], sources: set[Path], folders: Iterable[Path] = ()) -> None:
    """Exit 2 (one line) if an output is a folder, lies under a file, names an input in `sources`
    (`input_files`), lies inside one of the input `folders` (`product_folders`: a new file in a
    per-band folder is read as one of its bands next time), or is given for two outputs."""
    seen: set[Path] = set()
    folders = set(folders)
    for path in outputs:
        if path is None:
            continue
        resolved = path.resolve()
        if resolved in sources:
            raise ConfigError(f"{path}: output would overwrite an input file")
        inside = next((parent for parent in resolved.parents if parent in folders), None)
        if inside is not None:
            raise ConfigError(f"{path}: would be written into the input product folder {inside}, which is never modified; write it elsewhere")
        if resolved in seen:
            raise ConfigError(f"{path}: given for two different outputs")
        if path.is_dir():
            raise ConfigError(f"{path}: is a directory, expected an output file name")
        blocker = next((parent for parent in resolved.parents if parent.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise ConfigError(f"{path}: cannot be written: {blocker} is a file, not a folder")
        seen.add(resolved)
