"""Read one triplet's files (each exactly once) and measure them. The I/O edge of curation.

Nothing here decides anything: a missing, unreadable or odd file is *recorded* (band count,
dtype, grid, error text) and `rules.py` turns the record into reasons. Each file is measured
independently, so one broken file does not hide what is wrong with the other two.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from sarclear.curate import stats
from sarclear.curate.rules import format_problem
from sarclear.data import clouds
from sarclear.data.bands import s2_band_indexes
from sarclear.data.normalize import DISPLAY_MAX_DN
from sarclear.errors import ConfigError, GridMismatchError, RasterError
from sarclear.io.geotiff import RasterInfo, check_same_grid, read_raster

#: GDAL block cache while reading a triplet. An explicit, modest cache halves the read time of
#: SEN12MS-CR's uncompressed one-row-strip files compared with GDAL's default (5% of RAM):
#: 16.5 -> 7-9 ms CPU per triplet, measured with rasterio 1.4 on this project's genuine triplets.
GDAL_CACHEMAX_MB = 64
#: Bump when a statistic's definition changes: cached statistics of older versions are ignored.
STATS_VERSION = 2
#: 's2cloudless' means s2cloudless on 13-band files and the brightness test on RGB-only files.
CLOUD_METHODS = ("none", "s2cloudless", "brightness")


@dataclass(frozen=True)
class MeasureSettings:
    """Everything a measurement depends on besides the files (part of the cache key).

    `cloud_method` is 'none' (skip), 's2cloudless' (on 13-band files; the brightness test on RGB
    files) or 'brightness'. `num_threads` only limits LightGBM's threads; results do not change.
    """

    display_max_dn: float = DISPLAY_MAX_DN
    cloud_method: str = "s2cloudless"
    num_threads: int | None = None

    def __post_init__(self) -> None:
        if self.cloud_method not in CLOUD_METHODS:
            raise ConfigError(f"unknown cloud method {self.cloud_method!r}; expected one of {', '.join(CLOUD_METHODS)}")
        if not self.display_max_dn > 0:
            raise ConfigError(f"display stretch maximum must be positive, got {self.display_max_dn}")

    def key(self) -> dict[str, Any]:
        """The settings that change a measurement, with the cloud post-processing constants."""
        out = asdict(self)
        out.pop("num_threads")
        out["stats_version"] = STATS_VERSION
        if self.cloud_method != "none":
            out["cloud"] = {
                "threshold": clouds.DEFAULT_THRESHOLD,
                "average_over": clouds.DEFAULT_AVERAGE_OVER,
                "dilation_size": clouds.DEFAULT_DILATION_SIZE,
            }
        return out


def _cloud_stack(dn: np.ndarray, info: RasterInfo) -> np.ndarray:
    """13 bands in SEN12MS-CR order (reordered by band descriptions when they name all 13), else B4, B3, B2."""
    if dn.shape[0] == 13:
        names = [d or "" for d in info.descriptions]
        try:
            return clouds.order_bands(dn, names)
        except ValueError:  # no or unrecognised descriptions: the SEN12MS-CR order
            return dn
    rgb_idx, _ = s2_band_indexes(info, "rgb")
    return dn[[i - 1 for i in rgb_idx]]


def _cloud_cover(dn: np.ndarray, info: RasterInfo, valid: np.ndarray, settings: MeasureSettings) -> tuple[float | None, str]:
    method = "auto" if settings.cloud_method == "s2cloudless" else settings.cloud_method
    prob, used = clouds.cloud_probability(_cloud_stack(dn, info), method=method, num_threads=settings.num_threads)
    cover = clouds.cloud_cover_pct(clouds.mask_from_probability(prob), valid)
    return (None if math.isnan(cover) else cover), used


def _measure_s2(modality: str, dn: np.ndarray, info: RasterInfo, settings: MeasureSettings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    nodata = stats.s2_nodata_mask(dn, info.nodata)
    out[f"{modality}_nodata_frac"] = float(nodata.mean())
    if modality == "s2":
        rgb_idx, _ = s2_band_indexes(info, "rgb")
        out.update(stats.contrast_stats(dn[[i - 1 for i in rgb_idx]], settings.display_max_dn, ~nodata))
    if settings.cloud_method != "none":
        cover, used = _cloud_cover(dn, info, ~nodata, settings)
        out["cloud_cover_pct" if modality == "s2_cloudy" else "target_cloud_cover_pct"] = cover
        out["cloud_method"] = used
    return out


def _measure_s1(s1: np.ndarray, info: RasterInfo) -> dict[str, Any]:
    nodata = stats.s1_nodata_mask(s1, info.nodata)
    return {**stats.sar_stats(s1, ~nodata), "s1_nodata_frac": float(nodata.mean())}


def measure_triplet(paths: Mapping[str, Path | None], settings: MeasureSettings) -> dict[str, Any]:
    """Statistics of one triplet: keys of `stats.STAT_COLUMNS` (absent ones mean not measurable).

    `paths` maps 's1', 's2_cloudy', 's2' to a file or None (missing). Never raises for bad data.
    """
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHEMAX_MB * 2**20):  # rasterio takes bytes
        return _measure_files(paths, settings)


def _measure_files(paths: Mapping[str, Path | None], settings: MeasureSettings) -> dict[str, Any]:
    record: dict[str, Any] = {"unreadable": [], "errors": []}
    infos: list[RasterInfo] = []
    nodata_masks: list[np.ndarray] = []
    nonfinite = total = 0
    for modality in ("s1", "s2_cloudy", "s2"):
        path = paths.get(modality)
        if path is None:
            continue
        try:
            array, info = read_raster(path)
        except RasterError as exc:
            record["unreadable"].append(modality)
            record["errors"].append(f"{modality}: {exc.problem}")
            continue
        infos.append(info)
        record[f"{modality}_bands"], record[f"{modality}_dtype"] = info.count, info.dtype
        record["width"], record["height"] = info.width, info.height
        nonfinite += stats.nonfinite_count(array)
        total += array.size
        problem = format_problem(modality, info.count, info.dtype)
        if problem:
            record["errors"].append(f"{modality}: {problem}")
            continue
        measured = _measure_s1(array, info) if modality == "s1" else _measure_s2(modality, array, info, settings)
        record.update(measured)
        nodata_masks.append(
            stats.s1_nodata_mask(array, info.nodata) if modality == "s1" else stats.s2_nodata_mask(array, info.nodata)
        )
    record["nonfinite_frac"] = nonfinite / total if total else None
    try:
        check_same_grid(infos)
        record["grid_ok"] = True
    except GridMismatchError as exc:
        record["grid_ok"] = False
        record["errors"].append(f"grid: {exc.problem}")
    record["nodata_frac"] = _union_fraction(nodata_masks)
    return record


def measure_job(job: tuple[Mapping[str, Path | None], MeasureSettings]) -> dict[str, Any]:
    """`measure_triplet` for a process pool: defined here so workers import only this light module."""
    return measure_triplet(*job)


def _union_fraction(masks: list[np.ndarray]) -> float | None:
    """Fraction of pixels that are nodata in any file (max of the parts if grids differ)."""
    if not masks:
        return None
    if len({m.shape for m in masks}) > 1:
        return max(float(m.mean()) for m in masks)
    return float(np.logical_or.reduce(masks).mean())
