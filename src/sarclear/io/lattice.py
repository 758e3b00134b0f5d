"""Smooth fields over an output tile: evaluated on a coarse lattice of pixel centres, interpolated to every pixel.

The tie points' mapping into radar geometry, the tie points' incidence angles and the geoid's
height all change slowly across a tile, so computing them at every pixel would cost far more
than it gains; `lattice` picks the points, `upsample` fills in between (bilinear, the lattice
holding the tile's first and last pixel centres), `pixel_xy` maps pixel coordinates to map ones.
"""

from __future__ import annotations

import numpy as np
import rasterio


def lattice(start: int, stop: int, step: int) -> np.ndarray:
    """Pixel-centre coordinates from `start` to `stop - 1` every `step`, both ends included, at least two."""
    points = np.arange(start, stop, step, dtype=np.float64)
    points = np.unique(np.append(points, stop - 1)) + 0.5
    return points if points.size > 1 else np.append(points, points[0] + 1.0)


def pixel_xy(transform: rasterio.Affine, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map x, y of pixel coordinates (arrays of any shape), by the affine transform's six numbers."""
    return (transform.a * cols + transform.b * rows + transform.c, transform.d * cols + transform.e * rows + transform.f)


def upsample(values: np.ndarray, at_rows: np.ndarray, at_cols: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Bilinear interpolation of `values` on the lattice (at_rows x at_cols) at every (rows x cols).

    The lattice holds the tile's first and last pixel centres (`lattice`), so nothing is extrapolated.
    """
    along = np.stack([np.interp(cols, at_cols, line) for line in values])
    index = np.clip(np.searchsorted(at_rows, rows, side="right") - 1, 0, at_rows.size - 2)
    t = ((rows - at_rows[index]) / (at_rows[index + 1] - at_rows[index]))[:, None]
    return along[index] * (1.0 - t) + along[index + 1] * t
