"""Where the sliding windows go over a scene, and how much each window's pixels weigh when blended.

Pure numpy, no I/O. A scene of any size is covered by `tile` x `tile` windows that overlap by at
least `overlap` pixels; the last window of a row or column is shifted inward so that no window
leaves the scene (a scene smaller than one tile gets one window, padded by the reader). Overlapping
predictions are averaged with weights that ramp up over the overlap, so a window's border pixels
(where a convolutional network sees the least context and most often disagrees with its neighbour)
fade into the next window instead of forming a seam.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

#: Smallest weight a pixel gets (at a window's outer edge). Never 0, so a pixel that only one window
#: covers (the scene's own border) still has a defined value after normalisation.
WEIGHT_FLOOR: float = 1e-3


def window_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of windows of `tile` pixels covering `length` pixels, overlapping by >= `overlap`.

    The step is `tile - overlap`; the last window is shifted inward to end exactly at `length`, so
    the final overlap may be larger than asked. `length <= tile` gives one window at 0.
    """
    if tile <= 0 or not 0 <= overlap < tile:
        raise ValueError(f"need tile > 0 and 0 <= overlap < tile, got tile={tile}, overlap={overlap}")
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile + 1, step))
    if starts[-1] + tile < length:
        starts.append(length - tile)
    return starts


def ramp(tile: int, overlap: int, floor: float = WEIGHT_FLOOR) -> np.ndarray:
    """1-D weights: a raised-cosine (sin^2) rise over the first `overlap` pixels, 1 inside, mirrored.

    Two neighbouring windows overlapping by exactly `overlap` pixels then cross-fade with weights
    that sum to ~1 (sin^2 + cos^2), the Hann-window partition of unity. Values lie in [floor, 1].
    """
    weights = np.ones(tile, dtype=np.float64)
    if overlap > 0:
        ramp_len = min(overlap, tile // 2)
        position = (np.arange(ramp_len) + 0.5) / ramp_len  # pixel centres in (0, 1)
        rise = np.sin(0.5 * np.pi * position) ** 2
        weights[:ramp_len] = rise
        weights[tile - ramp_len :] = rise[::-1]
    return np.maximum(weights, floor).astype(np.float32)


def blend_weights(tile: int, overlap: int, floor: float = WEIGHT_FLOOR) -> np.ndarray:
    """`(tile, tile)` separable weights: the outer product of `ramp` with itself."""
    r = ramp(tile, overlap, floor)
    return np.outer(r, r)


@dataclass(frozen=True)
class WindowGrid:
    """The windows covering a `height` x `width` scene, processed row of windows by row of windows."""

    height: int
    width: int
    tile: int
    overlap: int

    @cached_property
    def row_starts(self) -> list[int]:
        return window_starts(self.height, self.tile, self.overlap)

    @cached_property
    def col_starts(self) -> list[int]:
        return window_starts(self.width, self.tile, self.overlap)

    @property
    def n_windows(self) -> int:
        return len(self.row_starts) * len(self.col_starts)

    @property
    def window_height(self) -> int:
        """Rows of the scene a window really covers (less than `tile` only for a scene smaller than it)."""
        return min(self.tile, self.height)

    @property
    def window_width(self) -> int:
        return min(self.tile, self.width)

    def final_row(self, index: int) -> int:
        """Rows above this one are complete once window row `index` is done (no later window covers them)."""
        starts = self.row_starts
        return starts[index + 1] if index + 1 < len(starts) else self.height

def pad_to(array: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pad the last two axes by reflection up to at least `height` x `width` (for scenes smaller than a tile)."""
    h, w = array.shape[-2:]
    pad_h, pad_w = max(0, height - h), max(0, width - w)
    if not pad_h and not pad_w:
        return array
    mode = "reflect" if h > 1 and w > 1 else "edge"
    return np.pad(array, [(0, 0)] * (array.ndim - 2) + [(0, pad_h), (0, pad_w)], mode=mode)
