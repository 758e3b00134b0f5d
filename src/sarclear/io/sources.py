"""Any Sentinel input a user brings, turned into one dataset name that rasterio opens like a GeoTIFF.

Kinds of source (one reader module each):

| input | reader | becomes |
| --- | --- | --- |
| a multi-band GeoTIFF (SEN12MS-CR, own exports) | opened as it is | itself |
| a folder of per-band files (SSL4EO-S12, Major-TOM, BigEarthNet) | `io.band_folder` | a VRT on the 10 m grid |
| a SAFE product (`.SAFE` folder or `.zip`, L1C or L2A) | `io.safe` | a VRT on the 10 m grid |
| S1 VV and VH as two files (a folder, or two paths) | `io.s1_pair` | a 2-band VRT (VV, VH) |

Stacked S2 bands are in SEN12MS-CR order (B1 ... B12, without the ones the product lacks, e.g. B10
in L2A) with canonical band descriptions, so the band logic above `io/` finds RGB by name.
The radiometric offset of processing baseline 04.00 is removed inside the VRT (`io.vrt`), so every
reader sees SEN12MS-CR-like DN; `describe_s2` says which level and offset were found and how.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sarclear.errors import RasterError
from sarclear.io.band_folder import band_files, has_band_files, read_band_folder
from sarclear.io.product import S2_BAND_ORDER, ProductBands, canonical_band, level_from_name
from sarclear.io.s1_grd import is_s1_product, prepare_first
from sarclear.io.s1_pair import has_s1_files, s1_files
from sarclear.io.safe import is_safe_product, read_safe
from sarclear.io.vrt import BandFile, stack_vrt


@dataclass(frozen=True)
class S2Radiometry:
    """What is known of an S2 input's radiometry, with how each fact was found (for the log and tags)."""

    kind: str
    level: str | None
    level_source: str
    offset: float
    offset_source: str
    baseline: str | None = None

    def tags(self) -> dict[str, str]:
        """GeoTIFF tags recording what the output was made from."""
        return {
            "SARCLEAR_S2_SOURCE": self.kind,
            "SARCLEAR_S2_LEVEL": self.level or "unknown",
            "SARCLEAR_S2_OFFSET_REMOVED_DN": f"{self.offset:g}",
            "SARCLEAR_S2_OFFSET_SOURCE": self.offset_source,
        }


def as_paths(paths: str | Path | Sequence[str | Path] | None) -> list[Path]:
    """An input given as one path, several (`--s1 VV.tif VH.tif`, `--reference A B`) or none, as a list."""
    if paths is None:
        return []
    return [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]


def is_product(path: Path) -> bool:
    """True for inputs that are not one raster file: a folder, a SAFE product, a zip."""
    return path.is_dir() or path.suffix.lower() in (".zip", ".safe")


def dataset_name(path: str | Path) -> str:
    """What to hand `rasterio.open` for `path`: the file itself, or a VRT XML for a product (offset auto)."""
    path = Path(path)
    if not is_product(path):
        return str(path)
    if not path.exists():
        raise RasterError(path, "not found")
    return _product_dataset(str(path.resolve()), path.stat().st_mtime_ns, None)


def describe_s2(path: str | Path, *, offset: float | None = None, descriptions: Sequence[str | None] = (), count: int = 0) -> tuple[str, S2Radiometry]:
    """The dataset name and radiometry of an S2 input; `offset` (DN, from `--s2-offset`) overrides what is found.

    `descriptions` and `count` are the header of a plain raster file (for its level from band names).
    """
    path = Path(path)
    if is_product(path):
        if not path.exists():
            raise RasterError(path, "not found")
        product = _product(str(path.resolve()), path.stat().st_mtime_ns)
        found = product.offset
        applied = found if offset is None else offset
        source = product.offset_source if offset is None else f"--s2-offset {offset:g}" + (f" (the product says {found:g})" if found is not None and found != offset else "")
        if applied is None:
            applied, source = 0.0, product.offset_source
        name = _product_dataset(str(path.resolve()), path.stat().st_mtime_ns, applied)
        kind = "SAFE product" if is_safe_product(path) else "folder of band files"
        return name, S2Radiometry(kind, product.level, product.level_source, applied, source, product.baseline)
    level, level_source = _file_level(path, descriptions, count)
    if offset:
        names = [canonical_band(d) or d or f"band {i}" for i, d in enumerate(descriptions or [None] * count, start=1)]
        bands = [BandFile(str(name), str(path), i) for i, name in enumerate(names, start=1)]
        return stack_vrt(bands, offset=offset, resampling="nearest", origin=path), S2Radiometry(
            "GeoTIFF", level, level_source, offset, f"--s2-offset {offset:g}"
        )
    return str(path), S2Radiometry("GeoTIFF", level, level_source, 0.0, "none declared (use --s2-offset 1000 for products of baseline 04.00 and later)")


def scene_classification(path: str | Path) -> str | None:
    """GDAL path of an S2 product's Scene Classification Layer (an L2A SAFE's `SCL_20m.jp2`, a
    band folder's `SCL.tif`), None for a plain raster file or a product without one."""
    path = Path(path)
    if not is_product(path) or not path.exists():
        return None
    return _product(str(path.resolve()), path.stat().st_mtime_ns).scl


def s1_pair_dataset(paths: Sequence[Path]) -> str:
    """A 2-band (VV, VH) VRT from two single-band files given in any order."""
    vv, vh = s1_files(list(paths))
    return _s1_vrt(vv, vh, vv.parent)


def _s1_vrt(vv: Path, vh: Path, origin: Path) -> str:
    return stack_vrt([BandFile("VV", str(vv)), BandFile("VH", str(vh))], origin=origin)


@functools.lru_cache(maxsize=64)
def _product(path_text: str, _mtime: int) -> ProductBands:
    path = Path(path_text)
    if is_s1_product(path):
        raise RasterError(path, prepare_first(path))
    if is_safe_product(path):
        return read_safe(path)
    if path.is_dir() and band_files(path):
        return read_band_folder(path)
    raise not_a_product(path)


#: How many product folders `not_a_product` names.
LISTED_PRODUCTS: int = 3


def not_a_product(path: Path) -> RasterError:
    """The refusal of a folder that is no Sentinel-2 product, saying what it is where that is plain:
    a Sentinel-1 folder (VV and VH files: the inputs swapped), or a folder of products (a dataset's
    location or date folder: which one to give)."""
    if path.is_dir() and has_s1_files(path):
        return RasterError(path, "holds VV and VH files: a Sentinel-1 folder, not a Sentinel-2 product; did you swap --s1 and --s2?")
    products = sorted(child.name for child in path.iterdir() if _is_product_folder(child)) if path.is_dir() else []
    if products:
        shown = ", ".join(products[:LISTED_PRODUCTS]) + (f" and {len(products) - LISTED_PRODUCTS} more" if len(products) > LISTED_PRODUCTS else "")
        return RasterError(path, f"holds no band files but {len(products)} product folder(s) ({shown}): give one of them")
    return RasterError(path, "neither a Sentinel-2 product (a folder of band files B04.tif ..., a .SAFE folder or a SAFE .zip) "
                             "nor a Sentinel-1 folder (VV and VH files)")  # fmt: skip


def _is_product_folder(path: Path) -> bool:
    return is_safe_product(path) or (path.is_dir() and (has_band_files(path) or has_s1_files(path)))


@functools.lru_cache(maxsize=64)
def _product_dataset(path_text: str, mtime: int, offset: float | None) -> str:
    path = Path(path_text)
    if path.is_dir() and not is_safe_product(path) and has_s1_files(path) and not band_files(path):
        return _s1_vrt(*s1_files(path), path)
    product = _product(path_text, mtime)
    applied = product.offset if offset is None else offset
    bands = [BandFile(name, product.bands[name]) for name in S2_BAND_ORDER if name in product.bands]
    return stack_vrt(bands, offset=applied or 0.0, origin=path)


def _file_level(path: Path, descriptions: Sequence[str | None], count: int) -> tuple[str | None, str]:
    level = level_from_name(path.name)
    if level:
        return level, f"file name {path.name}"
    names = {canonical_band(d) for d in descriptions if d}
    if {"B2", "B3", "B4", "B11"} <= names:
        if "B10" in names:
            return "L1C", "band descriptions include B10 (only L1C keeps the cirrus band)"
        return "L2A", "band descriptions without B10 (L2A products drop the cirrus band)"
    if count == 13:
        return "L1C", "13-band stack (the SEN12MS-CR L1C layout)"
    return None, "unknown (no product name or band descriptions)"
