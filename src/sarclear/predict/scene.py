"""Open and check a prediction's input files before any pixel is processed or any output created.

Every user mistake that can be seen from headers and a small sample of pixels fails here, with one
line naming the file: a missing file, an S2 stack with the wrong band count for the checkpoint's
model, S1 in linear power or amplitude instead of dB, S1 and S2 swapped, an 8-bit or
un-georeferenced S2, a truncated TIFF, an S1 scene that does not overlap the S2 scene, a mask on
another grid. Decisions that are not errors (which bands are RGB, reprojecting S1) are logged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import array_bounds
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from sarclear.data.bands import S1_BANDS, _normalise_name, s2_band_indexes
from sarclear.errors import ConfigError, RasterError
from sarclear.io.acquisition import acquisition_gap, gap_report
from sarclear.io.geotiff import RasterInfo, check_same_grid, raster_info, same_grid
from sarclear.io.pixel_size import pixel_size_text
from sarclear.io.safe import is_safe_product
from sarclear.io.sources import S2Radiometry, describe_s2, is_product, s1_pair_dataset, scene_classification
from sarclear.io.sun_angles import SunAngles, sun_angles
from sarclear.predict.input_checks import check_s1_input, check_s2_input, linear_scale_factor, looks_optical

Log = Callable[[str], None]

#: S1 is called linear power when this share of its sampled pixels lies in (0, 1]: backscatter in
#: dB is negative over almost all land and water (SEN12MS-CR VV is ~ -25..0 dB), while sigma0 in
#: linear units is positive and mostly below 1.
LINEAR_SHARE: float = 0.8
#: S2 floats whose 99th percentile is below this are reflectance in [0, 1], not DN (x 10000).
REFLECTANCE_P99_MAX: float = 2.0
#: Pixels sampled per check: a 3 x 3 grid of 128 px windows, enough for a robust share, cheap on any scene.
SAMPLE_GRID, SAMPLE_SIZE = 3, 128
#: An S2 scene whose darkest sampled valid pixels (this percentile of the per-pixel RGB minimum) lie above
#: this DN, with no offset removed, probably carries the +1000 DN offset of baseline 04.00: even clear
#: water and shadow read below ~600 DN in RGB without it.
OFFSET_SUSPECT_DN, OFFSET_SUSPECT_PERCENTILE = 1000.0, 0.5
#: An offset a product's name or metadata implies is refused when more than this share of the sampled
#: pixels is at or below it in one of B4, B3, B2: with the offset in the pixels that is a negative
#: reflectance, which only some water or shadow pixels of an L2A reach (and no L1C pixel).
OFFSET_ABSENT_SHARE: float = 0.25
#: Above this share (and up to `OFFSET_ABSENT_SHARE`) a warning: a bright or cloudy scene without the
#: offset has few dark pixels (a genuine BigEarthNet snow patch: 5 %), a genuine one carrying it none
#: in L1C and few in L2A (negative reflectance over some water).
OFFSET_DOUBT_SHARE: float = 0.01


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
    radiometry: S2Radiometry = field(default_factory=lambda: S2Radiometry("GeoTIFF", None, "unknown", 0.0, "none"))
    #: Mean sun angles from a SAFE product's MTD_TL.xml (which way cloud shadows fall), None when unknown.
    sun: SunAngles | None = None
    #: GDAL path of the product's Scene Classification Layer (L2A), None when it has none.
    scl: str | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.s2.shape


def inspect_scene(
    s2_path: str | Path,
    s1_path: str | Path | Sequence[str | Path] | None,
    *,
    use_sar: bool,
    bands: str,
    mask_path: str | Path | None = None,
    s2_offset: float | None = None,
    log: Log = lambda _: None,
) -> SceneInputs:
    """Check the files against the model (`use_sar`, `bands` from its spec) and choose what to read.

    `s2_path` may be a raster file, a folder of per-band files or a SAFE product; `s1_path` a 2-band
    file, a folder holding VV and VH files, or the two files. `s2_offset` (DN) overrides the
    radiometric offset found in the product (see `io.sources`).
    """
    s2, radiometry = open_s2(s2_path, s2_offset, log)
    check_s2_input(s2, s1_path)
    rgb_bands, how = s2_band_indexes(s2, "rgb")
    log(f"{s2.path.name}: {how}")
    model_bands: tuple[int, ...] = rgb_bands
    if bands == "all13":
        if s2.count != 13:
            raise RasterError(s2.path, f"has {s2.count} band(s) but the checkpoint's model was trained on all 13 L1C bands; give the 13-band stack")
        model_bands = tuple(range(1, 14))
    _check_s2_scale(s2, rgb_bands)
    _check_offset(s2, rgb_bands, radiometry, log)
    s1, s1_bands, warp = None, (1, 2), False
    if use_sar:
        if s1_path is None:
            raise ConfigError("--s1 is required: the checkpoint's model uses Sentinel-1 SAR as input")
        s1 = open_s1(s1_path)
        check_s1_input(s1)
        s1_bands = _s1_band_indexes(s1)
        _check_s1_units(s1, s1_bands)
        warp = _needs_warp(s1, s2, log)
        _log_acquisitions(s2_path, s1_path, log)
    elif s1_path is not None:
        given = [s1_path] if isinstance(s1_path, (str, Path)) else list(s1_path)
        log(f"{', '.join(Path(p).name for p in given)}: ignored, the checkpoint's model is optical-only")
    mask = None
    if mask_path is not None:
        mask = raster_info(mask_path)
        if mask.count != 1:
            raise RasterError(mask.path, f"a cloud mask needs 1 band (nonzero = cloud), has {mask.count}")
        check_same_grid([s2, mask])
    sun = sun_angles(s2_path) if is_safe_product(Path(s2_path)) else None
    scl = scene_classification(s2_path)
    if scl is not None:
        log(f"{s2.path.name}: scene classification {Path(scl).name} (the product's own cloud and shadow classes)")
    return SceneInputs(s2, model_bands, rgb_bands, s1, s1_bands, warp, mask, radiometry, sun, scl)


def _log_acquisitions(s2_path: str | Path, s1_path: str | Path | Sequence[str | Path], log: Log) -> None:
    """Say when each input was acquired, when their files say; warn when the radar is weeks from the optical image."""
    gap = acquisition_gap(s2_path, s1_path)
    if gap is not None:
        line, warning = gap_report(gap[0], gap[1])
        log(line)
        if warning:
            log(warning)


def open_s2(path: str | Path, offset: float | None, log: Log) -> tuple[RasterInfo, S2Radiometry]:
    """The S2 input as one raster (a product's bands stacked on the 10 m grid), its level and offset logged."""
    path = Path(path)
    header = None if is_product(path) else raster_info(path)
    if header is None:
        name, radiometry = describe_s2(path, offset=offset)
    else:
        name, radiometry = describe_s2(path, offset=offset, descriptions=header.descriptions, count=header.count)
    info = header if header is not None and name == str(path) else raster_info(path, source=name)
    if radiometry.kind != "GeoTIFF":
        log(f"{path.name}: {radiometry.kind}, {info.count} bands ({', '.join(d or '?' for d in info.descriptions)}) stacked on the finest grid, bilinear")
    log(f"{path.name}: processing level {radiometry.level or 'unknown'} ({radiometry.level_source})")
    if radiometry.offset:
        log(f"{path.name}: radiometric offset {radiometry.offset:g} DN removed ({radiometry.offset_source})")
    else:
        log(f"{path.name}: no radiometric offset removed ({radiometry.offset_source})")
    return info, radiometry


def open_s1(path: str | Path | Sequence[str | Path]) -> RasterInfo:
    """S1 as one raster: a 2-band file, a folder with VV and VH files, or the two files given together."""
    if isinstance(path, (str, Path)):
        return raster_info(path)
    paths = [Path(p) for p in path]
    if len(paths) == 1:
        return raster_info(paths[0])
    if len(paths) != 2:
        raise ConfigError(f"--s1 takes one file or folder, or two files (VV and VH); got {len(paths)}")
    for p in paths:
        if not p.is_file():
            raise RasterError(p, "file not found")
    return raster_info(paths[0], source=s1_pair_dataset(paths))


def _check_offset(s2: RasterInfo, rgb_bands: tuple[int, ...], radiometry: S2Radiometry, log: Log) -> None:
    """Warn when no offset was removed but the scene's darkest pixels all sit above 1000 DN; refuse
    an offset the product's name or metadata implies that its pixels do not carry."""
    if radiometry.offset and not radiometry.offset_source.startswith("--s2-offset"):
        _check_offset_present(s2, rgb_bands, radiometry, log)
    if radiometry.offset or np.issubdtype(np.dtype(s2.dtype), np.floating):
        return
    values = sample_pixels(s2, rgb_bands, keep_shape=True)
    if values.size == 0:
        return
    darkest = values.min(axis=0)
    darkest = darkest[darkest > 0]
    if darkest.size and float(np.percentile(darkest, OFFSET_SUSPECT_PERCENTILE)) > OFFSET_SUSPECT_DN:
        log(
            f"WARNING: {s2.path.name}: its darkest pixels are all above {OFFSET_SUSPECT_DN:g} DN and no radiometric offset was declared; "
            "products of processing baseline 04.00 and later (since 25 January 2022) add 1000 DN: if this is one, pass --s2-offset 1000"
        )


def _check_offset_present(s2: RasterInfo, rgb_bands: tuple[int, ...], radiometry: S2Radiometry, log: Log) -> None:
    """Exit 2 when more than `OFFSET_ABSENT_SHARE` of the sampled pixels sit at or below the offset
    in one of B4, B3, B2; a warning above `OFFSET_DOUBT_SHARE` (a bright scene without the offset,
    snow or cloud, has few dark pixels: this cannot tell it from water in an L2A that carries it).

    Why: a product named or described as baseline 04.00 or later carries +1000 DN, but exports
    that already removed it keep the name (genuine Major-TOM cell 199U_1099R, N9999: B2's median is
    483 DN, 92 % of its sampled pixels are at or below 1000 DN in one visible band; an L1C folder
    renamed `_N0400_`: 35 %). Subtracting 1000 again clips those pixels to 1: a black or half-black
    output, exit 0. With the offset in the pixels the share is 0 on genuine data (the Major-TOM
    N0400 cell, the made +1000 DN copies of genuine L1C and L2A).
    """
    raw = replace(s2, source=describe_s2(s2.path, offset=0.0)[0])
    values = sample_pixels(raw, rgb_bands, keep_shape=True)
    if values.size == 0:
        return
    observed = values.max(axis=0) > 0  # 0 is nodata in every product
    if not observed.any():
        return
    share = float(np.mean(values.min(axis=0)[observed] <= radiometry.offset))
    if share <= OFFSET_DOUBT_SHARE:
        return
    if share <= OFFSET_ABSENT_SHARE:
        log(f"WARNING: {s2.path.name}: {share:.0%} of its sampled pixels are at or below {radiometry.offset:g} DN in B4, B3 or B2, "
            f"which the {radiometry.offset:g} DN offset removed ({radiometry.offset_source}) clips to 1: water in an L2A can do "
            "that, but if these pixels do not carry the offset (an export that removed it), pass --s2-offset 0")  # fmt: skip
        return
    raise RasterError(s2.path, f"{share:.0%} of its sampled pixels are at or below {radiometry.offset:g} DN in B4, B3 or B2, "
                               f"so they do not carry the {radiometry.offset:g} DN offset that {radiometry.offset_source} implies "
                               f"(an export that removed it already?); give --s2-offset 0, or --s2-offset {radiometry.offset:g} "
                               "to remove it anyway")  # fmt: skip


def _s1_band_indexes(s1: RasterInfo) -> tuple[int, int]:
    """VV and VH by band description when the file names them, else bands 1 and 2 (SEN12MS-CR order)."""
    names = [_normalise_name(d) for d in s1.descriptions]
    if all(b in names for b in S1_BANDS):
        return names.index("VV") + 1, names.index("VH") + 1
    if s1.count != 2:
        hint = "; did you swap --s1 and --s2?" if looks_optical(s1) else ""
        raise RasterError(s1.path, f"wrong band count: has {s1.count}, expected 2 (VV, VH in dB) or bands described VV and VH{hint}")
    return 1, 2


def sample_pixels(info: RasterInfo, bands: tuple[int, ...], *, keep_shape: bool = False) -> np.ndarray:
    """Finite, non-nodata values from a 3 x 3 grid of small windows spread over the raster.

    `keep_shape` returns `(len(bands), n_pixels)` instead, every pixel kept, for per-pixel tests.
    """
    h, w = info.shape
    size_y, size_x = min(SAMPLE_SIZE, h), min(SAMPLE_SIZE, w)
    tops = np.linspace(0, h - size_y, SAMPLE_GRID).astype(int)
    lefts = np.linspace(0, w - size_x, SAMPLE_GRID).astype(int)
    parts = []
    try:
        with rasterio.open(info.dataset) as src:
            for top in tops:
                for left in lefts:
                    window = src.read(list(bands), window=Window(int(left), int(top), size_x, size_y))
                    parts.append(window.reshape(len(bands), -1) if keep_shape else window.ravel())
    except rasterio.errors.RasterioError as exc:
        raise RasterError(info.path, f"corrupt or truncated TIFF, pixels unreadable: {str(exc).splitlines()[0]}") from exc
    if keep_shape:
        return np.concatenate(parts, axis=1).astype(np.float64)
    values = np.concatenate(parts).astype(np.float64)
    keep = np.isfinite(values)
    if info.nodata is not None and np.isfinite(info.nodata):
        keep &= values != info.nodata
    return values[keep]


def _check_s1_units(s1: RasterInfo, bands: tuple[int, int]) -> None:
    values = sample_pixels(s1, bands, keep_shape=True)
    valid = np.isfinite(values)
    if s1.nodata is not None and np.isfinite(s1.nodata):
        valid &= values != s1.nodata
    flat = values[valid]
    if flat.size == 0:
        return
    linear = float(np.mean((flat > 0) & (flat <= 1)))
    if linear >= LINEAR_SHARE:
        vv, vh = (band[ok & (band > 0)] for band, ok in zip(values, valid))
        factor = linear_scale_factor(vv, vh)
        kind = "power" if factor == 10 else "amplitude"
        raise RasterError(
            s1.path,
            f"looks like linear {kind} ({linear:.0%} of sampled values in (0, 1]), expected dB; convert with {factor}*log10(x)",
        )
    median = float(np.median(flat))
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
    if same_grid(s2, s1):
        return False
    if s1.crs is None or s2.crs is None:
        missing = s1 if s1.crs is None else s2
        raise RasterError(missing.path, f"has no CRS, so S1 cannot be reprojected onto the S2 grid; put both on one grid ({s2.width}x{s2.height} px)")
    s2_box, s1_box = _boxes(s2, s1)
    covered = _overlap_share(s2_box, s1_box)
    if covered <= 0:
        raise RasterError(s1.path, f"does not overlap the S2 scene {s2.path.name} (S1 bounds {_fmt(s1_box)}, S2 bounds {_fmt(s2_box)} in {s2.crs})")
    log(
        f"{s1.path.name}: on another grid ({s1.width}x{s1.height} px, {pixel_size_text(s1.crs, s1.transform)}, {s1.crs}); reprojecting onto the S2 grid "
        f"(bilinear), it covers ~{covered:.0%} of the S2 scene"
    )
    return True


def _boxes(grid: RasterInfo, other: RasterInfo) -> tuple[tuple[float, float, float, float], tuple[float, float, float, float]]:
    """`grid`'s bounds and `other`'s, both in `grid`'s CRS (both must have one)."""
    assert grid.crs is not None and other.crs is not None
    other_box = transform_bounds(other.crs, grid.crs, *array_bounds(other.height, other.width, other.transform))
    return array_bounds(grid.height, grid.width, grid.transform), other_box


def covered_share(grid: RasterInfo, other: RasterInfo) -> float:
    """Share of `grid`'s footprint that `other`'s bounding box covers, in `grid`'s CRS (0 when
    they miss each other); rasters without a CRS cannot be compared: 1."""
    if grid.crs is None or other.crs is None:
        return 1.0
    return _overlap_share(*_boxes(grid, other))


def _overlap_share(box: tuple[float, float, float, float], other: tuple[float, float, float, float]) -> float:
    """Share of `box`'s area (west, south, east, north) that `other` covers."""
    width = min(box[2], other[2]) - max(box[0], other[0])
    height = min(box[3], other[3]) - max(box[1], other[1])
    if width <= 0 or height <= 0:
        return 0.0
    return width * height / ((box[2] - box[0]) * (box[3] - box[1]))


def _fmt(box: tuple[float, ...]) -> str:
    return "(" + ", ".join(f"{v:.0f}" for v in box) + ")"
