"""Windows through an engine and back into one image: shared by the streamed scene and in-memory tiles.

`predict` streams a scene row of windows by row of windows (`sarclear.predict.stream`); `evaluate`
and validation hold whole tiles in memory (`predict_array`). Both cut the same `WindowGrid`, run the
same engine calls (`run_windows`: one pass, or N stochastic passes giving mean and std) and blend
with the same raised-cosine weights, so a tile scored by `evaluate` gets the pixels `predict` would
write for it. The uncertainty is blended like the prediction: in an overlap it is the weighted mean
of the overlapping windows' standard deviations (an upper bound of the blend's own spread).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from sarclear.inference.blend import RowBlender
from sarclear.inference.tiling import WindowGrid, blend_weights, pad_to


class Engine(Protocol):
    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


def run_windows(engine: Engine, batch: np.ndarray, samples: int = 1) -> tuple[np.ndarray, np.ndarray | None]:
    """`(prediction, std)` of a `(N, C, T, T)` batch: one deterministic pass (`std` None) or the mean and
    standard deviation of `samples` stochastic passes (the engine's `sample` method)."""
    if samples <= 1:
        return engine(batch), None
    sample = getattr(engine, "sample", None)
    if sample is None:
        raise TypeError(f"{type(engine).__name__} cannot sample stochastic passes")
    return sample(batch, samples)


def batches(items: Sequence[int], size: int) -> list[list[int]]:
    """Split into the fewest batches of at most `size`, as even as possible (5 by 4 gives
    3 and 2, not 4 and 1), since a batch of one runs at a fraction of a full batch's speed per window."""
    if not items:
        return []
    count = -(-len(items) // size)
    return [[int(v) for v in part] for part in np.array_split(np.asarray(items), count)]


class WindowBlend:
    """The prediction's (and optionally the uncertainty's) row blenders over one grid."""

    def __init__(self, grid: WindowGrid, pick: Sequence[int], uncertainty: bool) -> None:
        self.pick = list(pick)
        self.h, self.w = grid.window_height, grid.window_width
        self.weights = blend_weights(grid.tile, grid.overlap)[: self.h, : self.w]
        self.mean = RowBlender(len(self.pick), grid.width, grid.tile)
        self.std = RowBlender(len(self.pick), grid.width, grid.tile) if uncertainty else None

    def add(self, top: int, cols: Sequence[int], outputs: tuple[np.ndarray, np.ndarray | None]) -> None:
        mean, std = outputs
        for i, c in enumerate(cols):
            self.mean.add(top, c, mean[i][self.pick, : self.h, : self.w], self.weights)
            if self.std is not None and std is not None:
                self.std.add(top, c, std[i][self.pick, : self.h, : self.w], self.weights)

    def flush(self, until: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Finished rows in network units (prediction) and network-unit standard deviation."""
        return self.mean.flush(until), (self.std.flush(until) if self.std is not None else None)


def predict_array(
    engine: Engine,
    x: np.ndarray,
    grid: WindowGrid,
    *,
    pick: Sequence[int],
    batch_size: int,
    samples: int = 1,
) -> tuple[np.ndarray, np.ndarray | None]:
    """A `(C, H, W)` network-unit image through `grid`'s windows: `(len(pick), H, W)` prediction and std.

    Windows are cut from `x` padded by reflection to at least one tile, as the scene reader pads."""
    tile = grid.tile
    padded = pad_to(x, tile, tile)
    blend = WindowBlend(grid, pick, uncertainty=samples > 1)
    means, stds = [], []
    for index, top in enumerate(grid.row_starts):
        for cols in batches(grid.col_starts, batch_size):
            windows = np.stack([padded[:, top : top + tile, c : c + tile] for c in cols])
            blend.add(top, cols, run_windows(engine, windows, samples))
        mean, std = blend.flush(grid.final_row(index))
        means.append(mean)
        stds.append(std)
    return np.concatenate(means, axis=1), (np.concatenate(stds, axis=1) if samples > 1 else None)  # type: ignore[arg-type]
