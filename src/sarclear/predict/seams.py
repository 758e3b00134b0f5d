"""How visible the window grid is in a prediction: gradients across window borders vs elsewhere.

Neighbouring windows see different context (and, with per-window batch norm, normalise with
different statistics), so they disagree where they overlap; the blend hides the disagreement only
if it spreads it over enough pixels. A visible seam is an excess of local contrast along the grid:
`seam_ratio` divides the mean absolute difference between neighbouring pixels in bands around every
interior window edge (as wide as the blend ramp on each side, at least one pixel) by the same mean
over all other pixel pairs. About 1: no grid to see; a hard seam between windows gives several.
Pure numpy, for tests and benchmarks.
"""

from __future__ import annotations

import numpy as np

from sarclear.inference.tiling import WindowGrid


def _band(length: int, starts: list[int], tile: int, ramp: int) -> np.ndarray:
    """Bool per neighbour pair `(i, i + 1)` along an axis: True within `ramp` of an interior window edge."""
    band = np.zeros(max(length - 1, 0), dtype=bool)
    for start in starts:
        for edge in (start, start + tile):
            if 0 < edge < length:
                band[max(0, edge - ramp - 1) : min(length - 1, edge + ramp)] = True
    return band


def seam_ratio(image: np.ndarray, grid: WindowGrid, valid: np.ndarray | None = None) -> float:
    """Mean |neighbour difference| near the grid's window edges over the mean elsewhere, for a
    `(C, H, W)` image predicted on `grid` (both axes pooled; pairs touching invalid pixels skipped)."""
    ramp = max(1, min(grid.overlap, grid.tile // 2))
    x = image.astype(np.float64).mean(axis=0)
    ok = np.ones(x.shape, dtype=bool) if valid is None else valid.astype(bool)
    near, far = [], []
    for axis, starts, length in ((1, grid.col_starts, grid.width), (0, grid.row_starts, grid.height)):
        diff = np.abs(np.diff(x, axis=axis))
        pair_ok = (ok[:, 1:] & ok[:, :-1]) if axis == 1 else (ok[1:] & ok[:-1])
        band = _band(length, starts, grid.tile, ramp)
        band_2d = np.broadcast_to(band[None, :] if axis == 1 else band[:, None], diff.shape)
        near.append(diff[band_2d & pair_ok])
        far.append(diff[~band_2d & pair_ok])
    near_all, far_all = np.concatenate(near), np.concatenate(far)
    if near_all.size == 0 or far_all.size == 0 or far_all.mean() == 0:
        return float("nan")
    return float(near_all.mean() / far_all.mean())
