"""Open and check a prediction's input files before any pixel is processed or any output created.

Every user mistake that can be seen from headers and a small sample of pixels fails here, with one
line naming the file: a missing file, an S2 stack with the wrong band count for the checkpoint's
model, S1 in linear power instead of dB, an S1 scene that does not overlap the S2 scene, a mask on
another grid. Decisions that are not errors (which bands are RGB, reprojecting S1) are logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import array_bounds
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from sarclear.data.bands import S1_BANDS, _normalise_name, s2_band_indexes
from sarclear.errors import ConfigError, GridMismatchError, RasterError
from sarclear.io.geotiff import RasterInfo, check_same_grid, raster_info

Log = Callable[[str], None]

#: S1 is called linear power when this share of its sampled pixels lies in (0, 1]: backscatter in
#: dB is negative over almost all land and water (SEN12MS-CR VV is ~ -25..0 dB), while sigma0 in
#: linear units is positive and mostly below 1.
LINEAR_SHARE: float = 0.8
#: S2 floats whose 99th percentile is below this are reflectance in [0, 1], not DN (x 10000).
REFLECTANCE_P99_MAX: float = 2.0
#: Pixels sampled per check: a 3 x 3 grid of 128 px windows, enough for a robust share, cheap on any scene.
SAMPLE_GRID, SAMPLE_SIZE = 3, 128


@dataclass(frozen=True)
class SceneInputs:
    """The checked inputs of one prediction: files, the bands to read, and how S1 meets the S2 grid."""

    s2: RasterInfo
    model_bands: tuple[int, ...]
    rgb_bands: tuple[int, int, int]
    s1: RasterInfo | None
    s1_bands: tuple[int, int]
    s1_warp: bool
    mask: RasterInfo | None

    @property
    def shape(self) -> tuple[int, int]:
        return self.s2.shape


def inspect_scene(
    s2_path: str | Path,
    s1_path: str | Path | None,
    *,
    use_sar: bool,
    bands: str,
    mask_path: str | Path | None = None,
    log: Log = lambda _: None,
) -> SceneInputs:
    """Check the files against the model (`use_sar`, `bands` from its spec) and choose what to read."""
    s2 = raster_info(s2_path)
    rgb_bands, how = s2_band_indexes(s2, "rgb")
    log(f"{s2.path.name}: {how}")
    model_bands: tuple[int, ...] = rgb_bands
    if bands == "all13":
        if s2.count != 13:
            raise RasterError(s2.path, f"has {s2.count} band(s) but the checkpoint's model was trained on all 13 L1C bands; give the 13-band stack")
        model_bands = tuple(range(1, 14))
    _check_s2_scale(s2, rgb_bands)
    s1, s1_bands, warp = None, (1, 2), False
    if use_sar:
        if s1_path is None:
            raise ConfigError("--s1 is required: the checkpoint's model uses Sentinel-1 SAR as input")
        s1 = raster_info(s1_path)
        s1_bands = _s1_band_indexes(s1)
        _check_s1_units(s1, s1_bands)
        warp = _needs_warp(s1, s2, log)
    elif s1_path is not None:
        log(f"{Path(s1_path).name}: ignored, the checkpoint's model is optical-only")
    mask = None
    if mask_path is not None:
        mask = raster_info(mask_path)
        if mask.count != 1:
            raise RasterError(mask.path, f"a cloud mask needs 1 band (nonzero = cloud), has {mask.count}")
        check_same_grid([s2, mask])
    return SceneInputs(s2, model_bands, rgb_bands, s1, s1_bands, warp, mask)


def _s1_band_indexes(s1: RasterInfo) -> tuple[int, int]:
    """VV and VH by band description when the file names them, else bands 1 and 2 (SEN12MS-CR order)."""
    names = [_normalise_name(d) for d in s1.descriptions]
    if all(b in names for b in S1_BANDS):
        return names.index("VV") + 1, names.index("VH") + 1
    if s1.count != 2:
        raise RasterError(s1.path, f"wrong band count: has {s1.count}, expected 2 (VV, VH in dB) or bands described VV and VH")
    return 1, 2


def sample_pixels(info: RasterInfo, bands: tuple[int, ...]) -> np.ndarray:
    """Finite, non-nodata values from a 3 x 3 grid of small windows spread over the raster."""
    h, w = info.shape
    size_y, size_x = min(SAMPLE_SIZE, h), min(SAMPLE_SIZE, w)
    tops = np.linspace(0, h - size_y, SAMPLE_GRID).astype(int)
    lefts = np.linspace(0, w - size_x, SAMPLE_GRID).astype(int)
    parts = []
    try:
        with rasterio.open(info.path) as src:
            for top in tops:
                for left in lefts:
                    parts.append(src.read(list(bands), window=Window(int(left), int(top), size_x, size_y)).ravel())
    except rasterio.errors.RasterioError as exc:
        raise RasterError(info.path, f"corrupt or truncated TIFF, pixels unreadable: {str(exc).splitlines()[0]}") from exc
    values = np.concatenate(parts).astype(np.float64)
    keep = np.isfinite(values)
    if info.nodata is not None and np.isfinite(info.nodata):
        keep &= values != info.nodata
    return values[keep]


def _check_s1_units(s1: RasterInfo, bands: tuple[int, int]) -> None:
    values = sample_pixels(s1, bands)
    if values.size == 0:
        return
    linear = float(np.mean((values > 0) & (values <= 1)))
    if linear >= LINEAR_SHARE:
        raise RasterError(s1.path, f"looks like linear power ({linear:.0%} of sampled values in (0, 1]), expected dB; convert with 10*log10(x)")
    median = float(np.median(values))
    if median > 1:
        raise RasterError(s1.path, f"does not look like backscatter in dB (median {median:.3g}); expected VV, VH in dB (about -30..0)")


def _check_s2_scale(s2: RasterInfo, bands: tuple[int, ...]) -> None:
    if not np.issubdtype(np.dtype(s2.dtype), np.floating):
        return
    values = sample_pixels(s2, bands)
    if values.size and float(np.percentile(values, 99)) < REFLECTANCE_P99_MAX:
        raise RasterError(s2.path, "looks like reflectance in [0, 1]; expected L1C digital numbers (reflectance x 10000), multiply by 10000")


def _needs_warp(s1: RasterInfo, s2: RasterInfo, log: Log) -> bool:
    """False when S1 is on the S2 grid; True (after checking they overlap) when it must be reprojected."""
    try:
        check_same_grid([s2, s1])
        return False
    except GridMismatchError:
        pass
    if s1.crs is None or s2.crs is None:
        missing = s1 if s1.crs is None else s2
        raise RasterError(missing.path, f"has no CRS, so S1 cannot be reprojected onto the S2 grid; put both on one grid ({s2.width}x{s2.height} px)")
    s2_box = array_bounds(s2.height, s2.width, s2.transform)
    s1_box = transform_bounds(s1.crs, s2.crs, *array_bounds(s1.height, s1.width, s1.transform))
    covered = _overlap_share(s2_box, s1_box)
    if covered <= 0:
        raise RasterError(s1.path, f"does not overlap the S2 scene {s2.path.name} (S1 bounds {_fmt(s1_box)}, S2 bounds {_fmt(s2_box)} in {s2.crs})")
    res = abs(s1.transform.a)
    log(
        f"{s1.path.name}: on another grid ({s1.width}x{s1.height} px, {res:g} m, {s1.crs}); reprojecting onto the S2 grid "
        f"(bilinear), it covers ~{covered:.0%} of the S2 scene"
    )
    return True


def _overlap_share(box: tuple[float, float, float, float], other: tuple[float, float, float, float]) -> float:
    """Share of `box`'s area (west, south, east, north) that `other` covers."""
    width = min(box[2], other[2]) - max(box[0], other[0])
    height = min(box[3], other[3]) - max(box[1], other[1])
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / ((box[2] - box[0]) * (box[3] - box[1]))


def _fmt(box: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.0f}" for v in box) + ")"
