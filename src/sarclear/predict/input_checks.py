"""Input checks of `predict` that look at what a file is, not at the model: is it whole, is it the
right sensor, is it reflectance DN, can its output be placed on a map, is S1 power or amplitude.

Each refusal is one `RasterError` line naming the file and the fix; `predict.scene.inspect_scene`
calls them right after opening each input.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sarclear.errors import RasterError
from sarclear.io.geotiff import RasterInfo, raster_info
from sarclear.io.truncation import check_not_truncated

#: Genuine backscatter in dB as (typical value, spread) for the VV median and the VH - VV gap of the
#: medians: measured on the genuine S1 files in shared/data (SEN12MS-CR, BigEarthNet, SSL4EO-S12:
#: VV medians -12 .. -8 dB, gaps -4.9 .. -7.8 dB), widened for water (VV ~ -20) and towns (VV ~ -5).
S1_TYPICAL_DB: tuple[tuple[float, float], tuple[float, float]] = ((-11.0, 6.0), (-6.5, 1.5))


def linear_scale_factor(vv: np.ndarray, vh: np.ndarray) -> int:
    """10 if linear VV/VH samples are power (sigma0), 20 if amplitude (its square root).

    Both readings are tried: each turns the medians into dB (factor * log10) and is scored by how far
    the VV median and the VH - VV gap fall from genuine backscatter (`S1_TYPICAL_DB`), in units of
    their spread. Amplitude halves every dB figure, so the gap (about -6.5 dB in power, -3 in
    amplitude) separates the two whatever the scene's brightness; the VV level breaks ties.
    """
    if vv.size == 0:
        return 10
    vv_db = np.log10(float(np.median(vv)))
    gap_db = np.log10(float(np.median(vh))) - vv_db if vh.size else None
    (vv_ref, vv_spread), (gap_ref, gap_spread) = S1_TYPICAL_DB

    def distance(factor: int) -> float:
        far = abs(factor * vv_db - vv_ref) / vv_spread
        return far + (abs(factor * gap_db - gap_ref) / gap_spread if gap_db is not None else 0.0)

    return 10 if distance(10) <= distance(20) else 20


def check_s2_input(s2: RasterInfo, s1_path: str | Path | Sequence[str | Path] | None) -> None:
    """Refuse an S2 input that is cut short, is really the S1 file, is an 8-bit picture, or has no CRS."""
    check_not_truncated(s2.path, s2.source or None)
    if s2.count <= 2 and np.issubdtype(np.dtype(s2.dtype), np.floating):
        other = _single_path(s1_path)
        swapped = other is not None and _looks_optical_file(other)
        raise RasterError(
            s2.path,
            f"has {s2.count} {s2.dtype} band(s), which looks like Sentinel-1 (VV, VH), not Sentinel-2"
            + ("; did you swap --s1 and --s2?" if swapped else "; give the cloudy Sentinel-2 scene as --s2"),
        )
    if s2.dtype == "uint8":
        raise RasterError(
            s2.path,
            "is 8-bit (uint8), a rendered picture rather than L1C digital numbers (uint16, reflectance x 10000); "
            "give the product's bands (a SAFE, a band folder or a uint16 stack)",
        )
    if s2.crs is None:
        raise RasterError(
            s2.path,
            "has no CRS, so the output could not be placed on a map; georeference it first "
            "(e.g. gdal_edit.py -a_srs EPSG:32633 -a_ullr ULX ULY LRX LRY FILE)",
        )


def check_s1_input(s1: RasterInfo) -> None:
    """Refuse an S1 input that is cut short (the S2-given-as-S1 hint is in `scene._s1_band_indexes`)."""
    check_not_truncated(s1.path, s1.source or None)


def _single_path(paths: str | Path | Sequence[str | Path] | None) -> Path | None:
    if paths is None or isinstance(paths, (str, Path)):
        return None if paths is None else Path(paths)
    return Path(paths[0]) if len(paths) == 1 else None


def looks_optical(info: RasterInfo) -> bool:
    """Three or more integer bands: an S2 stack or RGB, not SAR backscatter."""
    return info.count >= 3 and np.issubdtype(np.dtype(info.dtype), np.integer)


def _looks_optical_file(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        return looks_optical(raster_info(path))
    except RasterError:
        return False
