"""Sentinel-1 VV and VH as two files: a folder holding them, or the two paths given together.

SSL4EO-S12 writes `VV.tif` and `VH.tif`, BigEarthNet `<patch>_VV.tif` and `<patch>_VH.tif`; GRD
exports from SNAP or GEE are often the same. The polarisation is read from the end of the file
stem (or the band description), so the two files can be given in any order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import rasterio

from sarclear.errors import RasterError

_POL_IN_STEM = re.compile(r"(?:^|[_\-.])(VV|VH)(?:[_\-.](?:db|dB|DB))?$", re.IGNORECASE)
_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt")


def polarisation(path: Path) -> str | None:
    """`VV` / `VH` from the file stem (`VV.tif`, `x_VH.tif`, `x_vv_db.tif`) or its single band's description."""
    match = _POL_IN_STEM.search(path.stem)
    if match:
        return match.group(1).upper()
    try:
        with rasterio.open(path) as src:
            text = (src.descriptions[0] or "") if src.count == 1 else ""
    except rasterio.errors.RasterioError:
        return None
    return text.strip().upper() if text.strip().upper() in ("VV", "VH") else None


def s1_files(paths: Path | Sequence[Path]) -> tuple[Path, Path]:
    """(VV file, VH file) from a folder or a pair of files; raises naming what is missing."""
    if isinstance(paths, Path):
        folder = paths
        candidates = [p for p in sorted(folder.iterdir()) if p.suffix.lower() in _SUFFIXES and p.is_file()]
    else:
        folder = Path(paths[0]).parent
        candidates = [Path(p) for p in paths]
    found: dict[str, Path] = {}
    for path in candidates:
        pol = polarisation(path)
        if pol is None:
            continue
        if pol in found:
            raise RasterError(path, f"a second {pol} file beside {found[pol].name}; give one VV and one VH file")
        found[pol] = path
    missing = [pol for pol in ("VV", "VH") if pol not in found]
    if missing:
        where = paths if isinstance(paths, Path) else folder
        raise RasterError(where, f"no {' or '.join(missing)} file found (expected names ending in _VV / _VH, e.g. VV.tif and VH.tif)")
    return found["VV"], found["VH"]


def has_s1_files(folder: Path) -> bool:
    """True when `folder` holds files named as VV and VH polarisations."""
    return any(p.suffix.lower() in _SUFFIXES and _POL_IN_STEM.search(p.stem) for p in folder.iterdir())
