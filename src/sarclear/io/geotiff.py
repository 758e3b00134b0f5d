"""Read and write GeoTIFFs with their georeference, failing with one line that names the file.

Everything goes through rasterio so that any GDAL-readable raster works and CRS/transform are never
dropped. Reads return `(array, RasterInfo)` so the grid travels with the pixels. A path may also be
a product (a folder of per-band files, a SAFE, a VV/VH folder): `io.sources` turns it into one
dataset (a VRT on the 10 m grid), and `RasterInfo.source` is what rasterio opens for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.transform import Affine
from rasterio.windows import Window

from sarclear.errors import GridMismatchError, RasterError
from sarclear.io.atomic import atomic_output
from sarclear.io.profiles import gtiff_profile


@dataclass(frozen=True)
class RasterInfo:
    """What a raster is, without its pixels: enough to validate it and to write a twin."""

    path: Path
    count: int
    dtype: str
    width: int
    height: int
    crs: CRS | None
    transform: Affine
    nodata: float | None
    descriptions: tuple[str | None, ...]
    profile: dict[str, Any] = field(repr=False, compare=False)
    #: What rasterio opens: the file's path, or a VRT XML stacking a product's band files.
    source: str = field(default="", repr=False, compare=False)

    @property
    def dataset(self) -> str:
        """The name to pass to `rasterio.open` for these pixels."""
        return self.source or str(self.path)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)


def _open(path: str | Path, source: str | None = None) -> rasterio.DatasetReader:
    """Open `path` (or the dataset `source` stands for it), failing with one line that names `path`."""
    from sarclear.io.sources import dataset_name

    path = Path(path)
    if not path.exists():
        raise RasterError(path, "file not found")
    name = source or dataset_name(path)
    try:
        return rasterio.open(name)
    except RasterioError as exc:
        raise RasterError(path, f"not a readable raster (corrupt or truncated TIFF?): {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    if exc.__cause__ is not None and "previous exception" in str(exc):
        exc = exc.__cause__  # rasterio's "Read failed. See previous exception": GDAL's own words are in the cause
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _info(src: rasterio.DatasetReader, path: Path) -> RasterInfo:
    return RasterInfo(
        source=src.name if src.name != str(path) else "",
        path=path,
        count=src.count,
        dtype=src.dtypes[0],
        width=src.width,
        height=src.height,
        crs=src.crs,
        transform=src.transform,
        nodata=src.nodata,
        descriptions=tuple(src.descriptions),
        profile=dict(src.profile),
    )


def raster_info(path: str | Path, *, source: str | None = None) -> RasterInfo:
    """Open the header only (cheap): band count, dtype, grid, nodata, band descriptions.

    `source` (a VRT XML from `io.sources`) is opened instead of `path`, which still names it in errors.
    """
    path = Path(path)
    with _open(path, source) as src:
        return _info(src, path)


def read_raster(
    path: str | Path,
    *,
    bands: Sequence[int] | None = None,
    window: Window | None = None,
    expect_count: int | Sequence[int] | None = None,
    expect_dtype: str | Sequence[str] | None = None,
    require_finite: bool = False,
    boundless: bool = False,
    fill_value: float | None = None,
) -> tuple[np.ndarray, RasterInfo]:
    """Read bands (1-based, rasterio order) of a file or a window of it as a `(bands, H, W)` array.

    `expect_count`/`expect_dtype` turn the SEN12MS-CR conventions (S1: 2 x float32, S2: 13 x
    uint16) into one-line errors; `require_finite` rejects NaN/inf, which would otherwise poison
    a whole training batch silently. A TIFF whose header opens but whose strips are truncated fails
    at read time; that is reported as corrupt as well.
    """
    path = Path(path)
    with _open(path) as src:
        info = _info(src, path)
        _check_expectations(info, expect_count, expect_dtype)
        if bands is not None:
            bad = [b for b in bands if not 1 <= b <= info.count]
            if bad:
                raise RasterError(path, f"band(s) {bad} requested but the file has {info.count} band(s)")
        try:
            array = src.read(
                indexes=list(bands) if bands is not None else None,
                window=window,
                boundless=boundless,
                fill_value=fill_value,
            )
        except RasterioError as exc:
            raise RasterError(path, f"corrupt or truncated TIFF, pixels unreadable: {_first_line(exc)}") from exc
    if require_finite and np.issubdtype(array.dtype, np.floating):
        bad_count = int(array.size - np.count_nonzero(np.isfinite(array)))
        if bad_count:
            raise RasterError(path, f"{bad_count} NaN/inf pixel value(s); clean or mask the file first")
    return array, info


def read_decimated(path: str | Path, max_px: int, bands: Sequence[int] | None = None) -> np.ndarray:
    """Bands of a raster averaged down to at most `max_px` on its long side, for pictures.

    GDAL serves the read from the file's overviews when it has them (a COG), so a quick-look of a
    whole scene costs a few megabytes whatever the scene's size.
    """
    path = Path(path)
    with _open(path) as src:
        scale = min(1.0, max_px / max(src.width, src.height))
        indexes = list(bands) if bands is not None else list(range(1, src.count + 1))
        return read_averaged(src, path, indexes, (max(1, round(src.height * scale)), max(1, round(src.width * scale))))


def read_averaged(src: rasterio.DatasetReader, path: str | Path, bands: Sequence[int], shape: tuple[int, int]) -> np.ndarray:
    """`bands` of the open `src` block-averaged to `shape` (rows, columns); a read error names `path`."""
    try:
        return src.read(indexes=list(bands), out_shape=(len(bands), *shape), resampling=Resampling.average)
    except RasterioError as exc:
        raise RasterError(Path(path), f"corrupt or truncated TIFF, pixels unreadable: {_first_line(exc)}") from exc


def _check_expectations(
    info: RasterInfo,
    expect_count: int | Sequence[int] | None,
    expect_dtype: str | Sequence[str] | None,
) -> None:
    if expect_count is not None:
        allowed = (expect_count,) if isinstance(expect_count, int) else tuple(expect_count)
        if info.count not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise RasterError(info.path, f"wrong band count: has {info.count}, expected {want}")
    if expect_dtype is not None:
        allowed_t = (expect_dtype,) if isinstance(expect_dtype, str) else tuple(expect_dtype)
        if info.dtype not in allowed_t:
            raise RasterError(info.path, f"wrong data type: {info.dtype}, expected {' or '.join(allowed_t)}")


def check_same_grid(infos: Sequence[RasterInfo]) -> None:
    """Raise if the rasters do not share shape, CRS and transform (to 1e-6 of a pixel's size)."""
    if not infos:
        return
    ref = infos[0]
    for other in infos[1:]:
        if other.shape != ref.shape:
            raise GridMismatchError(
                other.path, f"grid mismatch: {other.width}x{other.height} px but {ref.path.name} is {ref.width}x{ref.height}"
            )
        if (ref.crs is None) != (other.crs is None) or (ref.crs is not None and ref.crs != other.crs):
            raise GridMismatchError(other.path, f"grid mismatch: CRS {other.crs} but {ref.path.name} has {ref.crs}")
        if not other.transform.almost_equals(ref.transform, precision=1e-6 * max(abs(ref.transform.a), 1e-9)):
            raise GridMismatchError(
                other.path, f"grid mismatch: transform {tuple(other.transform)[:6]} differs from {ref.path.name}'s"
            )


def same_grid(a: RasterInfo, b: RasterInfo) -> bool:
    """Whether `b` is on `a`'s grid, by `check_same_grid`'s rule (no need to reproject it)."""
    try:
        check_same_grid([a, b])
    except GridMismatchError:
        return False
    return True


def write_raster(
    path: str | Path,
    array: np.ndarray,
    *,
    crs: CRS | str | None,
    transform: Affine,
    nodata: float | None = None,
    descriptions: Sequence[str] | None = None,
    compress: str = "deflate",
    tiled: bool = True,
    blocksize: int = 256,
    tags: dict[str, str] | None = None,
) -> Path:
    """Write a `(bands, H, W)` array as a GeoTIFF, atomically (temporary file, then rename); `tags` go in its metadata."""
    path = Path(path)
    if array.ndim == 2:
        array = array[None]
    count, height, width = array.shape
    profile = gtiff_profile(count=count, height=height, width=width, dtype=array.dtype, crs=crs, transform=transform,
                            nodata=nodata, compress=compress, blocksize=blocksize if tiled else None)
    with atomic_output(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(array)
        if tags:
            dst.update_tags(**tags)
        if descriptions is not None:
            for index, text in enumerate(descriptions, start=1):
                dst.set_band_description(index, text)
    return path
