"""Per-image measurements the curation rules decide on. Pure numpy: arrays in, numbers out.

Every function takes physical units (S1 dB, S2 DN = reflectance x 10000) and returns plain floats
so the results can go straight into the manifest and the statistics cache.
"""

from __future__ import annotations

import numpy as np

from sarclear.data.normalize import S1_CLIP_DB, render_8bit

#: Statistic columns written to the manifest, in order (after the core columns). `None` = not measurable.
STAT_COLUMNS: tuple[str, ...] = (
    "contrast_sigma",
    "saturated_frac",
    "cloud_cover_pct",
    "target_cloud_cover_pct",
    "cloud_method",
    "cloud_warning",
    "vv_mean",
    "vv_std",
    "vh_mean",
    "vh_std",
    "vv_clip_std",
    "vh_clip_std",
    "nonfinite_frac",
    "nodata_frac",
    "s1_nodata_frac",
    "s2_cloudy_nodata_frac",
    "s2_nodata_frac",
    "width",
    "height",
    "s1_bands",
    "s2_cloudy_bands",
    "s2_bands",
    "s1_dtype",
    "s2_cloudy_dtype",
    "s2_dtype",
    "grid_ok",
    "unreadable",
    "errors",
)


def contrast_stats(rgb_dn: np.ndarray, display_max_dn: float) -> dict[str, float]:
    """Contrast sigma and saturation of an RGB tile as rendered to 8 bits.

    `contrast_sigma` is the standard deviation of every value of the `(3, H, W)` uint8 rendering
    (`normalize.render_8bit`, DN [0, display_max_dn] -> [0, 255]), i.e. what `np.std` of the PNG a
    person looks at would give; a flat, featureless target has sigma near 0. `saturated_frac` is
    the fraction of values at 255: a tile white in the rendering (snow, desert, cloud) has a low
    sigma for another reason than a blank one, and this column tells the two apart.
    """
    rendered = render_8bit(np.nan_to_num(rgb_dn.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0), display_max_dn)
    return {
        "contrast_sigma": float(rendered.std(dtype=np.float64)),
        "saturated_frac": float(np.mean(rendered == 255)),
    }


def _finite_mean_std(band: np.ndarray) -> tuple[float | None, float | None]:
    finite = band[np.isfinite(band)]
    if finite.size == 0:
        return None, None
    return float(finite.mean(dtype=np.float64)), float(finite.std(dtype=np.float64))


def sar_stats(s1_db: np.ndarray) -> dict[str, float | None]:
    """Mean and std of VV and VH in dB (finite pixels), and the std after the network's clip.

    `*_clip_std` is measured on the values clipped to `normalize.S1_CLIP_DB` (VV [-25, 0], VH
    [-32.5, 0] dB), the range the network actually sees: a tile lying entirely below the clip (or
    constant) has no variance there, whatever its raw statistics. Clipping never increases the
    standard deviation, so a rule on the clipped one also catches constant tiles.
    """
    out: dict[str, float | None] = {}
    for index, name in enumerate(("vv", "vh")):
        band = s1_db[index].astype(np.float32)
        mean, std = _finite_mean_std(band)
        lo, hi = S1_CLIP_DB[name.upper()]
        _, clip_std = _finite_mean_std(np.clip(band, lo, hi))
        out.update({f"{name}_mean": mean, f"{name}_std": std, f"{name}_clip_std": clip_std})
    return out


def nonfinite_count(array: np.ndarray) -> int:
    """Number of NaN/inf values (0 for integer arrays, which cannot hold them)."""
    if not np.issubdtype(array.dtype, np.floating):
        return 0
    return int(array.size - np.count_nonzero(np.isfinite(array)))


def s2_nodata_mask(dn: np.ndarray, nodata: float | None = None) -> np.ndarray:
    """`(H, W)` bool: pixels where every band is 0 (SEN12MS-CR's fill value) or the file's nodata."""
    blank = np.all(dn == 0, axis=0)
    if nodata is not None and nodata != 0:
        blank |= np.all(dn == nodata, axis=0)
    return blank


def s1_nodata_mask(s1_db: np.ndarray, nodata: float | None = None) -> np.ndarray:
    """`(H, W)` bool: pixels where VV and VH are both exactly 0 dB or both the file's nodata value.

    One band at 0 dB happens in genuine tiles (SEN12MS-CR clips strong reflectors to 0 dB); both
    at once is a fill value.
    """
    blank = np.all(s1_db == 0, axis=0)
    if nodata is not None and nodata != 0 and np.isfinite(nodata):
        blank |= np.all(s1_db == nodata, axis=0)
    return blank
