"""Per-image measurements the curation rules decide on. Pure numpy: arrays in, numbers out.

Every function takes physical units (S1 dB, S2 DN = reflectance x 10000) and returns plain floats
so the results can go straight into the manifest and the statistics cache. Which pixels hold data
is decided by `sarclear.data.valid`, the rule training, evaluation and predict use too; the
statistics are measured on those pixels only (given `valid`), so a nodata stripe neither adds
contrast (black against the scene) nor drags the backscatter means toward 0 dB.
"""

from __future__ import annotations

import numpy as np

from sarclear.data.normalize import S1_CLIP_DB, render_8bit
from sarclear.data.valid import valid_pixels

#: Statistic columns written to the manifest, in order (after the core columns). `None` = not measurable.
STAT_COLUMNS: tuple[str, ...] = (
    "contrast_sigma",
    "saturated_frac",
    "cloud_cover_pct",
    "target_cloud_cover_pct",
    "cloud_method",
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


def contrast_stats(rgb_dn: np.ndarray, display_max_dn: float, valid: np.ndarray | None = None) -> dict[str, float | None]:
    """Contrast sigma and saturation of an RGB tile as rendered to 8 bits.

    `contrast_sigma` is the standard deviation of every value of the `(3, H, W)` uint8 rendering
    (`normalize.render_8bit`, DN [0, display_max_dn] -> [0, 255]), i.e. what `np.std` of the PNG a
    person looks at would give; a flat, featureless target has sigma near 0. `saturated_frac` is
    the fraction of values at 255: a tile white in the rendering (snow, desert, cloud) has a low
    sigma for another reason than a blank one, and this column tells the two apart. With an
    `(H, W)` `valid` mask only those pixels count (None when there are none).
    """
    rendered = render_8bit(np.nan_to_num(rgb_dn.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0), display_max_dn)
    if valid is not None:
        if not valid.any():
            return {"contrast_sigma": None, "saturated_frac": None}
        rendered = rendered[:, valid]
    return {
        "contrast_sigma": float(rendered.std(dtype=np.float64)),
        "saturated_frac": float(np.mean(rendered == 255)),
    }


def _finite_mean_std(band: np.ndarray, valid: np.ndarray | None) -> tuple[float | None, float | None]:
    keep = np.isfinite(band) if valid is None else np.isfinite(band) & valid
    finite = band[keep]
    if finite.size == 0:
        return None, None
    return float(finite.mean(dtype=np.float64)), float(finite.std(dtype=np.float64))


def sar_stats(s1_db: np.ndarray, valid: np.ndarray | None = None) -> dict[str, float | None]:
    """Mean and std of VV and VH in dB (finite pixels), and the std after the network's clip.

    `*_clip_std` is measured on the values clipped to `normalize.S1_CLIP_DB` (VV [-25, 0], VH
    [-32.5, 0] dB), the range the network actually sees: a tile lying entirely below the clip (or
    constant) has no variance there, whatever its raw statistics. Clipping never increases the
    standard deviation, so a rule on the clipped one also catches constant tiles. With an `(H, W)`
    `valid` mask only those pixels count (the 0 dB fill would otherwise read as strong backscatter).
    """
    out: dict[str, float | None] = {}
    for index, name in enumerate(("vv", "vh")):
        band = s1_db[index].astype(np.float32)
        mean, std = _finite_mean_std(band, valid)
        lo, hi = S1_CLIP_DB[name.upper()]
        _, clip_std = _finite_mean_std(np.clip(band, lo, hi), valid)
        out.update({f"{name}_mean": mean, f"{name}_std": std, f"{name}_clip_std": clip_std})
    return out


def nonfinite_count(array: np.ndarray) -> int:
    """Number of NaN/inf values (0 for integer arrays, which cannot hold them)."""
    if not np.issubdtype(array.dtype, np.floating):
        return 0
    return int(array.size - np.count_nonzero(np.isfinite(array)))


def s2_nodata_mask(dn: np.ndarray, nodata: float | None = None) -> np.ndarray:
    """`(H, W)` bool: pixels of an S2 file that hold no data (`sarclear.data.valid.valid_pixels`)."""
    return ~valid_pixels(dn, s2_nodata=nodata)


def s1_nodata_mask(s1_db: np.ndarray, nodata: float | None = None) -> np.ndarray:
    """`(H, W)` bool: pixels of an S1 file that hold no data (`sarclear.data.valid.valid_pixels`).

    One band at 0 dB happens in genuine tiles (SEN12MS-CR clips strong reflectors to 0 dB) and is
    kept; both at once is fill.
    """
    return ~valid_pixels(s1=s1_db, s1_nodata=nodata)
