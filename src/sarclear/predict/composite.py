"""Keep what the satellite saw where the sky is clear; use the model only under cloud.

The cloud mask is widened into a soft weight `alpha` (1 = model, 0 = observed): 1 on every masked
pixel, falling smoothly to 0 over `feather` pixels outside it, so the model's output meets the
observed image without a visible edge while cloudy pixels never show through. Pure numpy.
"""

from __future__ import annotations

import numpy as np

#: Width in pixels of the transition outside the cloud mask (80 m at 10 m): wider than the halo that
#: s2cloudless's dilation leaves around a cloud, narrow enough to keep nearby clear pixels observed.
FEATHER_PX: int = 8


def _max_filter_1d(a: np.ndarray, radius: int, axis: int) -> np.ndarray:
    padded = np.pad(a, [(radius, radius) if i == axis else (0, 0) for i in range(a.ndim)], mode="edge")
    n = a.shape[axis]
    out = np.take(padded, range(n), axis=axis)
    for shift in range(1, 2 * radius + 1):
        np.maximum(out, np.take(padded, range(shift, shift + n), axis=axis), out=out)
    return out


def _box_mean_1d(a: np.ndarray, radius: int, axis: int) -> np.ndarray:
    padded = np.pad(a, [(radius + 1, radius) if i == axis else (0, 0) for i in range(a.ndim)], mode="edge")
    csum = np.cumsum(padded, axis=axis, dtype=np.float64)
    n = a.shape[axis]
    upper = np.take(csum, range(2 * radius + 1, 2 * radius + 1 + n), axis=axis)
    lower = np.take(csum, range(n), axis=axis)
    return ((upper - lower) / (2 * radius + 1)).astype(np.float32)


def feather(mask: np.ndarray, radius: int = FEATHER_PX // 2) -> np.ndarray:
    """`(H, W)` float32 alpha: 1 on `mask`, ramping to 0 within `2 * radius` pixels outside it.

    A square dilation by `radius` followed by a `(2 radius + 1)`-box mean: every masked pixel has
    only dilated pixels within `radius`, so its mean is exactly 1; far from the mask the mean is 0.
    """
    m = mask.astype(np.float32)
    if radius <= 0:
        return m
    grown = _max_filter_1d(_max_filter_1d(m, radius, 0), radius, 1)
    alpha = _box_mean_1d(_box_mean_1d(grown, radius, 0), radius, 1)
    alpha[mask] = 1.0  # exact, whatever float rounding in the box sums did
    return np.clip(alpha, 0.0, 1.0)


def composite(predicted: np.ndarray, observed: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """`alpha * predicted + (1 - alpha) * observed` per pixel, for `(C, H, W)` arrays and `(H, W)` alpha."""
    a = alpha[None].astype(np.float32)
    return a * predicted.astype(np.float32) + (1.0 - a) * observed.astype(np.float32)


def keep_observed_without_s1(dn: np.ndarray, observed: np.ndarray, observed_valid: np.ndarray, valid: np.ndarray,
                             alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """A composite's `(C, H, W)` DN and the `(H, W)` pixels it writes: where S1 is missing (`valid`
    False, `observed_valid` True: an S1 scene that stops short of the S2's edge) the model cannot
    run, but a clear observed pixel (`alpha` below 1: not masked, also in the transition around a
    cloud, where there is no model to blend with) is still the answer: kept, not written as
    nodata, so the output agrees with `--write-mask` there. A masked one stays nodata."""
    keep = observed_valid & ~valid & (alpha < 1)
    if not keep.any():
        return dn, valid
    return np.where(keep[None], observed, dn), valid | keep
