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
from sarclear.data.cloud_bands import SPECTRAL_POSITIONS, detector_bands, rgb_planes, usable_method
from sarclear.data.normalize import DISPLAY_MAX_DN
from sarclear.errors import ConfigError, GridMismatchError, RasterError
from sarclear.io.geotiff import RasterInfo, check_same_grid, read_raster

#: GDAL block cache while reading a triplet. An explicit, modest cache about halves the read time
#: of SEN12MS-CR's uncompressed one-row-strip files compared with GDAL's default (5% of RAM); the
#: figures are in docs/curate.md.
GDAL_CACHEMAX_MB = 64
#: Bump when a statistic's definition changes: cached statistics of older versions are ignored.
#: 2: statistics over valid pixels only (`data.valid`); 3: the detector's bands chosen by `cloud_bands`
#: (no s2cloudless on a padded or missing B10), `cloud_warning`; 4: the spectral test, not brightness,
#: for L2A and padded-B10 files.
STATS_VERSION = 4
#: 's2cloudless' (compiled) and 's2cloudless-reference' run on files with the 13 L1C bands; other
#: files get the spectral test (L2A without B10, a padded band) or the brightness test (RGB), said in
#: `cloud_warning`. 'spectral' and 'brightness' force that test on every file.
CLOUD_METHODS = ("none", "s2cloudless", "s2cloudless-reference", "spectral", "brightness")


@dataclass(frozen=True)
class MeasureSettings:
    """Everything a measurement depends on besides the files (part of the cache key).

    `cloud_method` is 'none' (skip), 's2cloudless' (compiled), 's2cloudless-reference' (on files with
    the 13 L1C bands; the spectral or brightness test on others), 'spectral' or 'brightness'. `num_threads` only limits the
    model's threads; results do not change.
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


@dataclass
class _CloudJob:
    """One image's cloud detection, held until the triplet's images can go to the model together."""

    column: str
    stack: np.ndarray
    valid: np.ndarray
    method: str
    warning: str | None


def _cloud_job(modality: str, dn: np.ndarray, info: RasterInfo, valid: np.ndarray, settings: MeasureSettings) -> _CloudJob:
    """The detector's bands of one S2 image and the method for them (`cloud_bands` decides)."""
    choice = detector_bands(info)
    method, stack, warning = usable_method(choice, dn[[i - 1 for i in choice.indexes]])
    if method == "s2cloudless" or settings.cloud_method == "brightness":
        method = settings.cloud_method  # what the settings ask for, where the bands allow it
    if method == "brightness" and stack.shape[0] != 3:
        stack = rgb_planes(stack)
    elif method == "spectral" and stack.shape[0] == 13:
        stack = stack[list(SPECTRAL_POSITIONS)]
    column = "cloud_cover_pct" if modality == "s2_cloudy" else "target_cloud_cover_pct"
    return _CloudJob(column, stack, valid, method, warning)


def _cloud_covers(jobs: list[_CloudJob], settings: MeasureSettings) -> dict[str, Any]:
    """Cover of every job, the images of one method and size in one model call (the triplet's two S2)."""
    out: dict[str, Any] = {}
    warnings: list[str] = []
    groups: dict[tuple[str, tuple[int, ...]], list[_CloudJob]] = {}
    for job in jobs:
        groups.setdefault((job.method, job.stack.shape), []).append(job)
    used_by: dict[str, str] = {}
    for (method, _), group in groups.items():
        prob, used = clouds.cloud_probabilities(np.stack([j.stack for j in group]), method=method, num_threads=settings.num_threads)
        masks = clouds.mask_from_probability(prob)
        for job, mask in zip(group, masks):
            cover = clouds.cloud_cover_pct(mask, job.valid)
            out[job.column] = None if math.isnan(cover) else cover
            used_by[job.column] = used
            rgb = rgb_planes(job.stack)
            late = clouds.bright_scene_warning(rgb, mask, job.valid)
            name = "s2_cloudy" if job.column == "cloud_cover_pct" else "s2"
            warnings += [f"{name}: {text}" for text in (job.warning, late) if text]
    out["cloud_method"] = used_by.get("cloud_cover_pct", used_by.get("target_cloud_cover_pct"))
    out["cloud_warning"] = " | ".join(warnings)
    return out


def _measure_s2(
    modality: str, dn: np.ndarray, info: RasterInfo, settings: MeasureSettings
) -> tuple[dict[str, Any], _CloudJob | None]:
    out: dict[str, Any] = {}
    nodata = stats.s2_nodata_mask(dn, info.nodata)
    out[f"{modality}_nodata_frac"] = float(nodata.mean())
    if modality == "s2":
        rgb_idx, _ = s2_band_indexes(info, "rgb")
        out.update(stats.contrast_stats(dn[[i - 1 for i in rgb_idx]], settings.display_max_dn, ~nodata))
    job = _cloud_job(modality, dn, info, ~nodata, settings) if settings.cloud_method != "none" else None
    return out, job


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
    cloud_jobs: list[_CloudJob] = []
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
        try:
            measured, job = (_measure_s1(array, info), None) if modality == "s1" else _measure_s2(modality, array, info, settings)
        except RasterError as exc:  # bands the cloud detector cannot use
            record["errors"].append(f"{modality}: {exc.problem}")
            continue
        record.update(measured)
        if job is not None:
            cloud_jobs.append(job)
        nodata_masks.append(
            stats.s1_nodata_mask(array, info.nodata) if modality == "s1" else stats.s2_nodata_mask(array, info.nodata)
        )
    if cloud_jobs:
        record.update(_cloud_covers(cloud_jobs, settings))
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
