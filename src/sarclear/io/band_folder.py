"""A folder of per-band Sentinel-2 files, as SSL4EO-S12, Major-TOM and BigEarthNet distribute them.

Band files are found by name (`B4.tif`, `B04.tif`, `..._B04.tif`, `B04.jp2`; see
`io.product.canonical_band`); other files in the folder (`cloud_mask.tif`, label JSON) are left
alone. What the folder's name and its parents' names say is used for the product's level and
radiometric offset:

- a product name (`S2A_MSIL2A_20220706T085611_N0400_...`): level from `MSIL1C` / `MSIL2A`,
  offset from the processing baseline `N0400` (04.00 and later, and `N9999` reprocessings: 1000);
- SSL4EO-S12's layout, where L1C lives under `s2c/` and L2A under `s2a/` (Wang et al., 2023);
- a sensing date (`20220706T085611`) on or after 25 January 2022, the start of baseline 04.00:
  every product processed since carries the offset, so it is inferred (and said so).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import rasterio
from rasterio.errors import RasterioError

from sarclear.errors import RasterError
from sarclear.io.product import (
    BASELINE_OFFSET_DN,
    ProductBands,
    baseline_from_name,
    canonical_band,
    level_from_name,
    offset_for_baseline,
    scl_resolution,
)

#: File extensions read as band files.
BAND_SUFFIXES: tuple[str, ...] = (".tif", ".tiff", ".jp2")
#: First day of processing baseline 04.00 (ESA, Sentinel-2 processing baseline 04.00 deployment).
BASELINE_0400_START: date = date(2022, 1, 25)
#: SSL4EO-S12 folder names for its two processing levels.
SSL4EO_LEVEL_DIRS: dict[str, str] = {"s2c": "L1C", "s2a": "L2A"}
#: L2A-only products that sit beside the bands in some exports.
L2A_ONLY_FILES: tuple[str, ...] = ("SCL", "AOT", "WVP")


def has_band_files(folder: Path) -> bool:
    """Whether `folder` holds a file named as a band (`B04.tif`, `..._B8A.jp2`), by name alone:
    what `band_files` would read, without opening any."""
    return any(p.suffix.lower() in BAND_SUFFIXES and canonical_band(p.stem) is not None for p in folder.iterdir())


def band_files(folder: Path) -> dict[str, Path]:
    """Canonical band name -> file in `folder`; the finest-resolution file wins when a band appears twice."""
    found: dict[str, tuple[float, Path]] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in BAND_SUFFIXES or not path.is_file():
            continue
        name = canonical_band(path.stem)
        if name is None:
            continue
        size = _pixel_size(path)
        if name in found:
            if size == found[name][0]:
                raise RasterError(folder, f"two files for band {name} at the same resolution ({found[name][1].name}, {path.name}); keep one")
            if size > found[name][0]:
                continue
        found[name] = (size, path)
    return {name: path for name, (_, path) in found.items()}


def _pixel_size(path: Path) -> float:
    try:
        with rasterio.open(path) as src:
            return abs(src.transform.a)
    except RasterioError as exc:
        raise RasterError(path, f"not a readable raster (corrupt or truncated?): {str(exc).splitlines()[0]}") from exc


def read_band_folder(folder: Path) -> ProductBands:
    """The bands of `folder` and what its names tell of level and offset (see the module doc)."""
    files = band_files(folder)
    if not files:
        raise RasterError(folder, "no Sentinel-2 band files here (expected names such as B04.tif, B4.tif or *_B04.tif)")
    names = [folder.name] + [parent.name for parent in folder.parents][:3]
    level, level_source = _level(folder, names, files)
    baseline = next((b for b in map(baseline_from_name, names) if b), None)
    offset, offset_source = None, "unknown (no processing baseline in the folder's name)"
    if baseline is not None:
        offset, offset_source = offset_for_baseline(baseline), f"processing baseline {baseline} in the product name"
    else:
        sensed = next((d for d in map(sensing_date, names) if d), None)
        if sensed is not None and sensed >= BASELINE_0400_START:
            offset = BASELINE_OFFSET_DN
            offset_source = f"sensing date {sensed} (every product since {BASELINE_0400_START} carries it)"
        elif sensed is not None:
            offset_source = f"sensed {sensed}, before baseline 04.00: none unless the product was reprocessed (then give --s2-offset 1000)"
    return ProductBands(
        path=folder,
        bands={name: str(path) for name, path in files.items()},
        level=level,
        level_source=level_source,
        offset=offset,
        offset_source=offset_source,
        baseline=baseline,
        scl=scl_file(folder),
    )


def scl_file(folder: Path) -> str | None:
    """The folder's Scene Classification Layer (`SCL.tif`, `*_SCL_20m.jp2`...), the finest if several."""
    found = [(res, path) for path in sorted(folder.iterdir())
             if path.is_file() and path.suffix.lower() in BAND_SUFFIXES and (res := scl_resolution(path.stem)) is not None]  # fmt: skip
    return str(min(found)[1]) if found else None


def _level(folder: Path, names: list[str], files: dict[str, Path]) -> tuple[str | None, str]:
    for name in names:
        level = level_from_name(name)
        if level:
            return level, f"product name {name}"
    for name in names[1:]:
        if name.lower() in SSL4EO_LEVEL_DIRS:
            return SSL4EO_LEVEL_DIRS[name.lower()], f"SSL4EO-S12 folder {name}/"
    extras = [p.stem for p in folder.iterdir() if any(p.stem.upper().endswith(t) for t in L2A_ONLY_FILES)]
    if extras:
        return "L2A", f"L2A-only layer {extras[0]} beside the bands"
    if "B10" not in files and len(files) == 12:
        return "L2A", "12 bands without B10 (L2A products drop the cirrus band)"
    if "B10" in files:
        return "L1C", "B10 present (only L1C products keep the cirrus band)"
    return None, "unknown (no product name, not all bands)"


def sensing_date(name: str) -> date | None:
    """The first `YYYYMMDDTHHMMSS` date in a product or folder name (BigEarthNet v1's names drop the
    time's leading zero: `S2B_MSIL2A_20170924T93020_69_24`)."""
    match = re.search(r"(20\d{2})(\d{2})(\d{2})T\d{5,6}", name)
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None
