"""Weighted accumulation of overlapping window predictions, one band of rows at a time.

Only `tile` rows of accumulators exist at once (`channels x tile x width` sums plus `tile x width`
weights, about 45 MB for a full 10980 px wide Sentinel-2 tile at 256 px), so memory does not grow
with the scene's height. Rows are handed back, normalised, as soon as no later window covers them.
Pure numpy, no I/O.
"""

from __future__ import annotations

import numpy as np


class RowBlender:
    """Sums `weight * prediction` and `weight` per pixel over a rolling band of `tile` rows.

    Windows must be added in non-decreasing row order, and `flush(until)` is called once every
    window starting above `until` has been added (the `WindowGrid.final_row` contract).
    """

    def __init__(self, channels: int, width: int, tile: int) -> None:
        self.width = width
        self.tile = tile
        self.top = 0  # scene row held in buffer row 0
        self._sum = np.zeros((channels, tile, width), dtype=np.float32)
        self._weight = np.zeros((tile, width), dtype=np.float32)

    def add(self, row: int, col: int, prediction: np.ndarray, weight: np.ndarray) -> None:
        """Accumulate a `(channels, h, w)` prediction whose top-left pixel is scene (row, col)."""
        h, w = prediction.shape[-2:]
        r = row - self.top
        if r < 0 or r + h > self.tile:
            raise ValueError(f"window at row {row} (height {h}) is outside the band of rows {self.top}..{self.top + self.tile}")
        self._sum[:, r : r + h, col : col + w] += prediction * weight
        self._weight[r : r + h, col : col + w] += weight

    def flush(self, until: int) -> np.ndarray:
        """Return rows `top .. until` normalised (0 where no window contributed) and drop them."""
        n = until - self.top
        if not 0 <= n <= self.tile:
            raise ValueError(f"cannot flush rows {self.top}..{until} from a band of {self.tile} rows")
        weight = self._weight[:n]
        out = np.divide(self._sum[:, :n], weight, out=np.zeros_like(self._sum[:, :n]), where=weight > 0)
        self._sum = np.roll(self._sum, -n, axis=1)
        self._weight = np.roll(self._weight, -n, axis=0)
        self._sum[:, self.tile - n :] = 0.0
        self._weight[self.tile - n :] = 0.0
        self.top = until
        return out
