"""Training batches from the scene itself: clear crops with cloud-shaped holes, and where to learn.

Input  = [SAR,] optical with holes (and real clouds, and nodata) graded in from the clear pixels
         around them (push-pull), as the real cloudy pixels are filled at inference
         (`AdaptScene.filled_crop`, `AdaptScene.filled_scene`);
target = the optical crop;
weight = 0 wherever the truth is unknown (real cloud, nodata), `HOLE_WEIGHT` inside the holes, and
         `CONTEXT_WEIGHT` on the rest: the holes are the task, the rest keeps the output continuous
         with the observed pixels around a cloud, where the composite blends the two.
A planted value under the real cloud mask can therefore reach neither an input nor a loss.
Crops are drawn where at least `MIN_CROP_CLEAR` of the crop is clear, flipped and rotated as one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sarclear.adapt.holes import augment, sample_hole
from sarclear.adapt.scene import AdaptScene

HOLE_WEIGHT: float = 1.0
CONTEXT_WEIGHT: float = 0.2
#: A training crop must be at least this clear, else it holds too little truth; redrawn otherwise.
MIN_CROP_CLEAR: float = 0.5
CROP_TRIES: int = 20
#: Share of training pairs cut from the half-resolution scene (`coarse_scene`). Measured on the 9
#: genuine cases (docs/adapt.md): +0.1 dB and +0.004 SSIM inside clouds on average, for two draws.
COARSE_SHARE: float = 0.5


@dataclass(frozen=True)
class Batch:
    """`x (B, C, S, S)`, `target (B, 3, S, S)`, `weight (B, 1, S, S)`, float32 numpy."""

    x: np.ndarray
    target: np.ndarray
    weight: np.ndarray


def crop_origin(clear: np.ndarray, size: int, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left of a random `size` px crop at least `MIN_CROP_CLEAR` clear (the clearest of
    `CROP_TRIES` draws otherwise)."""
    height, width = clear.shape
    best, best_share = (0, 0), -1.0
    for _ in range(CROP_TRIES):
        top, left = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
        share = float(clear[top : top + size, left : left + size].mean())
        if share >= MIN_CROP_CLEAR:
            return top, left
        if share > best_share:
            best, best_share = (top, left), share
    return best


def _pair(scene: AdaptScene, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    clear = scene.clear
    top, left = crop_origin(clear, size, rng)
    window = (slice(top, top + size), slice(left, left + size))
    hole = sample_hole(scene.cloud, size, rng)
    optical = scene.filled_crop(top, left, size, hole)
    parts = [optical] if scene.sar is None else [scene.sar[(slice(None), *window)], optical]
    x = np.concatenate(parts, axis=0)
    target = scene.optical[(slice(None), *window)]
    known = clear[window]
    weight = np.where(hole, HOLE_WEIGHT, CONTEXT_WEIGHT) * known
    # one random flip / rotation for every modality, drawn once (pix2pix get_params)
    turn = int(rng.integers(8))
    stacked = np.concatenate([x, target, weight[None].astype(np.float32)], axis=0)
    stacked = np.stack([augment(c, np.random.default_rng(turn)) for c in stacked])
    c = x.shape[0]
    return stacked[:c], stacked[c : c + 3], stacked[c + 3 :]


def training_batch(scene: AdaptScene, size: int, batch_size: int, rng: np.random.Generator,
                   coarse: AdaptScene | None = None) -> Batch:  # fmt: skip
    """`batch_size` random pairs of `size` px from `scene` (which must be at least `size` px each way);
    with `coarse` (`scene.coarse_scene`), each pair comes from it with probability `COARSE_SHARE`."""
    sources = [coarse if coarse is not None and rng.random() < COARSE_SHARE else scene for _ in range(batch_size)]
    xs, targets, weights = zip(*(_pair(source, size, rng) for source in sources))
    return Batch(np.stack(xs), np.stack(targets), np.stack(weights))
